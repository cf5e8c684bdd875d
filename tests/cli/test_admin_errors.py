"""Admin commands' failures: a clear message on stderr, nothing on stdout, a non-zero exit."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import Invoke, Run
from tests.service.conftest import ENV_VARS


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


# -- no store made by accident (issue 13 point 7) -------------------------------------------


def test_without_db_only_commands_that_create_make_a_store(tmp_path: Path) -> None:
    """The reproduction: ``pypitoken token list`` in a fresh directory created
    ``pypitoken.sqlite3`` and its secret there, then answered from the empty store."""
    script = str(Path(sys.executable).with_name("pypitoken"))
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    store = tmp_path / "pypitoken.sqlite3"
    missing = f"Error: no token store at {store} (pass --db or set PYPITOKEN_DB)"
    for args in (
        ("token", "list"),
        ("user", "list"),
        ("token", "revoke", "0d6ee0b4"),
        ("audit", "list"),
        ("project", "add-maintainer", "foo", "alice"),
    ):
        proc = run(*args)
        assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (1, "", missing), args
        assert sorted(tmp_path.iterdir()) == []
    # The positive control: a command that makes something makes the store, and says where.
    added = run("user", "add", "alice")
    assert added.returncode == 0, added.stderr
    assert added.stderr.strip() == (
        f"created a token store at {store}, its secret in {store}.secret"
        " (pass --db or set PYPITOKEN_DB to use another)"
    )
    assert store.exists() and Path(f"{store}.secret").exists()
    listed = run("user", "list")
    assert listed.returncode == 0 and listed.stderr == ""
    assert listed.stdout.startswith("alice")
    again = run("user", "add", "bob")
    assert again.returncode == 0 and again.stderr == ""  # said once, when it was created


# -- token list, ids by their start, --version (issue 13 point 10) --------------------------


def test_token_list_has_a_header_and_shows_the_actions(populated: Invoke) -> None:
    """The reproduction: a download-only token read like a full one, under no header."""
    full = populated("token", "create", "--user", "bob", "--description", "ci")
    reader = populated(
        "token", "create", "--user", "alice", "--project", "foo", "--actions", "download",
        "--expires", "@4102444800", "--description", "mirror",
    )  # fmt: skip
    assert full.exit_code == 0 and reader.exit_code == 0, reader.stderr
    records = {r["user"]: r for r in json.loads(populated("token", "list", "--json").stdout)}
    assert populated("token", "revoke", records["bob"]["id"]).exit_code == 0
    lines = populated("token", "list").stdout.splitlines()
    assert lines[0].split() == [
        "ID", "USER", "STATUS", "EXPIRES", "LAST", "USED", "SCOPE", "ACTIONS", "DESCRIPTION",
    ]  # fmt: skip
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows["bob"] == [
        records["bob"]["id"], "bob", "revoked", "never", "never", "all", "projects",
        "upload,download", "ci",
    ]  # fmt: skip
    assert rows["alice"] == [
        records["alice"]["id"], "alice", "active", "2100-01-01T00:00:00Z", "never", "foo",
        "download", "mirror",
    ]  # fmt: skip
    # Columns line up: each header starts where its values do.
    assert {line.index(" never ") + 1 for line in lines[1:] if " bob " in line} | {
        line.index("2100") for line in lines[1:] if " alice " in line
    } == {lines[0].index("EXPIRES")}


def test_an_empty_token_list_says_so_on_stderr(populated: Invoke) -> None:
    result = populated("token", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "no tokens\n")


@pytest.fixture
def three_ids(populated: Invoke, db: str) -> list[str]:
    """Three tokens whose ids share starts of one, two and eight characters."""
    from pypitoken_core.store import TokenRecord, open_store

    store = open_store(db)
    ids = [
        "abc12345-0000-4000-8000-000000000001",
        "abc12345-0000-4000-8000-000000000002",
        "abd00000-0000-4000-8000-000000000003",
    ]
    try:
        (alice,) = [u for u in store.list_users() if u.name == "alice"]
        for token_id in ids:
            store.add_token(
                TokenRecord(
                    id=token_id,
                    user_id=alice.id,
                    salt=b"s" * 32,
                    description="",
                    projects=(),
                    project_ids=(),
                    indexes=(),
                    actions=("upload",),
                    created=1,
                    expires=None,
                    not_before=None,
                    last_used=None,
                    revoked=False,
                )
            )
    finally:
        store.close()
    return ids


def test_revoke_takes_any_unique_start_of_an_id(populated: Invoke, three_ids: list[str]) -> None:
    result = populated("token", "revoke", "abd")
    assert (result.exit_code, result.stdout) == (0, f"revoked {three_ids[2]}\n")
    shown = json.loads(populated("token", "show", "ABC12345-0000-4000-8000-000000000002").stdout)
    assert shown["id"] == three_ids[1] and shown["revoked"] is False
    assert json.loads(populated("token", "show", "abd0").stdout)["revoked"] is True


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("ab", "3 tokens start with 'ab': abc12345-0000-4000-8000-000000000001,"
               " abc12345-0000-4000-8000-000000000002, abd; give more of the id"),
        ("abc12345", "2 tokens start with 'abc12345': abc12345-0000-4000-8000-000000000001,"
                     " abc12345-0000-4000-8000-000000000002; give more of the id"),
        ("ff", "no token id starts with 'ff'"),
        ("", "no token id starts with ''"),
    ],
)  # fmt: skip
def test_revoke_refuses_an_ambiguous_or_unknown_start(
    populated: Invoke, three_ids: list[str], start: str, message: str
) -> None:
    stderr = failed(populated("token", "revoke", start))
    assert stderr.strip() == f"Error: {message}"
    listed = json.loads(populated("token", "list", "--json").stdout)
    assert [r["revoked"] for r in listed] == [False, False, False]


def test_version(pypitoken: Run) -> None:
    proc = pypitoken("--version", db_url=None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"pypitoken, version {importlib.metadata.version('pypitoken-core')}\n"
