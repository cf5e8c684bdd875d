"""Hypothesis profiles for the whole suite.

``ci`` (the default) keeps example counts moderate so that the core suite runs in well
under a minute on two cores; ``dev`` is quicker still, ``thorough`` is for a long local run.
Select one with ``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
