"""Refusals read alike on both servers, and each says what to do (issue 13 points 5, 15).

The same credentials go to a real pypiserver and a real devpi-server, through real twine;
the reason twine prints must be the same words (they come from the service, the adapters
only carry them), and never a bare "Forbidden".
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.dists import make_wheel
from tests.e2e.servers import PASSWORDS, Served, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    with (
        serve("pypiserver", tmp_path_factory.mktemp("alike-pypiserver")) as pypiserver,
        serve("devpi", tmp_path_factory.mktemp("alike-devpi")) as devpi,
    ):
        yield {"pypiserver": pypiserver, "devpi": devpi}


def said(proc: subprocess.CompletedProcess[str]) -> str:
    """What twine printed about the refusal: the line after "HTTPError: 403 ... from URL"."""
    assert proc.returncode != 0, proc.stdout
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).split())
    found = re.search(r"HTTPError: (\d+) \S+ from \S+ (.*)$", text)
    assert found is not None, text
    return f"{found.group(1)} {found.group(2)}"


_count = iter(range(1, 10_000))


def wheel(served: Served, tmp: Path) -> Path:
    return make_wheel(tmp, "tinypkg", f"1.{next(_count)}")


MALFORMED = "pypi-AgEIcHlwaS5vcmcCJGNhZmViYWJlLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMAAABiDsn3h5Zy9"
WRONG_PASSWORD = (
    "wrong password for user {user!r}; use __token__ as the user name with an API token,"
    " or check the password"
)


@pytest.mark.parametrize(
    ("user", "password", "devpi_status", "reason"),
    [
        ("alice", "not-her-password", "401", WRONG_PASSWORD.format(user="alice")),
        ("nobody", "whatever", "401", WRONG_PASSWORD.format(user="nobody")),
        ("__token__", "pypi-garbage", "403", "Invalid API Token: malformed token"
         " (Deserialization error: cannot determine data format of binary-encoded macaroon)"),
        ("__token__", MALFORMED, "403", "Invalid API Token: malformed token (Deserialization"
         " error: field data extends past end of buffer)"),
        ("__token__", "nope-abc", "401", "Invalid API Token: token must start with 'pypi-'"),
    ],
)  # fmt: skip
def test_the_same_refusal_in_the_same_words(
    both: dict[str, Served],
    tmp_path: Path,
    user: str,
    password: str,
    devpi_status: str,
    reason: str,
) -> None:
    """The reproduction: a wrong password read "403 Forbidden" on pypiserver and "401
    Unauthorized" on devpi; a malformed token "malformed token (...)" on one and
    "malformed token" on the other."""
    for kind, served in both.items():
        proc = served.twine(password, wheel(served, tmp_path), user=user)
        status, _, told = said(proc).partition(" ")
        # devpi asks for credentials again (401) where pypiserver refuses (403), as each
        # does for a wrong password; the words are the same.
        assert status == ("403" if kind == "pypiserver" else devpi_status), kind
        assert told == reason, kind
        assert "Forbidden" not in told and told != "Unauthorized"


def test_owner_and_token_on_both_servers(both: dict[str, Served], tmp_path: Path) -> None:
    """``alice:<alice's token>`` uploads (pypiserver used to answer a bare "Forbidden");
    ``bob:<alice's token>`` is refused, saying why and what to send instead."""
    for kind, served in both.items():
        _, token = served.mint("alice", projects=["tinypkg"])
        mine = served.twine(token, wheel(served, tmp_path), user="alice")
        assert mine.returncode == 0, (kind, mine.stdout + mine.stderr)
        theirs = served.twine(token, wheel(served, tmp_path), user="bob")
        assert said(theirs) == (
            "403 Invalid API Token: this token does not belong to user 'bob'; log in as"
            " __token__ (or as the token's owner)"
        ), kind
        # The positive control for the password rows above: the right password uploads.
        right = served.twine(PASSWORDS["alice"], wheel(served, tmp_path), user="alice")
        assert right.returncode == 0, (kind, right.stdout + right.stderr)
    for served in both.values():
        log = served.log_text()
        for token in served.tokens:
            assert token not in log
