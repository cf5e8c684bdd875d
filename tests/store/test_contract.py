"""The store contracts, written once per protocol and run against every backend.

One contract class per protocol of ``pypitoken_core.store.base``:

- ``TokenRecordsContract``: tokens, grants, owner lookups, settings, and that events are
  written with the changes (``written``). Every store meets it, the devpi keyfs store
  too (``tests/devpi/test_keyfs_store.py``).
- ``DirectoryContract``: users, projects and roles.
- ``AuditTrailContract``: the kept, bounded, folded audit trail.
- ``TokenStoreContract``: all three at once, plus what they promise together (removing a
  user revokes their tokens, grants name projects and roles); each ``Test*`` subclass
  below only says how to get a URL. ``PersistentContract`` adds what only a real database
  can promise (reopening, schema versions, a fresh connection per thread).

A backend's subclass provides the fixtures the contract names: ``store``, and for token
records ``make_owner`` (a user to own tokens, made the backend's way) and ``written`` (the
events written so far, oldest first, as :func:`logged` tuples).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from pypitoken_core._time import MAX_TIMESTAMP, MIN_TIMESTAMP
from pypitoken_core.exceptions import AlreadyExists, NotFound, StoreError
from pypitoken_core.store import (
    AuditEvent,
    AuditTrail,
    Directory,
    LoginFailures,
    PageSession,
    PageSessions,
    Project,
    TokenGrant,
    TokenRecord,
    TokenRecords,
    TokenStore,
    User,
    open_store,
)
from pypitoken_core.store.base import MAX_EVENT_TEXT

#: A user id no store gives out (a UUID4 made of zeros; devpi's ids are UUID5s).
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def record(user_id: str, token_id: str = "tok-1", /, **changes: object) -> TokenRecord:
    fields: dict[str, object] = {
        "id": token_id,
        "user_id": user_id,
        "salt": bytes(range(256))[:32] + b"\x00\xff",
        "description": "CI upload, ünïcode",
        "projects": ("foo", "foo-bar"),
        "project_ids": ("0b1f7f0e-4c9e-4a53-9a53-1f2b4f0c9d11",),
        "indexes": ("alice/dev",),
        "actions": ("upload", "download"),
        "created": 1_700_000_000,
        "expires": 1_800_000_000,
        "not_before": 1_690_000_000,
        "last_used": None,
        "revoked": False,
    }
    fields.update(changes)
    return TokenRecord(**fields)  # type: ignore[arg-type]


def event(name: str = "minted", token_id: str | None = "tok-1", **changes: object) -> AuditEvent:
    fields: dict[str, object] = {
        "time": 1_700_000_000,
        "event": name,
        "token_id": token_id,
        "user": "alice",
        "project": "foo",
        "action": "upload",
        "reason": "",
    }
    fields.update(changes)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def logged(e: AuditEvent) -> tuple[str | None, ...]:
    """What every store keeps of an event, even one that hands it to a log line."""
    return (e.event, e.token_id, e.user, e.project, e.action, e.reason)


MakeOwner = Callable[[str], User]
Written = Callable[[], list[tuple[str | None, ...]]]


class TokenRecordsContract:
    """What every store of token records does, whoever keeps its users.

    Subclasses provide ``store``, ``make_owner`` and ``written``; ``records_last_use`` is
    False for a store that keeps no last-used stamps (see ``TokenRecords.touch_token``).
    """

    records_last_use: ClassVar[bool] = True

    @pytest.fixture
    def store(self) -> TokenRecords:
        raise NotImplementedError

    @pytest.fixture
    def make_owner(self) -> MakeOwner:
        raise NotImplementedError

    @pytest.fixture
    def written(self) -> Written:
        raise NotImplementedError

    @pytest.fixture
    def alice(self, make_owner: MakeOwner) -> User:
        return make_owner("alice")

    # -- the protocol itself ---------------------------------------------------------

    def test_implements_token_records(self, store: TokenRecords) -> None:
        assert isinstance(store, TokenRecords)

    def test_url_has_no_password(self, store: TokenRecords) -> None:
        assert store.url
        assert "@" not in store.url or ":" not in store.url.split("@")[0].split("//")[-1]
        assert store.url in repr(store)

    # -- owners ------------------------------------------------------------------------

    def test_owners_are_read_by_name_and_id(
        self, store: TokenRecords, alice: User, make_owner: MakeOwner
    ) -> None:
        bob = make_owner("bob")
        assert alice.name == "alice" and bob.name == "bob" and alice.id != bob.id
        assert store.get_user("alice") == alice
        assert store.get_user_by_id(alice.id) == alice
        assert store.get_user_by_id(bob.id) == bob
        assert store.get_user("carol") is None
        assert store.get_user_by_id(UNKNOWN_ID) is None

    # -- tokens ------------------------------------------------------------------------

    def test_token_round_trip(self, store: TokenRecords, alice: User) -> None:
        rec = record(alice.id)
        store.add_token(rec)
        got = store.get_token(rec.id)
        assert got == rec
        assert got is not None
        assert type(got.salt) is bytes and type(got.revoked) is bool
        assert type(got.projects) is tuple

    def test_token_grant_names_the_token_and_its_owner(
        self, store: TokenRecords, alice: User, make_owner: MakeOwner
    ) -> None:
        bob = make_owner("bob")
        store.add_token(record(alice.id, "tok-a"))
        store.add_token(record(bob.id, "tok-b"))
        for token_id, owner in (("tok-a", alice), ("tok-b", bob)):
            # No store knows a project by this name, so none answers a project or a role.
            for name in ("unknown", None):
                grant = store.get_token_grant(token_id, name)
                assert grant == TokenGrant(store.get_token(token_id), owner, None, None)
        assert store.get_token_grant("tok-missing", "foo") is None
        assert store.get_token_grant("tok-a\x00", "foo\x00") is None

    def test_token_round_trip_edge_values(self, store: TokenRecords, alice: User) -> None:
        rec = record(
            alice.id,
            "t-empty",
            salt=b"",
            description="",
            projects=(),
            project_ids=(),
            indexes=(),
            actions=(),
            expires=None,
            not_before=None,
            last_used=1_700_000_005,
            revoked=True,
        )
        store.add_token(rec)
        assert store.get_token("t-empty") == rec
        many = record(alice.id, "t-many", projects=tuple(f"p{i}" for i in range(50)))
        store.add_token(many)
        assert store.get_token("t-many") == many

    def test_unknown_token(self, store: TokenRecords) -> None:
        assert store.get_token("no-such-token") is None

    def test_duplicate_token_id(self, store: TokenRecords, alice: User, written: Written) -> None:
        store.add_token(record(alice.id), event=event())
        with pytest.raises(AlreadyExists):
            store.add_token(record(alice.id, description="other"), event=event())
        assert store.get_token("tok-1") == record(alice.id)
        assert written() == [logged(event())]  # the failed add wrote no event

    def test_token_of_unknown_user(self, store: TokenRecords, written: Written) -> None:
        with pytest.raises(NotFound):
            store.add_token(record(UNKNOWN_ID), event=event())
        assert store.list_tokens() == []
        assert written() == []

    @pytest.mark.parametrize(
        "changes",
        [
            {"projects": ("",)},
            {"projects": ("a\nb",)},
            {"actions": ["upload"]},
            {"indexes": (None,)},
        ],
    )
    def test_token_fields_that_cannot_round_trip(
        self, store: TokenRecords, alice: User, changes: dict[str, object]
    ) -> None:
        with pytest.raises(StoreError):
            store.add_token(record(alice.id, **changes))
        assert store.list_tokens() == []

    def test_add_token_needs_a_record(self, store: TokenRecords) -> None:
        with pytest.raises(StoreError):
            store.add_token({"id": "x"})  # type: ignore[arg-type]

    def test_add_token_writes_its_event(
        self, store: TokenRecords, alice: User, written: Written
    ) -> None:
        store.add_token(record(alice.id), event=event("minted"))
        store.add_token(record(alice.id, "tok-2"))
        assert written() == [logged(event("minted"))]

    def test_list_tokens(self, store: TokenRecords, alice: User, make_owner: MakeOwner) -> None:
        bob = make_owner("bob")
        store.add_token(record(alice.id, "c", created=3))
        store.add_token(record(bob.id, "b", created=2))
        store.add_token(record(alice.id, "a", created=3))
        store.add_token(record(alice.id, "d", created=1))
        assert [t.id for t in store.list_tokens()] == ["d", "b", "a", "c"]
        assert [t.id for t in store.list_tokens(alice.id)] == ["d", "a", "c"]
        assert [t.id for t in store.list_tokens(bob.id)] == ["b"]
        assert store.list_tokens(UNKNOWN_ID) == []

    def test_revoke_token(self, store: TokenRecords, alice: User, written: Written) -> None:
        store.add_token(record(alice.id, "a"))
        store.add_token(record(alice.id, "b"))
        assert store.revoke_token("a", event=event("revoked", "a")) is True
        got = store.get_token("a")
        assert got is not None and got.revoked
        other = store.get_token("b")
        assert other is not None and not other.revoked
        assert store.revoke_token("a") is True  # idempotent
        assert written() == [logged(event("revoked", "a"))]

    def test_revoke_unknown_token(self, store: TokenRecords, written: Written) -> None:
        assert store.revoke_token("nope", event=event("revoked", "nope")) is False
        assert written() == []

    def test_touch_token(self, store: TokenRecords, alice: User) -> None:
        store.add_token(record(alice.id))
        if not self.records_last_use:
            store.touch_token("tok-1", 1_700_000_100)
            assert store.get_token("tok-1") == record(alice.id)  # last_used stays None
            return
        store.touch_token("tok-1", 1_700_000_100)
        got = store.get_token("tok-1")
        assert got is not None and got.last_used == 1_700_000_100
        store.touch_token("tok-1", 1_700_000_050)  # a slower worker's older stamp
        got = store.get_token("tok-1")
        assert got is not None and got.last_used == 1_700_000_100
        store.touch_token("tok-1", 1_700_000_200)
        got = store.get_token("tok-1")
        assert got is not None and got.last_used == 1_700_000_200
        assert got == record(alice.id, last_used=1_700_000_200)

    def test_touch_unknown_token_is_ignored(self, store: TokenRecords) -> None:
        store.touch_token("nope", 1)
        assert store.get_token("nope") is None

    def test_token_times_beyond_year_9999_are_refused(
        self, store: TokenRecords, alice: User, written: Written
    ) -> None:
        for changes in ({"expires": 10**30}, {"not_before": -(10**30)}, {"created": 2**63}):
            with pytest.raises(StoreError, match="timestamp"):
                store.add_token(record(alice.id, **changes), event=event())
        assert store.list_tokens() == [] and written() == []
        edge = record(alice.id, expires=MAX_TIMESTAMP, not_before=MIN_TIMESTAMP)
        store.add_token(edge)
        assert store.get_token("tok-1") == edge
        with pytest.raises(StoreError, match="timestamp"):
            store.touch_token("tok-1", 10**30)
        assert store.get_token("tok-1") == edge

    # -- settings ----------------------------------------------------------------------

    def test_settings(self, store: TokenRecords) -> None:
        assert store.get_setting("domain") is None
        store.set_setting("domain", "pypi.example")
        assert store.get_setting("domain") == "pypi.example"
        store.set_setting("domain", "other.example")
        assert store.get_setting("domain") == "other.example"
        store.set_setting("empty", "")
        assert store.get_setting("empty") == ""
        with pytest.raises(StoreError):
            store.set_setting("domain", None)  # type: ignore[arg-type]
        assert store.get_setting("domain") == "other.example"

    # -- NUL characters (requests carry them; PostgreSQL text cannot) -------------------

    def test_token_keys_with_nul_match_nothing(self, store: TokenRecords, alice: User) -> None:
        store.add_token(record(alice.id))
        store.set_setting("k", "v")
        nul = "tok-1\x00"
        assert store.get_token(nul) is None
        assert store.get_user("alice\x00") is None
        assert store.get_user_by_id(alice.id + "\x00") is None
        assert store.list_tokens(alice.id + "\x00") == []
        assert store.get_setting("k\x00") is None
        assert store.revoke_token(nul) is False
        store.touch_token(nul, 1)
        assert store.get_token("tok-1") == record(alice.id)

    @pytest.mark.parametrize(
        "write",
        [
            lambda s, uid: s.add_token(record(uid, "t\x00")),
            lambda s, uid: s.add_token(record(uid, description="a\x00b")),
            lambda s, uid: s.add_token(record(uid, projects=("a\x00b",))),
            lambda s, uid: s.set_setting("k", "v\x00"),
        ],
    )
    def test_token_values_with_nul_are_refused(
        self, store: TokenRecords, alice: User, write: Callable[[TokenRecords, str], object]
    ) -> None:
        with pytest.raises(StoreError, match="NUL"):
            write(store, alice.id)
        assert store.list_tokens() == []
        assert store.get_setting("k") is None


class DirectoryContract:
    """Users, projects and roles. Subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> Directory:
        raise NotImplementedError

    @pytest.fixture
    def alice(self, store: Directory) -> User:
        return store.add_user("alice")

    def test_implements_directory(self, store: Directory) -> None:
        assert isinstance(store, Directory)

    # -- users -------------------------------------------------------------------------

    def test_add_and_get_user(self, store: Directory) -> None:
        user = store.add_user("alice")
        assert UUID4.match(user.id)
        assert user.name == "alice"
        assert user.created > 1_700_000_000
        assert store.get_user("alice") == user
        assert store.get_user_by_id(user.id) == user
        assert store.get_user("bob") is None
        assert store.get_user_by_id("00000000-0000-4000-8000-000000000000") is None

    def test_duplicate_user(self, store: Directory, alice: User) -> None:
        with pytest.raises(AlreadyExists, match="alice"):
            store.add_user("alice")
        assert store.list_users() == [alice]

    def test_user_names_are_case_sensitive_and_verbatim(self, store: Directory) -> None:
        store.add_user("Alice")
        store.add_user("alice")
        assert [u.name for u in store.list_users()] == ["Alice", "alice"]

    def test_list_users_sorted(self, store: Directory) -> None:
        for name in ("carol", "alice", "bob"):
            store.add_user(name)
        assert [u.name for u in store.list_users()] == ["alice", "bob", "carol"]
        assert len({u.id for u in store.list_users()}) == 3

    def test_name_can_be_reused_after_removal(self, store: Directory, alice: User) -> None:
        store.remove_user("alice")
        again = store.add_user("alice")
        assert again.id != alice.id

    # -- projects and roles ------------------------------------------------------------

    def test_add_project_makes_owner(self, store: Directory, alice: User) -> None:
        project = store.add_project("foo-bar", alice.id)
        assert isinstance(project, Project)
        assert UUID4.match(project.id)
        assert project.name == "foo-bar"
        assert store.get_project("foo-bar") == project
        assert store.get_project("foo_bar") is None  # normalising is the caller's job
        assert store.get_role(project.id, alice.id) == "Owner"
        assert store.list_roles(project.id) == [("alice", "Owner")]

    def test_duplicate_project(self, store: Directory, alice: User) -> None:
        bob = store.add_user("bob")
        project = store.add_project("foo", alice.id)
        with pytest.raises(AlreadyExists, match="foo"):
            store.add_project("foo", bob.id)
        assert store.list_projects() == [project]
        assert store.get_role(project.id, bob.id) is None

    def test_project_with_unknown_owner_is_not_created(self, store: Directory) -> None:
        with pytest.raises(NotFound):
            store.add_project("foo", UNKNOWN_ID)
        assert store.get_project("foo") is None
        assert store.list_projects() == []

    def test_list_projects_sorted(self, store: Directory, alice: User) -> None:
        for name in ("zope", "attrs", "numpy"):
            store.add_project(name, alice.id)
        assert [p.name for p in store.list_projects()] == ["attrs", "numpy", "zope"]

    def test_set_role_upserts(self, store: Directory, alice: User) -> None:
        bob = store.add_user("bob")
        carol = store.add_user("carol")
        project = store.add_project("foo", alice.id)
        assert store.get_role(project.id, bob.id) is None
        store.set_role(project.id, carol.id, "Maintainer")
        store.set_role(project.id, bob.id, "Maintainer")
        assert store.get_role(project.id, bob.id) == "Maintainer"
        store.set_role(project.id, bob.id, "Owner")
        assert store.get_role(project.id, bob.id) == "Owner"
        assert store.list_roles(project.id) == [
            ("alice", "Owner"),
            ("bob", "Owner"),
            ("carol", "Maintainer"),
        ]

    def test_set_role_refuses_bad_input(self, store: Directory, alice: User) -> None:
        project = store.add_project("foo", alice.id)
        with pytest.raises(StoreError, match="role"):
            store.set_role(project.id, alice.id, "Admin")
        with pytest.raises(NotFound):
            store.set_role(UNKNOWN_ID, alice.id, "Owner")
        with pytest.raises(NotFound):
            store.set_role(project.id, UNKNOWN_ID, "Owner")
        assert store.list_roles(project.id) == [("alice", "Owner")]

    def test_roles_of_unknown_project(self, store: Directory) -> None:
        assert store.list_roles(UNKNOWN_ID) == []

    def test_remove_role(self, store: Directory, alice: User) -> None:
        bob = store.add_user("bob")
        foo = store.add_project("foo", alice.id)
        bar = store.add_project("bar", alice.id)
        store.set_role(foo.id, bob.id, "Maintainer")
        store.set_role(bar.id, bob.id, "Maintainer")
        assert store.remove_role(foo.id, bob.id) is True
        assert store.get_role(foo.id, bob.id) is None
        assert store.list_roles(foo.id) == [("alice", "Owner")]
        assert store.get_role(bar.id, bob.id) == "Maintainer"  # only that project's
        assert store.remove_role(foo.id, bob.id) is False  # nothing left to take
        assert store.remove_role(UNKNOWN_ID, bob.id) is False
        assert store.remove_role(foo.id, bob.id + "\x00") is False

    def test_transfer_makes_one_owner_and_keeps_the_others_as_maintainers(
        self, store: Directory, alice: User
    ) -> None:
        bob = store.add_user("bob")
        carol = store.add_user("carol")
        dave = store.add_user("dave")
        foo = store.add_project("foo", alice.id)
        bar = store.add_project("bar", alice.id)
        store.set_role(foo.id, carol.id, "Owner")
        store.set_role(foo.id, dave.id, "Maintainer")

        store.transfer_project(foo.id, bob.id)

        assert store.list_roles(foo.id) == [
            ("alice", "Maintainer"),
            ("bob", "Owner"),
            ("carol", "Maintainer"),
            ("dave", "Maintainer"),
        ]
        assert store.list_roles(bar.id) == [("alice", "Owner")]  # only that project's
        store.transfer_project(foo.id, dave.id)  # a maintainer can be made the owner
        assert store.get_role(foo.id, dave.id) == "Owner"
        assert store.get_role(foo.id, bob.id) == "Maintainer"

    def test_transfer_of_an_ownerless_project(self, store: Directory, alice: User) -> None:
        bob = store.add_user("bob")
        foo = store.add_project("foo", alice.id)
        store.remove_user("alice")
        assert store.list_roles(foo.id) == []
        store.transfer_project(foo.id, bob.id)
        assert store.list_roles(foo.id) == [("bob", "Owner")]

    def test_transfer_refuses_unknown_project_or_user(self, store: Directory, alice: User) -> None:
        foo = store.add_project("foo", alice.id)
        with pytest.raises(NotFound, match="project"):
            store.transfer_project(UNKNOWN_ID, alice.id)
        with pytest.raises(NotFound, match="user"):
            store.transfer_project(foo.id, UNKNOWN_ID)
        with pytest.raises(NotFound):
            store.transfer_project(foo.id, alice.id + "\x00")
        assert store.list_roles(foo.id) == [("alice", "Owner")]  # nothing demoted

    def test_list_user_roles(self, store: Directory, alice: User) -> None:
        bob = store.add_user("bob")
        zope = store.add_project("zope", alice.id)
        attrs = store.add_project("attrs", bob.id)
        numpy = store.add_project("numpy", bob.id)
        store.set_role(zope.id, bob.id, "Maintainer")
        assert store.list_user_roles(bob.id) == [
            (attrs, "Owner"),
            (numpy, "Owner"),
            (zope, "Maintainer"),
        ]
        assert store.list_user_roles(alice.id) == [(zope, "Owner")]
        assert store.list_user_roles(UNKNOWN_ID) == []
        assert store.list_user_roles(bob.id + "\x00") == []

    # -- NUL characters ----------------------------------------------------------------

    def test_directory_keys_with_nul_match_nothing(self, store: Directory, alice: User) -> None:
        project = store.add_project("foo", alice.id)
        assert store.get_user("alice\x00") is None
        assert store.get_user_by_id(alice.id + "\x00") is None
        assert store.get_project("foo\x00") is None
        assert store.get_role(project.id, alice.id + "\x00") is None
        assert store.list_roles(project.id + "\x00") == []
        with pytest.raises(NotFound):
            store.remove_user("alice\x00")
        with pytest.raises(NotFound):
            store.set_role(project.id, alice.id + "\x00", "Owner")
        with pytest.raises(NotFound):
            store.add_project("bar", alice.id + "\x00")
        assert store.list_users() == [alice]
        assert store.list_roles(project.id) == [("alice", "Owner")]

    @pytest.mark.parametrize(
        "write",
        [
            lambda s, uid: s.add_user("bob\x00"),
            lambda s, uid: s.add_project("bar\x00", uid),
        ],
    )
    def test_directory_values_with_nul_are_refused(
        self, store: Directory, alice: User, write: Callable[[Directory, str], object]
    ) -> None:
        with pytest.raises(StoreError, match="NUL"):
            write(store, alice.id)
        assert store.list_users() == [alice]
        assert store.list_projects() == []


