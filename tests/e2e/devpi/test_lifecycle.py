"""Tokens live in devpi's keyfs: they survive restarts, replicate, export and import."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.procs import exe

from .conftest import (
    PASSWORDS,
    Devpi,
    devpi_init,
    devpi_server,
    make_secret,
    request,
    wait_until,
)

pytestmark = pytest.mark.e2e


@dataclass
class Data:
    base: Path
    secret: Path
    serverdir: Path
    token: str  # alice, tinypkg on alice/dev, upload + download
    upload_only: str
    file_path: str  # a release file of tinypkg on alice/dev


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    """A primary's server directory with users, a release and tokens; no server running."""
    base = tmp_path_factory.mktemp("devpi-life")
    secret = make_secret(base / "secret")
    serverdir = base / "primary"
    devpi_init(serverdir, "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with devpi_server(serverdir, secret, "--role", "primary") as srv:
        d = Devpi(srv, base)
        d.create_user("alice")
        d.create_index("alice/dev")
        assert d.upload("alice/dev", d.wheel("tinypkg", "1.0"), user="alice").status == 200
        _, token = d.mint(projects=["tinypkg"], indexes=["alice/dev"])
        _, upload_only = d.mint(projects=["tinypkg"], actions=["upload"])
        links = d.api("GET", "/alice/dev/tinypkg/1.0").body["result"]["+links"]
        file_path = links[0]["href"].split("/", 3)[3]
    return Data(base, secret, serverdir, token, upload_only, file_path)


@pytest.fixture
def primary(data: Data) -> Iterator[Devpi]:
    with devpi_server(data.serverdir, data.secret, "--role", "primary") as srv:
        yield Devpi(srv, data.base)


def test_restart_tokens_work(data: Data) -> None:
    # That the first use after a restart costs what any other does (no per-token key
    # stretching, unlike devpi-tokens' argon2) is measured in benchmarks/bench_devpi.py.
    with devpi_server(data.serverdir, data.secret, "--role", "primary") as srv:
        d = Devpi(srv, data.base)
        first = d.auth_status(auth=("__token__", data.token))
        again = d.auth_status(auth=("__token__", data.token))
        assert first == again == ["ok", "alice", []]
        reply = d.upload("alice/dev", d.wheel("tinypkg", "1.1"), auth=("__token__", data.token))
        assert reply.status == 200, reply


def test_replica_authenticates_tokens_minted_on_the_primary(data: Data, primary: Devpi) -> None:
    replica_dir = data.base / "replica"
    devpi_init(replica_dir, "--primary-url", primary.url)
    with devpi_server(replica_dir, data.secret, "--primary-url", primary.url) as srv:
        replica = Devpi(srv, data.base)
        # a token minted on the primary while the replica runs
        fresh_id, fresh = primary.mint(projects=["tinypkg"], indexes=["alice/dev"])
        wait_until(
            lambda: replica.auth_status(auth=("__token__", fresh)) == ["ok", "alice", []],
            timeout=60,
            what="the token to replicate",
        )
        assert replica.auth_status(auth=("__token__", data.token)) == ["ok", "alice", []]
        url = f"{replica.url}/{data.file_path}"
        wait_until(
            lambda: request(url, headers={"Accept": "*/*"}).status == 200,
            timeout=60,
            what="the release file to replicate",
        )
        assert request(url, auth=("__token__", fresh), headers={"Accept": "*/*"}).status == 200
        refused = request(url, auth=("__token__", data.upload_only), headers={"Accept": "*/*"})
        assert (refused.status, refused.reason) == (
            403,
            "Invalid API Token: not valid for action 'download'",
        )
        # uploads through the replica are forwarded to the primary, token and all
        reply = replica.upload(
            "alice/dev", replica.wheel("tinypkg", "1.2"), auth=("__token__", fresh)
        )
        assert reply.status == 200, reply
        # revocation on the primary reaches the replica
        assert primary.api("DELETE", f"/alice/+api-tokens/{fresh_id}", user="alice").status == 200
        wait_until(
            lambda: replica.auth_status(auth=("__token__", fresh)) != ["ok", "alice", []],
            timeout=60,
            what="the revocation to replicate",
        )
        refused = replica.api("GET", "/+api", auth=("__token__", fresh))
        assert (refused.status, refused.reason) == (403, "Invalid API Token: token revoked")


def test_export_import_keeps_tokens(data: Data) -> None:
    export = data.base / "export"
    subprocess.run(
        [exe("devpi-export"), "--serverdir", str(data.serverdir), str(export)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    imported = data.base / "imported"
    subprocess.run(
        [exe("devpi-import"), "--serverdir", str(imported), "--no-root-pypi", str(export)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with devpi_server(imported, data.secret) as srv:
        d = Devpi(srv, data.base)
        assert d.auth_status(auth=("__token__", data.upload_only)) == ["ok", "alice", []]
        reply = d.upload(
            "alice/dev", d.wheel("tinypkg", "1.3"), auth=("__token__", data.upload_only)
        )
        assert reply.status == 200, reply
