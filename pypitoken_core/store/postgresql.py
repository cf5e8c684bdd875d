"""The PostgreSQL store, for several server processes or hosts sharing one token database.

psycopg 3 is an optional extra (``pypitoken-core[postgres]``), so this module imports
without it and :class:`PostgreSQLStore` says how to install it. Reads run in autocommit
mode, one statement each, so every read sees every committed revocation; psycopg prepares
statements it sees repeatedly, which makes the ``get_token`` lookup a bound-parameter
execute. Writes are explicit transactions at READ COMMITTED with row locks where two
writers could otherwise interleave badly (see :class:`~pypitoken_core.store._sql.Statements`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from ..exceptions import AlreadyExists, NotFound, StoreError
from ._connections import ThreadConnections
from ._sql import SQLStore, Statements, iter_statements
from .base import has_nul

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = ["PostgreSQLStore"]

#: Seconds to wait for a server that does not answer, unless the URL sets connect_timeout.
CONNECT_TIMEOUT = 10

#: Key of the transaction-level advisory lock that serialises migrations across processes.
MIGRATION_LOCK = 0x7079_7069_746F  # "pypito"
#: Key of the one that serialises the writers of the log-in throttle.
FAILURES_LOCK = 0x7079_7069_746C  # "pypitl"

_STATEMENTS = Statements().in_style(
    "%s",
    user_lock_share="SELECT id FROM users WHERE id = %s FOR SHARE",
    user_lock_update="SELECT id FROM users WHERE name = %s FOR UPDATE",
    failures_lock=f"SELECT pg_advisory_xact_lock({FAILURES_LOCK})",
)

#: Schema migrations, applied in order; ``pypitoken_schema.version`` counts the applied
#: ones. Never edit a released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created bigint NOT NULL
    );
    CREATE TABLE projects (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created bigint NOT NULL
    );
    CREATE TABLE roles (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('Owner', 'Maintainer')),
        PRIMARY KEY (project_id, user_id)
    );
    CREATE INDEX roles_user ON roles (user_id);
    -- No foreign key on user_id: a removed user's tokens stay, revoked, for the record.
    CREATE TABLE tokens (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        salt bytea NOT NULL,
        description text NOT NULL,
        projects text NOT NULL,
        project_ids text NOT NULL,
        indexes text NOT NULL,
        actions text NOT NULL,
        created bigint NOT NULL,
        expires bigint,
        not_before bigint,
        last_used bigint,
        revoked boolean NOT NULL
    );
    CREATE INDEX tokens_user ON tokens (user_id);
    CREATE TABLE events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time bigint NOT NULL,
        event text NOT NULL,
        token_id text,
        user_name text,
        project text,
        action text,
        reason text NOT NULL
    );
    CREATE INDEX events_token ON events (token_id, seq);
    CREATE TABLE settings (
        key text PRIMARY KEY,
        value text NOT NULL
    )
    """,
    # 2: a line of the audit trail may stand for several occurrences of one kind of event
    # (count, first_time to time); merge_key names the kind, found by one index descent.
    """
    ALTER TABLE events ADD COLUMN count bigint NOT NULL DEFAULT 1;
    ALTER TABLE events ADD COLUMN first_time bigint;
    ALTER TABLE events ADD COLUMN merge_key text;
    UPDATE events SET first_time = time;
    ALTER TABLE events ALTER COLUMN first_time SET NOT NULL;
    CREATE INDEX events_merge ON events (merge_key, seq)
    """,
    # 3: the token page's sessions (by the hash of the cookie's id) and its log-in throttle.
    """
    CREATE TABLE sessions (
        key text PRIMARY KEY,
        user_name text NOT NULL,
        groups text NOT NULL,
        csrf text NOT NULL,
        created bigint NOT NULL,
        last_seen bigint NOT NULL,
        expires bigint NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (user_name, created);
    CREATE INDEX sessions_expires ON sessions (expires);
    CREATE TABLE login_failures (
        key text PRIMARY KEY,
        count bigint NOT NULL,
        first bigint NOT NULL,
        last bigint NOT NULL
    );
    CREATE INDEX login_failures_first ON login_failures (first);
    CREATE INDEX login_failures_last ON login_failures (last)
    """,
)


def _close(conn: Connection[Any]) -> None:
    conn.close()


