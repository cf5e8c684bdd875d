"""Issue 8 on the command line: times beyond what a date holds (part 5), a store's maximum
token lifetime, and the audit trail's ``list`` and ``prune`` (part 2)."""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
import uuid
from pathlib import Path

import pypitoken
import pytest
from click.testing import Result

from pypitoken_core import Context, DateRestriction, Token, ValidationError
from pypitoken_core.service import INVALID_TOKEN, TokenService
from pypitoken_core.store import AuditEvent, open_store
from tests.cli.conftest import Invoke, Run

TOKEN_ID = "0d6ee0b4-1b49-4c41-9d8a-8f3f36c5a7a2"


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def usage_error(result: Result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture
def populated(invoke: Invoke) -> Invoke:
    ok(invoke("user", "add", "alice"))
    return invoke


# -- inspect: never a traceback, whatever the times --------------------------------------------


@pytest.fixture
def huge_times() -> str:
    """A token pypitoken 7.1.1 writes without complaint: times no datetime can hold."""
    token = pypitoken.Token.create("pkgs.example", TOKEN_ID, "k")
    token.restrict(not_before=1, not_after=10**30, legacy_not_before=-(10**40), legacy_not_after=1)
    return token.dump()


def test_inspect_shows_undatable_times_as_numbers(invoke: Invoke, huge_times: str) -> None:
    result = invoke("inspect", huge_times, db_url=None)
    assert ok(result).splitlines()[3:] == [
        "restrictions:",
        f"  - valid from 1970-01-01T00:00:01Z until timestamp {10**30} (excl)",
        f"  - valid from timestamp {-(10**40)} until 1970-01-01T00:00:01Z (excl, legacy)",
    ]
    assert result.stderr == ""


def test_inspect_json_keeps_the_raw_numbers(invoke: Invoke, huge_times: str) -> None:
    shown = json.loads(ok(invoke("inspect", "--json", huge_times, db_url=None)))
    assert shown["restrictions"] == [[0, 10**30, 1], {"nbf": -(10**40), "exp": 1}]


def test_inspect_via_the_console_script(pypitoken: Run, huge_times: str) -> None:
    proc = pypitoken("inspect", "-", input=huge_times, db_url=None)
    assert proc.returncode == 0, proc.stderr
    assert f"timestamp {10**30}" in proc.stdout
    assert "Traceback" not in proc.stderr


# -- times the commands take ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expires",
    [
        f"@{10**30}",
        "@253402300800",  # 10000-01-01T00:00:00Z
        "@" + "9" * 100_000,
        "999999999999999w",
        "9999-12-31T23:00:00-02:00",
    ],
    ids=["10**30", "year-10000", "100k-digits", "huge-duration", "aware-past-9999"],
)
def test_token_create_refuses_times_beyond_year_9999(
    populated: Invoke, db: str, expires: str
) -> None:
    stderr = usage_error(populated("token", "create", "--user", "alice", "--expires", expires))
    assert "is not a time between years 1 and 9999" in stderr
    assert json.loads(ok(populated("token", "list", "--json"))) == []


def test_token_create_takes_the_last_second_of_year_9999(populated: Invoke) -> None:
    raw = ok(populated("token", "create", "--user", "alice", "--expires", "@253402300799")).strip()
    assert Token.load(raw).restrictions[0].not_after == 253402300799  # type: ignore[attr-defined]


