"""pip installs with a token from an index that requires authentication to read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Devpi, request

pytestmark = pytest.mark.e2e


def pip_install(devpi: Devpi, target: Path, credentials: str | None, project: str = "tinypkg"):
    host = devpi.url[len("http://") :]
    userinfo = f"{credentials}@" if credentials else ""
    env = {
        **os.environ,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--no-deps",
            "--target",
            str(target),
            "--index-url",
            f"http://{userinfo}{host}/alice/private/+simple/",
            project,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_anonymous_download_is_refused(private: Devpi, tmp_path) -> None:
    proc = pip_install(private, tmp_path / "t", None)
    assert proc.returncode != 0
    assert "403" in proc.stdout + proc.stderr
    links = request(f"{private.url}/alice/private/tinypkg", auth=("alice", "alicepw"))
    href = next(link["href"] for version in links.body["result"].values()
                for link in version["+links"])  # fmt: skip
    anonymous = request(href, headers={"Accept": "*/*"})
    assert (anonymous.status, anonymous.reason) == (403, "Forbidden")  # devpi's own ACL
    assert request(href, auth=("alice", "alicepw"), headers={"Accept": "*/*"}).status == 200


def test_pip_install_with_token(private: Devpi, tmp_path) -> None:
    _, token = private.mint(projects=["tinypkg"], actions=["download"])
    proc = pip_install(private, tmp_path / "t", f"__token__:{token}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "t" / "tinypkg" / "__init__.py").exists()


@pytest.mark.parametrize(
    ("mint", "project", "reason"),
    [
        ({"actions": ["upload"]}, "tinypkg", "not valid for action 'download'"),
        ({"projects": ["tinypkg"]}, "otherpkg", "not valid for project 'otherpkg'"),
    ],
    ids=["upload-only", "other-project"],
)
def test_token_outside_its_scope_cannot_download(
    private: Devpi, tmp_path, mint, project, reason
) -> None:
    _, token = private.mint(**mint)
    proc = pip_install(private, tmp_path / "t", f"__token__:{token}", project)
    assert proc.returncode != 0
    assert "403" in proc.stdout + proc.stderr
    # The reason, as a plain download sees it:
    links = request(f"{private.url}/alice/private/{project}", auth=("alice", "alicepw"))
    href = next(
        link["href"] for version in links.body["result"].values() for link in version["+links"]
    )
    reply = request(href, auth=("__token__", token), headers={"Accept": "*/*"})
    assert (reply.status, reply.reason) == (403, f"Invalid API Token: {reason}")
