"""The embedded default store: one SQLite file, shared by threads and worker processes.

WAL lets readers run beside a writer, so the hot path (``get_token``) never waits for
the audit trail. Every write is a ``BEGIN IMMEDIATE`` transaction: taking the write lock
up front means a transaction never has to upgrade a read lock, which is what turns into
"database is locked" errors under concurrency; waiting writers queue on the busy timeout
instead. ``synchronous=NORMAL`` in WAL mode survives a killed process (not a power cut
within the last commit), which is the trade every embedded WAL user makes.
"""

from __future__ import annotations

import mmap
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..exceptions import AlreadyExists, NotFound, StoreError
from ._cache import Counters, ReadCache
from ._connections import ThreadConnections
from ._sql import SQLStore, Statements, iter_statements

__all__ = ["SQLiteStore", "parse_sqlite_url"]

#: How long a writer waits for the write lock before giving up. Generous: a busy
#: deployment queues many short transactions, and failing a mint is worse than waiting.
BUSY_TIMEOUT_MS = 10_000

#: How much of the database file SQLite reads through a memory mapping instead of read()
#: calls into its per-connection page cache (capped by SQLite's compile-time maximum, 2 GiB
#: by default). With a million tokens a first lookup walks deeper B-trees whose pages the
#: 2 MB page cache cannot hold: mapped, they come from the OS page cache, shared by all
#: connections and processes, without a system call each (the grant read alone, at 10^6
#: tokens: 15.0 -> 9.8 µs, 1.9x -> 1.2x its cost at 10^3; a first-use ``authenticate`` in
#: bench_tokens.py 1.47x -> 1.21-1.28x). Address space, not memory: only the pages read are
#: resident, and they are the OS's to evict.
MMAP_BYTES = 2**31

#: Pause between two attempts to switch a new file to WAL (see :func:`_enable_wal`).
_WAL_RETRY_SECONDS = 0.01

#: The wal-index header (:class:`_CommitWatch`): one copy's size, and the format version.
_WAL_HEADER_BYTES = 48
_WAL_INDEX_VERSION = 3007000

_STATEMENTS = Statements()

_CHANGED = "BEGIN UPDATE changes SET changed = changed + 1; END"
_ADDED = "BEGIN UPDATE changes SET added = added + 1; END"

#: Schema migrations, applied in order; ``PRAGMA user_version`` counts the applied ones.
#: Never edit a released entry: append a new one.
MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
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
    # 4: trusted publishing: the publishers, the publisher a token was minted for, and
    # single-use marks (OIDC token ids, kept until they expire).
    """
    ALTER TABLE tokens ADD COLUMN publisher_id TEXT;
    CREATE INDEX tokens_publisher ON tokens (publisher_id);
    CREATE TABLE publishers (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        issuer TEXT NOT NULL,
        config TEXT NOT NULL,
        lookup_key TEXT NOT NULL,
        projects TEXT NOT NULL,
        index_name TEXT,
        pending TEXT NOT NULL,
        added_by TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX publishers_lookup ON publishers (lookup_key);
    CREATE INDEX publishers_issuer ON publishers (issuer);
    CREATE TABLE single_use (
        key TEXT PRIMARY KEY,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX single_use_expires ON single_use (expires)
    """,
    # 5: the change counters (store._cache), moved in the same transaction by every write
    # that can change a decision, whoever makes it: "added" by a new token, "changed" by
    # anything else (of tokens, every column but last_used).
    (
        "CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " changed INTEGER NOT NULL, added INTEGER NOT NULL)",
        "INSERT INTO changes (id, changed, added) VALUES (1, 0, 0)",
        *(
            f"CREATE TRIGGER {table}_{event.lower()} AFTER {event} ON {table} {_CHANGED}"
            for table in ("users", "projects", "roles", "settings")
            for event in ("INSERT", "UPDATE", "DELETE")
        ),
        f"CREATE TRIGGER tokens_insert AFTER INSERT ON tokens {_ADDED}",
        f"CREATE TRIGGER tokens_delete AFTER DELETE ON tokens {_CHANGED}",
        "CREATE TRIGGER tokens_update AFTER UPDATE OF id, user_id, salt, description,"
        " projects, project_ids, indexes, actions, created, expires, not_before, revoked,"
        f" publisher_id ON tokens {_CHANGED}",
    ),
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


