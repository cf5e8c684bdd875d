"""Tampered and forged tokens: stripped, reordered, re-signed, spliced, or made from a dump."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

import pytest

from pypitoken_core import Token, ValidationError, _macaroon
from pypitoken_core.service import INVALID_TOKEN, TokenService, derive_key
from tests.service.conftest import MakeService, download, upload

# Until the signature is verified, every refusal reads the same.
SIGNATURE_REASON = INVALID_TOKEN


def rebuild(raw: str, **changes: object) -> str:
    """Re-encode a token's macaroon with some fields replaced, signature untouched."""
    prefix, _, body = raw.partition("-")
    decoded = _macaroon.decode(_macaroon.b64decode(body))
    return prefix + "-" + _macaroon.b64encode(_macaroon.encode(decoded._replace(**changes)))


def caveats(raw: str) -> tuple[bytes, ...]:
    return _macaroon.decode(_macaroon.b64decode(raw.partition("-")[2])).caveats


def refused(service: TokenService, raw: str, project: str = "foo") -> str:
    with pytest.raises(ValidationError) as info:
        service.authenticate(raw, upload(project))
    return str(info.value)


@pytest.fixture
def project_token(service: TokenService) -> tuple[str, str]:
    """alice's token for foo, expiring in an hour: three caveats (date, name, id)."""
    raw, record = service.mint("alice", projects=["foo"], expires=3600)
    assert len(caveats(raw)) == 3
    assert service.authenticate(raw, upload("foo")).user_name == "alice"
    return raw, record.id


@pytest.mark.parametrize("index", [0, 1, 2])
def test_stripped_caveat_is_refused(
    service: TokenService, project_token: tuple[str, str], index: int
) -> None:
    raw, _ = project_token
    kept = tuple(c for i, c in enumerate(caveats(raw)) if i != index)
    assert refused(service, rebuild(raw, caveats=kept)) == SIGNATURE_REASON


def test_all_caveats_stripped_is_refused(
    service: TokenService, project_token: tuple[str, str]
) -> None:
    raw, _ = project_token
    assert refused(service, rebuild(raw, caveats=())) == SIGNATURE_REASON
    assert refused(service, rebuild(raw, caveats=()), "bar") == SIGNATURE_REASON


def test_stripped_user_caveat_is_refused(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    assert refused(service, rebuild(raw, caveats=())) == SIGNATURE_REASON


def test_reordered_caveats_are_refused(
    service: TokenService, project_token: tuple[str, str]
) -> None:
    raw, _ = project_token
    original = caveats(raw)
    for order in ((1, 0, 2), (2, 1, 0), (0, 2, 1)):
        shuffled = tuple(original[i] for i in order)
        assert refused(service, rebuild(raw, caveats=shuffled)) == SIGNATURE_REASON


def test_edited_caveat_is_refused(service: TokenService, project_token: tuple[str, str]) -> None:
    raw, _ = project_token
    service.add_project("bar", "alice")
    date, _names, ids = caveats(raw)
    widened = json.dumps([1, ["foo", "bar"]]).encode()
    assert refused(service, rebuild(raw, caveats=(date, widened, ids)), "bar") == SIGNATURE_REASON


@pytest.mark.parametrize(
    "guess",
    [
        pytest.param(
            lambda salt: derive_key(b"wrong-secret-" + b"x" * 32, salt), id="wrong-secret"
        ),
        pytest.param(lambda salt: salt, id="salt-as-key"),
        pytest.param(lambda salt: hmac.digest(b"", salt, "sha256"), id="empty-secret"),
        pytest.param(lambda salt: hashlib.sha256(salt).digest(), id="sha256-of-salt"),
        pytest.param(lambda salt: derive_key(salt, b"pypitoken"), id="swapped-hmac"),
    ],
)
def test_resigned_with_a_guessed_key_is_refused(
    service: TokenService, project_token: tuple[str, str], guess: object
) -> None:
    """A database dump gives the salt; without the server secret no key derived from it works."""
    raw, token_id = project_token
    salt = service.get_token(token_id).salt
    key = guess(salt)  # type: ignore[operator]
    # Re-sign the full, legitimate-looking token...
    resigned = rebuild(raw, signature=_macaroon.sign(key, token_id.encode(), caveats(raw)))
    assert refused(service, resigned) == SIGNATURE_REASON
    # ...and a widened one with no caveats at all.
    assert refused(service, Token.create("localhost", token_id, key).dump()) == SIGNATURE_REASON


def test_guessed_key_with_random_salt_is_refused(service: TokenService, secret: bytes) -> None:
    """Even the right secret is useless with a made-up salt."""
    _raw, record = service.mint("alice")
    key = derive_key(secret, secrets.token_bytes(16))
    assert refused(service, Token.create("localhost", record.id, key).dump()) == SIGNATURE_REASON


def test_identifier_swapped_to_another_token_is_refused(service: TokenService) -> None:
    """alice's signature chain spliced onto bob's identifier (or the reverse) verifies nowhere."""
    service.add_maintainer("foo", "bob")
    alice_raw, _ = service.mint("alice", projects=["foo"])
    _bob_raw, bob_record = service.mint("bob")
    spliced = rebuild(alice_raw, identifier=bob_record.id.encode())
    assert refused(service, spliced) == SIGNATURE_REASON


def test_truncated_signature_is_malformed(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    assert refused(service, raw[:-3]).startswith("malformed token")


def test_flipped_signature_bit_is_refused(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    _prefix, _, body = raw.partition("-")
    decoded = _macaroon.decode(_macaroon.b64decode(body))
    flipped = bytes([decoded.signature[0] ^ 1]) + decoded.signature[1:]
    assert refused(service, rebuild(raw, signature=flipped)) == SIGNATURE_REASON


def test_unknown_caveat_added_by_the_holder_fails_closed(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    caveat = json.dumps([99, "grant everything"]).encode()
    prefix, _, body = raw.partition("-")
    decoded = _macaroon.decode(_macaroon.b64decode(body))
    extended = decoded._replace(
        caveats=(*decoded.caveats, caveat),
        signature=_macaroon.chain(decoded.signature, [caveat]),
    )
    forged = prefix + "-" + _macaroon.b64encode(_macaroon.encode(extended))
    unknown = "Could not find matching Restriction for [99, 'grant everything']"
    assert refused(service, forged) == unknown
    assert refused(service, forged, "bar") == unknown
    with pytest.raises(ValidationError, match=re.escape(unknown)):
        service.authenticate(forged, download("foo"))
    assert service.authenticate(raw, download("foo")).user_name == "alice"


def test_token_of_a_deleted_user_is_refused(service: TokenService) -> None:
    raw, _ = service.mint("alice", projects=["foo"])
    service.remove_user("alice", transfer_to="bob")  # alice owned foo
    assert refused(service, raw) == "token revoked"
    service.add_user("alice")
    assert refused(service, raw) == "token revoked"


def test_token_from_another_server_secret_is_refused(
    make_service: MakeService, service: TokenService
) -> None:
    raw, _ = service.mint("alice")
    other = make_service(secret=b"another-server-secret-0123456789")
    assert refused(other, raw) == SIGNATURE_REASON
