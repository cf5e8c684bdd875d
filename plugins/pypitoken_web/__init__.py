"""The token page of pypitoken-core: one WSGI application both index adapters mount.

``TokenPages(Site(...))`` answers every request under ``/+tokens`` of an index: log in with
the index's own password, list, create and revoke API tokens, manage a project's
maintainers and owner (or, on devpi, see the indexes and their ACLs). See ``_app`` for
the pages and ``_session`` for sessions, CSRF and the log-in throttle.
"""

from ._app import IndexView as IndexView
from ._app import Site as Site
from ._app import TokenPages as TokenPages
from ._app import Urls as Urls
from ._http import read_body as read_body
from ._session import IDLE as IDLE
from ._session import LIFETIME as LIFETIME

__all__ = ["IDLE", "LIFETIME", "IndexView", "Site", "TokenPages", "Urls", "read_body"]
