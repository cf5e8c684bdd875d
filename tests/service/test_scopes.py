"""Index scopes: what mint writes (record and caveat), and what authenticate refuses.

A token narrowed at mint time carries each restriction twice: on its record in the store
and as a caveat in the token. Both are checked, and each has its own job: the caveat is
what the holder (and pypitoken) can read offline, the record is what the server knows
without trusting anything in the token. So mint must write both, and authenticate must
refuse from the record with the record's reason, which is the one twine shows (a caveat
is reported only when it adds to the record, e.g. the holder's offline narrowing).
"""

from __future__ import annotations

import pytest

from pypitoken_core import (
    Context,
    IndexesRestriction,
    Token,
    UserIDRestriction,
    ValidationError,
)
from pypitoken_core.service import TokenService
from tests.service.conftest import MakeService


@pytest.fixture
def devpi(make_service: MakeService) -> TokenService:
    """A service as devpi runs it: the index enforces ownership, tokens name indexes."""
    svc = make_service(ownership="external")
    svc.add_user("alice")
    return svc


def at(index: str | None, action: str = "upload") -> Context:
    return Context("foo", action=action, index=index)


def refusal(svc: TokenService, raw: str, context: Context) -> str:
    with pytest.raises(ValidationError) as info:
        svc.authenticate(raw, context)
    return str(info.value)


def test_mint_writes_the_indexes_on_the_record_and_as_a_caveat(devpi: TokenService) -> None:
    raw, record = devpi.mint("alice", indexes=["alice/dev", "alice/prod"])
    alice = devpi.store.get_user("alice")
    assert alice is not None
    assert Token.load(raw).restrictions == [
        UserIDRestriction(user_id=alice.id),
        IndexesRestriction(indexes=["alice/dev", "alice/prod"]),
    ]
    assert record.indexes == ("alice/dev", "alice/prod")
    assert devpi.get_token(record.id).indexes == ("alice/dev", "alice/prod")


def test_a_token_without_indexes_has_no_index_caveat(devpi: TokenService) -> None:
    raw, record = devpi.mint("alice")
    assert not any(isinstance(r, IndexesRestriction) for r in Token.load(raw).restrictions)
    assert devpi.get_token(record.id).indexes == ()
    assert devpi.authenticate(raw, at("anyone/anything")).user_name == "alice"
    assert devpi.authenticate(raw, at(None)).user_name == "alice"


def test_an_index_scoped_token_works_on_its_indexes(devpi: TokenService) -> None:
    raw, _ = devpi.mint("alice", indexes=["alice/dev", "alice/prod"])
    assert devpi.authenticate(raw, at("alice/dev")).user_name == "alice"
    assert devpi.authenticate(raw, at("alice/prod", "download")).user_name == "alice"


def test_an_index_scoped_token_is_refused_elsewhere_with_the_records_reason(
    devpi: TokenService,
) -> None:
    raw, _ = devpi.mint("alice", indexes=["alice/dev"])
    assert devpi.authenticate(raw, at("alice/dev")).user_name == "alice"
    assert refusal(devpi, raw, at("alice/other")) == "not valid for index 'alice/other'"
    assert refusal(devpi, raw, at("Alice/Dev")) == "not valid for index 'Alice/Dev'"
    assert refusal(devpi, raw, at(None)) == (
        "this token is scoped to indexes and the request names none"
    )


def test_an_index_refusal_is_reported_with_the_other_reasons(devpi: TokenService) -> None:
    raw, _ = devpi.mint("alice", indexes=["alice/dev"], actions=["download"])
    assert devpi.authenticate(raw, at("alice/dev", "download")).user_name == "alice"
    with pytest.raises(ValidationError) as info:
        devpi.authenticate(raw, at("alice/other", "upload"))
    assert info.value.reasons == (
        "not valid for index 'alice/other'",
        "not valid for action 'upload'",
    )


def test_offline_narrowing_to_another_index_is_refused(devpi: TokenService) -> None:
    raw, _ = devpi.mint("alice", indexes=["alice/dev", "alice/prod"])
    narrowed = Token.load(raw).restrict(indexes=["alice/prod"]).dump()
    assert devpi.authenticate(narrowed, at("alice/prod")).user_name == "alice"
    reason = refusal(devpi, narrowed, at("alice/dev"))
    assert reason == ("This token can only be used on index(es): alice/prod. Received: alice/dev")
