"""Token stores: where users, projects, roles, token records and the audit trail live.

One URL selects the backend (the ``--db`` option / ``PYPITOKEN_DB``)::

    sqlite:///relative/path.sqlite3    the embedded default (WAL, one file)
    sqlite:////absolute/path.sqlite3
    postgresql://user@host:5432/dbname several processes or hosts (needs psycopg 3)
    memory://                          in-process only, for tests

Every backend implements :class:`TokenStore`, which is :class:`TokenRecords` (tokens,
grants, events, settings), :class:`Directory` (users, projects, roles),
:class:`AuditTrail` and :class:`PageSessions` (the token page's sessions and log-in
throttle) together; each passes the contract suites of those protocols (``tests/store``),
and every failure surfaces as a :class:`~pypitoken_core.exceptions.StoreError`. A server
that keeps its own users (the devpi plugin) implements :class:`TokenRecords` and
:class:`PageSessions` only (see ``store.base``).
"""

from __future__ import annotations

from ..exceptions import StoreError
from .base import AuditEvent as AuditEvent
from .base import AuditTrail as AuditTrail
from .base import Directory as Directory
from .base import LoginFailures as LoginFailures
from .base import PageSession as PageSession
from .base import PageSessions as PageSessions
from .base import Project as Project
from .base import TokenGrant as TokenGrant
from .base import TokenRecord as TokenRecord
from .base import TokenRecords as TokenRecords
from .base import TokenStore as TokenStore
from .base import User as User
from .base import UserLookup as UserLookup
from .base import redact_url as redact_url

__all__ = [
    "AuditEvent",
    "AuditTrail",
    "Directory",
    "LoginFailures",
    "PageSession",
    "PageSessions",
    "Project",
    "TokenGrant",
    "TokenRecord",
    "TokenRecords",
    "TokenStore",
    "User",
    "UserLookup",
    "open_store",
    "redact_url",
]


def open_store(url: str) -> TokenStore:
    """Open the store that ``url`` names, creating or migrating its schema as needed.

    The PostgreSQL backend (and psycopg) is imported only when a ``postgresql://`` URL is
    opened, so SQLite users need neither. Raises StoreError for an unknown scheme or a
    store that cannot be opened; messages never contain the URL's password.
    """
    if not isinstance(url, str):
        raise StoreError(f"a store URL must be a string, not {type(url).__name__}")
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(url)
    if scheme in ("postgresql", "postgres"):
        from .postgresql import PostgreSQLStore

        return PostgreSQLStore(url)
    if url == "memory://":
        from .memory import MemoryStore

        return MemoryStore(url)
    raise StoreError(
        f"unsupported store URL {redact_url(url)!r}: expected sqlite:///path,"
        " postgresql://user@host/dbname or memory://"
    )
