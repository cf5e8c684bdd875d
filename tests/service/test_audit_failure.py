"""A failing audit trail never changes a request's answer.

Refusals, first uploads and adoptions are recorded after the decision. If the store
cannot take that line (a full disk, a damaged table), the request keeps its own answer: a
refusal keeps its reason (a 403 twine prints, not a 500), and a success stays a success.
The failure is real: a trigger in the store's own database refuses every write to its
audit table, on SQLite and on PostgreSQL. Writes that carry their event in the same
transaction (mint, revoke) are another matter: they fail whole, and are not tested here.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pypitoken_core import StoreError, Token, ValidationError
from pypitoken_core.service import INVALID_TOKEN, TokenService
from pypitoken_core.store import AuditEvent, open_store
from tests.service.conftest import upload

AUDIT_DOWN = "audit trail unavailable"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def svc(url: str) -> Iterator[TokenService]:
    store = open_store(url)
    service = TokenService(store, secrets.token_hex(32).encode())
    try:
        service.add_user("alice")
        service.add_user("bob")
        service.add_project("foo", "alice")
        yield service
    finally:
        service.close()


def break_audit_trail(url: str) -> None:
    """Make every insert into, or update of, the store's audit table fail, from outside."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url[len("sqlite:///") :])) as conn:
            for verb in ("INSERT", "UPDATE"):
                conn.execute(
                    f"CREATE TRIGGER audit_down_{verb.lower()} BEFORE {verb} ON events"
                    f" BEGIN SELECT RAISE(ABORT, '{AUDIT_DOWN}'); END"
                )
            conn.commit()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN RAISE EXCEPTION '{AUDIT_DOWN}'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER audit_down BEFORE INSERT OR UPDATE ON events"
            " FOR EACH ROW EXECUTE FUNCTION audit_down()"
        )


def assert_trail_is_down(svc: TokenService) -> None:
    """The trail really refuses writes: otherwise the tests below could not fail."""
    with pytest.raises(StoreError, match=AUDIT_DOWN):
        svc.store.add_event(AuditEvent(1_700_000_000, "denied", None, "x", None, None, "probe"))


def denied_lines(svc: TokenService) -> list[AuditEvent]:
    return [e for e in svc.store.list_events(limit=1000) if e.event == "denied"]


def test_a_refusal_keeps_its_reason_when_the_trail_fails(
    svc: TokenService, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bob, _ = svc.mint("bob")
    alice, _ = svc.mint("alice", projects=["foo"])
    unknown = Token.create("localhost", str(uuid.uuid4()), secrets.token_bytes(32)).dump()
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: svc.authenticate(bob, upload("foo")), "user bob may not upload to project 'foo'"),
        (lambda: svc.authenticate(alice, upload("bar")), "not valid for project 'bar'"),
        (lambda: svc.authenticate(unknown, upload("foo")), INVALID_TOKEN),
        (
            lambda: svc.authorize_user("bob", upload("foo")),
            "user bob may not upload to project 'foo'",
        ),
    ]
    # With a working trail, each refusal is recorded.
    for attempt, reason in cases:
        with pytest.raises(ValidationError) as info:
            attempt()
        assert str(info.value) == reason
    recorded = denied_lines(svc)
    assert sorted(e.reason for e in recorded) == sorted(
        [*(reason for _, reason in cases if reason != INVALID_TOKEN), "unknown token id"]
    )

    break_audit_trail(url)
    assert_trail_is_down(svc)
    caplog.set_level(logging.ERROR)
    for attempt, reason in cases:
        with pytest.raises(ValidationError) as info:
            attempt()
        assert str(info.value) == reason
    assert denied_lines(svc) == recorded
    # The lines are lost, but not silently.
    assert len([r for r in caplog.records if r.name.startswith("pypitoken_core")]) == len(cases)
    # What the tokens allow still passes.
    assert svc.authenticate(alice, upload("foo")).user_name == "alice"
    assert svc.authorize_user("alice", upload("foo")).user_name == "alice"


def test_a_first_upload_and_an_adoption_succeed_when_the_trail_fails(
    svc: TokenService, url: str
) -> None:
    bob, _ = svc.mint("bob")

    def first_upload(project: str) -> None:
        identity = svc.authenticate(bob, upload(project))
        claim = svc.claim_upload(identity, project, has_files=lambda: False)
        assert claim is not None
        svc.confirm_claim(claim)

    # With a working trail, both are recorded.
    first_upload("before")
    assert svc.adopt_unowned("alice", ["old-before"]) == ["old-before"]
    kinds = [(e.event, e.project) for e in svc.store.list_events(limit=1000)]
    assert ("project_created", "before") in kinds
    assert ("project_adopted", "old-before") in kinds

    break_audit_trail(url)
    assert_trail_is_down(svc)
    first_upload("after")
    assert svc.adopt_unowned("alice", ["old-after"]) == ["old-after"]
    owners = {p.name: svc.store.list_roles(p.id) for p in svc.list_projects()}
    assert owners["after"] == [("bob", "Owner")]
    assert owners["old-after"] == [("alice", "Owner")]
    assert svc.authenticate(bob, upload("after")).user_name == "bob"
