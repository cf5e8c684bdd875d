"""Trusted publishing to a real pypiserver behind nginx, by real uv, pdm and twine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pypiserver.conftest import Index, pypiserver_running
from tests.e2e.trusted.conftest import PROJECT, Clients, output
from tests.e2e.trusted.tls import ConnectProxy, Front, tls_front
from tests.oidc_issuer import Issuer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Index]:
    with pypiserver_running(tmp_path_factory.mktemp("tp-pypiserver"), users=["alice"]) as idx:
        idx.admin("project", "add", PROJECT, "--owner", "alice")
        idx.admin(
            "publisher", "add", "github", "--project", PROJECT, "--repository",
            "octo-org/octo-repo", "--workflow", "release.yml", "--environment", "release",
            "--owner-id", "123456", "--issuer", issuer.url,
        )  # fmt: skip
        yield idx


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Iterator[Front]:
    with tls_front(tmp_path_factory.mktemp("tp-nginx"), index.url, "/") as made:
        yield made


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, front: Front) -> Clients:
    return Clients(issuer, front, tmp_path_factory.mktemp("tp-clients"))


def test_uv(index: Index, clients: Clients) -> None:
    wheel = clients.wheel("0.1")
    proc = clients.uv("/", wheel)
    assert proc.returncode == 0, output(proc)
    assert wheel.name in index.stored()


def test_pdm(index: Index, clients: Clients) -> None:
    wheel = clients.wheel("0.2")
    proc = clients.pdm("/", wheel)
    assert proc.returncode == 0, output(proc)
    assert wheel.name in index.stored()


def test_twine(index: Index, clients: Clients, front: Front) -> None:
    proxy = ConnectProxy(front.port)
    try:
        wheel = clients.wheel("0.3")
        proc = clients.twine(proxy, wheel)
    finally:
        proxy.close()
    assert proc.returncode == 0, output(proc)
    assert "Minted upload token for trusted publishing" in output(proc)
    assert wheel.name in index.stored()
    # every request went to "pypi.org", through the proxy, to our index
    assert proxy.targets and {t.rsplit(" ", 1)[0] for t in proxy.targets} == {
        "CONNECT upload.pypi.org:443"
    }
