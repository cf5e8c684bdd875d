"""Fixtures of the trusted-publishing suite: the local issuer, a service with publishers.

The service runs on the memory store and on SQLite (as the service suite does); the
issuer is :class:`tests.oidc_issuer.Issuer`, serving real keys on 127.0.0.1.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pypitoken_core.oidc import Endpoints, Response, TrustedPublishingSettings
from pypitoken_core.service import TokenService
from pypitoken_core.store import TokenStore, open_store
from tests.oidc_issuer import Issuer

AUDIENCE = "pypi.example.com"


@pytest.fixture(autouse=True)
def _fresh_issuer(issuer: Issuer) -> None:
    """Every test starts from the issuer's default claims and keys."""
    issuer.flavour = "github"
    issuer.overrides = {}
    issuer.published = [k for k in ("rsa-1", "ec-1") if k in issuer.keys]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 't.sqlite3'}"
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def service(store: TokenStore) -> TokenService:
    """A pypi-mode service whose domain gives the audience ``pypi.example.com``; alice owns
    ``foo`` and ``bar``, bob owns ``baz``."""
    svc = TokenService(store, secrets.token_hex(32).encode(), domain=AUDIENCE)
    for user in ("alice", "bob"):
        svc.add_user(user)
    svc.add_project("foo", owner="alice")
    svc.add_project("bar", owner="alice")
    svc.add_project("baz", owner="bob")
    return svc


@pytest.fixture
def endpoints(service: TokenService) -> Endpoints:
    return service.trusted_publishing(TrustedPublishingSettings())


@pytest.fixture
def github(service: TokenService, issuer: Issuer) -> Callable[..., str]:
    """Register a GitHub publisher of octo-org/octo-repo's release.yml; return its id."""

    def add(project: str = "foo", **fields: Any) -> str:
        values = {"repository": "octo-org/octo-repo", "workflow": "release.yml"}
        values.update(issuer=issuer.url, **fields)
        return service.add_publisher("github", values, projects=[project], user="alice").id

    return add


def mint(endpoints: Endpoints, token: str) -> Response:
    """POST /_/oidc/mint-token with ``{"token": token}``."""
    return endpoints.mint(json.dumps({"token": token}).encode())


def error(response: Response) -> tuple[int, str, str]:
    """``(status, code, description)`` of an error response (and it has both shapes)."""
    body = response.body
    assert response.content_type == "application/problem+json"
    assert body["status"] == response.status and body["type"] == "about:blank"
    assert body["message"] == body["title"]
    (entry,) = body["errors"]
    assert body["detail"] == f"{entry['code']}: {entry['description']}"
    return response.status, entry["code"], entry["description"]
