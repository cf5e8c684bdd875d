"""End-to-end flows through the installed ``pypitoken`` console script, one process per command.

The store is then opened from this process with ``TokenService.from_url``, as an index
server would, to check that what the CLI did is what a server sees.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from pypitoken_core import Context, Token, ValidationError
from pypitoken_core.service import INVALID_TOKEN, TokenService
from tests.cli.conftest import Run

TOKEN_LINE = re.compile(r"^pypi-[A-Za-z0-9_-]+\n$")


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def secret_of(db: str) -> str:
    return Path(db[len("sqlite:///") :] + ".secret").read_text().strip()


def server(db: str) -> TokenService:
    return TokenService.from_url(db)


def test_admin_flow(pypitoken: Run, db: str) -> None:
    outputs: list[str] = []

    def step(*args: str, input: str | None = None) -> str:
        proc = pypitoken(*args, input=input)
        outputs.extend([proc.stdout, proc.stderr])
        return ok(proc)

    step("user", "add", "alice")
    step("user", "add", "bob")
    assert [line.split("\t")[0] for line in step("user", "list").splitlines()] == ["alice", "bob"]
    assert "foo-bar" in step("project", "add", "Foo_Bar", "--owner", "alice")
    step("project", "add-maintainer", "foo-bar", "bob")
    (line,) = step("project", "list").splitlines()
    assert line.startswith("foo-bar\t") and "alice (Owner)" in line and "bob (Maintainer)" in line

    created = pypitoken(
        "token", "create", "--user", "bob", "--project", "foo-bar", "--expires", "1d",
        "--description", "CI upload",
    )  # fmt: skip
    raw = ok(created)
    assert TOKEN_LINE.match(raw), raw
    raw = raw.strip()

    listed = json.loads(step("token", "list", "--json"))
    (entry,) = listed
    for field in ("id", "user", "description", "projects", "created", "expires", "last_used"):
        assert field in entry
    assert entry["id"] == Token.load(raw).identifier
    assert entry["user"] == "bob"
    assert entry["description"] == "CI upload"
    assert entry["projects"] == ["foo-bar"]
    assert entry["revoked"] is False
    assert entry["last_used"] is None
    assert entry["expires"] is not None
    assert json.loads(step("token", "list", "--user", "alice", "--json")) == []
    assert entry["id"] in step("token", "list")

    svc = server(db)
    try:
        assert svc.authenticate(raw, Context("foo_bar", action="upload")).user_name == "bob"
        with pytest.raises(ValidationError, match="not valid for project 'other'"):
            svc.authenticate(raw, Context("other", action="upload"))
    finally:
        svc.close()

    shown = json.loads(step("token", "show", entry["id"]))
    assert shown["id"] == entry["id"] and shown["revoked"] is False

    assert entry["id"] in step("token", "revoke", entry["id"])
    assert json.loads(step("token", "show", entry["id"]))["revoked"] is True
    assert json.loads(step("token", "list", "--json"))[0]["revoked"] is True
    svc = server(db)
    try:
        with pytest.raises(ValidationError, match="token revoked"):
            svc.authenticate(raw, Context("foo-bar", action="upload"))
    finally:
        svc.close()

    secret = secret_of(db)
    for text in outputs:
        assert raw not in text and raw.partition("-")[2][:60] not in text
        assert secret not in text


def test_user_remove_refuses_their_tokens(pypitoken: Run, db: str) -> None:
    ok(pypitoken("user", "add", "carol"))
    raw = ok(pypitoken("token", "create", "--user", "carol")).strip()
    svc = server(db)
    try:
        assert svc.authenticate(raw, Context("x", action="upload")).user_name == "carol"
        ok(pypitoken("user", "remove", "carol"))
        with pytest.raises(ValidationError, match=r"^token revoked$"):
            svc.authenticate(raw, Context("x", action="download"))
    finally:
        svc.close()
    (entry,) = json.loads(ok(pypitoken("token", "list", "--json")))
    assert entry["revoked"] is True
    assert "carol" not in ok(pypitoken("user", "list"))


def test_offline_restrict_and_inspect_through_pipes(pypitoken: Run, db: str) -> None:
    ok(pypitoken("user", "add", "alice"))
    ok(pypitoken("project", "add", "foo", "--owner", "alice"))
    ok(pypitoken("project", "add", "bar", "--owner", "alice"))
    raw = ok(pypitoken("token", "create", "--user", "alice")).strip()

    restricted = pypitoken(
        "restrict", "-", "--project", "foo", "--expires", "1h", input=raw + "\n", db_url=None
    )
    narrowed = ok(restricted)
    assert TOKEN_LINE.match(narrowed)
    narrowed = narrowed.strip()

    inspected = json.loads(ok(pypitoken("inspect", "-", "--json", input=narrowed, db_url=None)))
    assert set(inspected) == {"prefix", "domain", "identifier", "restrictions"}
    assert inspected["prefix"] == "pypi" and inspected["domain"] == "localhost"
    assert inspected["identifier"] == Token.load(raw).identifier
    tags = [r[0] for r in inspected["restrictions"]]
    assert tags == [3, 0, 1]  # user id (minted), then date and project names (added offline)
    date = inspected["restrictions"][1]
    assert date[1] - date[2] == 3600

    words = ok(pypitoken("inspect", narrowed, db_url=None))
    assert "identifier: " + inspected["identifier"] in words
    assert "projects: foo" in words
    assert narrowed not in words

    svc = server(db)
    try:
        assert svc.authenticate(narrowed, Context("foo", action="upload")).user_name == "alice"
        with pytest.raises(ValidationError) as info:
            svc.authenticate(narrowed, Context("bar", action="upload"))
        assert info.value.reasons == (
            "This token can only be used for project(s): foo. Received: bar",
        )
    finally:
        svc.close()


def test_domain_of_created_tokens(pypitoken: Run, db: str) -> None:
    ok(pypitoken("user", "add", "alice"))
    default = ok(pypitoken("token", "create", "--user", "alice")).strip()
    assert Token.load(default).domain == "localhost"
    explicit = ok(pypitoken("token", "create", "--user", "alice", "--domain", "a.example")).strip()
    assert Token.load(explicit).domain == "a.example"
    svc = server(db)
    svc.store.set_setting("domain", "pkgs.example.org")
    svc.close()
    stored = ok(pypitoken("token", "create", "--user", "alice")).strip()
    assert Token.load(stored).domain == "pkgs.example.org"


def test_lost_secret_is_reported(pypitoken: Run, db: str) -> None:
    ok(pypitoken("user", "add", "alice"))
    raw = ok(pypitoken("token", "create", "--user", "alice")).strip()
    Path(db[len("sqlite:///") :] + ".secret").unlink()
    proc = pypitoken("user", "list")
    assert proc.returncode == 0
    assert "secret" in proc.stderr
    svc = server(db)
    try:
        with pytest.raises(ValidationError, match=f"^{INVALID_TOKEN}$"):
            svc.authenticate(raw, Context("foo", action="upload"))
        assert "server secret changed" in svc.store.list_events(limit=1)[0].reason
    finally:
        svc.close()


def test_unreachable_database(pypitoken: Run, tmp_path: Path) -> None:
    url = "postgresql://admin:hunter2-password@127.0.0.1:1/tokens"
    proc = pypitoken("user", "list", db_url=url)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        "Error: cannot use PostgreSQL store postgresql://admin@127.0.0.1:1/tokens: "
        "connection failed"
    )
    assert "hunter2" not in proc.stderr
    assert "Traceback" not in proc.stderr
