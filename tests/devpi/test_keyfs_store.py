"""The devpi keyfs store, in-process on a real devpi-server XOM.

It runs the token-records and audit-trail contracts every store runs
(``tests/store/test_contract.py``), inside a keyfs write transaction as devpi opens one
around a POST; then what only this store does: it keeps token records and a trail but no
directory (devpi keeps users, projects and ACLs), needs devpi's transactions, hides its
data in the user record, finds tokens written behind its back (replication,
``devpi-import``), stamps the last uses of read requests later, in a write transaction
of its own, and sends events to devpi's log too.
"""

from __future__ import annotations

import inspect
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypitoken_devpi._store import (
    PROJECT_NAMESPACE,
    SESSIONS_KEY,
    TOKENS_KEY,
    USER_NAMESPACE,
    KeyfsStore,
    LastUseWriter,
    project_id,
    user_id,
)

from pypitoken_core.exceptions import ConfigurationError, StoreError
from pypitoken_core.service import TokenService
from pypitoken_core.store import (
    AuditEvent,
    AuditTrail,
    Directory,
    PageSessions,
    Publishers,
    SingleUse,
    TokenRecords,
    TokenStore,
    User,
    open_store,
)
from tests.store.test_contract import (
    AuditTrailContract,
    MakeOwner,
    PageSessionsContract,
    PublishersContract,
    SingleUseContract,
    TokenRecordsContract,
    Written,
    logged,
    record,
    session,
)

# -- the contract ---------------------------------------------------------------------------


class _Lines(logging.Handler):
    """Keeps the log records the store writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, _Lines]]:
    """A logger of our own for the store, and what it received."""
    logger = logging.getLogger("tests.devpi.keyfs")
    handler = _Lines()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[TokenStore]:
    """An audit trail as the plugin keeps one, in the server directory's SQLite file."""
    store = open_store(f"sqlite:///{tmp_path / 'pypitoken-audit.sqlite3'}")
    try:
        yield store
    finally:
        store.close()


class TestKeyfsStore(
    TokenRecordsContract, AuditTrailContract, PublishersContract, SingleUseContract
):
    @pytest.fixture
    def store(
        self, xom: Any, lines: tuple[logging.Logger, _Lines], trail: TokenStore
    ) -> Iterator[KeyfsStore]:
        xom.keyfs.begin_transaction_in_thread(write=True)
        try:
            yield KeyfsStore(xom, log=lines[0], trail=trail)
        finally:
            xom.keyfs.rollback_transaction_in_thread()

    @pytest.fixture
    def make_owner(self, xom: Any, store: KeyfsStore) -> MakeOwner:
        def make(name: str) -> User:
            if xom.model.get_user(name) is None:  # alice and bob come with the template
                xom.model.create_user(name, password=None)
            user = store.get_user(name)
            assert user is not None
            return user

        return make

    def test_threads_taking_one_key_get_one_yes(self, store: Any, xom: Any) -> None:  # type: ignore[override]
        """In devpi each request is a keyfs transaction, and write transactions take turns:
        threads each taking the mark in a write transaction of their own get one yes."""
        xom.keyfs.rollback_transaction_in_thread()  # the fixture's; reopened below
        answers: list[bool] = []
        barrier = threading.Barrier(8)

        def take() -> None:
            barrier.wait()
            with xom.keyfs.write_transaction():
                answers.append(store.take_once("jti:race", 2000, 1000))

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        xom.keyfs.begin_transaction_in_thread(write=True)
        assert sorted(answers) == [False] * 7 + [True]
        assert store.is_taken("jti:race", 1000)

    @pytest.fixture
    def written(self, trail: TokenStore, lines: tuple[logging.Logger, _Lines]) -> Written:
        def both() -> list[tuple[str | None, ...]]:
            kept = [logged(e) for e in reversed(trail.list_events(limit=10_000))]
            # Each event is also one log line whose arguments are logged()'s fields.
            assert kept == [tuple(r.args) for r in lines[1].records]  # type: ignore[arg-type]
            return kept

        return both


class TestKeyfsSessions(PageSessionsContract):
    """The token page's sessions in keyfs (the throttle in the process), inside a write
    transaction as devpi opens one around the page's POSTs."""

    @pytest.fixture
    def store(self, xom: Any) -> Iterator[KeyfsStore]:
        xom.keyfs.begin_transaction_in_thread(write=True)
        try:
            yield KeyfsStore(xom)
        finally:
            xom.keyfs.rollback_transaction_in_thread()


