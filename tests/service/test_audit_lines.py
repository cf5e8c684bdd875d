"""What each audit line says: the event, who, the project and action, the reason.

An operator reads the trail to learn what happened to a project or a token; each kind of
line is pinned here field by field, next to the request or call that writes it. Refusals
of one token (or of one password user) fold into one line per window, whatever the
reason, and a token refused as a whole names the project and action its uses share.
"""

from __future__ import annotations

import time

import pytest

from pypitoken_core import Token, ValidationError
from pypitoken_core.service import TokenService
from pypitoken_core.store import AuditEvent
from tests.service.conftest import MakeService, download, upload


def line(event: AuditEvent) -> tuple[str, str | None, str | None, str | None, str, int]:
    return (event.event, event.user, event.project, event.action, event.reason, event.count)


def latest(service: TokenService) -> AuditEvent:
    return service.list_events(1)[0]


def test_a_refused_password_login_names_the_project_and_action(service: TokenService) -> None:
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.authorize_user("bob", upload("foo"))

    refused = latest(service)
    assert line(refused) == (
        "denied",
        "bob",
        "foo",
        "upload",
        "user bob may not upload to project 'foo'",
        1,
    )
    assert refused.token_id is None
    # The positive control: the owner's login passes and writes nothing.
    assert service.authorize_user("alice", upload("foo")).user_name == "alice"
    assert latest(service) == refused


def test_a_password_users_refusals_fold_whatever_the_reason(service: TokenService) -> None:
    with pytest.raises(ValidationError, match=r"^invalid project name 'bad name!'"):
        service.authorize_user("bob", upload("bad name!"))
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.authorize_user("bob", upload("foo"))

    refused = latest(service)
    assert (refused.event, refused.user, refused.count) == ("denied", "bob", 2)
    assert refused.reason == "user bob may not upload to project 'foo'"
    assert [e.event for e in service.list_events()].count("denied") == 1
    # Another user's refusal is a line of its own.
    service.add_user("carol")
    with pytest.raises(ValidationError, match=r"^user carol may not upload to project 'foo'$"):
        service.authorize_user("carol", upload("foo"))
    assert [(e.user, e.count) for e in service.list_events(2)] == [("carol", 1), ("bob", 2)]


def test_a_tokens_restricted_refusals_fold_whether_identified_or_used(
    service: TokenService,
) -> None:
    raw, record = service.mint("alice", expires=60)
    someone_else = Token.load(raw).restrict(user_id="0" * 8 + "-0000-4000-8000-" + "0" * 12)
    narrowed = someone_else.dump()

    with pytest.raises(ValidationError, match=r"^This token can only be used by user "):
        service.identify(narrowed)
    with pytest.raises(ValidationError, match=r"^This token can only be used by user "):
        service.authenticate(narrowed, download("foo"))

    refused = latest(service)
    assert (refused.event, refused.token_id, refused.count) == ("denied", record.id, 2)
    # An expired token is refused under another kind: a line of its own, whether
    # identified or used.
    later = int(time.time()) + 3600
    with pytest.raises(ValidationError, match=r"^token expired at "):
        service.identify(raw, now=later)
    with pytest.raises(ValidationError, match=r"^token expired at "):
        service.authenticate(raw, download("foo", now=later))
    assert [e.count for e in service.list_events(2)] == [2, 2]


def test_a_bad_name_in_a_deferred_use_is_recorded_for_its_token(service: TokenService) -> None:
    raw, record = service.mint("alice")
    with pytest.raises(ValidationError, match=r"^invalid project name 'bad name!'"):
        service.authenticate(raw, lambda: upload("bad name!"))

    refused = latest(service)
    assert (refused.event, refused.token_id, refused.user) == ("denied", record.id, "alice")
    assert (refused.project, refused.action) == (None, "upload")  # the name is not kept
    assert service.authenticate(raw, lambda: upload("foo")).token_id == record.id


@pytest.mark.parametrize(
    ("uses", "project", "action"),
    [
        ([upload("foo"), download("foo")], "foo", None),
        ([upload("foo"), upload("bar")], None, "upload"),
        ([upload("foo"), download("bar")], None, None),
        ([download("foo"), download("foo")], "foo", "download"),
    ],
)
def test_a_token_refused_as_a_whole_names_what_its_uses_share(
    service: TokenService, uses: list, project: str | None, action: str | None
) -> None:
    raw, record = service.mint("alice")
    assert service.evaluate(raw, uses) == [None] * len(uses)  # the positive control
    service.revoke(record.id)

    assert service.evaluate(raw, uses) == ["token revoked"] * len(uses)

    refused = latest(service)
    assert line(refused) == ("denied", "alice", project, action, "token revoked", 1)
    assert refused.token_id == record.id


def test_a_refused_claim_is_an_upload(service: TokenService) -> None:
    raw, record = service.mint("bob")
    bob = service.authenticate(raw, upload("new"))  # a request for a new name passes

    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.claim_upload(bob, "foo", has_files=lambda: True)

    refused = latest(service)
    assert line(refused) == (
        "denied",
        "bob",
        "foo",
        "upload",
        "user bob may not upload to project 'foo'",
        1,
    )
    assert refused.token_id == record.id


def test_claims_say_why_a_project_came_or_went(service: TokenService) -> None:
    raw, _ = service.mint("bob")
    bob = service.authenticate(raw, upload("new"))
    claim = service.claim_upload(bob, "new", has_files=lambda: False)
    assert claim is not None

    service.release_claim(claim, has_files=lambda: False)
    assert line(latest(service)) == (
        "claim_released",
        "bob",
        "new",
        "upload",
        "the upload stored no file",
        1,
    )

    claim = service.claim_upload(bob, "new", has_files=lambda: False)
    assert claim is not None
    service.confirm_claim(claim)
    assert line(latest(service)) == ("project_created", "bob", "new", None, "first upload", 1)

    assert service.adopt_unowned("alice", ["old"]) == ["old"]
    assert line(latest(service)) == ("project_adopted", "alice", "old", None, "unowned files", 1)


def test_events_are_read_a_hundred_at_a_time(make_service: MakeService) -> None:
    svc = make_service()
    svc.add_user("alice")
    ids = set()
    for _ in range(101):
        _, record = svc.mint("alice")
        svc.revoke(record.id)
        ids.add(record.id)

    assert len(svc.list_events()) == 100
    assert len(svc.list_events(limit=2)) == 2
    assert {e.token_id for e in svc.list_events(limit=1000) if e.event == "revoked"} == ids


def test_removing_a_user_names_them(service: TokenService) -> None:
    service.remove_user("bob")
    assert line(latest(service)) == ("user_removed", "bob", None, None, "user removed", 1)
