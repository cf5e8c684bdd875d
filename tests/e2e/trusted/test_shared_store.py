"""One CI token, two index processes on one PostgreSQL store: the second refuses it.

The ``jti`` taken by one process is in the store, so the refusal holds across processes
(and hosts: nothing here is process-local).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import Server, free_port, run_server
from tests.e2e.pypiserver.conftest import Admin, exe
from tests.e2e.trusted.conftest import ci_token, exchange
from tests.oidc_issuer import Issuer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@contextlib.contextmanager
def _server(workdir: Path, db: str) -> Iterator[Server]:
    packages = workdir / "packages"
    packages.mkdir(parents=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [exe("pypitoken-pypiserver"), "run", "-i", "127.0.0.1", "-p", str(port),
            "--disable-fallback", "--token-db", db, "--token-secret-file",
            os.environ["PYPITOKEN_SECRET_FILE"], str(packages)]  # fmt: skip
    with run_server(argv, ready_url=url + "/health", base_url=url, log=workdir / "log") as srv:
        yield srv


def test_a_replayed_jti_is_refused_by_another_process(
    tmp_path: Path, pg_database_url: str, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text(secrets.token_hex(32))
    secret.chmod(0o600)
    # The admin command and both servers read it (they inherit this environment).
    monkeypatch.setenv("PYPITOKEN_SECRET_FILE", str(secret))
    admin = Admin(pg_database_url)
    admin.user("alice")
    admin(
        "publisher", "add", "github", "--project", "shared", "--user", "alice",
        "--repository", "octo-org/octo-repo", "--workflow", "release.yml", "--issuer", issuer.url,
    )  # fmt: skip
    with (
        _server(tmp_path / "a", pg_database_url) as a,
        _server(tmp_path / "b", pg_database_url) as b,
    ):
        jwt = ci_token(issuer, a.url)
        first = exchange(a.url, jwt)
        assert first.status == 200, first
        replayed = exchange(b.url, jwt)
        assert (replayed.status, replayed.code) == (422, "invalid-reuse-token"), replayed
        assert replayed.body["errors"][0]["description"] == "invalid token: already used"
        # the control: a fresh CI token is exchanged by the second process
        assert exchange(b.url, ci_token(issuer, b.url)).status == 200