def test_token_create_counts_a_duration_from_the_mint(tmp_path: Path, invoke: Invoke) -> None:
    # Opening the store may take a while (here its secret file is a pipe fed 1.5 s late,
    # as on slow storage; on a loaded machine, the store itself is slow to open). "1s" is
    # one second of the token's life, however long the command took to get to the mint.
    text = "s" * 64
    (tmp_path / "secret").write_text(text)
    ok(invoke("--secret-file", str(tmp_path / "secret"), "user", "add", "eve"))
    slow = tmp_path / "slow-secret"
    os.mkfifo(slow)

    def feed() -> None:
        try:
            fd = os.open(slow, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # nobody reads the pipe: the command failed before opening the store
            return
        with os.fdopen(fd, "w") as pipe:
            pipe.write(text)

    started = int(time.time())
    feeder = threading.Timer(1.5, feed)
    feeder.start()
    try:
        result = invoke(
            "--secret-file", str(slow), "token", "create", "--user", "eve", "--expires", "1s"
        )
    finally:
        feeder.join()
    (window,) = Token.load(ok(result).strip()).restrictions[:1]
    assert isinstance(window, DateRestriction)
    assert window.not_before >= started + 1
    assert window.not_after == window.not_before + 1


@pytest.mark.parametrize(
    "args",
    [
        ("--expires", f"@{10**30}"),
        ("--not-before", "@1", "--not-after", f"@{10**30}"),
        ("--not-before", "0001-01-01T00:00:00+01:00", "--not-after", "@1"),
    ],
    ids=["expires", "not-after", "not-before-before-year-1"],
)
def test_restrict_refuses_times_beyond_year_9999(invoke: Invoke, args: tuple[str, ...]) -> None:
    raw = Token.create("pkgs.example", TOKEN_ID, b"k" * 32).dump()
    stderr = usage_error(invoke("restrict", raw, *args, db_url=None))
    assert "is not a time between years 1 and 9999" in stderr
    assert raw.partition("-")[2][:30] not in stderr


# -- a store's maximum token lifetime ----------------------------------------------------------


def test_token_create_follows_the_stores_max_lifetime(populated: Invoke, db: str) -> None:
    # What `pypitoken-pypiserver run --token-max-lifetime 86400` saves in the store.
    TokenService.from_url(db, max_lifetime=86400).close()
    result = populated("token", "create", "--user", "alice")
    assert result.exit_code == 1
    assert "tokens on this server must expire within 86400 seconds" in result.stderr
    assert "Traceback" not in result.stderr
    result = populated("token", "create", "--user", "alice", "--expires", "2d")
    assert result.exit_code == 1 and "within 86400 seconds" in result.stderr
    assert json.loads(ok(populated("token", "list", "--json"))) == []
    raw = ok(populated("token", "create", "--user", "alice", "--expires", "1d")).strip()
    assert raw.startswith("pypi-")


# -- audit list and prune ------------------------------------------------------------------------


def refuse_forged(db: str, token_id: str, times: int) -> None:
    service = TokenService.from_url(db)
    try:
        forged = Token.create("localhost", token_id, b"guessed key").dump()
        for _ in range(times):
            with pytest.raises(ValidationError, match=f"^{INVALID_TOKEN}$"):
                service.authenticate(forged, Context("foo", action="upload"))
    finally:
        service.close()


def test_audit_list_shows_folded_refusals(populated: Invoke, db: str) -> None:
    ok(populated("token", "create", "--user", "alice"))
    (token,) = json.loads(ok(populated("token", "list", "--json")))
    refuse_forged(db, token["id"], 5)
    refuse_forged(db, str(uuid.uuid4()), 2)
    events = json.loads(ok(populated("audit", "list", "--json")))
    assert [(e["event"], e["token_id"], e["count"]) for e in events] == [
        ("denied", None, 2),
        ("denied", token["id"], 5),
        ("minted", token["id"], 1),
    ]
    assert events[0]["reason"] == "unknown token id"
    assert events[1]["reason"].startswith("bad signature")
    assert events[1]["first"] <= events[1]["last"]
    text = ok(populated("audit", "list", "--token", token["id"][:8]))
    header, first, second = text.splitlines()
    assert header.split()[:5] == ["FIRST", "SEEN", "LAST", "SEEN", "COUNT"]
    assert first.split()[2:6] == ["5", "denied", "alice", token["id"]]
    assert first.endswith("bad signature (a forged or altered token, or the server secret changed)")
    assert second.split()[2:6] == ["1", "minted", "alice", token["id"]]


def test_audit_prune(populated: Invoke, db: str) -> None:
    store = open_store(db)
    now = int(time.time())
    try:
        for age_days in (200, 100, 10, 1):
            when = now - age_days * 86400
            store.add_event(AuditEvent(when, "denied", None, "x", None, None, f"{age_days}d"))
    finally:
        store.close()
    assert ok(populated("audit", "prune", "--older-than", "90d")) == "dropped 2 audit event(s)\n"
    kept = [e["reason"] for e in json.loads(ok(populated("audit", "list", "--json")))]
    assert kept == ["1d", "10d"]
    assert ok(populated("audit", "prune", "--keep", "1")) == "dropped 1 audit event(s)\n"
    assert [e["reason"] for e in json.loads(ok(populated("audit", "list", "--json")))] == ["1d"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --older-than, --keep or both"),
        (("--older-than", "90 days"), "is not a duration"),
        (("--older-than", "999999999999999w"), "reaches back before year 1"),
        (("--keep", "-1"), "-1"),
    ],
)
def test_audit_prune_usage_errors(populated: Invoke, args: tuple[str, ...], message: str) -> None:
    assert message in usage_error(populated("audit", "prune", *args))


