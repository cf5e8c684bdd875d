"""Every refusal of the exchange is a 4xx (or a 503 to retry) with a readable code.

Each test sends one bad thing next to a control that is the same request made right, which
mints. The list is issue 10's: forged algorithms, keys, issuers and audiences, times, a
replayed jti, another repository, workflow, environment or owner id, claims of the wrong
type, oversized and malformed bodies, an unreachable issuer.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pypitoken_core.oidc import Endpoints, TrustedPublishingSettings
from pypitoken_core.service import TokenService
from tests.oidc.conftest import AUDIENCE, error, mint
from tests.oidc_issuer import Issuer


@pytest.fixture(autouse=True)
def _publisher(github: Callable[..., str]) -> None:
    github(environment="release", owner_id="123456")


def test_the_control_mints(endpoints: Endpoints, issuer: Issuer) -> None:
    response = mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE)))
    assert response.status == 200, response.body
    assert response.body["success"] is True
    assert response.body["token"].startswith("pypi-")
    assert response.body["expires"] - time.time() == pytest.approx(900, abs=5)


def test_an_ec_key_mints_too(endpoints: Endpoints, issuer: Issuer) -> None:
    assert mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE), "ec-1")).status == 200


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_alg_none(endpoints: Endpoints, issuer: Issuer) -> None:
    token = _unsigned(issuer.github_claims(AUDIENCE), {"alg": "none", "kid": "rsa-1"})
    assert error(mint(endpoints, token)) == (
        422, "invalid-token",
        "algorithm 'none' is not allowed; allowed: RS256, RS384, RS512, PS256, PS384, PS512,"
        " ES256, ES384, ES512, EdDSA",
    )  # fmt: skip


def test_hs256_signed_with_the_issuers_public_key(endpoints: Endpoints, issuer: Issuer) -> None:
    public = (
        issuer.keys["rsa-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    signing_input = _unsigned(issuer.github_claims(AUDIENCE), header)[:-1]
    # PyJWT refuses to sign with a PEM as HMAC secret: sign by hand, as an attacker would.
    import hashlib
    import hmac

    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    status, code, description = error(mint(endpoints, token))
    assert (status, code) == (422, "invalid-token")
    assert description.startswith("algorithm 'HS256' is not allowed")


def test_a_key_not_in_the_jwks(endpoints: Endpoints, issuer: Issuer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = issuer.github_claims(AUDIENCE)
    assert error(mint(endpoints, issuer.sign(claims, "rsa-1", key=stranger))) == (
        422, "invalid-token", "the signature does not verify with the issuer's key",
    )  # fmt: skip
    assert error(mint(endpoints, issuer.sign(claims, "rsa-9", key=stranger))) == (
        422, "invalid-token", f"the issuer {issuer.url} has no key 'rsa-9'",
    )  # fmt: skip


def test_a_key_used_with_another_algorithm(endpoints: Endpoints, issuer: Issuer) -> None:
    claims = issuer.github_claims(AUDIENCE)
    assert error(mint(endpoints, issuer.sign(claims, "rsa-1", alg="RS512"))) == (
        422, "invalid-token", "key 'rsa-1' is not a key for RS512",
    )  # fmt: skip


@pytest.mark.parametrize("iss", ["https://token.actions.githubusercontent.com", "{url}/"])
def test_an_issuer_no_publisher_trusts(endpoints: Endpoints, issuer: Issuer, iss: str) -> None:
    iss = iss.format(url=issuer.url)
    fetches = issuer.jwks_fetches
    token = issuer.sign(issuer.github_claims(AUDIENCE, iss=iss))
    assert error(mint(endpoints, token)) == (
        422, "invalid-payload", f"unknown trusted publishing issuer {iss!r}",
    )  # fmt: skip
    assert issuer.jwks_fetches == fetches  # no key was fetched for it


def test_another_trusted_issuers_name(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    """A token of one trusted issuer naming another trusted issuer as ``iss``: the keys of
    the issuer it names (same key ids, other keys) do not verify it."""
    other = Issuer()
    try:
        service.add_publisher(
            "github",
            {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": other.url},
            projects=["foo"],
            user="alice",
        )
        forged = issuer.sign(issuer.github_claims(AUDIENCE, iss=other.url))
        assert error(mint(endpoints, forged)) == (
            422, "invalid-token", "the signature does not verify with the issuer's key",
        )  # fmt: skip
        assert mint(endpoints, other.sign(other.github_claims(AUDIENCE))).status == 200
    finally:
        other.stop()


@pytest.mark.parametrize(
    ("aud", "reason"),
    [
        ("pypi.example.org", "the token's audience is not 'pypi.example.com'"),
        ([AUDIENCE], "the token's audience is not 'pypi.example.com'"),
        (None, 'MissingRequiredClaimError: Token is missing the "aud" claim'),
    ],
)
def test_audience(endpoints: Endpoints, issuer: Issuer, aud: Any, reason: str) -> None:
    claims = issuer.github_claims(AUDIENCE, aud=aud)  # None removes the claim
    status, code, description = error(mint(endpoints, issuer.sign(claims)))
    assert (status, code) == (422, "invalid-token")
    assert description.startswith(reason)


def test_expired(endpoints: Endpoints, issuer: Issuer) -> None:
    now = int(time.time())
    stale = issuer.github_claims(AUDIENCE, exp=now - 60, iat=now - 400, nbf=now - 400)
    assert error(mint(endpoints, issuer.sign(stale))) == (
        422, "invalid-token", "the token has expired",
    )  # fmt: skip
    # within the leeway it passes
    fresh = issuer.github_claims(AUDIENCE, exp=now - 10, iat=now - 400, nbf=now - 400)
    assert mint(endpoints, issuer.sign(fresh)).status == 200


def test_not_before_in_the_future(endpoints: Endpoints, issuer: Issuer) -> None:
    later = int(time.time()) + 120
    assert error(mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE, nbf=later)))) == (
        422, "invalid-token", "the token is not valid yet (The token is not yet valid (nbf))",
    )  # fmt: skip
    status, code, _ = error(mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE, iat=later))))
    assert (status, code) == (422, "invalid-token")


def test_a_replayed_jti(endpoints: Endpoints, issuer: Issuer) -> None:
    token = issuer.sign(issuer.github_claims(AUDIENCE))
    assert mint(endpoints, token).status == 200
    assert error(mint(endpoints, token)) == (
        422, "invalid-reuse-token", "invalid token: already used",
    )  # fmt: skip


@pytest.mark.parametrize("shape", ["int", "str", "float"])
def test_the_jti_is_kept_until_the_token_expires(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, shape: str
) -> None:
    """PyJWT takes any ``exp`` that int() reads ("123", 1.5): the jti is kept until then
    (plus the leeway), not a moment less."""
    expires = int(time.time()) + 3000
    exp = {"int": expires, "str": str(expires), "float": expires + 0.5}[shape]
    claims = issuer.github_claims(AUDIENCE, exp=exp)
    assert mint(endpoints, issuer.sign(claims)).status == 200
    key = f"oidc-jti\n{issuer.url}\n{claims['jti']}"
    assert service.store.is_taken(key, expires + 30)  # type: ignore[attr-defined]
    assert not service.store.is_taken(key, expires + 31)  # type: ignore[attr-defined]


def test_a_replayed_jti_in_another_token_of_the_issuer(
    endpoints: Endpoints, issuer: Issuer
) -> None:
    first = issuer.github_claims(AUDIENCE)
    assert mint(endpoints, issuer.sign(first)).status == 200
    again = issuer.github_claims(AUDIENCE, jti=first["jti"])
    assert error(mint(endpoints, issuer.sign(again, "ec-1")))[1] == "invalid-reuse-token"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"repository": "octo-org/other-repo"},
            "no corresponding publisher",
        ),
        (
            {"job_workflow_ref": "octo-org/octo-repo/.github/workflows/ci.yml@refs/tags/v1.0.0"},
            "no corresponding publisher (workflow 'octo-org/octo-repo/.github/workflows/ci.yml"
            "@refs/tags/v1.0.0' is not octo-org/octo-repo/.github/workflows/release.yml at the"
            " run's ref or sha)",
        ),
        (
            {"environment": "staging"},
            "no corresponding publisher (environment 'staging' is not 'release')",
        ),
        (
            {"environment": None},
            "no corresponding publisher (the job runs in no environment; the publisher needs"
            " 'release')",
        ),
        (
            {"repository_owner_id": "999"},
            "no corresponding publisher (repository owner id '999' is not '123456' (the account"
            " was deleted and re-created?))",
        ),
        (
            {"repository_owner_id": 123456},
            "no corresponding publisher (claim 'repository_owner_id' must be a string, not int)",
        ),
        (
            {"environment": ["release"]},
            "no corresponding publisher (claim 'environment' must be a string, not list)",
        ),
        (
            {"event_name": "pull_request_target"},
            "no corresponding publisher (publishing from a 'pull_request_target' workflow is"
            " not allowed)",
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_claims_that_match_no_publisher(
    endpoints: Endpoints, issuer: Issuer, changes: dict[str, Any], reason: str
) -> None:
    token = issuer.sign(issuer.github_claims(AUDIENCE, **changes))
    assert error(mint(endpoints, token)) == (422, "invalid-publisher", f"valid token, but {reason}")


def test_a_refused_token_keeps_its_jti(endpoints: Endpoints, issuer: Issuer) -> None:
    """Matching no publisher consumes nothing (as on pypi.org)."""
    claims = issuer.github_claims(AUDIENCE, environment="staging")
    assert error(mint(endpoints, issuer.sign(claims)))[1] == "invalid-publisher"
    fixed = dict(claims, environment="release")
    assert mint(endpoints, issuer.sign(fixed)).status == 200


def test_claims_of_the_wrong_type_in_the_registered_ones(
    endpoints: Endpoints, issuer: Issuer
) -> None:
    for claims, reason in (
        ({"exp": "later"}, "DecodeError: Expiration Time claim (exp) must be an integer."),
        ({"jti": 5}, "InvalidJTIError: JWT ID must be a string"),
        ({"jti": None}, 'MissingRequiredClaimError: Token is missing the "jti" claim'),
    ):
        token = issuer.sign(issuer.github_claims(AUDIENCE, **claims))
        assert error(mint(endpoints, token)) == (422, "invalid-token", reason)


def test_a_megabyte_jwt(endpoints: Endpoints, issuer: Issuer) -> None:
    token = issuer.sign(issuer.github_claims(AUDIENCE, padding="x" * 1_000_000))
    assert error(mint(endpoints, token)) == (
        413, "payload-too-large", "the request body is larger than 65536 bytes",
    )  # fmt: skip
    body = json.dumps({"token": "a." + "b" * 20_000 + ".c"}).encode()
    assert error(endpoints.mint(body)) == (
        413, "payload-too-large", "the token is longer than 16384 characters",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body must be a JSON object"),
        (b"[1]", "the body must be a JSON object"),
        (b'{"token": 5}', "'token' must be a non-empty string"),
        (b"{}", "'token' must be a non-empty string"),
        (b'{"token": "abc"}', "malformed JWT"),
        (b'{"token": "a.b.c"}', "malformed JWT (Invalid header padding)"),
        (b"[" * 100_000, "the request body is larger than 65536 bytes"),
    ],
)
def test_malformed_bodies(endpoints: Endpoints, body: bytes, reason: str) -> None:
    status, code, description = error(endpoints.mint(body))
    assert description == reason
    assert (status, code) in ((422, "invalid-payload"), (413, "payload-too-large"))


def test_features(endpoints: Endpoints, issuer: Issuer) -> None:
    token = issuer.sign(issuer.github_claims(AUDIENCE))
    body = {"token": token, "features": ["single-use-token"]}
    assert error(endpoints.mint(json.dumps(body).encode())) == (
        422, "unsupported-feature",
        "not supported here: single-use-token; supported: multi-use-token",
    )  # fmt: skip
    body["features"] = ["multi-use-token"]
    assert endpoints.mint(json.dumps(body).encode()).status == 200


def test_disabled(service: TokenService, issuer: Issuer) -> None:
    off = service.trusted_publishing(TrustedPublishingSettings(enabled=False))
    assert error(off.get_audience()) == (
        403, "not-enabled", "trusted publishing is not enabled on this index",
    )  # fmt: skip
    assert error(mint(off, issuer.sign(issuer.github_claims(AUDIENCE))))[1] == "not-enabled"


def test_the_issuer_unreachable(service: TokenService) -> None:
    """A stopped issuer: 503 with the reason, and the index keeps answering."""
    gone = Issuer()
    gone.stop()
    service.add_publisher(
        "github",
        {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": gone.url},
        projects=["foo"],
        user="alice",
    )
    endpoints = service.trusted_publishing(TrustedPublishingSettings())
    status, code, description = error(mint(endpoints, gone.sign(gone.github_claims(AUDIENCE))))
    assert (status, code) == (503, "issuer-unavailable")
    assert description.startswith(f"cannot fetch the signing keys of {gone.url}: ")
    assert endpoints.get_audience().status == 200
