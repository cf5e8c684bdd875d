"""Times as people type them and read them: the one parser behind every ``--expires``
and ``--since``, of the ``pypitoken`` CLI, the token API and ``devpi api-token-create``.

Three forms, the same everywhere::

    30s 15m 1h 1d 2w              a duration, counted from now
    2030-01-31T12:00:00Z          an ISO 8601 datetime with an offset (Z, +01:00)
    @1767225600                   seconds since the epoch, marked by the @

A bare number is refused: ``30`` has meant "30 seconds from now" in one tool and "1970,
plus 30 seconds" in another, so it must say which (``30s`` or ``@30``). So is a datetime
without an offset (whose time zone would be a guess) and any time outside the years 1
to 9999 UTC. Errors are :class:`~pypitoken_core.exceptions.InvalidInput` naming the
forms; callers turn them into their own usage errors.
"""

from __future__ import annotations

import datetime
import re

from . import _time
from .exceptions import InvalidInput

__all__ = ["FORMS", "duration_text", "parse_duration", "parse_time", "resolve"]

#: The accepted forms, for help texts and hints.
FORMS = "a duration (30s, 15m, 1h, 1d, 2w), an ISO 8601 datetime with an offset, or @<epoch>"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# At most 15 digits: int() of a long digit string costs time, and no time needs more.
_DURATION = re.compile(r"([0-9]{1,15})([smhdw])")
_EPOCH = re.compile(r"@(-?[0-9]+)")
# Longer input is no time in any form; it is not echoed whole either.
_MAX_TEXT = 64


def _shown(text: str) -> str:
    return repr(text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "...")


def _number(digits: str) -> str:
    # The hint repeats a number only as long as a time can be.
    return digits if len(digits) <= 15 else "N"


def parse_duration(text: str) -> int:
    """``30s``, ``15m``, ``1h``, ``1d`` or ``2w`` as seconds.

    Raises :class:`InvalidInput` for anything else, and for a bare number.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        hint = f" (add a unit: {_number(text.strip())}s)" if text.strip().isdigit() else ""
        raise InvalidInput(f"{_shown(text)} is not a duration like 30s, 15m, 1h, 1d or 2w{hint}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str) -> datetime.timedelta | datetime.datetime:
    """A duration (a ``timedelta``, to count from whenever the caller's "now" is) or a
    moment (an aware UTC ``datetime``), from one of :data:`FORMS`.

    A duration stays relative so that a service counts it from its own clock: "1s" must
    not run out while a command opens its store. Raises :class:`InvalidInput` with the
    forms for anything else, and for a time outside the years 1 to 9999 UTC.
    """
    stripped = text.strip()
    if _DURATION.fullmatch(stripped):
        seconds = parse_duration(stripped)
        if seconds > _time.MAX_TIMESTAMP:
            raise InvalidInput(f"{_shown(text)} is not a time between years 1 and 9999")
        return datetime.timedelta(seconds=seconds)
    epoch = _EPOCH.fullmatch(stripped)
    if epoch is not None:
        digits = epoch.group(1)
        # Digits only up to what a time can be: int() of a million digits is slow.
        return _moment(int(digits) if len(digits) <= 15 else _time.MAX_TIMESTAMP + 1, text)
    if stripped.isascii() and stripped.lstrip("-").isdigit():
        number = _number(stripped)
        raise InvalidInput(
            f"{_shown(text)} is a bare number: say {number}s for a duration from now,"
            f" or @{number} for seconds since the epoch"
        )
    try:
        moment = datetime.datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{_shown(text)} is not {FORMS}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{_shown(text)} has no UTC offset (add Z or +00:00)")
    try:
        return _moment(int(moment.timestamp()), text)
    except OverflowError:  # an offset that moves year 9999 past what a datetime holds
        raise InvalidInput(f"{_shown(text)} is not a time between years 1 and 9999") from None


def _moment(stamp: int, text: str) -> datetime.datetime:
    moment = _time.utc(stamp)
    if moment is None:
        raise InvalidInput(f"{_shown(text)} is not a time between years 1 and 9999")
    return moment


def resolve(text: str, now: int, *, ago: bool = False) -> int:
    """:func:`parse_time` as a timestamp: a duration counts forward from ``now`` (or
    back, with ``ago``, as ``--since 1d`` does).

    Raises :class:`InvalidInput` as :func:`parse_time` does, also when the duration
    reaches past the years 1 to 9999.
    """
    when = parse_time(text)
    if isinstance(when, datetime.datetime):
        return int(when.timestamp())
    seconds = int(when.total_seconds())
    stamp = now - seconds if ago else now + seconds
    if not _time.in_range(stamp):
        raise InvalidInput(f"{_shown(text)} is not a time between years 1 and 9999")
    return stamp


def duration_text(seconds: int) -> str:
    """``seconds`` the way :func:`parse_duration` reads them, in the largest unit that
    divides them exactly: ``2592000`` -> ``30d``, ``90`` -> ``90s``."""
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