# -- one meaning of --expires in every command (issue 13 point 4) ------------------------------


BARE = "'30' is a bare number: say 30s for a duration from now, or @30 for seconds since the epoch"


def test_a_bare_number_is_refused_alike_by_every_command(pypitoken: Run) -> None:
    raw = Token.create("pkgs.example", TOKEN_ID, b"k" * 32).dump()
    assert pypitoken("user", "add", "alice").returncode == 0
    for args in (
        ("token", "create", "--user", "alice", "--expires", "30"),
        ("restrict", raw, "--expires", "30"),
        ("remote", "--url", "http://127.0.0.1:9", "--user", "alice", "create", "--expires", "30"),
    ):
        proc = pypitoken(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.splitlines()[-1] == f"Error: Invalid value: {BARE}", args
    listed = pypitoken("token", "list", "--json")
    assert json.loads(listed.stdout) == []
    # The positive control: each explicit form, in the commands that mint and narrow.
    before = int(time.time())
    for expires in ("30s", "@4102444800", "2100-01-01T00:00:00Z"):
        minted = pypitoken("token", "create", "--user", "alice", "--expires", expires)
        assert minted.returncode == 0, minted.stderr
        narrowed = pypitoken("restrict", "-", "--expires", expires, input=minted.stdout)
        assert narrowed.returncode == 0, narrowed.stderr
        shown = json.loads(pypitoken("inspect", "--json", narrowed.stdout.strip()).stdout)
        (_, not_after, _) = shown["restrictions"][-1]  # the date caveat restrict added
        if expires == "30s":
            assert before + 30 <= not_after <= int(time.time()) + 30
        else:
            assert not_after == 4102444800


def test_audit_list_filters(populated: Invoke, db: str) -> None:
    """Issue 13 point 8: the trail read by user, token, project, kind and age."""
    ok(populated("user", "add", "bob"))
    store = open_store(db)
    now = int(time.time())
    bob_token = "0d6ee0b4-1b49-4c41-9d8a-8f3f36c5a7a3"
    try:
        for age, name, user, token_id, project in (
            (3 * 86400, "denied", "alice", None, "foo"),
            (2 * 86400, "minted", "bob", bob_token, None),
            (3600, "denied", "bob", bob_token, "bar"),
            (60, "revoked", None, bob_token, None),
        ):
            store.add_event(AuditEvent(now - age, name, token_id, user, project, "upload", name))
    finally:
        store.close()

    def listed(*args: str) -> list[str]:
        return [e["reason"] for e in json.loads(ok(populated("audit", "list", "--json", *args)))]

    assert listed() == ["revoked", "denied", "minted", "denied"]
    assert listed("--user", "bob") == ["denied", "minted"]
    assert listed("--token", bob_token) == ["revoked", "denied", "minted"]
    assert listed("--project", "BAR") == ["denied"]
    assert listed("--kind", "denied") == ["denied", "denied"]
    assert listed("--kind", "denied", "--user", "alice") == ["denied"]
    assert listed("--since", "1d") == ["revoked", "denied"]
    assert listed("--since", f"@{now - 2 * 86400 - 5}", "--limit", "2") == ["revoked", "denied"]
    assert listed("--since", iso_z(now - 120)) == ["revoked"]
    assert listed("--kind", "claimed") == []
    refused = populated("audit", "list", "--since", "30")
    assert refused.exit_code == 2 and "'30' is a bare number" in refused.stderr
    table = ok(populated("audit", "list", "--user", "bob")).splitlines()
    assert table[0].split()[-5:] == ["EVENT", "USER", "TOKEN", "PROJECT", "ACTION", "REASON"][1:]
    assert [row.split()[3:5] for row in table[1:]] == [["denied", "bob"], ["minted", "bob"]]
    empty = populated("audit", "list", "--kind", "claimed")
    assert (empty.stdout, empty.stderr) == ("", "no audit events\n")


def iso_z(stamp: int) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).isoformat().replace("+00:00", "Z")