def test_sessions_live_in_the_user_record_and_go_with_the_user(xom: Any) -> None:
    with xom.keyfs.write_transaction():
        store = KeyfsStore(xom)
        store.add_session(session("k1", "alice"), keep=5)
        config = xom.model.get_user("alice").key.get()
        assert set(config[SESSIONS_KEY]) == {"k1"}
        assert SESSIONS_KEY not in xom.model.get_user("alice").get()  # never shown
    with xom.keyfs.read_transaction():
        # Another process (or this one after a restart) finds it in keyfs.
        again = KeyfsStore(xom)
        assert again.get_session("k1") == session("k1", "alice")
        again.touch_session("k1", 1_700_000_600)  # a read transaction: kept in the process
        got = again.get_session("k1")
        assert got is not None and got.last_seen == 1_700_000_600
        with pytest.raises(StoreError, match="write request"):
            again.remove_session("k1")
    with xom.keyfs.write_transaction():
        xom.model.get_user("alice").delete()
    with xom.keyfs.read_transaction():
        assert KeyfsStore(xom).get_session("k1") is None


# -- what only this store does -------------------------------------------------------------


PROTOCOLS = (TokenRecords, PageSessions, Publishers, SingleUse)


def _protocol_methods() -> list[str]:
    return sorted(
        {
            name
            for protocol in PROTOCOLS
            for cls in protocol.__mro__
            if cls.__module__ == TokenRecords.__module__
            for name, member in vars(cls).items()
            if not name.startswith("_") and callable(member)
        }
    )


def _protocol_of(name: str) -> type:
    return next(p for p in PROTOCOLS if hasattr(p, name))