class _CommitWatch:
    """Whether any transaction has committed since a moment, told by SQLite's shared memory.

    Readers of a WAL database learn whether anything was committed since they last looked
    by comparing the wal-index header with the copy they kept: every commit rewrites it
    (a counter in it grows with each transaction), and SQLite itself trusts "same header,
    same database". This reads that header from the ``-shm`` file, mapped read-only: a
    memory comparison instead of a query, so the hot path of an unchanged store makes no
    call into SQLite (each costs a GIL hand-off in a threaded server).

    The layout is SQLite's documented wal-index header
    (https://www.sqlite.org/walformat.html): two 48-byte copies, the first field the
    format version, which every SQLite since 3.7.0 shares because processes of different
    versions share the file; another version disables the watch. A writer writes the
    second copy, then the first: copies that differ are a write in progress, and answer
    None (ask the database).

    The mapping stays valid because SQLite truncates or deletes the file only when no
    connection has it open, and the store keeps one open (``keeper``) for as long as the
    watch lives; :class:`_Files` says when the mapping's descriptor may be closed.
    """

    __slots__ = ("_keeper", "_map")

    def __init__(self, mapped: mmap.mmap, keeper: sqlite3.Connection) -> None:
        self._map = mapped
        self._keeper = keeper

    def marker(self) -> bytes | None:
        """The header as it is now, or None when it cannot be read whole."""
        mapped = self._map
        first = mapped[:_WAL_HEADER_BYTES]
        if first != mapped[_WAL_HEADER_BYTES : 2 * _WAL_HEADER_BYTES]:
            return None
        if int.from_bytes(first[:4], sys.byteorder) != _WAL_INDEX_VERSION:
            return None
        return first

    def close(self) -> None:
        with suppress(sqlite3.Error):
            self._keeper.close()


class _Files:
    """The database files this process has stores open on, and their mapped ``-shm``.

    Closing any descriptor of a file drops every POSIX lock the process holds on it,
    SQLite's included (fcntl semantics): another process could then take the ``-shm``
    file for new and truncate it, under the mapping and under SQLite. So a mapping and
    its descriptor are closed only when the last store of the database in this process
    has closed, and with it every connection SQLite had (a process that also opens the
    file with sqlite3 directly must close those connections first).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # database (device, inode) -> [stores open, (descriptor, mapping) or None]
        self._open: dict[tuple[int, int], list[Any]] = {}

    def opened(self, database: Path) -> tuple[int, int]:
        """A store of ``database`` opened; its key for :meth:`closed` and :meth:`mapping`."""
        info = os.stat(database)
        key = (info.st_dev, info.st_ino)
        with self._lock:
            self._open.setdefault(key, [0, None])[0] += 1
        return key

    def mapping(self, key: tuple[int, int], shm: Path) -> mmap.mmap:
        """The read-only mapping of the wal-index header of ``shm``, shared by the stores of
        one database. Raises OSError if there is none yet (no file, or no header)."""
        with self._lock:
            entry = self._open[key]
            if entry[1] is not None and not _same_file(entry[1][0], shm):
                # A store of an earlier file with this inode was dropped without close()
                # (its mapping stayed, of a -shm file since deleted): never answer for the
                # new file with it. The old descriptor stays open (closing it could drop
                # locks still held on that file) and is forgotten.
                _STALE.append(entry[1])
                entry[1] = None
            if entry[1] is None:
                fd = os.open(shm, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                try:
                    if os.fstat(fd).st_size < 2 * _WAL_HEADER_BYTES:
                        raise OSError(f"{shm} holds no wal-index header yet")
                    mapped = mmap.mmap(fd, 2 * _WAL_HEADER_BYTES, access=mmap.ACCESS_READ)
                except BaseException:
                    entry[1] = (fd, None)  # closed with the last store, like a mapping
                    raise
                entry[1] = (fd, mapped)
            _fd, mapped = entry[1]
            if mapped is None:
                raise OSError(f"{shm} could not be mapped")
            return mapped  # type: ignore[no-any-return]

    def closed(self, key: tuple[int, int]) -> None:
        """A store opened with :meth:`opened` closed every connection it had."""
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                return
            entry[0] -= 1
            if entry[0] > 0:
                return
            del self._open[key]
        if entry[1] is not None:
            fd, mapped = entry[1]
            if mapped is not None:
                with suppress(Exception):
                    mapped.close()
            with suppress(OSError):
                os.close(fd)


_FILES = _Files()

#: Mappings of files no store can reach any more (see :meth:`_Files.mapping`).
_STALE: list[tuple[int, mmap.mmap | None]] = []


def _same_file(fd: int, path: Path) -> bool:
    """Whether descriptor ``fd`` is open on the file now at ``path``."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


