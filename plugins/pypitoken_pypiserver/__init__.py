"""pypiserver adapter of pypitoken-core: PyPI-style API tokens for pypiserver.

Three ways to run it: the ``pypitoken-pypiserver run`` command (every ``pypi-server run``
option plus the token options), :func:`make_app` as a WSGI factory for gunicorn or
waitress, and :func:`paste_app_factory` as a paste ``app_factory`` entry point.
"""

import logging

# pypiserver imports passlib, which probes bcrypt >= 4.1 for a version attribute it no
# longer has and logs the harmless failure with a full traceback ("(trapped) error reading
# bcrypt version"), on every start. Keep that one logger to real errors.
logging.getLogger("passlib.handlers.bcrypt").setLevel(logging.ERROR)

from ._app import make_app as make_app  # noqa: E402
from ._app import paste_app_factory as paste_app_factory  # noqa: E402

__all__ = ["make_app", "paste_app_factory"]
