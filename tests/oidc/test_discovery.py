"""PEP 807 discovery: ``/.well-known/pytp?discover=<path>`` (and the drafts' hash form)."""

from __future__ import annotations

import hashlib

import pytest

from pypitoken_core.oidc import (
    DISCOVERY_TYPE,
    Endpoints,
    TrustedPublishingSettings,
    path_hashes,
)
from pypitoken_core.service import TokenService
from tests.oidc.conftest import error

BASE = "https://pypi.example.com:8443"


def _is_upload(path: str) -> bool:
    return path in ("/alice/dev/", "/alice/dev")


def test_the_discovery_document(endpoints: Endpoints) -> None:
    for query in (
        "discover=%2Falice%2Fdev%2F",
        "discover=/alice/dev",
        "x=1&discover=%2Falice%2Fdev",
    ):
        response = endpoints.discover(query, None, BASE, _is_upload)
        assert (response.status, response.content_type) == (200, DISCOVERY_TYPE)
        assert response.body == {
            "audience-endpoint": f"{BASE}/_/oidc/audience",
            "token-mint-endpoint": f"{BASE}/_/oidc/mint-token",
            "features": ["multi-use-token"],
            "default-features": ["multi-use-token"],
        }


@pytest.mark.parametrize(
    "query", ["discover=%2Fbob%2Fdev%2F", "", "discover=", "discover=/alice/dev&discover=/x"]
)
def test_unknown_upload_paths(endpoints: Endpoints, query: str) -> None:
    status, code, _ = error(endpoints.discover(query, None, BASE, _is_upload))
    assert (status, code) == (404, "not-found")


def test_the_root_path(endpoints: Endpoints) -> None:
    """pypiserver uploads to /: the empty path and / both find it."""
    for query in ("", "discover=", "discover=%2F"):
        response = endpoints.discover(query, None, BASE, lambda p: p in ("", "/"))
        assert response.status == 200


@pytest.mark.parametrize(
    ("accept", "ok"),
    [
        (None, True),
        ("", True),
        (DISCOVERY_TYPE, True),
        ("*/*", True),
        ("application/*;q=0.5", True),
        ("text/html, */*;q=0.1", True),
        ("text/html", False),
        ("application/json", False),
        (f"{DISCOVERY_TYPE};q=0", False),
        ("*/*;q=x", False),
    ],
)
def test_accept(endpoints: Endpoints, accept: str | None, ok: bool) -> None:
    response = endpoints.discover("discover=/alice/dev/", accept, BASE, _is_upload)
    if ok:
        assert response.status == 200
    else:
        assert error(response)[:2] == (406, "not-acceptable")


def test_the_drafts_hash_form(endpoints: Endpoints) -> None:
    key = hashlib.sha256(b"/alice/dev/").hexdigest()
    paths = path_hashes(["/alice/dev/", "/alice/dev"])
    response = endpoints.discover_by_hash(key, None, BASE, paths)
    assert response.status == 200 and response.body["token-mint-endpoint"].startswith(BASE)
    assert error(endpoints.discover_by_hash("0" * 64, None, BASE, paths))[:2] == (404, "not-found")
    assert error(endpoints.discover_by_hash(key, "text/html", BASE, paths))[0] == 406


def test_the_urls_are_https(endpoints: Endpoints) -> None:
    """Behind a TLS proxy the index sees http; the clients use https whatever."""
    response = endpoints.discover("discover=/alice/dev/", None, "http://h:1/prefix/", _is_upload)
    assert response.body["audience-endpoint"] == "https://h:1/prefix/_/oidc/audience"


def test_disabled_finds_nothing(service: TokenService) -> None:
    off = service.trusted_publishing(TrustedPublishingSettings(enabled=False))
    assert error(off.discover("discover=/alice/dev/", None, BASE, _is_upload))[0] == 404
