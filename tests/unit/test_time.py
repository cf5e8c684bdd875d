"""Timestamps and their range: what a datetime can hold, and how others are shown."""

from __future__ import annotations

import datetime

import pytest

from pypitoken_core import InvalidRestriction
from pypitoken_core._time import MAX_TIMESTAMP, MIN_TIMESTAMP, checked, in_range, shown, utc

UTC = datetime.UTC


def test_the_range_is_exactly_what_a_datetime_holds():
    assert utc(MIN_TIMESTAMP) == datetime.datetime(1, 1, 1, tzinfo=UTC)
    assert utc(MAX_TIMESTAMP) == datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for outside in (MIN_TIMESTAMP - 1, MAX_TIMESTAMP + 1, 10**30, -(10**30)):
        assert not in_range(outside)
        assert utc(outside) is None
    assert utc(0) == datetime.datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-5, "-5"),
        (10**30, "1" + "0" * 30),
        (10**40 - 1, "9" * 40),
        (10**40, "a number of over 40 digits"),
        (-(10**4000), "a negative number of over 40 digits"),
    ],
)
def test_shown(value, text):
    assert shown(value) == text


def test_checked():
    assert checked(MAX_TIMESTAMP, "x") == MAX_TIMESTAMP
    with pytest.raises(InvalidRestriction, match=r"`x` is out of range.*Received 5 days from now"):
        checked(MAX_TIMESTAMP + 1, "x", "5 days from now")
