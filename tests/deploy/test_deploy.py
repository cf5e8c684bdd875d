"""The systemd unit and the nginx site of ``examples/pypiserver/deploy/``, started as
written (see :mod:`tests.deploy.deployment` for what is and is not exercised), and used
the way a client machine uses them: twine and pip over HTTPS with a token."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.dists import make_wheel

from .deployment import HOST, UNIT, Deployment, deployment

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment(tmp_path_factory.mktemp("deploy")) as deploy:
        yield deploy


def _admin(deploy: Deployment, *args: str) -> str:
    """``pypitoken`` as the service's user, with the unit's environment (PYPITOKEN_DB)."""
    proc = deploy.box.run(
        deploy.as_service_user(["/opt/pypitoken/bin/pypitoken", *args]),
        env=deploy.env, inherit_env=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _twine(deploy: Deployment, token: str, dist: Path) -> tuple[int, str]:
    proc = deploy.box.run(
        [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", f"https://{HOST}/", "-u", "__token__", "-p", token, str(dist)],
        env={**deploy.client_env(), "COLUMNS": "400", "NO_COLOR": "1"},
    )  # fmt: skip
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def test_systemd_analyze_verifies_the_unit(deployed: Deployment) -> None:
    proc = deployed.box.run(["systemd-analyze", "verify", str(UNIT)])
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_systemd_analyze_catches_a_broken_unit(deployed: Deployment, tmp_path: Path) -> None:
    """The positive control: the same check fails on a unit whose binary is missing."""
    broken = tmp_path / UNIT.name
    broken.write_text(UNIT.read_text().replace("/opt/pypitoken/bin/", "/opt/nowhere/bin/"))
    proc = deployed.box.run(["systemd-analyze", "verify", str(broken)])
    assert proc.returncode != 0
    assert "/opt/nowhere/bin/pypitoken-pypiserver is not executable" in proc.stderr


def test_upload_and_install_through_nginx(deployed: Deployment, tmp_path: Path) -> None:
    users = _admin(deployed, "user", "list")
    if "alice" not in users.split():
        _admin(deployed, "user", "add", "alice")
    token = _admin(deployed, "token", "create", "--user", "alice", "--expires", "1d")
    wheel = make_wheel(tmp_path, "behind-nginx", "1.0")

    status, out = _twine(deployed, token, wheel)
    assert status == 0, out
    assert (deployed.state / "packages" / wheel.name).read_bytes() == wheel.read_bytes()

    pip = deployed.box.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--isolated",
         "--retries", "0", "-d", str(tmp_path / "dl"), "--index-url",
         f"https://__token__:{token}@{HOST}/simple/", "behind-nginx"],
        env=deployed.client_env(),
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (tmp_path / "dl" / wheel.name).exists()

    # The refusal's reason phrase survives the proxy: twine prints it as pypi.org's.
    narrowed = deployed.box.run([str(BIN / "pypitoken"), "restrict", token, "--project",
                                 "another-project"]).stdout.strip()  # fmt: skip
    status, out = _twine(deployed, narrowed, make_wheel(tmp_path, "behind-nginx", "1.1"))
    assert status != 0
    assert (
        f"403 Forbidden from https://{HOST}/ Invalid API Token: This token can only be used "
        "for project(s): another-project. Received: behind-nginx"
    ) in out

    # No credential reaches nginx's access log.
    assert token not in (deployed.nginx.log.parent / "nginx" / "access.log").read_text()


def test_plain_http_redirects_to_https(deployed: Deployment) -> None:
    proc = deployed.box.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                             f"http://{HOST}/simple/"])  # fmt: skip
    assert proc.stdout == f"301 https://{HOST}/simple/"


def test_the_token_page_through_nginx_has_secure_cookies(deployed: Deployment) -> None:
    """nginx says https (X-Forwarded-Proto), the unit trusts it: the page's cookies are
    Secure. The control: straight to the server, over plain http, they are not."""
    through = deployed.box.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "--cacert",
                                str(deployed.ca), f"https://{HOST}/+tokens/login"])  # fmt: skip
    direct = deployed.box.run(["curl", "-s", "-D", "-", "-o", "/dev/null",
                               "http://127.0.0.1:8080/+tokens/login"])  # fmt: skip
    for answer, secure in ((through.stdout, True), (direct.stdout, False)):
        assert answer.startswith("HTTP/1.1 200"), answer
        (cookie,) = [line for line in answer.splitlines() if line.lower().startswith("set-cookie")]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert ("; Secure" in cookie) is secure, cookie
        assert "cache-control: no-store" in answer.lower()
