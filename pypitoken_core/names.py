"""Project-name normalisation (PEP 503), shared by the core, the service and the adapters."""

from __future__ import annotations

import re

__all__ = ["is_normalized", "normalize"]

_SEPARATORS = re.compile(r"[-_.]+")
# What pypitoken's ProjectNamesRestriction schema accepts, and what normalize() produces
# for any valid distribution name.
_NORMALIZED = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$")


def normalize(name: str) -> str:
    """Return the PEP 503 normalised form of a project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return _SEPARATORS.sub("-", name).lower()


def is_normalized(name: str) -> bool:
    """Tell whether ``name`` is a valid, already normalised project name."""
    return type(name) is str and _NORMALIZED.fullmatch(name) is not None
