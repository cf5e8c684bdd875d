"""``devpi push`` with a token: the target index and the pushed project are checked.

devpi-tokens 1.1.0 checks its caveats once, against the source index of the request, and
lets a push into an index or project the token does not cover through. Here every stage
devpi checks (source for reading, target for uploading) gets the token's verdict.
"""

from __future__ import annotations

import itertools

import pytest

from .conftest import Devpi, devpi_client, request, squash

pytestmark = pytest.mark.e2e

_targets = itertools.count(1)


@pytest.fixture(scope="module")
def pushable(devpi: Devpi) -> Devpi:
    assert devpi.upload("alice/dev", devpi.wheel("tinypkg", "2.0"), user="alice").status == 200
    return devpi


@pytest.fixture
def target(pushable: Devpi) -> str:
    """A new, empty index to push into: what one test pushes, no other test sees."""
    name = f"alice/prod{next(_targets)}"
    pushable.create_index(name)
    return name


def scoped(mint: dict[str, object], target: str) -> dict[str, object]:
    """The table's ``mint`` with ``alice/prod`` standing for this test's target index."""
    indexes = mint.get("indexes")
    if not isinstance(indexes, list):
        return mint
    return {**mint, "indexes": [target if i == "alice/prod" else i for i in indexes]}


def push(devpi: Devpi, tmp_path, token: str, target: str):
    cd = tmp_path / "client"
    devpi_client(cd, "use", f"http://__token__:{token}@{devpi.url[7:]}/alice/dev", check=True)
    return devpi_client(cd, "push", "tinypkg==2.0", target)


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        ({"projects": ["tinypkg"], "indexes": ["alice/dev"]}, "not valid for index 'alice/prod'"),
        (
            {"projects": ["otherpkg"], "indexes": ["alice/dev", "alice/prod"]},
            "not valid for project 'tinypkg'",
        ),
        ({"indexes": ["alice/prod"]}, "not valid for index 'alice/dev'"),
        ({"actions": ["download"]}, "not valid for action 'upload'"),
    ],
    ids=["target-index", "project", "source-index", "download-only"],
)
def test_push_outside_the_token_is_refused(
    pushable: Devpi, target: str, tmp_path, mint, reason
) -> None:
    _, token = pushable.mint(**scoped(mint, target))
    proc = push(pushable, tmp_path, token, target)
    out = squash(proc.stdout + proc.stderr)
    reason = reason.replace("alice/prod", target)
    assert proc.returncode != 0, out
    assert "403" in out and f"Invalid API Token: {reason}" in out, out
    assert request(f"{pushable.url}/{target}/tinypkg").status == 404


def test_push_inside_the_token_works(pushable: Devpi, target: str, tmp_path) -> None:
    _, token = pushable.mint(projects=["tinypkg"], indexes=["alice/dev", target])
    proc = push(pushable, tmp_path, token, target)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert request(f"{pushable.url}/{target}/tinypkg").status == 200


def test_json_push_with_bearer_token(pushable: Devpi) -> None:
    """The raw JSON push (POST), as other clients send it."""
    _, token = pushable.mint(projects=["tinypkg"], indexes=["alice/dev"])
    reply = pushable.api(
        "POST",
        "/alice/dev",
        {"name": "tinypkg", "version": "2.0", "targetindex": "alice/other"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (reply.status, reply.reason) == (
        403,
        "Invalid API Token: not valid for index 'alice/other'",
    )


def test_devpi_upload_with_token_in_index_url(pushable: Devpi, tmp_path) -> None:
    _, token = pushable.mint(projects=["tinypkg"], indexes=["alice/dev"])
    cd = tmp_path / "client"
    devpi_client(cd, "use", f"http://__token__:{token}@{pushable.url[7:]}/alice/dev", check=True)
    proc = devpi_client(cd, "upload", str(pushable.wheel("tinypkg", "3.0")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = devpi_client(cd, "upload", str(pushable.wheel("otherpkg", "3.0")))
    out = squash(proc.stdout + proc.stderr)
    assert proc.returncode != 0, out
    assert "Invalid API Token: not valid for project 'otherpkg'" in out, out
