"""What a refused request tells its sender, and what it leaves in the store.

Issue 8, part 3: until the signature is verified every refusal reads the same, so an id
alone says nothing about a token. Part 2: refusals are folded in the audit trail, names
are checked before they reach a query or a line, and the trail is capped, so a burst of
refusals adds a few lines, whatever it carries. Every backend (memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pypitoken_core import Context, InvalidInput, InvalidRestriction, Token, ValidationError
from pypitoken_core.service import INVALID_TOKEN, TokenService
from pypitoken_core.store import AuditEvent
from tests.service.conftest import download, upload

HUGE = "b" * 250_000


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def svc(request: pytest.FixtureRequest, tmp_path: Path, secret: bytes) -> Iterator[TokenService]:
    """alice owns foo; bob exists."""
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    secret_file = tmp_path / "server.secret"
    secret_file.write_bytes(secret)
    service = TokenService.from_url(url, secret_file=secret_file)
    try:
        service.add_user("alice")
        service.add_user("bob")
        service.add_project("foo", "alice")
        yield service
    finally:
        service.close()


def reason_of(call: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    return str(info.value)


def forge(token_id: str) -> str:
    """The right shape and the given id, signed with a guessed key."""
    return Token.create("localhost", token_id, b"a guessed key, not the server's").dump()


def denials(svc: TokenService) -> list[AuditEvent]:
    return [e for e in svc.store.list_events(limit=10_000) if e.event == "denied"]


# -- part 3: one reason before the signature ----------------------------------------------


def test_forged_tokens_read_the_same_whatever_their_id(svc: TokenService) -> None:
    _, live = svc.mint("alice")
    _, revoked = svc.mint("alice", projects=["foo"])
    svc.revoke(revoked.id)
    _, orphaned = svc.mint("bob")
    svc.remove_user("bob")
    _, expired = svc.mint("alice", expires=60)
    later = expired.created + 3600
    ids = {
        "random": str(uuid.uuid4()),
        "live": live.id,
        "revoked": revoked.id,
        "removed owner": orphaned.id,
        "expired": expired.id,
        "not a uuid": "not-a-uuid",
    }
    uses: dict[str, Callable[[str], object]] = {
        "upload": lambda raw: svc.authenticate(raw, upload("foo", now=later)),
        "download elsewhere": lambda raw: svc.authenticate(raw, download("other", now=later)),
        "deferred": lambda raw: svc.authenticate(raw, lambda: upload("foo", now=later)),
        "identify": lambda raw: svc.identify(raw, now=later),
    }
    seen = {
        (kind, use): reason_of(lambda: call(forge(token_id)))  # noqa: B023
        for kind, token_id in ids.items()
        for use, call in uses.items()
    }
    assert set(seen.values()) == {INVALID_TOKEN}, seen


def test_a_forged_token_never_builds_its_context(svc: TokenService) -> None:
    _, record = svc.mint("alice")

    def context() -> Context:
        raise AssertionError("the request body of a forged token was read")

    assert reason_of(lambda: svc.authenticate(forge(record.id), context)) == INVALID_TOKEN


def test_genuine_tokens_still_hear_why(svc: TokenService) -> None:
    """The positive controls: revocation, expiry and scope reasons go to genuine tokens."""
    raw_revoked, revoked = svc.mint("alice")
    svc.revoke(revoked.id)
    assert reason_of(lambda: svc.authenticate(raw_revoked, upload("foo"))) == "token revoked"
    assert reason_of(lambda: svc.identify(raw_revoked)) == "token revoked"
    raw_bob, _ = svc.mint("bob")
    svc.remove_user("bob")
    assert reason_of(lambda: svc.authenticate(raw_bob, upload("foo"))) == "token revoked"
    raw_expired, expired = svc.mint("alice", expires=60)
    later = upload("foo", now=expired.created + 3600)
    assert reason_of(lambda: svc.authenticate(raw_expired, later)).startswith("token expired at ")
    raw_scoped, _ = svc.mint("alice", projects=["foo"])
    assert (
        reason_of(lambda: svc.authenticate(raw_scoped, upload("bar")))
        == "not valid for project 'bar'"
    )
    assert svc.authenticate(raw_scoped, upload("foo")).user_name == "alice"


def test_the_audit_trail_says_what_happened(svc: TokenService) -> None:
    """The holder reads one reason; the admin reads which it was."""
    _, record = svc.mint("alice")
    for _ in range(3):
        assert reason_of(lambda: svc.authenticate(forge(record.id), upload("foo"))) == INVALID_TOKEN
        unknown = forge(str(uuid.uuid4()))
        assert reason_of(lambda: svc.authenticate(unknown, download("foo"))) == INVALID_TOKEN  # noqa: B023
    by_token = {e.token_id: e for e in denials(svc)}
    forged = by_token[record.id]
    assert forged.reason.startswith("bad signature (a forged or altered token")
    assert (forged.user, forged.project, forged.action, forged.count) == (
        "alice",
        "foo",
        "upload",
        3,
    )
    unknown = by_token[None]
    assert (unknown.reason, unknown.user, unknown.action, unknown.count) == (
        "unknown token id",
        None,
        "download",
        3,
    )


# -- part 2: names are checked before a query or a line --------------------------------------


@pytest.mark.parametrize("name", [HUGE, "x" * 201, "bad name!", "-foo", "a/b"])
def test_invalid_project_names_are_refused_before_the_store(svc: TokenService, name: str) -> None:
    raw, _ = svc.mint("alice", actions=["upload"])
    before = svc.store.list_events(limit=1000)
    reason = reason_of(lambda: svc.authenticate(raw, download(name)))
    assert reason.startswith("invalid project name ")
    assert "at most 200 characters" in reason
    assert len(reason) < 400
    assert svc.store.list_events(limit=1000) == before
    # The same refusal for a request whose form names the project (read after the
    # signature): recorded, without the name, only its length.
    assert reason_of(lambda: svc.authenticate(raw, lambda: download(name))) == reason
    (line,) = [e for e in svc.store.list_events(limit=1000) if e not in before]
    assert (line.project, line.reason) == (None, f"invalid project name ({len(name)} characters)")
    # Positive control: the longest valid name is looked up and refused for its action.
    ok = "x" * 200
    assert (
        reason_of(lambda: svc.authenticate(raw, download(ok))) == "not valid for action 'download'"
    )


def test_an_invalid_name_read_after_the_signature_comes_after_the_tokens_own_state(
    svc: TokenService,
) -> None:
    """A use whose name is read after the signature (a form, or pypiserver's URL of an
    invalid name): a forged token is refused as forged, an expired one as expired, and
    recorded under its id either way (red team round 2, H5)."""
    raw, record = svc.mint("alice", expires=3600)
    later = int(record.expires or 0) + 1
    before = denials(svc)
    forged = forge(record.id)
    assert reason_of(lambda: svc.authenticate(forged, lambda: download(HUGE))) == INVALID_TOKEN
    expired = reason_of(lambda: svc.authenticate(raw, lambda: download(HUGE, now=later)))
    assert expired.startswith("token expired at ")
    lines = [e for e in denials(svc) if e not in before]
    assert sorted(e.reason.split(" (")[0].split(" at ")[0] for e in lines) == [
        "bad signature",
        "token expired",
    ]
    assert all(e.token_id == record.id and e.project is None for e in lines)
    assert all("bbbb" not in e.reason for e in lines)
    # Positive control: the genuine, current token hears about the name.
    reason = reason_of(lambda: svc.authenticate(raw, lambda: download(HUGE)))
    assert reason.startswith("invalid project name 'bbbb")


# "\u212a" is the Kelvin sign, which lowercases to an ASCII "k": not a PEP 508 name.
@pytest.mark.parametrize("name", ["x" * 201, "bad name!", "\u212a", "-foo", ""])
def test_invalid_names_cannot_be_registered_or_minted_for(svc: TokenService, name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid project name"):
        svc.add_project(name, "alice")
    with pytest.raises(InvalidRestriction, match="invalid project name"):
        svc.mint("alice", projects=[name])
    assert [p.name for p in svc.list_projects()] == ["foo"]
    assert svc.add_project("Y" * 200, "alice").name == "y" * 200


# -- part 2: a burst of refusals adds a few lines ---------------------------------------------


def test_a_burst_of_refusals_adds_a_few_lines(svc: TokenService) -> None:
    """The reviewer's abuse, 200 times each: every kind of refusal is one line with a count."""
    raw_upload_only, upload_only = svc.mint("alice", actions=["upload"])
    raw_expired, expired = svc.mint("alice", expires=60)
    raw_revoked, revoked = svc.mint("alice")
    svc.revoke(revoked.id)
    _, live = svc.mint("alice")
    later = expired.created + 3600
    start = len(svc.store.list_events(limit=10_000))
    burst = 200
    for i in range(burst):
        name = f"p{i:03d}-" + "q" * 190  # a different, valid, long name each time
        calls = [
            lambda: svc.authenticate(raw_upload_only, download(HUGE)),
            lambda: svc.authenticate(raw_upload_only, download(name)),  # noqa: B023
            lambda: svc.authenticate(raw_expired, download(HUGE, now=later)),
            lambda: svc.authenticate(raw_expired, download(name, now=later)),  # noqa: B023
            lambda: svc.authenticate(forge(live.id), download(name)),  # noqa: B023
            lambda: svc.authenticate(forge(str(uuid.uuid4())), download(name)),  # noqa: B023
            lambda: svc.authenticate(raw_revoked, download(name)),  # noqa: B023
        ]
        for call in calls:
            reason_of(call)
    events = svc.store.list_events(limit=10_000)
    added = events[: len(events) - start]
    counts = {(e.token_id, e.reason.split(" (")[0].split(" at ")[0]): e.count for e in added}
    assert counts == {
        (upload_only.id, "not valid for action 'download'"): burst,
        (expired.id, "token expired"): burst,
        (live.id, "bad signature"): burst,
        (None, "unknown token id"): burst,
        (revoked.id, "token revoked"): burst,
    }
    # Each line is small: the names it carries are the valid ones, 200 characters at most.
    assert max(len(e.reason) + len(e.project or "") for e in added) < 1000
    # And a second burst folds into the same lines.
    for _ in range(50):
        assert reason_of(lambda: svc.authenticate(forge(live.id), download("foo"))) == INVALID_TOKEN
    assert len(svc.store.list_events(limit=10_000)) == len(events)


def test_the_trail_is_capped(make_service: Callable[..., TokenService]) -> None:
    svc = make_service(audit_max_events=20)
    svc.add_user("alice")
    ids = [svc.mint("alice")[1].id for _ in range(30)]
    for token_id in ids:
        forged = forge(token_id)
        assert reason_of(lambda: svc.authenticate(forged, download("foo"))) == INVALID_TOKEN  # noqa: B023
    events = svc.store.list_events(limit=1000)
    assert len(events) == 20
    # The oldest went first: the newest refusals are all there.
    assert [e.token_id for e in events[:20]] == ids[::-1][:20]


def test_password_refusals_are_folded_too(svc: TokenService) -> None:
    before = len(svc.store.list_events(limit=1000))
    for _ in range(50):
        assert reason_of(lambda: svc.authorize_user("bob", upload("foo"))) == (
            "user bob may not upload to project 'foo'"
        )
    added = svc.store.list_events(limit=1000)[: len(svc.store.list_events(limit=1000)) - before]
    assert [(e.user, e.count) for e in added] == [("bob", 50)]
