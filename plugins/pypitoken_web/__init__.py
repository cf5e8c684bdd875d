"""The token page of pypitoken-core: one WSGI application both index adapters mount.

``TokenPages(Site(...))`` answers every request under ``/+tokens`` of an index: log in with
the index's own password, list, create and revoke API tokens, manage a project's
maintainers and owner (or, on devpi, see the indexes and their ACLs), and register the
trusted publishers CI workflows upload through. See ``_app`` for the pages,
``_publishers`` for the trusted-publisher section and ``_session`` for sessions, CSRF and
the log-in throttle.
"""

from . import _publishers  # noqa: F401 - adds its section and routes to the page
from ._app import IndexView as IndexView
from ._app import Site as Site
from ._app import TokenPages as TokenPages
from ._app import Urls as Urls
from ._http import BadRequest as BadRequest
from ._http import read_body as read_body
from ._session import IDLE as IDLE
from ._session import LIFETIME as LIFETIME

__all__ = [
    "IDLE",
    "LIFETIME",
    "BadRequest",
    "IndexView",
    "Site",
    "TokenPages",
    "Urls",
    "read_body",
]
