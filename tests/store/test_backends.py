"""What is particular to each backend: URLs, driver errors, reconnects, forks, schema versions."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import mmap
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pypitoken_core.store
import pypitoken_core.store.sqlite as sqlite_backend
from pypitoken_core import Context, Token
from pypitoken_core.exceptions import StoreError, ValidationError
from pypitoken_core.service import TokenService
from pypitoken_core.store import AuditEvent, TokenStore, open_store
from pypitoken_core.store.base import redact_url
from pypitoken_core.store.sqlite import SQLiteStore
from tests.e2e.procs import free_port
from tests.pgcluster import Cluster
from tests.store.test_contract import publisher, record, session

# -- the package surface ---------------------------------------------------------------


def test_exported_names() -> None:
    assert sorted(pypitoken_core.store.__all__) == [
        "AuditEvent",
        "AuditTrail",
        "Directory",
        "LoginFailures",
        "PageSession",
        "PageSessions",
        "Project",
        "PublisherRecord",
        "Publishers",
        "SingleUse",
        "TokenGrant",
        "TokenRecord",
        "TokenRecords",
        "TokenStore",
        "User",
        "UserLookup",
        "open_store",
        "redact_url",
    ]


UNSUPPORTED = "expected sqlite:///path, postgresql://user@host/dbname or memory://"
NOT_SQLITE = "expected sqlite:///relative/path or sqlite:////absolute/path"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "a store URL must be a string, not NoneType"),
        ("", f"unsupported store URL '': {UNSUPPORTED}"),
        ("mysql://root@localhost/db", "unsupported store URL 'mysql://root@localhost/db': "),
        ("sqlite:/relative", f"not a SQLite URL: 'sqlite:/relative'; {NOT_SQLITE}"),
        ("sqlite://host/path", f"not a SQLite URL: 'sqlite://host/path'; {NOT_SQLITE}"),
        ("sqlite:///", "SQLite URL 'sqlite:///' names no file"),
        ("sqlite:////", "SQLite URL 'sqlite:////' names no file"),
        ("sqlite:///dir/", "SQLite URL 'sqlite:///dir/' names no file"),
        ("sqlite:///:memory:", "sqlite:///:memory: is not supported (every connection would see"),
        ("sqlite:///db.sqlite3?mode=ro", "SQLite URL 'sqlite:///db.sqlite3?mode=ro': options"),
        ("sqlite:///tmp/nul\x00byte", "SQLite URL contains a NUL character"),
        ("memory://named", f"unsupported store URL 'memory://named': {UNSUPPORTED}"),
    ],
)
def test_bad_urls(url: object, message: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    open_store("memory://").close()
    open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}").close()


def test_bad_url_message_hides_password() -> None:
    with pytest.raises(StoreError) as info:
        open_store("mysql://root:hunter2@localhost/db")
    assert "hunter2" not in str(info.value)
    assert "mysql://root@localhost/db" in str(info.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://:pw@h/db", "postgresql://h/db"),
        ("postgresql://u@h/db?password=x&sslmode=require", "postgresql://u@h/db?sslmode=require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////abs/db.sqlite3", "sqlite:////abs/db.sqlite3"),
        ("sqlite:///rel/db.sqlite3", "sqlite:///rel/db.sqlite3"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_sqlite_does_not_import_psycopg(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pypitoken_core.store import open_store\n"
        f"open_store('sqlite:///{tmp_path}/db.sqlite3').list_users()\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_postgresql_without_psycopg_says_how_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if the extra were not installed\n"
        "from pypitoken_core.exceptions import StoreError\n"
        "from pypitoken_core.store import open_store\n"
        "try:\n"
        "    open_store('postgresql://u:secret@127.0.0.1/db')\n"
        "except StoreError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert "pypitoken-core[postgres]" in out
    assert "secret" not in out


# -- SQLite ----------------------------------------------------------------------------


def test_sqlite_relative_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/tokens.sqlite3")
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == tmp_path / "var" / "tokens.sqlite3"
        monkeypatch.chdir("/")
        store.add_user("alice")  # still the same file after a chdir
    finally:
        store.close()
    assert (tmp_path / "var" / "tokens.sqlite3").is_file()


def test_sqlite_absolute_url_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "tokens.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.url == f"sqlite:///{path}"
        assert store.url.startswith("sqlite:////")
    finally:
        store.close()
    assert path.is_file()


def test_sqlite_pragmas(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        assert isinstance(store, SQLiteStore)
        conn = store._conns.get()
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert store.integrity_check() == "ok"
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["not-a-database", "directory", "parent-is-a-file"])
def test_sqlite_unusable_path(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "db.sqlite3"
    if kind == "not-a-database":
        path.write_bytes(b"this is not an SQLite database" * 100)
    elif kind == "directory":
        path.mkdir()
    else:
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "db.sqlite3"
    with pytest.raises(StoreError, match=str(tmp_path)):
        open_store(f"sqlite:///{path}")


def test_sqlite_newer_schema_is_refused(sqlite_url: str) -> None:
    open_store(sqlite_url).close()
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        open_store(sqlite_url)


def test_sqlite_new_file_opened_while_another_opener_holds_its_lock(sqlite_url: str) -> None:
    """A second process creating the same new file waits its turn, never "database is locked".

    Switching a new file to WAL takes its exclusive lock; a contender gets SQLITE_BUSY at
    once, without the busy timeout, when the other holds the write lock (here: a plain
    connection, the way a sibling process opening the same new file holds it for a
    moment). The store must wait for it, as its busy timeout promises.
    """
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.execute, ("COMMIT",))
    release.start()
    try:
        store = open_store(sqlite_url)
    finally:
        release.join()
        other.close()
    try:
        assert store.add_user("alice").name == "alice"
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def statements_run(store: SQLiteStore, read: Any) -> list[str]:
    """The SQL statements a read makes this thread's connection run (read through it)."""
    seen: list[str] = []
    conn = store._conns.get()
    conn.set_trace_callback(seen.append)
    try:
        read()
    finally:
        conn.set_trace_callback(None)
    return seen


