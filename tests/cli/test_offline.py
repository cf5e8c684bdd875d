"""``pypitoken inspect`` and ``restrict``: no store, no key; errors never echo the token."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from click.testing import Result

from pypitoken_core import Token, names
from tests.cli.conftest import Invoke, Run

USER_ID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PROJECT_ID = "0b1f7f0e-4c9e-4a53-9a53-1f2b4f0c9d11"


@pytest.fixture
def raw() -> str:
    return Token.create("pkgs.example", "0d6ee0b4-1b49-4c41-9d8a-8f3f36c5a7a2", b"k" * 32).dump()


def offline(invoke: Invoke, *args: str, input: str | None = None) -> Result:
    return invoke(*args, input=input, db_url=None)


def restrictions(invoke: Invoke, token: str) -> list[list[object]]:
    result = offline(invoke, "inspect", token, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["restrictions"]  # type: ignore[no-any-return]


def narrowed(invoke: Invoke, raw: str, *args: str) -> str:
    result = offline(invoke, "restrict", raw, *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    (line,) = result.stdout.splitlines()
    return line


def never_echoes(result: Result, raw: str) -> None:
    body = raw.partition("-")[2]
    for chunk in (raw, body[:30], body[-30:]):
        assert chunk not in result.stdout and chunk not in result.stderr


def test_inspect_json(invoke: Invoke, raw: str) -> None:
    result = offline(invoke, "inspect", raw, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "prefix": "pypi",
        "domain": "pkgs.example",
        "identifier": "0d6ee0b4-1b49-4c41-9d8a-8f3f36c5a7a2",
        "restrictions": [],
    }
    never_echoes(result, raw)


def test_inspect_words(invoke: Invoke, raw: str) -> None:
    token = narrowed(invoke, raw, "--project", "Foo.Bar", "--user-id", USER_ID,
                     "--project-id", PROJECT_ID)  # fmt: skip
    result = offline(invoke, "inspect", token)
    assert result.exit_code == 0
    out = result.stdout
    assert "prefix: pypi" in out
    assert "domain: pkgs.example" in out
    assert "identifier: 0d6ee0b4-1b49-4c41-9d8a-8f3f36c5a7a2" in out
    assert "projects: foo-bar" in out
    assert f"project ids: {PROJECT_ID}" in out
    assert f"user id: {USER_ID}" in out
    never_echoes(result, token)


def test_inspect_reads_stdin(invoke: Invoke, raw: str) -> None:
    result = offline(invoke, "inspect", "-", "--json", input=f"  {raw}\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["identifier"] == "0d6ee0b4-1b49-4c41-9d8a-8f3f36c5a7a2"


def test_inspect_matches_restriction_dump(invoke: Invoke, raw: str) -> None:
    token = Token.load(raw).restrict(
        not_before=1_700_000_000, not_after=1_800_000_000, project_names=["a", "b"],
        actions=["download"],
    )  # fmt: skip
    assert restrictions(invoke, token.dump()) == [r.dump() for r in token.restrictions]


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), ("2w", 1_209_600)],
)
def test_restrict_durations(invoke: Invoke, raw: str, duration: str, seconds: int) -> None:
    before = int(time.time())
    ((tag, not_after, not_before),) = restrictions(
        invoke, narrowed(invoke, raw, "--expires", duration)
    )
    assert tag == 0
    assert not_after - not_before == seconds  # type: ignore[operator]
    assert before <= not_before <= int(time.time())  # type: ignore[operator]


@pytest.mark.parametrize(
    "moment",
    ["2031-02-03T04:05:06+00:00", "2031-02-03T04:05:06Z", "2031-02-03T06:05:06+02:00",
     "@1927857906"],
)  # fmt: skip
def test_restrict_expires_at_a_moment(invoke: Invoke, raw: str, moment: str) -> None:
    expected = int(datetime.datetime(2031, 2, 3, 4, 5, 6, tzinfo=datetime.UTC).timestamp())
    assert expected == 1927857906
    ((_, not_after, _),) = restrictions(invoke, narrowed(invoke, raw, "--expires", moment))
    assert not_after == expected


def test_restrict_window(invoke: Invoke, raw: str) -> None:
    token = narrowed(invoke, raw, "--not-before", "2030-01-01T00:00:00Z",
                     "--not-after", "@1900000000")  # fmt: skip
    ((_, not_after, not_before),) = restrictions(invoke, token)
    assert (not_before, not_after) == (1893456000, 1900000000)


def test_restrict_ids_and_projects(invoke: Invoke, raw: str) -> None:
    token = narrowed(invoke, raw, "--project", "One", "--project", "two_2",
                     "--project-id", PROJECT_ID, "--user-id", USER_ID)  # fmt: skip
    assert restrictions(invoke, token) == [[1, ["one", "two-2"]], [2, [PROJECT_ID]], [3, USER_ID]]


def test_restrict_reads_stdin_and_chains(invoke: Invoke, raw: str) -> None:
    first = offline(invoke, "restrict", "-", "--project", "a", input=raw + "\n")
    assert first.exit_code == 0, first.stderr
    second = offline(invoke, "restrict", "-", "--expires", "1h", input=first.stdout)
    assert second.exit_code == 0, second.stderr
    tags = [r[0] for r in restrictions(invoke, second.stdout.strip())]
    assert tags == [1, 0]


def test_restrict_keeps_the_signature_chain(invoke: Invoke, raw: str) -> None:
    token = narrowed(invoke, raw, "--project", "foo")
    Token.load(token).check(b"k" * 32, project_name="foo")


NOT_ISO = (
    "is not a duration (30s, 15m, 1h, 1d, 2w), an ISO 8601 datetime with an offset, or @<epoch>"
)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "give at least one restriction"),
        (
            ("--expires", "5x"),
            2,
            f"Invalid value: '5x' {NOT_ISO}",
        ),
        (
            ("--expires", "30"),
            2,
            "Invalid value: '30' is a bare number: say 30s for a duration from now, or @30 for"
            " seconds since the epoch",
        ),
        (
            ("--expires", "2030-01-01T00:00:00"),
            2,
            "Invalid value: '2030-01-01T00:00:00' has no UTC offset (add Z or +00:00)",
        ),
        (
            ("--expires", "1h", "--not-before", "@1900000000", "--not-after", "@1900000001"),
            2,
            "use --expires, or --not-before with --not-after, not both",
        ),
        (("--not-before", "@1900000000"), 2, "--not-before and --not-after go together"),
        (("--not-after", "@1900000000"), 2, "--not-before and --not-after go together"),
        (
            ("--not-before", "yesterday", "--not-after", "@1900000000"),
            2,
            f"Invalid value: 'yesterday' {NOT_ISO}",
        ),
        (
            ("--not-before", "@1900000001", "--not-after", "@1900000000"),
            1,
            "`not_before` (1900000001) must not be later than `not_after` (1900000000)",
        ),
        (
            ("--project", "not a name!"),
            1,
            "project_names: 'not a name!' is not a valid project name",
        ),
        (("--user-id", ""), 2, "give at least one restriction"),
    ],
)
def test_restrict_errors_never_echo_the_token(
    invoke: Invoke, raw: str, args: tuple[str, ...], code: int, message: str
) -> None:
    result = offline(invoke, "restrict", raw, *args)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    never_echoes(result, raw)


def test_restrict_succeeds_where_its_errors_are_corrected(invoke: Invoke, raw: str) -> None:
    for args in (
        ("--expires", "5h"),
        ("--expires", "2030-01-01T00:00:00Z"),
        ("--not-before", "@1900000000", "--not-after", "@1900000001"),
        ("--project", "a-name"),
        ("--user-id", "someone"),
    ):
        result = offline(invoke, "restrict", raw, *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert Token.load(result.stdout.strip()).identifier == Token.load(raw).identifier


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-5], id="truncated"),
        pytest.param(lambda t: t + "AAAA", id="trailing"),
        pytest.param(lambda t: t.replace("-", "", 1), id="no-prefix"),
        pytest.param(lambda t: t[:20] + "!" + t[21:], id="bad-base64"),
        pytest.param(lambda t: t + "A" * 9000, id="huge"),
    ],
)
def test_unreadable_tokens(invoke: Invoke, raw: str, mangle: object) -> None:
    bad = mangle(raw)  # type: ignore[operator]
    for command in (("inspect", bad), ("inspect", bad, "--json"),
                    ("restrict", bad, "--project", "x")):  # fmt: skip
        result = offline(invoke, *command)
        assert result.exit_code == 1, (command, result.output)
        assert result.stdout == ""
        assert result.stderr.startswith("Error: cannot read the token")
        never_echoes(result, raw)
        assert bad[5:40] not in result.stderr
    result = offline(invoke, "inspect", "-", input=bad)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot read the token")
    never_echoes(result, raw)
    result = offline(invoke, "inspect", "-", input=raw)
    assert result.exit_code == 0 and result.stdout.startswith("prefix: pypi\n"), result.stderr


def test_inspect_unknown_caveat_is_reported_not_crashed(invoke: Invoke, raw: str) -> None:
    from pypitoken_core import _macaroon

    token = Token.load(raw)
    decoded = token._raw
    caveat = b'[99, "mystery"]'
    extended = decoded._replace(
        caveats=(caveat,), signature=_macaroon.chain(decoded.signature, [caveat])
    )
    odd = "pypi-" + _macaroon.b64encode(_macaroon.encode(extended))
    result = offline(invoke, "inspect", odd)
    assert result.exit_code == 0, result.stderr
    assert "not understood" in result.stdout
    as_json = offline(invoke, "inspect", odd, "--json")
    assert as_json.exit_code == 0
    assert len(json.loads(as_json.stdout)["restrictions"]) == 1


def test_offline_commands_need_no_store(invoke: Invoke, raw: str, tmp_path: object) -> None:
    result = invoke("inspect", raw, db_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 0, result.stderr
    result = invoke("restrict", raw, "--project", "x", db_url="mysql://not-even-supported")
    assert result.exit_code == 0, result.stderr


# -- a restriction that can never work is pointed out (issue 13 point 12) ---------------------


def test_restrict_outside_the_project_caveat_warns(pypitoken: Run, raw: str) -> None:
    """The reproduction: narrowing a token for 'foo' to 'bar' succeeded silently, and the
    new token could never be used."""
    scoped = pypitoken("restrict", "-", "--project", "Foo", input=raw, db_url=None)
    assert scoped.returncode == 0 and scoped.stderr == ""  # the first scope: no warning
    for projects, effect in (
        (["bar"], "'bar' is outside it, so the new token can never be used"),
        (["foo", "Bar_2"], "'bar-2' is outside it, so the new token can never be used for 'bar-2'"),
    ):
        args = [a for p in projects for a in ("--project", p)]
        proc = pypitoken("restrict", "-", *args, input=scoped.stdout, db_url=None)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == f"Warning: the token is already limited to project 'foo'; {effect}\n"
        (line,) = proc.stdout.splitlines()  # stdout stays the one token line
        assert Token.load(line).restrictions[-1].project_names == [  # type: ignore[attr-defined]
            names.normalize(p) for p in projects
        ]
    # The positive control: narrowing within the scope says nothing.
    within = pypitoken("restrict", "-", "--project", "foo", "--expires", "1h", input=scoped.stdout,
                       db_url=None)  # fmt: skip
    assert within.returncode == 0 and within.stderr == ""
    assert len(within.stdout.splitlines()) == 1
