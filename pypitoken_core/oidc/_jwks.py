"""The signing keys of OIDC issuers: fetched, filtered, cached, or pinned from a file.

An issuer's keys come from its OIDC discovery document (``<issuer>/.well-known/
openid-configuration``, whose ``issuer`` must be the issuer itself) and the JWKS its
``jwks_uri`` names, both over https (plain http only on the loopback), without redirects,
within a few seconds and a size limit. Only signing keys of the asymmetric kinds are kept
(``kty`` RSA, EC or OKP; ``use`` absent or ``sig``; ``alg`` absent or allowed): PyJWT's
own key set would keep ``oct`` (HMAC) and encryption keys.

The cache is per process. A token naming a key id the cache lacks makes one refresh, at
most once a minute per issuer (so a stream of made-up key ids costs one fetch a minute);
keys are also refreshed when an hour old. A failed refresh keeps the keys already held:
an issuer that is down only refuses tokens whose key this process never saw
(``issuer-unavailable``). Pinned key sets (for air-gapped sites) are never fetched.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ._errors import ExchangeError
from ._urls import trusted_url

if TYPE_CHECKING:
    import jwt

__all__ = [
    "ALGORITHMS",
    "MAX_DISCOVERY_BYTES",
    "MAX_JWKS_BYTES",
    "IssuerKeys",
    "fetch",
    "load_pinned",
    "pyjwt",
]

#: Signature algorithms a token may use: asymmetric only, so a public key can never be
#: taken for an HMAC secret, and ``none`` is never among them.
ALGORITHMS: dict[str, str] = {
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
    "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
    "EdDSA": "OKP",
}  # fmt: skip

MAX_DISCOVERY_BYTES = 64 * 1024
MAX_JWKS_BYTES = 256 * 1024
_MAX_KEYS = 100
_TIMEOUT = 5.0
#: Seconds between two fetches of one issuer's keys prompted by unknown key ids.
REFRESH_INTERVAL = 60.0
#: Keys older than this are fetched again when next used.
MAX_KEY_AGE = 3600.0

Fetch = Callable[[str, int], bytes]


def pyjwt() -> ModuleType:
    """PyJWT, with the ``cryptography`` backend its asymmetric algorithms need.

    Imported only when trusted publishing is set up, so that the core runs without it;
    raises :class:`ConfigurationError` saying what to install when it is missing.
    """
    try:
        import jwt
        from jwt.algorithms import has_crypto
    except ImportError:
        has_crypto = False
    if not has_crypto:
        raise ConfigurationError(
            "trusted publishing needs PyJWT and cryptography: pip install 'pypitoken-core[oidc]'"
        )
    return jwt


class FetchError(Exception):
    """A document could not be fetched; the message says why (never a key)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, limit: int) -> bytes:
    """GET ``url`` (https, or http on the loopback) and return at most ``limit`` bytes.

    No redirects, :data:`_TIMEOUT` seconds; raises :class:`FetchError` for anything but a
    200 within the limit.
    """
    if not trusted_url(url):
        raise FetchError(f"{url} is neither https nor on the loopback")
    # trusted_url admitted https, or http on the loopback: no file: or custom schemes.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as response:
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status}")
            body: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url} answered {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    if len(body) > limit:
        raise FetchError(f"{url} sent more than {limit} bytes")
    return body


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError(f"{what} is not JSON") from None
    if type(value) is not dict:
        raise FetchError(f"{what} is not a JSON object")
    return value


def signing_keys(jwks: object) -> dict[str, dict[str, Any]]:
    """The usable signing keys of a JWKS document, by key id (see module docstring)."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if type(keys) is not list:
        raise FetchError("the JWKS has no list of keys")
    usable: dict[str, dict[str, Any]] = {}
    for key in keys[: _MAX_KEYS * 10]:
        if type(key) is not dict:
            continue
        kid, kty, use, alg = (key.get(n) for n in ("kid", "kty", "use", "alg"))
        if type(kid) is not str or not kid or len(kid) > 200:
            continue
        if kty not in ("RSA", "EC", "OKP") or use not in (None, "sig"):
            continue
        if alg is not None and ALGORITHMS.get(alg) != kty:
            continue
        usable[kid] = key
        if len(usable) == _MAX_KEYS:
            break
    return usable


def load_pinned(path: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Pinned key sets from a JSON file ``{"<issuer>": <JWKS>, ...}``, by issuer.

    For sites that cannot reach their issuers: the keys are never fetched. Raises
    :class:`ConfigurationError` for a file that cannot be read or holds no usable key.
    """
    try:
        with open(path, "rb") as f:
            data = _json_object(f.read(MAX_JWKS_BYTES * 10 + 1), f"pinned key file {path}")
        pinned = {issuer: signing_keys(jwks) for issuer, jwks in data.items()}
    except (OSError, FetchError) as exc:
        raise ConfigurationError(f"cannot use the pinned OIDC key file {path}: {exc}") from exc
    for issuer, keys in pinned.items():
        if not trusted_url(issuer) or not keys:
            raise ConfigurationError(
                f"pinned OIDC key file {path}: {issuer!r} is not an issuer URL with signing keys"
            )
    return pinned


@dataclass
class _Issuer:
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched: float | None = None
    attempted: float | None = None
    error: str | None = None
    built: dict[tuple[str, str], jwt.PyJWK] = field(default_factory=dict)


class IssuerKeys:
    """The keys of the issuers this process verifies tokens of (see module docstring).

    ``pinned`` (issuer -> keys by id, from :func:`load_pinned`) are used instead of
    fetching; ``fetcher`` and ``clock`` are replaceable for tests of the cache itself.
    """

    def __init__(
        self,
        pinned: Mapping[str, dict[str, dict[str, Any]]] | None = None,
        *,
        fetcher: Fetch = fetch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwt = pyjwt()
        self._pinned = dict(pinned or {})
        self._fetch = fetcher
        self._clock = clock
        self._issuers: dict[str, _Issuer] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<IssuerKeys cached={sorted(self._issuers)} pinned={sorted(self._pinned)}>"

    def key(self, issuer: str, kid: str, alg: str) -> jwt.PyJWK:
        """The key ``kid`` of ``issuer``, for algorithm ``alg``.

        Raises :class:`ExchangeError`: ``invalid-token`` when the issuer has no such key
        (or not for that algorithm), ``issuer-unavailable`` when its keys cannot be
        fetched and none are held.
        """
        entry = self._entry(issuer, kid)
        jwk = entry.keys.get(kid)
        if jwk is None:
            if entry.error is not None and not entry.keys:
                raise ExchangeError(
                    "issuer-unavailable",
                    f"cannot fetch the signing keys of {issuer}: {entry.error}",
                )
            raise ExchangeError("invalid-token", f"the issuer {issuer} has no key {kid!r}")
        return self._built(entry, kid, jwk, alg)

    def _entry(self, issuer: str, kid: str) -> _Issuer:
        if issuer in self._pinned:
            with self._lock:
                return self._issuers.setdefault(issuer, _Issuer(keys=self._pinned[issuer]))
        with self._lock:
            entry = self._issuers.setdefault(issuer, _Issuer())
            now = self._clock()
            stale = entry.fetched is None or now - entry.fetched >= MAX_KEY_AGE
            due = entry.attempted is None or now - entry.attempted >= REFRESH_INTERVAL
            if not ((kid not in entry.keys or stale) and due):
                return entry
            entry.attempted = now
            # Fetched under the lock: concurrent requests for one issuer wait for this
            # fetch instead of each making their own.
            try:
                entry.keys = self._download(issuer)
                entry.fetched, entry.error, entry.built = now, None, {}
            except FetchError as exc:
                entry.error = str(exc)  # the keys already held stay
            return entry

    def _download(self, issuer: str) -> dict[str, dict[str, Any]]:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        config = _json_object(self._fetch(url, MAX_DISCOVERY_BYTES), "the discovery document")
        if config.get("issuer") != issuer:
            raise FetchError(f"the discovery document at {url} is for another issuer")
        jwks_uri = config.get("jwks_uri")
        if type(jwks_uri) is not str or not trusted_url(jwks_uri):
            raise FetchError("the discovery document names no https jwks_uri")
        keys = signing_keys(_json_object(self._fetch(jwks_uri, MAX_JWKS_BYTES), "the JWKS"))
        if not keys:
            raise FetchError("the JWKS holds no usable signing key")
        return keys

    def _built(self, entry: _Issuer, kid: str, jwk: dict[str, Any], alg: str) -> jwt.PyJWK:
        cached = entry.built.get((kid, alg))
        if cached is not None:
            return cached
        if jwk.get("alg", alg) != alg or ALGORITHMS.get(alg) != jwk.get("kty"):
            raise ExchangeError("invalid-token", f"key {kid!r} is not a key for {alg}")
        try:
            built: jwt.PyJWK = self._jwt.PyJWK(jwk, algorithm=alg)
        except self._jwt.PyJWTError:
            raise ExchangeError("invalid-token", f"key {kid!r} cannot verify {alg}") from None
        entry.built[(kid, alg)] = built
        return built
