"""Timestamps and their range: what a datetime can hold, and how others are shown."""

from __future__ import annotations

import datetime

import pytest

from pypitoken_core import InvalidRestriction
from pypitoken_core._time import (
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    checked,
    in_range,
    iso,
    shown,
    utc,
)

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


@pytest.mark.parametrize(
    ("value", "plain", "spaced"),
    [
        (0, "1970-01-01T00:00:00Z", "1970-01-01 00:00:00 UTC"),
        (1_700_000_000, "2023-11-14T22:13:20Z", "2023-11-14 22:13:20 UTC"),
        (MIN_TIMESTAMP, "0001-01-01T00:00:00Z", "0001-01-01 00:00:00 UTC"),
        (MAX_TIMESTAMP, "9999-12-31T23:59:59Z", "9999-12-31 23:59:59 UTC"),
        (MAX_TIMESTAMP + 1, "timestamp 253402300800", "timestamp 253402300800"),
        (-(10**40), f"timestamp {-(10**40)}", f"timestamp {-(10**40)}"),
    ],
)
def test_iso_is_the_one_time_format(value, plain, spaced):
    assert iso(value) == plain
    assert iso(value, spaced=True) == spaced
