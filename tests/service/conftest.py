"""Fixtures for the TokenService suite: a service on the memory store and on SQLite.

Every service test runs on both stores (``store_url`` is parametrised); the tests that
need separate processes or a server database use the SQLite file and the throwaway
PostgreSQL cluster of ``tests/store`` (imported here, not copied).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pypitoken_core import Context
from pypitoken_core.service import TokenService
from pypitoken_core.store import TokenStore, open_store

#: Every environment variable the service or the CLI reads: a developer's shell must not
#: change what these tests see.
ENV_VARS = (
    "PYPITOKEN_SECRET",
    "PYPITOKEN_SECRET_FILE",
    "PYPITOKEN_DB",
    "PYPITOKEN_OWNERSHIP",
    "PYPITOKEN_ALLOW_DELETE",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def secret() -> bytes:
    """A fresh server secret per test."""
    return secrets.token_hex(32).encode()


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'db' / 'tokens.sqlite3'}"


@pytest.fixture
def store(store_url: str) -> Iterator[TokenStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


MakeService = Callable[..., TokenService]


@pytest.fixture
def make_service(store: TokenStore, secret: bytes) -> MakeService:
    """Services sharing one store and secret; keyword arguments go to ``TokenService``."""

    def make(**kwargs: Any) -> TokenService:
        return TokenService(store, kwargs.pop("secret", secret), **kwargs)

    return make


@pytest.fixture
def service(make_service: MakeService) -> TokenService:
    """The default service (``pypi`` ownership, no delete) with alice, bob and alice's foo."""
    svc = make_service()
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("foo", owner="alice")
    return svc


def upload(project: str | None, now: int | None = None) -> Context:
    return Context(project, action="upload", now=now)


def download(project: str | None, now: int | None = None) -> Context:
    return Context(project, action="download", now=now)


def delete(project: str | None, now: int | None = None) -> Context:
    return Context(project, action="delete", now=now)
