"""pypiserver adapter of pypitoken-core: PyPI-style API tokens for pypiserver.

Three ways to run it: the ``pypitoken-pypiserver run`` command (every ``pypi-server run``
option plus the token options), :func:`make_app` as a WSGI factory for gunicorn or
waitress, and :func:`paste_app_factory` as a paste ``app_factory`` entry point.
"""

from ._app import make_app as make_app
from ._app import paste_app_factory as paste_app_factory

__all__ = ["make_app", "paste_app_factory"]