COUNTERS = ["SELECT changed, added FROM changes"]


def test_sqlite_kept_reads_of_an_unchanged_store_run_no_statement(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    assert isinstance(store, SQLiteStore)
    other = open_store(sqlite_url)
    try:
        alice = store.add_user("alice")
        store.add_token(record(alice.id))
        grant = store.get_token_grant("tok-1", None)
        assert grant is not None and not grant.token.revoked
        # Nothing was committed since: the wal-index header says so, without a query.
        assert statements_run(store, lambda: store.get_token_grant("tok-1", None)) == []
        assert other.revoke_token("tok-1")  # another connection, as another process
        seen: list[Any] = []
        ran = statements_run(store, lambda: seen.append(store.get_token_grant("tok-1", None)))
        assert ran[0] == COUNTERS[0] and len(ran) == 2
        assert seen[0] is not None and seen[0].token.revoked
        assert statements_run(store, lambda: store.get_token_grant("tok-1", None)) == []
        # A new token changes only reads that found nothing: the grant stays kept (the
        # commit is seen, so the counters are read once).
        other.add_token(record(alice.id, "tok-2"))
        assert statements_run(store, lambda: store.get_token_grant("tok-1", None)) == COUNTERS
        # ... but an id that was unknown is read again, and found.
        assert store.get_token_grant("tok-3", None) is None
        other.add_token(record(alice.id, "tok-3"))
        assert store.get_token_grant("tok-3", None) is not None
        # An audit line and a last-used stamp are commits that change no decision.
        other.add_event(AuditEvent(1, "denied", "tok-1", "alice", None, None, "x"))
        other.touch_token("tok-1", 1_700_000_000)
        assert statements_run(store, lambda: store.get_token_grant("tok-1", None)) == COUNTERS
        assert statements_run(store, lambda: store.get_token_grant("tok-1", None)) == []
    finally:
        other.close()
        store.close()


def test_sqlite_store_without_a_commit_watch_asks_the_counters(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    assert isinstance(store, SQLiteStore)
    try:
        alice = store.add_user("alice")
        store.add_token(record(alice.id))
        assert store._watch is not None
        store._watch.close()
        store._watch = None  # as when the -shm file cannot be mapped
        store.get_token_grant("tok-1", None)
        assert statements_run(store, lambda: store.get_token_grant("tok-1", None)) == COUNTERS
        assert store.revoke_token("tok-1")
        grant = store.get_token_grant("tok-1", None)
        assert grant is not None and grant.token.revoked
    finally:
        store.close()


def test_sqlite_reads_inside_a_write_see_its_own_changes(sqlite_url: str) -> None:
    """The wal-index header moves at commit: a read in a transaction that has changed
    something must not be answered from memory on the strength of an unmoved header."""
    store = open_store(sqlite_url)
    assert isinstance(store, SQLiteStore)
    try:
        alice = store.add_user("alice")
        store.add_token(record(alice.id))
        store.get_token_grant("tok-1", None)
        with pytest.raises(LookupError), store._tx() as conn:
            conn.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", ("tok-1",))
            grant = store.get_token_grant("tok-1", None)
            assert grant is not None and grant.token.revoked
            raise LookupError("roll back")
        grant = store.get_token_grant("tok-1", None)
        assert grant is not None and not grant.token.revoked
    finally:
        store.close()


def test_sqlite_closing_one_store_keeps_the_others_watch(sqlite_url: str) -> None:
    """The shared mapping (and its descriptor, whose closing would drop SQLite's locks)
    goes with the last store of a database, not the first."""
    first = open_store(sqlite_url)
    second = open_store(sqlite_url)
    assert isinstance(second, SQLiteStore)
    try:
        alice = second.add_user("alice")
        second.add_token(record(alice.id))
        first.close()
        second.get_token_grant("tok-1", None)
        assert statements_run(second, lambda: second.get_token_grant("tok-1", None)) == []
        writer = open_store(sqlite_url)
        try:
            assert writer.revoke_token("tok-1")
        finally:
            writer.close()
        grant = second.get_token_grant("tok-1", None)
        assert grant is not None and grant.token.revoked
    finally:
        second.close()


def test_sqlite_a_forged_token_is_never_answered_from_memory(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The grant a genuine token's requests keep is not the forged twin's: its refusal
    reads the store, as an unknown id's does, so its time says nothing about the id."""
    service = TokenService.from_url(sqlite_url, secret_file=tmp_path / "secret")
    try:
        service.add_user("alice")
        raw, _record = service.mint("alice")
        forged = Token.load(raw)
        forged._raw = forged._raw._replace(signature=bytes(32))
        store = service.store
        assert isinstance(store, SQLiteStore)
        use = Context(action="download")
        service.authenticate(raw, use)  # read, kept, and last_used written (a commit)
        assert statements_run(store, lambda: service.authenticate(raw, use)) == COUNTERS
        for attempt in range(2):
            ran = statements_run(store, lambda: _refused(service, forged.dump(), use))
            joined = [sql for sql in ran if sql.startswith("SELECT ch.changed, ch.added, t.id")]
            # The first attempt reads the grant; a repeat of the same forgery is kept,
            # as a repeated unknown id is: either way only what the sender knows.
            assert len(joined) == (1 if attempt == 0 else 0), ran
    finally:
        service.close()


def _refused(service: TokenService, raw: str, use: Context) -> None:
    with pytest.raises(ValidationError, match=r"^invalid or unknown token$"):
        service.authenticate(raw, use)


def test_sqlite_never_watches_through_a_mapping_of_another_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A store dropped without close() leaves its mapping registered under its file's
    inode, which a new file may get: a new store must map its own -shm file."""
    first = open_store(sqlite_url)
    assert isinstance(first, SQLiteStore)
    old = tmp_path / "deleted-shm"
    old.write_bytes(bytes(96))
    fd = os.open(old, os.O_RDONLY)
    stale = mmap.mmap(fd, 96, access=mmap.ACCESS_READ)
    entry = sqlite_backend._FILES._open[first._file]
    real, entry[1] = entry[1], (fd, stale)  # as an earlier file with this inode left it
    second = open_store(sqlite_url)
    assert isinstance(second, SQLiteStore)
    try:
        assert second._watch is not None and second._watch._map is not stale
        alice = first.add_user("alice")
        first.add_token(record(alice.id))
        assert second.get_token_grant("tok-1", None) is not None
        assert statements_run(second, lambda: second.get_token_grant("tok-1", None)) == []
        assert first.revoke_token("tok-1")
        grant = second.get_token_grant("tok-1", None)
        assert grant is not None and grant.token.revoked
    finally:
        second.close()
        first.close()
        sqlite_backend._STALE.remove((fd, stale))
        stale.close()
        os.close(fd)
        if real is not None:  # first's own mapping, orphaned by the swap above
            real[1].close()
            os.close(real[0])


# -- migrations (both SQL backends) ------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def test_new_migrations_apply_once_in_order(sql_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "sqlite" if sql_url.startswith("sqlite") else "postgresql"
    backend: Any = importlib.import_module(f"pypitoken_core.store.{name}")
    store = open_store(sql_url)
    alice = store.add_user("alice")
    store.close()

    # A release that adds a column and fills it: applied on the next open, and only then.
    monkeypatch.setattr(
        backend,
        "MIGRATIONS",
        (
            *backend.MIGRATIONS,
            "ALTER TABLE users ADD COLUMN note TEXT NOT NULL DEFAULT ''",
            "UPDATE users SET note = note || 'x'",
        ),
    )
    for _ in range(2):
        store = open_store(sql_url)
        try:
            assert store.get_user("alice") == alice
            rows = store._read("SELECT note FROM users", ())  # type: ignore[attr-defined]
            assert rows == [("x",)]
        finally:
            store.close()


def test_audit_trail_of_schema_1_is_migrated(sql_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store written by the previous release: its events read as single occurrences."""
    name = "sqlite" if sql_url.startswith("sqlite") else "postgresql"
    backend: Any = importlib.import_module(f"pypitoken_core.store.{name}")
    mark = "?" if name == "sqlite" else "%s"
    insert = (
        "INSERT INTO events (time, event, token_id, user_name, project, action, reason)"
        f" VALUES ({', '.join([mark] * 7)})"
    )
    with monkeypatch.context() as patch:
        patch.setattr(backend, "MIGRATIONS", backend.MIGRATIONS[:1])
        old = open_store(sql_url)
        try:
            with old._tx() as conn:  # type: ignore[attr-defined]
                for t in (1000, 1001):
                    conn.execute(insert, (t, "denied", "t", "alice", "foo", "upload", "revoked"))
        finally:
            old.close()
    store = open_store(sql_url)
    try:
        assert store.list_events() == [
            AuditEvent(t, "denied", "t", "alice", "foo", "upload", "revoked", 1, t)
            for t in (1001, 1000)
        ]
        later = AuditEvent(1002, "denied", "t", "alice", "foo", "upload", "revoked")
        store.add_event(later, merge_key="k", merge_window=10)
        store.add_event(later, merge_key="k", merge_window=10)
        assert store.list_events()[0] == dataclasses.replace(later, count=2)
    finally:
        store.close()


# -- PostgreSQL ------------------------------------------------------------------------


def test_postgres_unreachable_is_a_store_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError) as info:
        open_store(f"postgresql://alice:s3cr%40t@127.0.0.1:{port}/tokens")
    message = str(info.value)
    assert "s3cr" not in message
    assert f"postgresql://alice@127.0.0.1:{port}/tokens" in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:notaport/db",
        "postgresql://127.0.0.1/db?no_such_option=1",
    ],
)
def test_postgres_bad_url(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert str(info.value).startswith(
        (
            f"cannot use PostgreSQL store {url}: connection is bad: invalid integer value",
            f"bad PostgreSQL URL {url}: invalid URI query parameter",
        )
    )


@pytest.mark.postgres
def test_postgres_unknown_database_hides_password(pg_cluster: Cluster) -> None:
    with pytest.raises(StoreError) as info:
        open_store(pg_cluster.url("no_such_db", password="hunter2"))
    assert "hunter2" not in str(info.value)
    assert "no_such_db" in str(info.value)


@pytest.mark.postgres
def test_postgres_url_hides_password(pg_cluster: Cluster, pg_database_url: str) -> None:
    dbname = pg_database_url.rsplit("/", 1)[1]
    store = open_store(pg_cluster.url(dbname, password="hunter2"))  # trust auth ignores it
    try:
        assert "hunter2" not in store.url
        assert "hunter2" not in repr(store)
        store.add_user("alice")
        with pytest.raises(StoreError) as info:
            store.add_user("alice")
        assert "hunter2" not in str(info.value)
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_whole_database_in_public_schema(pg_database_url: str) -> None:
    """The contract suite runs in per-test schemas; this is the plain deployment shape."""
    store = open_store(pg_database_url)
    try:
        alice = store.add_user("alice")
        foo = store.add_project("foo", alice.id)
    finally:
        store.close()
    store = open_store(pg_database_url)  # finds its schema in place
    try:
        tables = store._read(  # type: ignore[attr-defined]
            "SELECT table_schema, count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " GROUP BY table_schema",
            (),
        )
        assert tables == [("public", 12)]
        assert store.list_roles(foo.id) == [("alice", "Owner")]
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_reconnects_once_after_the_server_drops_it(
    pg_cluster: Cluster, pg_url: str
) -> None:
    store = open_store(pg_url)

    def kill_backend() -> None:
        pid = store._conns.get().info.backend_pid  # type: ignore[attr-defined]
        with pg_cluster.admin() as admin:
            # Waits (up to 10 s) until the backend is gone, so the next call meets a dead
            # connection rather than racing the termination.
            (done,) = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
            assert done

    try:
        alice = store.add_user("alice")
        kill_backend()
        assert store.get_user("alice") == alice  # a read
        kill_backend()
        store.add_token(record(alice.id))  # a write
        assert store.get_token("tok-1") == record(alice.id)
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_newer_schema_is_refused(pg_url: str) -> None:
    import psycopg

    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as raw:
        raw.execute("UPDATE pypitoken_schema SET version = 99")
    with pytest.raises(StoreError, match="newer"):
        open_store(pg_url)


@pytest.mark.postgres
def test_postgres_concurrent_first_open(pg_url: str) -> None:
    """Several threads creating the schema at once: the advisory lock lets one do it."""
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            open_store(pg_url).close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_and_close) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- fork safety (gunicorn forks workers after the app opened the store) ----------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def forked_store(request: pytest.FixtureRequest) -> Iterator[TokenStore]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_forked_child_gets_its_own_connection(forked_store: TokenStore) -> None:
    store = forked_store
    alice = store.add_user("alice")
    parent_conn = store._conns.get()  # type: ignore[attr-defined]
    pid = os.fork()
    if pid == 0:  # the child: use the store, exit without any Python cleanup
        code = 1
        try:
            if store._conns.get() is not parent_conn:  # type: ignore[attr-defined]
                store.add_token(record(alice.id, "from-child"))
                code = 0 if store.get_token("from-child") is not None else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's own connection survived the child (libpq would have sent Terminate
    # on the shared socket had the child closed it) and sees the child's write.
    assert store._conns.get() is parent_conn  # type: ignore[attr-defined]
    # Asked directly, not through the store, which would quietly reconnect.
    if hasattr(parent_conn, "info"):
        (backend,) = parent_conn.execute("SELECT pg_backend_pid()").fetchone()
        assert backend == parent_conn.info.backend_pid
    else:
        assert parent_conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
    got = store.get_token("from-child")
    assert got is not None and got.user_id == alice.id


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_forked_child_sees_revocations_in_its_kept_reads(forked_store: TokenStore) -> None:
    store = forked_store
    alice = store.add_user("alice")
    store.add_token(record(alice.id))
    grant = store.get_token_grant("tok-1", None)  # kept in the parent, inherited
    assert grant is not None and not grant.token.revoked
    parent_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            kept = store.get_token_grant("tok-1", None)
            if kept is not None and not kept.token.revoked:
                child_end.sendall(b"read")
                child_end.recv(1)  # the parent has revoked the token
                later = store.get_token_grant("tok-1", None)
                code = 0 if later is not None and later.token.revoked else 2
        finally:
            os._exit(code)
    child_end.close()
    with parent_end:
        assert parent_end.recv(4) == b"read"
        assert store.revoke_token("tok-1")
        parent_end.sendall(b"r")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_store_of_schema_3_is_migrated_to_4(
    sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store of the release before trusted publishing (schema 3: the token page's
    sessions): its tokens read back with no publisher, its sessions stay, the schema is 4,
    and the store takes publishers and single-use marks from then on."""
    name = "sqlite" if sql_url.startswith("sqlite") else "postgresql"
    backend: Any = importlib.import_module(f"pypitoken_core.store.{name}")
    mark = "?" if name == "sqlite" else "%s"
    insert = (
        "INSERT INTO tokens (id, user_id, salt, description, projects, project_ids, indexes,"
        f" actions, created, expires, not_before, last_used, revoked)"
        f" VALUES ({', '.join([mark] * 13)})"
    )
    version = "PRAGMA user_version" if name == "sqlite" else "SELECT version FROM pypitoken_schema"
    kept = session("k1")
    # Migration 4 (index 3) is trusted publishing's; later ones may follow it.
    assert "CREATE TABLE publishers" in backend.MIGRATIONS[3]
    with monkeypatch.context() as patch:
        patch.setattr(backend, "MIGRATIONS", backend.MIGRATIONS[:3])
        old = open_store(sql_url)
        try:
            assert old._read(version, ()) == [(3,)]  # type: ignore[attr-defined]
            alice = old.add_user("alice")
            old.add_session(kept, keep=5)
            with old._tx() as conn:  # type: ignore[attr-defined]
                conn.execute(
                    insert,
                    ("t1", alice.id, b"salt", "ci", "foo", "", "", "upload", 1000, None, None,
                     None, False),
                )  # fmt: skip
            with pytest.raises(StoreError):  # the control: no publishers at schema 3
                old.add_publisher(publisher(alice.id))
        finally:
            old.close()
    store = open_store(sql_url)
    try:
        assert store._read(version, ()) == [(len(backend.MIGRATIONS),)]  # type: ignore[attr-defined]
        token = store.get_token("t1")
        assert token is not None and token.publisher_id is None and token.projects == ("foo",)
        assert store.get_session("k1") == kept
        store.add_publisher(publisher(alice.id))
        assert store.find_publishers(publisher(alice.id).lookup_key) == [publisher(alice.id)]
        assert store.take_once("k", 2000, 1000) and not store.take_once("k", 2000, 1000)
        store.add_token(record(alice.id, "t2", publisher_id="pub-1"))
        assert store.remove_publisher("pub-1") is True
        assert store.get_token("t2").revoked  # type: ignore[union-attr]
    finally:
        store.close()
