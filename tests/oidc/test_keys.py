"""The issuer key cache: fetched from discovery + JWKS, filtered, refreshed at most once a
minute on an unknown key id, kept when the issuer is down, or pinned from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pypitoken_core.exceptions import ConfigurationError
from pypitoken_core.oidc import ExchangeError, IssuerKeys, load_pinned
from pypitoken_core.oidc._jwks import FetchError, fetch, signing_keys
from tests.oidc_issuer import Issuer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_unknown_kid_refreshes_at_most_once_a_minute(issuer: Issuer) -> None:
    clock = Clock()
    keys = IssuerKeys(clock=clock)
    before = issuer.jwks_fetches
    assert keys.key(issuer.url, "rsa-1", "RS256").algorithm_name == "RS256"
    assert keys.key(issuer.url, "ec-1", "ES256").algorithm_name == "ES256"
    assert issuer.jwks_fetches == before + 1
    issuer.add_key("rsa-2")
    try:
        for _ in range(5):  # made-up or new kids within the minute: no fetch
            with pytest.raises(ExchangeError, match="has no key 'rsa-2'"):
                keys.key(issuer.url, "rsa-2", "RS256")
        assert issuer.jwks_fetches == before + 1
        clock.now += 60
        assert keys.key(issuer.url, "rsa-2", "RS256").key_id == "rsa-2"
        assert issuer.jwks_fetches == before + 2
    finally:
        issuer.published.remove("rsa-2")
        del issuer.keys["rsa-2"]


def test_keys_are_kept_when_the_issuer_goes_down() -> None:
    gone = Issuer()
    clock = Clock()
    keys = IssuerKeys(clock=clock)
    assert keys.key(gone.url, "rsa-1", "RS256")
    gone.stop()
    clock.now += 3601  # old enough to refresh: the refresh fails, the keys stay
    assert keys.key(gone.url, "rsa-1", "RS256")
    with pytest.raises(ExchangeError, match="has no key 'rsa-9'") as info:
        keys.key(gone.url, "rsa-9", "RS256")
    assert info.value.code == "invalid-token"
    fresh = IssuerKeys(clock=clock)
    with pytest.raises(ExchangeError, match="cannot fetch the signing keys of") as info:
        fresh.key(gone.url, "rsa-1", "RS256")
    assert (info.value.code, info.value.status) == ("issuer-unavailable", 503)


def test_only_asymmetric_signing_keys_are_kept(issuer: Issuer) -> None:
    good = issuer.jwks()["keys"]
    jwks = {
        "keys": [
            *good,
            {"kid": "hmac", "kty": "oct", "k": "c2VjcmV0", "alg": "HS256"},
            {**good[0], "kid": "enc", "use": "enc"},
            {**good[0], "kid": "lying", "alg": "ES256"},
            {**good[0], "kid": ""},
            {"kid": "odd", "kty": "XYZ"},
            "junk",
        ]
    }
    assert sorted(signing_keys(jwks)) == ["ec-1", "rsa-1"]
    with pytest.raises(FetchError, match="no list of keys"):
        signing_keys({"keys": {}})


def test_fetch_limits(issuer: Issuer) -> None:
    assert json.loads(fetch(issuer.url + "/jwks", 100_000))["keys"]
    with pytest.raises(FetchError, match="sent more than 10 bytes"):
        fetch(issuer.url + "/jwks", 10)
    with pytest.raises(FetchError, match="answered 404"):
        fetch(issuer.url + "/nothing", 1000)
    for url in ("http://example.com/jwks", "file:///etc/passwd", "https://u:p@example.com/"):
        with pytest.raises(FetchError, match="neither https nor on the loopback"):
            fetch(url, 1000)


def test_a_discovery_document_of_another_issuer(issuer: Issuer) -> None:
    keys = IssuerKeys(fetcher=lambda url, limit: json.dumps({"issuer": "https://evil"}).encode())
    with pytest.raises(ExchangeError, match="is for another issuer") as info:
        keys.key(issuer.url, "rsa-1", "RS256")
    assert info.value.code == "issuer-unavailable"


def test_pinned_keys_are_never_fetched(issuer: Issuer, tmp_path: Path) -> None:
    path = tmp_path / "pinned.json"
    path.write_text(json.dumps({"https://ci.example.com": issuer.jwks()}))
    fetched: list[str] = []
    keys = IssuerKeys(load_pinned(str(path)), fetcher=lambda u, n: fetched.append(u) or b"")
    assert keys.key("https://ci.example.com", "rsa-1", "RS256")
    with pytest.raises(ExchangeError, match="has no key 'rsa-9'"):
        keys.key("https://ci.example.com", "rsa-9", "RS256")
    assert fetched == []
    for content, message in (
        ("{", "is not JSON"),
        (json.dumps({"https://x": {"keys": []}}), "is not an issuer URL with signing keys"),
        (json.dumps({"ftp://x": issuer.jwks()}), "is not an issuer URL with signing keys"),
    ):
        path.write_text(content)
        with pytest.raises(ConfigurationError, match=message):
            load_pinned(str(path))
    with pytest.raises(ConfigurationError, match="cannot use the pinned OIDC key file"):
        load_pinned(str(tmp_path / "missing.json"))