class AuditTrailContract:
    """The audit trail a store keeps: order, limits, folding, retention and bounds.

    Subclasses provide ``store`` (token records that are also an audit trail).
    """

    def test_implements_audit_trail(self, store: AuditTrail) -> None:
        assert isinstance(store, AuditTrail)

    def test_events_newest_first(self, store: TokenStore) -> None:
        events = [
            event("minted", "t1", time=1),
            event("denied", None, time=2, user=None, project=None, action=None, reason="bad"),
            event("revoked", "t1", time=3, reason="leaked"),
            event("denied", "t2", time=3, action="delete", reason="token revoked"),
        ]
        for e in events:
            store.add_event(e)
        assert store.list_events() == events[::-1]
        assert store.list_events(limit=2) == events[:1:-1]
        assert store.list_events(limit=0) == []
        assert store.list_events(token_id="t1") == [events[2], events[0]]
        assert store.list_events(limit=1, token_id="t1") == [events[2]]
        assert store.list_events(token_id="t9") == []

    def test_events_default_limit(self, store: TokenStore) -> None:
        for i in range(105):
            store.add_event(event(time=i))
        got = store.list_events()
        assert len(got) == 100
        assert got[0].time == 104 and got[-1].time == 5

    def test_bad_event_arguments(self, store: TokenStore) -> None:
        with pytest.raises(StoreError):
            store.list_events(limit=-1)
        with pytest.raises(StoreError):
            store.add_event(("minted",))  # type: ignore[arg-type]

    # -- folding, retention, bounds --------------------------------------------------

    def test_events_keep_count_and_first_time(self, store: TokenStore) -> None:
        e = event("denied", time=1_700_000_100, count=7, first_time=1_700_000_000)
        store.add_event(e)
        assert store.list_events() == [e]
        assert event().first_time == event().time  # the default: a single occurrence

    def test_events_of_one_kind_fold_into_one_line(self, store: TokenStore) -> None:
        first = event("denied", time=1000, project="a", reason="r1")
        store.add_event(first, merge_key="k", merge_window=100)
        store.add_event(event("denied", time=1010, project="b", reason="r2"), merge_key="k",
                        merge_window=100)  # fmt: skip
        store.add_event(event("denied", time=1005, project="c", reason="r3"), merge_key="k",
                        merge_window=100)  # fmt: skip
        store.add_event(event("denied", time=1001), merge_key="other", merge_window=100)
        store.add_event(event("minted", time=1002))
        store.add_event(event("minted", time=1003))
        got = store.list_events()
        assert [(e.event, e.count) for e in got] == [
            ("minted", 1), ("minted", 1), ("denied", 1), ("denied", 3)
        ]  # fmt: skip
        # The folded line: its place is the first occurrence's, its window spans all three,
        # its details are the latest written.
        assert got[-1] == event(
            "denied", time=1010, first_time=1000, count=3, project="c", reason="r3"
        )

    def test_a_kind_starts_a_new_line_after_its_window(self, store: TokenStore) -> None:
        for t in (1000, 1050, 1100, 1101, 1250):
            store.add_event(event("denied", time=t), merge_key="k", merge_window=100)
        got = store.list_events()
        assert [(e.first_time, e.time, e.count) for e in got] == [
            (1250, 1250, 1), (1101, 1101, 1), (1000, 1100, 3)
        ]  # fmt: skip

    def test_merge_adds_counts_and_keeps_token_and_name(self, store: TokenStore) -> None:
        store.add_event(event("denied", "t1", time=10, count=2), merge_key="k", merge_window=5)
        store.add_event(event("denied", "t1", time=12, count=3), merge_key="k", merge_window=5)
        assert store.list_events(token_id="t1") == [
            event("denied", "t1", time=12, first_time=10, count=5)
        ]

    def test_keep_drops_the_oldest_lines(self, store: TokenStore) -> None:
        for i in range(10):
            store.add_event(event(time=i, reason=str(i)), keep=3)
        assert [e.reason for e in store.list_events()] == ["9", "8", "7"]
        # Folding into a kept line adds nothing, so drops nothing.
        store.add_event(event(time=20), merge_key="k", merge_window=100, keep=3)
        store.add_event(event(time=21), merge_key="k", merge_window=100, keep=3)
        assert [e.reason for e in store.list_events()] == ["", "9", "8"]
        assert store.list_events()[0].count == 2

    def test_prune_events(self, store: TokenStore) -> None:
        for t in range(10):
            store.add_event(event(time=1000 + t, reason=str(t)))
        assert store.prune_events() == 0
        assert store.prune_events(before=1004) == 4
        assert [e.reason for e in store.list_events()] == [str(t) for t in range(9, 3, -1)]
        assert store.prune_events(before=1000) == 0
        assert store.prune_events(keep=2) == 4
        assert [e.reason for e in store.list_events()] == ["9", "8"]
        assert store.prune_events(before=2000, keep=5) == 2
        assert store.list_events() == []

    def test_prune_by_age_uses_the_last_occurrence(self, store: TokenStore) -> None:
        store.add_event(event("denied", time=100), merge_key="k", merge_window=1000)
        store.add_event(event("denied", time=900), merge_key="k", merge_window=1000)
        assert store.prune_events(before=500) == 0
        assert store.list_events()[0].count == 2

    def test_event_texts_are_cut(self, store: TokenStore) -> None:
        long = "b" * 250_000
        store.add_event(event("denied", token_id=long, user=long, project=long, reason=long))
        (got,) = store.list_events()
        for value in (got.token_id, got.user, got.project, got.reason):
            assert value == "b" * (MAX_EVENT_TEXT - 3) + "..."
        assert MAX_EVENT_TEXT == 1000

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda s: s.add_event(event(time=10**30)), "timestamp"),
            (lambda s: s.add_event(event(time=-(10**30))), "timestamp"),
            (lambda s: s.add_event(event(first_time=MAX_TIMESTAMP + 1)), "timestamp"),
            (lambda s: s.add_event(event(time=1.5)), "timestamp"),
            (lambda s: s.add_event(event(count=0)), "count"),
            (lambda s: s.add_event(event(reason=None)), "strings"),
            (lambda s: s.add_event(event(project=5)), "strings"),
            (lambda s: s.add_event(event(), merge_key=5), "merge key"),
            (lambda s: s.add_event(event(), merge_key="k", merge_window=-1), "merge_window"),
            (lambda s: s.add_event(event(), keep=-1), "keep"),
            (lambda s: s.prune_events(keep=-1), "keep"),
            (lambda s: s.prune_events(before=10**30), "timestamp"),
        ],
    )
    def test_bad_audit_input_is_refused(
        self, store: TokenStore, call: Callable[[TokenStore], object], message: str
    ) -> None:
        store.add_event(event(reason="kept"))
        with pytest.raises(StoreError, match=message):
            call(store)
        assert store.list_events() == [event(reason="kept")]

    def test_threads_folding_into_one_kind_lose_nothing(self, store: TokenStore) -> None:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(25):
                    store.add_event(event("denied", time=1000), merge_key="k", merge_window=60)
            except BaseException as e:  # collected for the main thread
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        lines = store.list_events()
        # Two writers may both start a line at once (PostgreSQL); no occurrence is lost.
        assert 1 <= len(lines) <= 4
        assert sum(e.count for e in lines) == 100


