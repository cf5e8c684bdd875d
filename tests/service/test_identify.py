"""TokenService.identify: who a token speaks for before its use is known (devpi's identity hook)."""

from __future__ import annotations

import time

import pytest

from pypitoken_core import Token, ValidationError, _macaroon
from pypitoken_core.service import INVALID_TOKEN, Identity, TokenService
from tests.service.conftest import upload


def refused(service: TokenService, raw: str, now: int | None = None) -> str:
    with pytest.raises(ValidationError) as info:
        service.identify(raw, now=now)
    return str(info.value)


def test_a_scoped_token_identifies_its_owner_without_a_use(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["foo"], actions=["upload"])
    alice = service.store.get_user("alice")
    assert alice is not None
    assert service.identify(raw) == Identity("alice", alice.id, record.id)


def test_scope_restrictions_are_left_to_authenticate(service: TokenService) -> None:
    raw, _ = service.mint("alice", projects=["foo"])
    narrowed = Token.load(raw).restrict(project_names=["bar"], project_ids=["x"]).dump()
    assert service.identify(narrowed).user_name == "alice"
    with pytest.raises(ValidationError) as info:
        service.authenticate(narrowed, upload("foo"))
    assert info.value.reasons[0] == "This token can only be used for project(s): bar. Received: foo"
    assert service.authenticate(raw, upload("foo")).user_name == "alice"


def test_validity_window_is_checked(service: TokenService) -> None:
    raw, _ = service.mint("alice", expires=60)
    later = int(time.time()) + 3600
    assert refused(service, raw, now=later).startswith("token expired at ")
    offline = Token.load(raw).restrict(not_before=0, not_after=1000).dump()
    assert "between timestamps 0 (incl) and 1000 (excl)" in refused(service, offline)


def test_revoked_forged_and_orphaned_tokens_are_refused(service: TokenService) -> None:
    raw, record = service.mint("alice")
    forged = Token.create("localhost", record.id, b"guessed key" * 3).dump()
    assert refused(service, forged) == INVALID_TOKEN
    service.revoke(record.id)
    assert refused(service, raw) == "token revoked"
    raw_bob, _ = service.mint("bob")
    service.remove_user("bob")
    assert refused(service, raw_bob) == "token revoked"


def test_an_unreadable_caveat_still_fails(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    token = Token.load(raw)
    # A caveat from a future pypi.org, signed correctly by the holder: unknown, so refused.
    unknown = b'[99, "x"]'
    token._raw = token._raw._replace(
        caveats=(*token._raw.caveats, unknown),
        signature=_macaroon.chain(token._raw.signature, [unknown]),
    )
    assert "Could not find matching Restriction" in refused(service, token.dump())


def test_recognizes_answers_the_shape_only(service: TokenService) -> None:
    """What devpi asks before reading ``<owner>:<password>`` as a token: the shape, never
    the store, so an unknown id is as much a token as a live or revoked one."""
    raw, record = service.mint("alice")
    revoked, revoked_record = service.mint("alice")
    service.revoke(revoked_record.id)
    unknown = Token.create("localhost", "0e6b1b5e-9c1a-4f0e-9d7e-2a6f3c1d8b4a", b"k" * 32).dump()
    for shaped in (raw, revoked, unknown, Token.create("x", record.id, b"k" * 32).dump()):
        assert service.recognizes(shaped) is True
    not_ours = [
        "pypi-notatoken",
        "pypi-",
        "devpi-" + raw.partition("-")[2],  # another prefix
        Token.create("localhost", "alice-abcdefgh", b"k" * 32).dump(),  # not our id form
        Token.create("localhost", record.id.upper(), b"k" * 32).dump(),
        "pypi-" + "A" * 10_000,  # longer than any token
        "alicepw",
    ]
    assert [service.recognizes(p) for p in not_ours] == [False] * len(not_ours)
