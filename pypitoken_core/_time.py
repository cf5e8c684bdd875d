"""Timestamps: integer seconds since the epoch, limited to what a ``datetime`` can hold.

Caveats, records and contexts carry times as integers. Python integers have no bound, but
a time this project accepts must also be one it can show (``datetime``), store (64-bit
SQL integers) and compare with another process's clock: so every time that comes in
through a parameter is checked against the years 1 to 9999 UTC. Reading is the exception:
a token written elsewhere (pypitoken accepts any integer) still loads, and its times are
shown as raw numbers when they are not dates.
"""

from __future__ import annotations

import datetime

from .exceptions import InvalidRestriction

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "checked",
    "in_range",
    "iso",
    "shown",
    "timestamp_from_parameter",
    "utc",
]

#: 0001-01-01T00:00:00Z, the first second a ``datetime`` holds.
MIN_TIMESTAMP = -62_135_596_800
#: 9999-12-31T23:59:59Z, the last second a ``datetime`` holds.
MAX_TIMESTAMP = 253_402_300_799

# Numbers longer than this are not repeated in messages: a 4000-digit int is a wall of text.
_MAX_SHOWN_DIGITS = 40


def in_range(value: int) -> bool:
    """Tell whether the integer ``value`` is a second between years 1 and 9999 UTC."""
    return MIN_TIMESTAMP <= value <= MAX_TIMESTAMP


def shown(value: int) -> str:
    """``value`` for a message: the number, or a description when it is very long."""
    text = str(value) if -(10**_MAX_SHOWN_DIGITS) < value < 10**_MAX_SHOWN_DIGITS else ""
    return text or f"a {'negative ' if value < 0 else ''}number of over {_MAX_SHOWN_DIGITS} digits"


def checked(value: int, name: str, received: str | None = None) -> int:
    """Return ``value`` if it is in range, else raise :class:`InvalidRestriction`.

    The message names the parameter ``name`` and what was received (``received``, or the
    value itself).
    """
    if in_range(value):
        return value
    raise InvalidRestriction(
        f"`{name}` is out of range: a time must lie between years 1 and 9999 UTC "
        f"(timestamps {MIN_TIMESTAMP} to {MAX_TIMESTAMP}). Received "
        f"{received if received is not None else shown(value)}"
    )


def timestamp_from_parameter(param: object, name: str = "now") -> int:
    """Turn an int timestamp or a timezone-aware datetime into an int timestamp.

    Floats, bools and naive datetimes are refused with :class:`InvalidRestriction`
    naming the parameter (pypitoken leaks ``AttributeError`` for floats), and so are
    times outside the years 1 to 9999 UTC, which no datetime can show (pypitoken writes
    any integer).
    """
    if type(param) is int:
        return checked(param, name)
    if isinstance(param, datetime.datetime):
        if param.tzinfo is None or param.tzinfo.utcoffset(param) is None:
            raise InvalidRestriction(
                "Cannot use a naive datetime. Either provide a timezone or the timestamp "
                f"directly. Received a naive datetime for `{name}`"
            )
        # An aware datetime near year 1 or 9999 can lie outside them in UTC.
        return checked(int(param.timestamp()), name, received=param.isoformat())
    raise InvalidRestriction(
        f"`{name}` must be an integer timestamp or a timezone-aware datetime. "
        f"Received {type(param).__name__}"
    )


def utc(value: int) -> datetime.datetime | None:
    """The UTC datetime of the timestamp ``value``, or None when no datetime can hold it."""
    if not in_range(value):
        return None
    return datetime.datetime.fromtimestamp(value, datetime.UTC)


def iso(value: int, *, spaced: bool = False) -> str:
    """The timestamp ``value`` as ISO 8601 in UTC: ``2025-01-31T12:00:00Z``.

    With ``spaced``, the form refusal messages use: ``2025-01-31 12:00:00 UTC``. A time no
    datetime can hold (a token written elsewhere: pypitoken writes any integer) reads
    ``timestamp <value>``, so that showing a token never fails.
    """
    moment = utc(value)
    if moment is None:
        return f"timestamp {value}"
    if spaced:
        return moment.isoformat(sep=" ").replace("+00:00", " UTC")
    return moment.isoformat().replace("+00:00", "Z")