def session(key: str = "k1", user: str = "alice", /, **changes: object) -> PageSession:
    fields: dict[str, object] = {
        "key": key,
        "user": user,
        "groups": ("admins", "ünïcode"),
        "csrf": "csrf-" + key,
        "created": 1_700_000_000,
        "last_seen": 1_700_000_000,
        "expires": 1_700_028_800,
    }
    fields.update(changes)
    return PageSession(**fields)  # type: ignore[arg-type]


class PageSessionsContract:
    """The token page's sessions and log-in throttle. Subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> PageSessions:
        raise NotImplementedError

    def test_implements_page_sessions(self, store: PageSessions) -> None:
        assert isinstance(store, PageSessions)

    # -- sessions ----------------------------------------------------------------------

    def test_session_round_trip(self, store: PageSessions) -> None:
        store.add_session(session("k1", groups=()), keep=5)
        store.add_session(session("k2", "bob"), keep=5)
        assert store.get_session("k1") == session("k1", groups=())
        assert store.get_session("k2") == session("k2", "bob")
        assert store.get_session("k3") is None
        assert store.get_session("k1\x00") is None

    def test_duplicate_session_key(self, store: PageSessions) -> None:
        store.add_session(session("k1"), keep=5)
        with pytest.raises(AlreadyExists):
            store.add_session(session("k1", "bob"), keep=5)
        assert store.get_session("k1") == session("k1")

    def test_a_new_session_drops_the_ended_ones(self, store: PageSessions) -> None:
        store.add_session(session("old", expires=1_700_000_100), keep=5)
        store.add_session(session("live", expires=1_700_000_201), keep=5)
        store.add_session(session("new", created=1_700_000_200, last_seen=1_700_000_200), keep=5)
        assert store.get_session("old") is None
        assert store.get_session("live") is not None
        assert store.get_session("new") is not None

    def test_a_user_keeps_the_newest_sessions(self, store: PageSessions) -> None:
        for n in range(5):
            store.add_session(session(f"a{n}", created=1_700_000_000 + n), keep=3)
        store.add_session(session("b0", "bob"), keep=3)
        kept = [f"a{n}" for n in range(5) if store.get_session(f"a{n}") is not None]
        assert kept == ["a2", "a3", "a4"]
        assert store.get_session("b0") is not None  # another user's are not counted

    def test_touch_session_moves_forward_only(self, store: PageSessions) -> None:
        store.add_session(session("k1"), keep=5)
        store.touch_session("k1", 1_700_000_500)
        store.touch_session("k1", 1_700_000_400)
        got = store.get_session("k1")
        assert got is not None and got.last_seen == 1_700_000_500
        store.touch_session("unknown", 1_700_000_600)  # ignored
        store.touch_session("k1\x00", 1_700_000_600)
        got = store.get_session("k1")
        assert got is not None and got.last_seen == 1_700_000_500
        with pytest.raises(StoreError, match="within years 1 to 9999"):
            store.touch_session("k1", 10**20)

    def test_remove_session(self, store: PageSessions) -> None:
        store.add_session(session("k1"), keep=5)
        store.add_session(session("k2"), keep=5)
        assert store.remove_session("k1") is True
        assert store.remove_session("k1") is False
        assert store.remove_session("k2\x00") is False
        assert store.get_session("k1") is None
        assert store.get_session("k2") is not None

    def test_remove_user_sessions(self, store: PageSessions) -> None:
        store.add_session(session("a1"), keep=5)
        store.add_session(session("a2"), keep=5)
        store.add_session(session("b1", "bob"), keep=5)
        assert store.remove_user_sessions("alice") == 2
        assert store.remove_user_sessions("alice") == 0
        assert store.remove_user_sessions("alice\x00") == 0
        assert store.get_session("a1") is None and store.get_session("a2") is None
        assert store.get_session("b1") is not None

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            ("not a session", "add_session needs a PageSession"),
            (session("k\x00"), "NUL"),
            (session("", "alice"), "non-empty strings"),
            (session(user=""), "non-empty strings"),
            (session(csrf=None), "non-empty strings"),
            (session(groups=["a"]), "must be a tuple of strings"),
            (session(groups=("a\nb",)), "empty, multi-line or NUL"),
            (session(groups=("",)), "empty, multi-line or NUL"),
            (session(expires=10**20), "within years 1 to 9999"),
            (session(created=1.5), "within years 1 to 9999"),
        ],
    )
    def test_sessions_that_cannot_round_trip(
        self, store: PageSessions, bad: object, message: str
    ) -> None:
        with pytest.raises(StoreError, match=message):
            store.add_session(bad, keep=5)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="keep must be a positive integer"):
            store.add_session(session("good"), keep=0)
        store.add_session(session("good"), keep=5)  # the control
        assert store.get_session("good") == session("good")

    # -- the log-in throttle -------------------------------------------------------------

    def test_failures_are_counted_per_key(self, store: PageSessions) -> None:
        store.note_login_failure(["user:alice", "addr:10.0.0.1"], 1000, 900, 100)
        store.note_login_failure(["user:alice"], 1010, 900, 100)
        store.note_login_failure(["user:alice", "addr:10.0.0.2"], 1005, 900, 100)
        assert store.login_failures("user:alice") == LoginFailures(3, 1000, 1010)
        assert store.login_failures("addr:10.0.0.1") == LoginFailures(1, 1000, 1000)
        assert store.login_failures("addr:10.0.0.2") == LoginFailures(1, 1005, 1005)
        assert store.login_failures("user:bob") is None
        assert store.login_failures("user:alice\x00") is None

    def test_a_count_starts_again_after_its_window(self, store: PageSessions) -> None:
        store.note_login_failure(["user:alice"], 1000, 900, 100)
        store.note_login_failure(["user:alice"], 1899, 900, 100)
        assert store.login_failures("user:alice") == LoginFailures(2, 1000, 1899)
        store.note_login_failure(["user:alice"], 1900, 900, 100)
        assert store.login_failures("user:alice") == LoginFailures(1, 1900, 1900)

    def test_old_lines_are_dropped(self, store: PageSessions) -> None:
        store.note_login_failure(["user:alice"], 1000, 900, 100)
        store.note_login_failure(["user:bob"], 2000, 900, 100)
        assert store.login_failures("user:alice") is None
        assert store.login_failures("user:bob") == LoginFailures(1, 2000, 2000)

    def test_only_the_most_recent_lines_are_kept(self, store: PageSessions) -> None:
        for n in range(10):
            store.note_login_failure([f"user:u{n}"], 1000 + n, 900, 4)
        kept = [n for n in range(10) if store.login_failures(f"user:u{n}") is not None]
        assert kept == [6, 7, 8, 9]
        # Lines tied with the last kept one stay: a line just counted is never dropped.
        store.note_login_failure(["user:x", "user:y"], 1009, 900, 1)
        assert store.login_failures("user:x") == LoginFailures(1, 1009, 1009)
        assert store.login_failures("user:y") == LoginFailures(1, 1009, 1009)
        assert store.login_failures("user:u8") is None

    def test_clear_login_failures(self, store: PageSessions) -> None:
        store.note_login_failure(["user:alice", "addr:1"], 1000, 900, 100)
        store.clear_login_failures("user:alice")
        store.clear_login_failures("user:nobody")
        store.clear_login_failures("user:alice\x00")
        assert store.login_failures("user:alice") is None
        assert store.login_failures("addr:1") == LoginFailures(1, 1000, 1000)

    @pytest.mark.parametrize(
        ("keys", "when", "window", "keep", "message"),
        [
            ("user:alice", 1000, 900, 10, "a sequence of keys"),
            (["user:a\x00"], 1000, 900, 10, "without NUL"),
            (["x" * 301], 1000, 900, 10, "1 to 300 characters"),
            ([""], 1000, 900, 10, "1 to 300 characters"),
            ([None], 1000, 900, 10, "1 to 300 characters"),
            (["user:a"], 10**20, 900, 10, "within years 1 to 9999"),
            (["user:a"], 1000, -1, 10, "window must be a non-negative integer"),
            (["user:a"], 1000, 900, 0, "keep must be a positive integer"),
        ],
    )
    def test_bad_failure_arguments(
        self,
        store: PageSessions,
        keys: object,
        when: int,
        window: int,
        keep: int,
        message: str,
    ) -> None:
        with pytest.raises(StoreError, match=message):
            store.note_login_failure(keys, when, window, keep)  # type: ignore[arg-type]
        store.note_login_failure(["user:a"], 1000, 900, 10)  # the control
        assert store.login_failures("user:a") == LoginFailures(1, 1000, 1000)

    def test_threads_counting_one_key_lose_nothing(self, store: PageSessions) -> None:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(25):
                    store.note_login_failure(["user:alice", "addr:1"], 1000, 900, 100)
            except BaseException as e:  # collected for the main thread
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.login_failures("user:alice") == LoginFailures(100, 1000, 1000)
        assert store.login_failures("addr:1") == LoginFailures(100, 1000, 1000)


class TokenStoreContract(
    TokenRecordsContract, DirectoryContract, AuditTrailContract, PageSessionsContract
):
    """A store that keeps it all, and what its parts promise together.

    Subclasses provide ``store_url``.
    """

    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[TokenStore]:
        store = open_store(store_url)
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def make_owner(self, store: TokenStore) -> MakeOwner:
        return store.add_user

    @pytest.fixture
    def alice(self, store: TokenStore) -> User:
        return store.add_user("alice")

    @pytest.fixture
    def written(self, store: TokenStore) -> Written:
        return lambda: [logged(e) for e in reversed(store.list_events(limit=10_000))]

    def test_implements_protocol(self, store: TokenStore) -> None:
        assert isinstance(store, TokenStore)

    # -- users and their tokens --------------------------------------------------------

    def test_remove_user(self, store: TokenStore, alice: User) -> None:
        bob = store.add_user("bob")
        foo = store.add_project("foo", alice.id)
        store.set_role(foo.id, bob.id, "Maintainer")
        bar = store.add_project("bar", bob.id)
        store.add_token(record(alice.id, "a1"))
        store.add_token(record(alice.id, "a2"))
        store.add_token(record(bob.id, "b1"))

        store.remove_user("alice", event=event("user_removed", None, reason="by admin"))

        assert store.get_user("alice") is None
        assert store.get_user_by_id(alice.id) is None
        assert store.get_role(foo.id, alice.id) is None
        assert store.list_roles(foo.id) == [("bob", "Maintainer")]
        assert store.list_roles(bar.id) == [("bob", "Owner")]
        assert store.get_project("foo") == foo  # projects outlive their owners
        tokens = {t.id: t for t in store.list_tokens()}
        assert tokens["a1"].revoked and tokens["a2"].revoked
        assert not tokens["b1"].revoked
        assert [t.id for t in store.list_tokens(alice.id)] == ["a1", "a2"]
        assert store.list_events()[0].event == "user_removed"
        assert store.list_users() == [bob]

    def test_remove_unknown_user(self, store: TokenStore, alice: User) -> None:
        with pytest.raises(NotFound, match="bob"):
            store.remove_user("bob", event=event("user_removed"))
        assert store.list_events() == []
        assert store.list_users() == [alice]

    # -- projects and the trail --------------------------------------------------------

    def test_remove_project_takes_its_roles_and_writes_the_event(
        self, store: TokenStore, alice: User
    ) -> None:
        bob = store.add_user("bob")
        foo = store.add_project("foo", alice.id)
        bar = store.add_project("bar", alice.id)
        store.set_role(foo.id, bob.id, "Maintainer")

        assert store.remove_project(foo.id, event=event("claim_released", None)) is True

        assert store.get_project("foo") is None
        assert store.get_role(foo.id, bob.id) is None
        assert store.list_roles(foo.id) == []
        assert store.list_projects() == [bar]
        assert store.list_roles(bar.id) == [("alice", "Owner")]
        assert [e.event for e in store.list_events()] == ["claim_released"]
        again = store.add_project("foo", bob.id)  # the name is free again, with a new id
        assert again.id != foo.id

    def test_role_changes_write_their_events(self, store: TokenStore, alice: User) -> None:
        bob = store.add_user("bob")
        foo = store.add_project("foo", alice.id)
        store.set_role(foo.id, bob.id, "Maintainer", event=event("maintainer_added", None))
        store.transfer_project(foo.id, bob.id, event=event("project_transferred", None))
        assert store.remove_role(foo.id, alice.id, event=event("maintainer_removed", None))
        assert not store.remove_role(foo.id, alice.id, event=event("maintainer_removed", None))
        with pytest.raises(NotFound):
            store.set_role(foo.id, UNKNOWN_ID, "Maintainer", event=event("maintainer_added"))
        with pytest.raises(NotFound):
            store.transfer_project(UNKNOWN_ID, bob.id, event=event("project_transferred"))
        assert [e.event for e in reversed(store.list_events())] == [
            "maintainer_added",
            "project_transferred",
            "maintainer_removed",
        ]
        assert store.list_roles(foo.id) == [("bob", "Owner")]

    def test_remove_user_ends_their_page_sessions(self, store: TokenStore, alice: User) -> None:
        store.add_user("bob")
        store.add_session(session("a1", "alice"), keep=5)
        store.add_session(session("b1", "bob"), keep=5)
        store.remove_user("alice")
        assert store.get_session("a1") is None
        assert store.get_session("b1") == session("b1", "bob")

    def test_remove_unknown_project(self, store: TokenStore, alice: User) -> None:
        foo = store.add_project("foo", alice.id)
        for unknown in ("00000000-0000-4000-8000-000000000000", "a\x00b", ""):
            assert store.remove_project(unknown, event=event("claim_released", None)) is False
        assert store.list_events() == []
        assert store.list_projects() == [foo]

    # -- grants --------------------------------------------------------------------------

    def test_token_grant_answers_like_the_single_reads(
        self, store: TokenStore, alice: User
    ) -> None:
        bob = store.add_user("bob")
        foo = store.add_project("foo", alice.id)
        store.add_project("bar", bob.id)
        store.set_role(foo.id, bob.id, "Maintainer")
        store.add_token(record(alice.id, "tok-a"))
        store.add_token(record(bob.id, "tok-b"))
        for token_id, owner in (("tok-a", alice), ("tok-b", bob)):
            for name in ("foo", "bar", "unknown", None):
                grant = store.get_token_grant(token_id, name)
                project = None if name is None else store.get_project(name)
                assert grant == TokenGrant(
                    store.get_token(token_id),
                    owner,
                    project,
                    None if project is None else store.get_role(project.id, owner.id),
                )
        assert store.get_token_grant("tok-missing", "foo") is None
        assert store.get_token_grant("tok-a\x00", "foo\x00") is None

    def test_token_grant_of_a_removed_owner(self, store: TokenStore, alice: User) -> None:
        store.add_project("foo", alice.id)
        store.add_token(record(alice.id))
        store.remove_user("alice")
        grant = store.get_token_grant("tok-1", "foo")
        assert grant is not None
        assert grant.owner is None and grant.role is None and grant.token.revoked

    def test_add_token_with_event(self, store: TokenStore, alice: User) -> None:
        store.add_token(record(alice.id), event=event("minted"))
        assert store.list_events(token_id="tok-1") == [event("minted")]

    def test_revoke_token_with_event(self, store: TokenStore, alice: User) -> None:
        store.add_token(record(alice.id, "a"))
        store.add_token(record(alice.id, "b"))
        assert store.revoke_token("a", event=event("revoked", "a")) is True
        assert store.revoke_token("a") is True
        assert store.list_events(token_id="a") == [event("revoked", "a")]
        assert store.list_events(token_id="b") == []

    # -- NUL characters --------------------------------------------------------------

    def test_keys_with_nul_match_nothing(self, store: TokenStore, alice: User) -> None:
        project = store.add_project("foo", alice.id)
        store.add_token(record(alice.id))
        store.set_setting("k", "v")
        nul = "tok-1\x00"
        assert store.get_token(nul) is None
        assert store.get_user("alice\x00") is None
        assert store.get_user_by_id(alice.id + "\x00") is None
        assert store.get_project("foo\x00") is None
        assert store.get_role(project.id, alice.id + "\x00") is None
        assert store.list_roles(project.id + "\x00") == []
        assert store.list_tokens(alice.id + "\x00") == []
        assert store.list_events(token_id=nul) == []
        assert store.get_setting("k\x00") is None
        assert store.revoke_token(nul) is False
        store.touch_token(nul, 1)
        with pytest.raises(NotFound):
            store.remove_user("alice\x00")
        with pytest.raises(NotFound):
            store.set_role(project.id, alice.id + "\x00", "Owner")
        with pytest.raises(NotFound):
            store.add_project("bar", alice.id + "\x00")
        assert store.get_token("tok-1") == record(alice.id)

    @pytest.mark.parametrize(
        "write",
        [
            lambda s, uid: s.add_user("bob\x00"),
            lambda s, uid: s.add_project("bar\x00", uid),
            lambda s, uid: s.add_token(record(uid, "t\x00")),
            lambda s, uid: s.add_token(record(uid, description="a\x00b")),
            lambda s, uid: s.add_token(record(uid, projects=("a\x00b",))),
            lambda s, uid: s.set_setting("k", "v\x00"),
        ],
    )
    def test_values_with_nul_are_refused(
        self, store: TokenStore, alice: User, write: Callable[[TokenStore, str], object]
    ) -> None:
        with pytest.raises(StoreError, match="NUL"):
            write(store, alice.id)
        assert store.list_users() == [alice]
        assert store.list_projects() == []
        assert store.list_tokens() == []

    def test_events_with_nul_are_kept_readably(self, store: TokenStore, alice: User) -> None:
        store.add_event(event("denied", "t\x00", user="a\x00", project="p\x00", reason="r"))
        store.add_token(record(alice.id), event=event(reason="ci\x00"))
        assert store.list_events() == [
            event(reason="ci\ufffd"),
            event("denied", "t\ufffd", user="a\ufffd", project="p\ufffd", reason="r"),
        ]

    # -- lifecycle ---------------------------------------------------------------------

    def test_closed_store_refuses_calls(self, store_url: str) -> None:
        store = open_store(store_url)
        store.add_user("alice")
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.get_user("alice")
        with pytest.raises(StoreError, match="closed"):
            store.add_user("bob")
        store.close()  # twice is fine

    def test_threads_share_one_store(self, store: TokenStore, alice: User) -> None:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(10):
                    tid = f"t{n}-{i}"
                    store.add_token(record(alice.id, tid), event=event(token_id=tid))
                    assert store.get_token(tid) == record(alice.id, tid)
                    assert store.revoke_token(tid)
                    got = store.get_token(tid)
                    assert got is not None and got.revoked
            except BaseException as e:  # collected for the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.list_tokens()) == 40
        assert len(store.list_events(limit=1000)) == 40


class PersistentContract(TokenStoreContract):
    """What a real database adds: data and schema survive a reopen."""

    def test_reopen_keeps_data_and_migrations_are_idempotent(self, store_url: str) -> None:
        first = open_store(store_url)
        alice = first.add_user("alice")
        first.add_token(record(alice.id), event=event())
        first.set_setting("domain", "x")
        first.close()
        for _ in range(2):
            again = open_store(store_url)
            try:
                assert again.get_user("alice") == alice
                assert again.get_token("tok-1") == record(alice.id)
                assert again.list_events() == [event()]
                assert again.get_setting("domain") == "x"
            finally:
                again.close()

    def test_two_stores_on_one_database(self, store_url: str) -> None:
        a = open_store(store_url)
        b = open_store(store_url)
        try:
            alice = a.add_user("alice")
            a.add_token(record(alice.id))
            assert b.get_user("alice") == alice
            got = b.get_token("tok-1")
            assert got is not None and not got.revoked
            assert a.revoke_token("tok-1")
            got = b.get_token("tok-1")
            assert got is not None and got.revoked
        finally:
            a.close()
            b.close()

    def test_thread_connection_closes_when_thread_ends(self, store: TokenStore) -> None:
        conns = store._conns  # type: ignore[attr-defined]
        store.get_user("x")
        before = len(conns._conns)
        thread = threading.Thread(target=store.get_user, args=("x",))
        thread.start()
        thread.join()
        assert len(conns._conns) == before


class TestMemoryStore(TokenStoreContract):
    @pytest.fixture
    def store_url(self) -> str:
        return "memory://"

    def test_each_open_is_a_new_store(self) -> None:
        a = open_store("memory://")
        a.add_user("alice")
        assert open_store("memory://").list_users() == []


class TestSQLiteStore(PersistentContract):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str:
        return sqlite_url


@pytest.mark.postgres
class TestPostgreSQLStore(PersistentContract):
    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return pg_url
