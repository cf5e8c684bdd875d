"""``pypitoken remote`` against both servers, as a user runs it: the installed console
script, the password from the environment, the keyring or a prompt (never an argument)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.dists import make_wheel
from tests.e2e.servers import PASSWORDS, Served, serve

pytestmark = pytest.mark.e2e

PYPITOKEN = str(Path(sys.executable).with_name("pypitoken"))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=["pypiserver", "devpi"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve(request.param, tmp_path_factory.mktemp(f"remote-{request.param}")) as index:
        yield index


def remote(
    served: Served,
    user: str,
    *args: str,
    password: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``pypitoken remote --url URL --user USER ARGS``; ``password`` via the environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYPITOKEN_")}
    environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    if password is not None:
        environ["PYPITOKEN_PASSWORD"] = password
    environ.update(env or {})
    return subprocess.run(
        [PYPITOKEN, "remote", "--url", served.url, "--user", user, *args],
        capture_output=True, text=True, timeout=120, env=environ, cwd=ROOT,
        input=stdin if stdin is not None else "",
    )  # fmt: skip


def test_create_list_revoke(served: Served, tmp_path: Path) -> None:
    made = remote(served, "alice", "create", "--project", "tinypkg", "--expires", "1d",
                  "--description", "from the client", password=PASSWORDS["alice"])  # fmt: skip
    assert made.returncode == 0, made.stderr
    (raw,) = made.stdout.splitlines()  # only the token on stdout
    assert raw.startswith("pypi-")
    assert made.stderr.startswith("created API token ")
    served.tokens.append(raw)
    assert served.twine(raw, make_wheel(tmp_path, "tinypkg", "3.0")).returncode == 0

    listed = remote(served, "alice", "list", password=PASSWORDS["alice"])
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "EXPIRES", "LAST", "USED", "SCOPE", "ACTIONS",
                              "DESCRIPTION"]  # fmt: skip
    (mine,) = [r for r in rows if r.endswith("from the client")]
    token_id = mine.split()[0]
    assert " active " in mine and "tinypkg" in mine and "upload,download" in mine
    as_json = json.loads(remote(served, "alice", "list", "--json",
                                password=PASSWORDS["alice"]).stdout)  # fmt: skip
    record = next(t for t in as_json if t["id"] == token_id)
    assert record["expires"] == record["created"] + 86400
    assert raw not in listed.stdout and raw[5:] not in json.dumps(as_json)

    revoked = remote(served, "alice", "revoke", token_id, password=PASSWORDS["alice"])
    assert (revoked.returncode, revoked.stdout) == (0, f"API token {token_id} revoked\n")
    refused = served.twine(raw, make_wheel(tmp_path, "tinypkg", "3.1"))
    assert "token revoked" in refused.stdout + refused.stderr


def test_the_password_from_a_prompt(served: Served) -> None:
    answer = remote(served, "bob", "list", "--json", stdin=PASSWORDS["bob"] + "\n")
    assert answer.returncode == 0, answer.stderr
    assert "Password of bob on " in answer.stderr
    assert PASSWORDS["bob"] not in answer.stdout + answer.stderr
    assert isinstance(json.loads(answer.stdout), list)


def test_the_password_from_the_keyring(served: Served, tmp_path: Path) -> None:
    ring = tmp_path / "keyring.json"
    ring.write_text(json.dumps({served.url: {"bob": PASSWORDS["bob"]}}))
    env = {"PYTHON_KEYRING_BACKEND": "tests.e2e.keyring_backend.FileKeyring",
           "PYPITOKEN_TEST_KEYRING": str(ring), "PYTHONPATH": str(ROOT)}  # fmt: skip
    answer = remote(served, "bob", "list", "--json", env=env)
    assert answer.returncode == 0, answer.stderr
    assert "Password" not in answer.stderr  # no prompt


def test_never_from_the_command_line(served: Served) -> None:
    answer = remote(served, "alice", "list", "--password", PASSWORDS["alice"])
    assert answer.returncode == 2 and "No such option '--password'" in answer.stderr


@pytest.mark.parametrize(
    ("user", "args", "password", "message"),
    [
        ("alice", ("list",), "wrong", "Error: 401 log in with your password to manage API tokens"),
        ("bob", ("list", "--owner", "alice"), None,
         "Error: 403 no permission to manage the API tokens of user 'alice'"),
        ("alice", ("create", "--expires", "2030-01-01T00:00:00"), None,
         "Error: Invalid value: '2030-01-01T00:00:00' has no UTC offset (add Z or +00:00)"),
        ("alice", ("revoke", "00000000-0000-4000-8000-000000000000"), None,
         "Error: 404 user 'alice' has no API token '00000000-0000-4000-8000-000000000000'"),
        ("alice", ("create", "--project", "not a name!"), None,
         "Error: 400 'not a name!' is not a project name"),
    ],
)  # fmt: skip
def test_refusals_say_why(
    served: Served, user: str, args: tuple[str, ...], password: str | None, message: str
) -> None:
    answer = remote(served, user, *args, password=password or PASSWORDS[user])
    assert answer.returncode != 0 and answer.stdout == ""
    assert message in answer.stderr, answer.stderr
    assert (password or PASSWORDS[user]) not in answer.stderr


def test_an_administrator_acts_for_another_user(served: Served) -> None:
    made = remote(served, "root", "create", "--owner", "alice", "--expires", "30d",
                  password=PASSWORDS["root"])  # fmt: skip
    assert made.returncode == 0, made.stderr
    served.tokens.append(made.stdout.strip())
    listed = json.loads(remote(served, "alice", "list", "--json",
                               password=PASSWORDS["alice"]).stdout)  # fmt: skip
    record = next(t for t in listed if t["expires"] == t["created"] + 30 * 86400)
    assert record["user"] == "alice"


def test_an_unreachable_index(tmp_path: Path) -> None:
    from tests.e2e.procs import free_port

    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}"

    answer = remote(Nowhere(), "alice", "list", password="x")  # type: ignore[arg-type]
    assert answer.returncode == 1
    assert answer.stderr.startswith(f"Error: cannot reach {Nowhere.url}: ")


@pytest.mark.parametrize(
    "url", ["ftp://index.test", "https://alice:pw@index.test", "index.test", "https://x/?q=1"]
)
def test_bad_urls(url: str) -> None:
    answer = subprocess.run([PYPITOKEN, "remote", "--url", url, "--user", "alice", "list"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert answer.returncode == 2 and "Invalid value for '--url'" in answer.stderr
