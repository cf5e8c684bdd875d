"""Verifying an OIDC token (a JWT): cheap, certain checks first, then the signature.

In order: the size, the shape (three segments, a JSON header naming an allowed asymmetric
algorithm and a key id), the issuer (peeked at without verification, and refused unless a
registered publisher trusts it: no key is ever fetched for an issuer an attacker names),
the issuer's key, and only then PyJWT's verification of the signature and of ``iss``
(exactly), ``aud`` (exactly, a string), ``exp``, ``nbf`` and ``iat`` (with
:data:`LEEWAY`), and a ``jti``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._errors import ExchangeError
from ._jwks import ALGORITHMS, IssuerKeys, pyjwt

__all__ = ["LEEWAY", "MAX_JWT_LENGTH", "Verifier"]

#: Seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat`` (Warehouse's too).
LEEWAY = 30
#: Longest OIDC token accepted; real GitHub and GitLab tokens are 1 to 2 KB.
MAX_JWT_LENGTH = 16 * 1024
_MAX_JTI = 200
_REQUIRED = ["iss", "aud", "exp", "iat", "jti"]


def _invalid(reason: str) -> ExchangeError:
    return ExchangeError("invalid-token", reason)


class Verifier:
    """Verifies OIDC tokens for one audience (see module docstring).

    ``issuer_known(iss)`` tells whether a registered publisher trusts ``iss``.
    """

    def __init__(
        self, audience: str, keys: IssuerKeys, issuer_known: Callable[[str], bool]
    ) -> None:
        self._jwt = jwt = pyjwt()
        # Which PyJWT refusal reads how, the most specific first.
        self._errors: tuple[tuple[type[Exception], Callable[[Exception], str]], ...] = (
            (jwt.ExpiredSignatureError, lambda _: "the token has expired"),
            (jwt.ImmatureSignatureError, lambda e: f"the token is not valid yet ({e})"),
            (
                jwt.InvalidAudienceError,
                lambda _: f"the token's audience is not {audience!r} (GET /_/oidc/audience)",
            ),
            (
                jwt.InvalidSignatureError,
                lambda _: "the signature does not verify with the issuer's key",
            ),
            (jwt.PyJWTError, lambda e: f"{type(e).__name__}: {e}"),
        )
        self.audience = audience
        self._keys = keys
        self._issuer_known = issuer_known

    def __repr__(self) -> str:
        return f"<Verifier audience={self.audience!r}>"

    def verify(self, token: object) -> dict[str, Any]:
        """The claims of a genuine, current token for our audience.

        Raises :class:`ExchangeError`: ``payload-too-large``, ``invalid-payload`` (not a
        JWT, or an issuer no publisher trusts), ``invalid-token`` (any verification
        failure), ``issuer-unavailable`` (keys cannot be fetched).
        """
        if type(token) is not str or not token:
            raise ExchangeError("invalid-payload", "'token' must be a non-empty string")
        if len(token) > MAX_JWT_LENGTH:
            raise ExchangeError(
                "payload-too-large", f"the token is longer than {MAX_JWT_LENGTH} characters"
            )
        if token.count(".") != 2 or not token.isascii():
            raise ExchangeError("invalid-payload", "malformed JWT")
        jwt = self._jwt
        try:
            # One parse for the header and the unverified claims (PyJWT's base64 checks
            # are slow per character; the verified decode below is the second and last).
            peeked = jwt.decode_complete(token, options={"verify_signature": False})
            header, unverified = peeked["header"], peeked["payload"]
        except jwt.PyJWTError as exc:
            raise ExchangeError("invalid-payload", f"malformed JWT ({exc})") from None
        alg, kid = header.get("alg"), header.get("kid")
        if type(alg) is not str or alg not in ALGORITHMS:
            raise _invalid(f"algorithm {alg!r} is not allowed; allowed: {', '.join(ALGORITHMS)}")
        if type(kid) is not str or not kid:
            raise _invalid("the token's header names no signing key ('kid')")
        issuer = unverified.get("iss")
        if type(issuer) is not str or not self._issuer_known(issuer):
            raise ExchangeError("invalid-payload", f"unknown trusted publishing issuer {issuer!r}")
        key = self._keys.key(issuer, kid, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=issuer,
                leeway=LEEWAY,
                options={
                    "require": _REQUIRED,
                    "strict_aud": True,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            # PyJWT's messages name claims and algorithms, never the token or a key.
            reason = next(say(exc) for kind, say in self._errors if isinstance(exc, kind))
            raise _invalid(reason) from None
        jti = claims["jti"]
        if type(jti) is not str or not jti or len(jti) > _MAX_JTI:
            raise _invalid(f"the token's 'jti' must be a string of 1 to {_MAX_JTI} characters")
        return claims
