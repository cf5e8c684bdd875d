"""The embedded default store: one SQLite file, shared by threads and worker processes.

WAL lets readers run beside a writer, so the hot path (``get_token``) never waits for
the audit trail. Every write is a ``BEGIN IMMEDIATE`` transaction: taking the write lock
up front means a transaction never has to upgrade a read lock, which is what turns into
"database is locked" errors under concurrency; waiting writers queue on the busy timeout
instead. ``synchronous=NORMAL`` in WAL mode survives a killed process (not a power cut
within the last commit), which is the trade every embedded WAL user makes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..exceptions import AlreadyExists, NotFound, StoreError
from ._connections import ThreadConnections
from ._sql import SQLStore, Statements, iter_statements

__all__ = ["SQLiteStore", "parse_sqlite_url"]

#: How long a writer waits for the write lock before giving up. Generous: a busy
#: deployment queues many short transactions, and failing a mint is worse than waiting.
BUSY_TIMEOUT_MS = 10_000

#: Pause between two attempts to switch a new file to WAL (see :func:`_enable_wal`).
_WAL_RETRY_SECONDS = 0.01

_STATEMENTS = Statements()

#: Schema migrations, applied in order; ``PRAGMA user_version`` counts the applied ones.
#: Never edit a released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL
    );
    CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL
    );
    CREATE TABLE roles (
        project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('Owner', 'Maintainer')),
        PRIMARY KEY (project_id, user_id)
    );
    CREATE INDEX roles_user ON roles (user_id);
    -- No foreign key on user_id: a removed user's tokens stay, revoked, for the record.
    -- WITHOUT ROWID: the lookup by id is one B-tree descent, not two.
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        salt BLOB NOT NULL,
        description TEXT NOT NULL,
        projects TEXT NOT NULL,
        project_ids TEXT NOT NULL,
        indexes TEXT NOT NULL,
        actions TEXT NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER,
        not_before INTEGER,
        last_used INTEGER,
        revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
    ) WITHOUT ROWID;
    CREATE INDEX tokens_user ON tokens (user_id);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        event TEXT NOT NULL,
        token_id TEXT,
        user_name TEXT,
        project TEXT,
        action TEXT,
        reason TEXT NOT NULL
    );
    CREATE INDEX events_token ON events (token_id, seq);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    # 2: a line of the audit trail may stand for several occurrences of one kind of event
    # (count, first_time to time); merge_key names the kind, found by one index descent.
    """
    ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE events ADD COLUMN first_time INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN merge_key TEXT;
    UPDATE events SET first_time = time;
    CREATE INDEX events_merge ON events (merge_key, seq)
    """,
    # 3: the token page's sessions (by the hash of the cookie's id) and its log-in throttle.
    """
    CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        groups TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_user ON sessions (user_name, created);
    CREATE INDEX sessions_expires ON sessions (expires);
    CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX login_failures_first ON login_failures (first);
    CREATE INDEX login_failures_last ON login_failures (last)
    """,
)


def parse_sqlite_url(url: str) -> Path:
    """Return the absolute file path of ``sqlite:///relative`` or ``sqlite:////absolute``.

    The path is made absolute at once, so a later ``chdir`` (daemons do that) cannot move
    the database. In-memory databases are refused: each connection would get its own.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(
            f"not a SQLite URL: {url!r}; expected sqlite:///relative/path"
            " or sqlite:////absolute/path"
        )
    rest = url[len(prefix) :]
    if not rest or rest.endswith("/"):
        raise StoreError(f"SQLite URL {url!r} names no file")
    if "\x00" in rest:
        raise StoreError("SQLite URL contains a NUL character")
    if "?" in rest or "#" in rest:
        raise StoreError(f"SQLite URL {url!r}: options (?...) are not supported")
    if rest == ":memory:":
        raise StoreError(
            "sqlite:///:memory: is not supported (every connection would see a different"
            " database); use a file, or memory:// for tests"
        )
    return Path(rest).absolute()


def _close(conn: sqlite3.Connection) -> None:
    conn.close()


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch the database to WAL (a no-op once it is: the mode is kept in the file).

    Switching a new file needs its exclusive lock. When processes open the same new file
    at once, SQLite answers the contenders SQLITE_BUSY at once instead of calling the
    busy handler (waiting could deadlock), so the switch is retried here for as long as
    the busy timeout would have waited. Returns the journal mode the database is in.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(_WAL_RETRY_SECONDS)


class SQLiteStore(SQLStore):
    """A :class:`~pypitoken_core.store.TokenStore` in one SQLite file (see module docstring)."""

    def __init__(self, url: str) -> None:
        """Open (creating if needed) the database at ``url`` and bring its schema up to date.

        Raises StoreError if the file cannot be created or opened, is not a database, or
        has a schema newer than this version of pypitoken-core knows.
        """
        self._url = url
        self._sql = _STATEMENTS
        self._path = parse_sqlite_url(url)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the directory of {self._path}: {e}") from e
        self._conns: ThreadConnections[sqlite3.Connection] = ThreadConnections(
            self._connect, _close
        )
        try:
            self._migrate()
        except BaseException:
            self._conns.close()
            raise

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; _tx issues BEGIN IMMEDIATE.
            # check_same_thread=False only so close() may close other threads'
            # connections at shutdown; ThreadConnections never shares one otherwise.
            conn = sqlite3.connect(
                self._path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise self._error(e) from e
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = _enable_wal(conn)
            if mode != "wal":
                raise StoreError(f"SQLite store {self._path}: cannot enable WAL (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as e:
            conn.close()
            raise self._error(e) from e
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self) -> None:
        # Several processes may open a new file at once: the version is read again
        # under the write lock, so exactly one of them applies each migration.
        target = len(MIGRATIONS)
        if self._read("PRAGMA user_version", ())[0][0] == target:
            return
        with self._tx() as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > target:
                raise StoreError(
                    f"SQLite store {self._path} has schema version {version}, newer than"
                    f" this pypitoken-core supports ({target}); upgrade pypitoken-core"
                )
            for script in MIGRATIONS[version:]:
                for statement in iter_statements(script):
                    conn.execute(statement)
            # PRAGMA takes no parameters; target is our own integer.
            conn.execute(f"PRAGMA user_version = {target:d}")

    def _error(self, e: sqlite3.Error) -> StoreError:
        text = str(e)
        if isinstance(e, sqlite3.IntegrityError):
            if "UNIQUE" in text or "PRIMARY KEY" in text:
                return AlreadyExists(f"SQLite store {self._path}: {text}")
            if "FOREIGN KEY" in text:
                return NotFound(f"SQLite store {self._path}: {text}")
        return StoreError(f"SQLite store {self._path}: {text}")

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            # fetchall() runs the statement to completion, which ends its implicit read
            # transaction: a half-read cursor would pin an old WAL snapshot and hide
            # later revocations from this connection.
            return self._conns.get().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise self._error(e) from e

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conns.get()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise self._error(e) from e
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise self._error(e) from e
            raise

    def integrity_check(self) -> str:
        """Run ``PRAGMA integrity_check`` and return its verdict ("ok" when healthy)."""
        rows = self._read("PRAGMA integrity_check", ())
        return "\n".join(str(r[0]) for r in rows)

    def close(self) -> None:
        self._conns.close()