def _shape(method: object) -> list[tuple[object, ...]]:
    # The service passes positional parameters by position, so only keyword-only ones
    # must match by name.
    return [
        (p.name if p.kind is p.KEYWORD_ONLY else None, p.kind, p.default)
        for p in inspect.signature(method).parameters.values()  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("name", _protocol_methods())
def test_every_protocol_method_has_the_protocol_signature(name: str) -> None:
    assert _shape(getattr(KeyfsStore, name)) == _shape(getattr(_protocol_of(name), name))


def test_it_is_token_records_page_sessions_and_a_trail_but_no_directory() -> None:
    """devpi keeps the users, projects and ACLs: the store has none of the directory's
    methods, so none that only refuses (it keeps trusted publishers and single-use marks,
    which devpi has no notion of, and a trail of its own)."""
    store = KeyfsStore(xom=None)
    assert isinstance(store, TokenRecords) and isinstance(store, PageSessions)
    assert isinstance(store, Publishers) and isinstance(store, SingleUse)
    assert isinstance(store, AuditTrail)
    assert not isinstance(store, Directory)
    public = {n for n in dir(KeyfsStore) if not n.startswith("_")}
    trail = {"list_events", "prune_events"}
    assert public == set(_protocol_methods()) | trail | {"url", "write_last_uses"}


def test_without_a_trail_events_are_only_logged() -> None:
    store = KeyfsStore(xom=None)
    store.add_event(AuditEvent(1000, "minted", "t1", "alice", None, None, ""))
    for call in (store.list_events, lambda: store.prune_events(keep=1)):
        with pytest.raises(StoreError, match=r"was opened without an audit trail to read$"):
            call()


def test_a_use_in_a_read_request_is_stamped_by_a_write_of_its_own(xom: Any) -> None:
    store = KeyfsStore(xom)
    alice = user_id("alice")
    with xom.keyfs.write_transaction():
        store.add_token(record(alice, "tok-1"))
        store.add_token(record(alice, "tok-2"))
    assert store.write_last_uses() == 0  # nothing pending: no transaction at all
    with xom.keyfs.read_transaction():
        store.touch_token("tok-1", 1_700_000_100)
        store.touch_token("tok-1", 1_700_000_050)  # never backwards
        store.touch_token("tok-gone", 1_700_000_100)
        got = store.get_token("tok-1")
        assert got is not None and got.last_used is None  # a read request writes nothing
    assert store.write_last_uses() == 1
    with xom.keyfs.read_transaction():
        assert store.get_token("tok-1") == record(alice, "tok-1", last_used=1_700_000_100)
        assert store.get_token("tok-2") == record(alice, "tok-2")
        store.touch_token("tok-1", 1_700_000_000)  # older than the stamp: left alone
    assert store.write_last_uses() == 0
    with xom.keyfs.read_transaction():
        assert store.get_token("tok-1") == record(alice, "tok-1", last_used=1_700_000_100)


def test_a_replica_stamps_nothing(xom: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        store.add_token(record(user_id("alice"), "tok-1"))
    monkeypatch.setattr(xom, "is_replica", lambda: True)
    with xom.keyfs.write_transaction():
        store.touch_token("tok-1", 1_700_000_100)
    assert store.write_last_uses() == 0
    with xom.keyfs.read_transaction():
        got = store.get_token("tok-1")
        assert got is not None and got.last_used is None
    monkeypatch.setattr(xom, "is_replica", lambda: False)  # the positive control
    with xom.keyfs.write_transaction():
        store.touch_token("tok-1", 1_700_000_100)
    with xom.keyfs.read_transaction():
        got = store.get_token("tok-1")
        assert got is not None and got.last_used == 1_700_000_100


class _Rounds:
    """Stands in for devpi's thread handle: lets the writer loop ``rounds`` times."""

    class Shutdown(Exception):
        pass

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds

    def sleep(self, seconds: float) -> None:
        if self.rounds == 0:
            raise self.Shutdown
        self.rounds -= 1


def test_the_background_writer_writes_and_survives_a_failure(
    xom: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        store.add_token(record(user_id("alice"), "tok-1"))
    with xom.keyfs.read_transaction():
        store.touch_token("tok-1", 1_700_000_100)
    log = logging.getLogger("test.keyfs.writer")
    writer = LastUseWriter(store, log)
    writer.thread = _Rounds(2)
    calls: list[int] = []
    real = store.write_last_uses

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("keyfs is busy")
        return real()

    store.write_last_uses = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="test.keyfs.writer"):
        with pytest.raises(_Rounds.Shutdown):
            writer.thread_run()
    assert [r.getMessage() for r in caplog.records] == [
        "pypitoken: could not record last uses: StoreError: keyfs is busy"
    ]
    assert len(calls) == 2
    with xom.keyfs.read_transaction():  # the round after the failure wrote it
        assert store.get_token("tok-1") == record(user_id("alice"), last_used=1_700_000_100)


def test_a_service_over_it_needs_external_ownership(xom: Any) -> None:
    store = KeyfsStore(xom)
    for mode in ("pypi", "open"):
        needs = rf"^ownership '{mode}' needs a store that keeps"
        with pytest.raises(ConfigurationError, match=needs):
            TokenService(store, b"s" * 32, ownership=mode)
    service = TokenService(store, b"s" * 32, ownership="external")
    assert service.directory is None
    for call in (
        lambda: service.add_user("carol"),
        lambda: service.list_users(),
        lambda: service.add_project("foo", "alice"),
        lambda: service.list_projects(),
    ):
        with pytest.raises(StoreError, match="keeps token records only"):
            call()


def test_events_go_to_devpis_log_one_line_each(caplog: pytest.LogCaptureFixture) -> None:
    store = KeyfsStore(xom=None, log=logging.getLogger("test.keyfs"))
    denied = AuditEvent(1000, "denied", "t1", "alice", "foo", "upload", "token revoked")
    with caplog.at_level(logging.DEBUG, logger="test.keyfs"):
        store.add_event(denied, merge_key="k", merge_window=60, keep=5)
        store.add_event(denied, merge_key="k", merge_window=60, keep=5)
        store.add_event(AuditEvent(1001, "minted", "t2", "alice", None, None, "ci"))
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (logging.DEBUG, "pypitoken: denied token=t1 user=alice project=foo action=upload "
                        "reason=token revoked"),
        (logging.DEBUG, "pypitoken: denied token=t1 user=alice project=foo action=upload "
                        "reason=token revoked"),
        (logging.INFO, "pypitoken: minted token=t2 user=alice project=None action=None "
                       "reason=ci"),
    ]  # fmt: skip


def test_every_call_needs_a_keyfs_transaction(xom: Any) -> None:
    store = KeyfsStore(xom)
    for call in (
        lambda: store.get_user("alice"),
        lambda: store.get_user_by_id(user_id("alice")),
        lambda: store.get_token("tok-1"),
        lambda: store.list_tokens(),
        lambda: store.add_token(record(user_id("alice"))),
    ):
        with pytest.raises(StoreError, match=r"^no devpi keyfs transaction is open$"):
            call()
    with xom.keyfs.read_transaction():
        assert store.get_user("alice") == User(user_id("alice"), "alice", 0)
    store.close()  # devpi's keyfs stays open, and so does the store
    with xom.keyfs.read_transaction():
        assert store.get_user("alice") == User(user_id("alice"), "alice", 0)


def test_changes_need_a_write_transaction(xom: Any) -> None:
    store = KeyfsStore(xom)
    alice = user_id("alice")
    with xom.keyfs.write_transaction():
        store.add_token(record(alice, "tok-1"))
    with xom.keyfs.read_transaction():
        for call in (
            lambda: store.add_token(record(alice, "tok-2")),
            lambda: store.revoke_token("tok-1"),
        ):
            with pytest.raises(StoreError, match="only be changed on the primary"):
                call()
        assert store.get_token("tok-1") == record(alice, "tok-1")
        assert store.get_token("tok-2") is None


def test_records_live_hidden_in_the_owners_devpi_user(xom: Any) -> None:
    store = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        store.add_token(record(user_id("alice"), "tok-1"))
    with xom.keyfs.read_transaction():
        alice = xom.model.get_user("alice")
        assert TOKENS_KEY not in alice.get()  # what devpi shows over HTTP
        assert set(alice.get(credentials=True)[TOKENS_KEY]) == {"tok-1"}
        assert TOKENS_KEY not in xom.model.get_user("bob").get(credentials=True)


def test_a_token_written_behind_its_back_is_found(xom: Any) -> None:
    """Replication and devpi-import write user records directly: a lookup that misses
    after keyfs changed rebuilds the store's map of token owners."""
    store = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        store.add_token(record(user_id("alice"), "tok-1"))
    with xom.keyfs.read_transaction():
        assert store.get_token("tok-2") is None  # the map is now built at this serial
    other = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        other.add_token(record(user_id("bob"), "tok-2"))
    with xom.keyfs.read_transaction():
        assert store.get_token("tok-2") == record(user_id("bob"), "tok-2")
        assert store.get_token("tok-3") is None


def test_a_damaged_record_is_a_store_error(xom: Any) -> None:
    store = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        with xom.model.get_user("alice").key.update() as config:
            config[TOKENS_KEY] = {"tok-1": {"user_id": user_id("alice"), "salt": "!!"}}
    with xom.keyfs.read_transaction():
        with pytest.raises(StoreError, match=r"^token record tok-1 in devpi's keyfs is damaged$"):
            store.get_token("tok-1")


def test_a_deleted_devpi_user_takes_its_tokens(xom: Any) -> None:
    store = KeyfsStore(xom)
    with xom.keyfs.write_transaction():
        store.add_token(record(user_id("bob"), "tok-1"))
    with xom.keyfs.write_transaction():
        assert store.get_token_grant("tok-1", None) is not None  # the positive control
        xom.model.get_user("bob").delete()
    with xom.keyfs.read_transaction():
        assert store.get_user("bob") is None
        assert store.get_user_by_id(user_id("bob")) is None
        assert store.get_token("tok-1") is None
        assert store.get_token_grant("tok-1", None) is None
        assert store.list_tokens(user_id("bob")) == []


def test_settings_last_as_long_as_the_process() -> None:
    store = KeyfsStore(xom=None)
    store.set_setting("secret_fingerprint", "f00d")
    assert store.get_setting("secret_fingerprint") == "f00d"
    assert KeyfsStore(xom=None).get_setting("secret_fingerprint") is None


def test_ids_are_the_documented_uuid5s() -> None:
    # examples/devpi/README.md: user id = uuid5(USER_NAMESPACE, name), project id =
    # uuid5(PROJECT_NAMESPACE, "<user>/<index>/<normalised project>").
    assert USER_NAMESPACE == uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:user")
    assert PROJECT_NAMESPACE == uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:project")
    assert user_id("alice") == str(uuid.uuid5(USER_NAMESPACE, "alice"))
    assert project_id("alice/dev", "Foo_Bar") == str(
        uuid.uuid5(PROJECT_NAMESPACE, "alice/dev/foo-bar")
    )
    assert project_id("alice/dev", "foo") != project_id("alice/other", "foo")
