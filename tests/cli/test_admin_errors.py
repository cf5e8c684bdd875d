"""Admin commands' failures: a clear message on stderr, nothing on stdout, a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import Invoke


def failed(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture
def populated(invoke: Invoke) -> Invoke:
    for args in (
        ("user", "add", "alice"),
        ("user", "add", "bob"),
        ("project", "add", "foo", "--owner", "alice"),
    ):
        assert invoke(*args).exit_code == 0
    return invoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "add", "alice"), "user 'alice' already exists"),
        (("user", "add", "__token__"), "invalid user name"),
        (("user", "remove", "nobody"), "nobody"),
        (
            ("project", "add", "foo", "--owner", "alice"),
            "project foo already exists (owned by alice); to give it to alice:"
            " pypitoken project transfer foo alice",
        ),
        (
            ("project", "add", "FOO", "--owner", "bob"),
            "project foo already exists (owned by alice); to give it to bob:"
            " pypitoken project transfer foo bob",
        ),
        (("project", "add", "new", "--owner", "nobody"), "unknown user 'nobody'"),
        (("project", "add", "bad name!", "--owner", "alice"), "invalid project name"),
        (("project", "add-maintainer", "nothere", "bob"), "unknown project 'nothere'"),
        (("project", "add-maintainer", "foo", "nobody"), "unknown user 'nobody'"),
        (("token", "create", "--user", "nobody"), "unknown user 'nobody'"),
        (("token", "create", "--user", "alice", "--project", "nothere"), "unknown project"),
        (
            ("token", "create", "--user", "bob", "--project", "foo"),
            "user bob may not upload to project 'foo'",
        ),
        (("token", "create", "--user", "alice", "--actions", "upload,publish"), "publish"),
        (("token", "create", "--user", "alice", "--actions", "delete"), "delete"),
        (("token", "create", "--user", "alice", "--expires", "0s"), "future"),
        (
            ("token", "create", "--user", "alice", "--expires", "2001-01-01T00:00:00Z"),
            "future",
        ),
        (("token", "list", "--user", "nobody"), "unknown user 'nobody'"),
        (("token", "show", "00000000-0000-4000-8000-000000000000"), "unknown token"),
        (("token", "revoke", "00000000-0000-4000-8000-000000000000"), "unknown token"),
    ],
)
def test_library_errors_exit_1(populated: Invoke, args: tuple[str, ...], message: str) -> None:
    stderr = failed(populated(*args))
    assert stderr.startswith("Error: ")
    assert message in stderr


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("5x", "'5x' is not a duration"),
        ("1 h", "is not a duration"),
        ("-1h", "is not a duration"),
        ("soon", "'soon'"),
        ("2030-01-01T00:00:00", "no UTC offset"),
        ("2030-13-01T00:00:00Z", "2030-13-01"),
    ],
)
def test_bad_durations_are_usage_errors(populated: Invoke, expires: str, message: str) -> None:
    stderr = failed(populated("token", "create", "--user", "alice", "--expires", expires), 2)
    assert message in stderr


def test_empty_action_list_is_refused(populated: Invoke) -> None:
    """A token allowed to do nothing is a mistake, not a token: say so instead of minting it."""
    for actions in ("", ",", " , "):
        failed(populated("token", "create", "--user", "alice", "--actions", actions))


def test_missing_required_options(populated: Invoke) -> None:
    assert "--user" in failed(populated("token", "create"), 2)
    assert "--owner" in failed(populated("project", "add", "x"), 2)
    assert "ownership" in failed(populated("--ownership", "anarchy", "user", "list"), 2).lower()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://localhost/tokens",
        "sqlite:///",
        "sqlite:///:memory:",
        "nonsense",
    ],
)
def test_bad_store_urls(invoke: Invoke, url: str) -> None:
    stderr = failed(invoke("user", "list", db_url=url))
    assert stderr.startswith("Error: ")


def test_store_path_that_cannot_exist(invoke: Invoke, tmp_path: Path) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("not a directory")
    stderr = failed(invoke("user", "add", "x", db_url=f"sqlite:///{a_file}/tokens.sqlite3"))
    assert "plain-file" in stderr


def test_not_a_database(invoke: Invoke, tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a SQLite database, not even close" * 100)
    failed(invoke("user", "list", db_url=f"sqlite:///{junk}"))


def test_memory_store_without_secret(invoke: Invoke) -> None:
    assert "secret" in failed(invoke("user", "list", db_url="memory://"))


def test_db_from_environment(invoke: Invoke, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYPITOKEN_DB", db)
    assert invoke("user", "add", "zoe", db_url=None).exit_code == 0
    assert "zoe" in invoke("user", "list").stdout


def test_create_prints_only_the_token(populated: Invoke) -> None:
    result = populated("token", "create", "--user", "alice", "--project", "foo")
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pypi-")


def test_delete_action_with_allow_delete(populated: Invoke) -> None:
    result = populated("--allow-delete", "token", "create", "--user", "alice",
                       "--actions", "upload,delete")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (entry,) = json.loads(populated("token", "list", "--json").stdout)
    assert entry["actions"] == ["upload", "delete"]


def test_open_ownership_lets_anyone_mint_for_a_project(populated: Invoke) -> None:
    result = populated("--ownership", "open", "token", "create", "--user", "bob",
                       "--project", "foo")  # fmt: skip
    assert result.exit_code == 0, result.stderr


def test_token_list_json_shape(populated: Invoke) -> None:
    populated("token", "create", "--user", "alice", "--description", "first")
    populated("token", "create", "--user", "bob", "--expires", "2w")
    entries = json.loads(populated("token", "list", "--json").stdout)
    assert isinstance(entries, list) and len(entries) == 2
    required = {"id", "user", "description", "projects", "created", "expires", "last_used",
                "revoked"}  # fmt: skip
    for entry in entries:
        assert required <= set(entry)
        assert isinstance(entry["revoked"], bool)
        assert isinstance(entry["projects"], list)
        assert "salt" not in entry and "key" not in entry and "token" not in entry
    by_user = {e["user"]: e for e in entries}
    assert by_user["alice"]["description"] == "first"
    assert by_user["alice"]["expires"] is None
    assert by_user["bob"]["expires"].endswith("Z")
    only_bob = json.loads(populated("token", "list", "--user", "bob", "--json").stdout)
    assert [e["user"] for e in only_bob] == ["bob"]


def test_token_list_text_has_no_secrets(populated: Invoke, db: str) -> None:
    raw = populated("token", "create", "--user", "alice").stdout.strip()
    text = populated("token", "list").stdout
    body = raw.partition("-")[2]
    assert body[:40] not in text and body[-40:] not in text
    secret = Path(db[len("sqlite:///") :] + ".secret").read_text().strip()
    for args in (("token", "list", "--json"), ("user", "list"), ("project", "list")):
        out = populated(*args)
        assert secret not in out.output and body[-40:] not in out.output
