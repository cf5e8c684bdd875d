"""One meaning for ``--expires`` and ``--since`` everywhere (issue 13 point 4): the table of
what :mod:`pypitoken_core.times` reads, and what it refuses with which hint."""

from __future__ import annotations

import datetime

import pytest

from pypitoken_core.exceptions import InvalidInput
from pypitoken_core.times import FORMS, duration_text, parse_duration, parse_time, resolve

NOW = 1_700_000_000
UTC = datetime.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", datetime.timedelta(seconds=30)),
        ("15m", datetime.timedelta(minutes=15)),
        (" 1h ", datetime.timedelta(hours=1)),
        ("1d", datetime.timedelta(days=1)),
        ("2w", datetime.timedelta(weeks=2)),
        ("2030-01-31T12:00:00Z", datetime.datetime(2030, 1, 31, 12, tzinfo=UTC)),
        ("2030-01-31T13:00:00+01:00", datetime.datetime(2030, 1, 31, 12, tzinfo=UTC)),
        ("@1767225600", datetime.datetime(2026, 1, 1, tzinfo=UTC)),
        ("@0", datetime.datetime(1970, 1, 1, tzinfo=UTC)),
        ("@253402300799", datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_each_form_is_read(text: str, expected: object) -> None:
    assert parse_time(text) == expected


# ``whole``: the message starts with the row's text; otherwise the text is a fragment of it.
@pytest.mark.parametrize(
    ("text", "message", "whole"),
    [
        ("30", "'30' is a bare number: say 30s for a duration from now, or @30 for seconds"
               " since the epoch", True),
        ("1767225600", "'1767225600' is a bare number: say 1767225600s for a duration from"
                       " now, or @1767225600", True),
        ("-5", "'-5' is a bare number", True),
        ("9" * 100_000, "'" + "9" * 61 + "...' is a bare number: say Ns for a duration", True),
        ("soon", f"'soon' is not {FORMS}", True),
        ("1y", f"'1y' is not {FORMS}", True),
        ("", f"'' is not {FORMS}", True),
        ("@", f"'@' is not {FORMS}", True),
        ("@1.5", f"'@1.5' is not {FORMS}", True),
        ("2030-01-31T12:00:00", "'2030-01-31T12:00:00' has no UTC offset (add Z or +00:00)",
         True),
        ("@253402300800", "'@253402300800' is not a time between years 1 and 9999", True),
        ("@" + "9" * 100_000, "is not a time between years 1 and 9999", False),
        ("999999999999999w", "'999999999999999w' is not a time between years 1 and 9999",
         True),
        ("9999-12-31T23:00:00-02:00", "is not a time between years 1 and 9999", False),
    ],
)  # fmt: skip
def test_what_is_not_a_time_is_refused_with_the_forms(text: str, message: str, whole: bool) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_time(text)
    if whole:
        assert str(caught.value).startswith(message)
    else:
        assert message in str(caught.value)
    assert len(str(caught.value)) < 300  # a long input is cut, never echoed whole


def test_resolve_counts_a_duration_forward_or_back() -> None:
    assert resolve("1h", NOW) == NOW + 3600
    assert resolve("1d", NOW, ago=True) == NOW - 86400
    assert resolve("@1767225600", NOW) == resolve("@1767225600", NOW, ago=True) == 1767225600
    with pytest.raises(InvalidInput, match="is not a time between years 1 and 9999"):
        resolve("9999999999w", NOW, ago=True)


def test_durations_alone() -> None:
    assert parse_duration("90d") == 90 * 86400
    with pytest.raises(InvalidInput, match=r"^'90' is not a duration .* \(add a unit: 90s\)$"):
        parse_duration("90")
    with pytest.raises(InvalidInput, match="is not a duration like 30s"):
        parse_duration("@90")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (90, "90s"), (3600, "1h"), (86400, "1d"), (2592000, "30d"),
     (1209600, "2w"), (5400, "90m")],
)  # fmt: skip
def test_duration_text_reads_back(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text
    assert parse_duration(text) == seconds