class PostgreSQLStore(SQLStore):
    """A :class:`~pypitoken_core.store.TokenStore` in a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        """Connect to ``url`` (a libpq ``postgresql://`` URL) and bring the schema up to date.

        Raises StoreError if psycopg is missing, the URL is malformed, the server cannot
        be reached or refuses the login, or the schema is newer than this version knows.
        The password never appears in a message.
        """
        self._url = url
        self._sql = _STATEMENTS
        self._secrets = _url_passwords(url)
        if psycopg is None:
            raise StoreError(
                f"{self.url}: PostgreSQL stores need psycopg 3;"
                " install it with: pip install 'pypitoken-core[postgres]'"
            )
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error as e:
            raise StoreError(f"bad PostgreSQL URL {self.url}: {self._scrub(e)}") from e
        if params.get("password"):
            self._secrets.add(str(params["password"]))
        self._connect_kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            self._connect_kwargs["connect_timeout"] = CONNECT_TIMEOUT
        self._conns: ThreadConnections[Connection[Any]] = ThreadConnections(self._connect, _close)
        try:
            self._migrate()
        except BaseException:
            self._conns.close()
            raise

    def _connect(self) -> Connection[Any]:
        try:
            return psycopg.connect(self._url, **self._connect_kwargs)
        except psycopg.Error as e:
            raise self._error(e) from e

    def _migrate(self) -> None:
        target = len(MIGRATIONS)
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            (exists,) = conn.execute("SELECT to_regclass('pypitoken_schema')").fetchone() or (None,)
            if exists is None:
                conn.execute("CREATE TABLE pypitoken_schema (version integer NOT NULL)")
                conn.execute("INSERT INTO pypitoken_schema (version) VALUES (0)")
            (version,) = conn.execute("SELECT version FROM pypitoken_schema").fetchone() or (0,)
            if version > target:
                raise StoreError(
                    f"PostgreSQL store {self.url} has schema version {version}, newer than"
                    f" this pypitoken-core supports ({target}); upgrade pypitoken-core"
                )
            for script in MIGRATIONS[version:]:
                for statement in iter_statements(script):
                    conn.execute(statement)
            if version != target:
                conn.execute("UPDATE pypitoken_schema SET version = %s", (target,))

    def _scrub(self, e: BaseException) -> str:
        text = " ".join(str(e).split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _error(self, e: BaseException) -> StoreError:
        text = self._scrub(e)
        if isinstance(e, pg_errors.UniqueViolation):
            return AlreadyExists(f"PostgreSQL store {self.url}: {text}")
        if isinstance(e, pg_errors.ForeignKeyViolation):
            return NotFound(f"PostgreSQL store {self.url}: {text}")
        if isinstance(e, psycopg.OperationalError):
            return StoreError(f"cannot use PostgreSQL store {self.url}: {text}")
        return StoreError(f"PostgreSQL store {self.url}: {text}")

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        conn = self._conns.get()
        try:
            return conn.execute(sql, params).fetchall()
        except psycopg.OperationalError as e:
            if not conn.broken:
                raise self._error(e) from e
        except psycopg.DataError as e:
            # psycopg cannot send a NUL in text, and no stored key holds one: not found.
            if has_nul(*params):
                return []
            raise self._error(e) from e
        except psycopg.Error as e:
            raise self._error(e) from e
        # The server restarted or dropped an idle connection: a read is safe to repeat.
        self._conns.discard()
        try:
            return self._conns.get().execute(sql, params).fetchall()
        except psycopg.Error as e:
            raise self._error(e) from e

    def _begin(self) -> Connection[Any]:
        conn = self._conns.get()
        try:
            conn.execute("BEGIN")
            return conn
        except psycopg.OperationalError as e:
            if not conn.broken:
                raise self._error(e) from e
        except psycopg.Error as e:
            raise self._error(e) from e
        # Broken before the transaction started, so nothing of it can have been applied:
        # reconnecting once is safe. A failure later (even at COMMIT) is never retried.
        self._conns.discard()
        conn = self._conns.get()
        try:
            conn.execute("BEGIN")
        except psycopg.Error as e:
            raise self._error(e) from e
        return conn

    @contextmanager
    def _tx(self) -> Iterator[Connection[Any]]:
        conn = self._begin()
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            if isinstance(e, psycopg.Error):
                raise self._error(e) from e
            raise

    def close(self) -> None:
        self._conns.close()


def _url_passwords(url: str) -> set[str]:
    """Every spelling of a password in ``url`` (raw and percent-decoded), to scrub messages."""
    found: set[str] = set()
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password:
            found |= {parts.password, urllib.parse.unquote(parts.password)}
        for key, value in urllib.parse.parse_qsl(parts.query):
            if key.lower() == "password" and value:
                found.add(value)
    except ValueError:
        pass
    return {s for s in found if s}