class SQLiteStore(SQLStore):
    """A :class:`~pypitoken_core.store.TokenStore` in one SQLite file (see module docstring)."""

    def __init__(self, url: str) -> None:
        """Open (creating if needed) the database at ``url`` and bring its schema up to date.

        Raises StoreError if the file cannot be created or opened, is not a database, or
        has a schema newer than this version of pypitoken-core knows.
        """
        self._url = url
        self._sql = _STATEMENTS
        self._cache = ReadCache()
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
        self._closed = False
        self._watch: _CommitWatch | None = None
        self._watch_pending = False
        self._seen: tuple[bytes, Counters] | None = None
        try:
            self._file = _FILES.opened(self._path)
        except OSError as e:
            self._conns.close()
            raise StoreError(f"SQLite store {self._path}: {e.strerror}") from e
        self._watch = self._open_watch()
        _LIVE.add(self)

    def _open_watch(self) -> _CommitWatch | None:
        """The commit watch of this database, or None (then every check is a query)."""
        try:
            keeper = self._connect()
        except StoreError:
            return None
        try:
            keeper.execute(self._sql.counters).fetchall()  # opens and maps the wal-index
            shm = self._path.with_name(self._path.name + "-shm")
            return _CommitWatch(_FILES.mapping(self._file, shm), keeper)
        except (OSError, ValueError, sqlite3.Error):
            keeper.close()
            return None

    def _commit_marker(self) -> bytes | None:
        watch = self._watch
        if watch is None:
            if not self._watch_pending:
                return None
            # First check in a forked child: open this process's own watch.
            self._watch_pending = False
            watch = self._watch = self._open_watch()
            if watch is None:
                return None
        if self._conns.get().in_transaction:
            return None  # this connection's own uncommitted writes are not in the header
        return watch.marker()

    def _counters(self, marker: object = None) -> Counters:
        seen = self._seen
        if marker is not None and seen is not None and seen[0] == marker:
            return seen[1]  # nothing committed since the counters were read
        return super()._counters(marker)

    def _counted(self, marker: object, counters: Counters) -> None:
        if isinstance(marker, bytes):
            self._seen = (marker, counters)

    def _after_fork_in_child(self) -> None:
        # The parent's keeper connection must not be used (nor closed) here, and its
        # locks were not inherited: this process watches through a connection of its
        # own, opened on first use (not here: a fork hook must not wait on a database).
        self._inherited_watch, self._watch, self._seen = self._watch, None, None
        self._watch_pending = self._inherited_watch is not None

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
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES:d}")
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
            for migration in MIGRATIONS[version:]:
                for statement in iter_statements(migration):
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
        if self._closed:
            return
        self._closed = True
        self._conns.close()
        self._cache.clear()
        watch, self._watch, self._seen = self._watch, None, None
        self._watch_pending = False
        if watch is not None:
            watch.close()
        _FILES.closed(self._file)


_LIVE: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _reset_after_fork() -> None:
    # Another thread may have held the lock at the fork; the child has only this one.
    _FILES._lock = threading.Lock()
    for store in list(_LIVE):
        store._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_after_fork)
