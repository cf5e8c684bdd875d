"""What the ``pypitoken`` commands share: times and durations, token input, the store.

Every command module (offline, admin, and those to come) imports from here and from the
public core only; ``__init__`` assembles them into one group.
"""

from __future__ import annotations

import datetime
import functools
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

from .. import _time, display
from ..exceptions import PyPITokenException
from ..service import TokenService
from ..token import Token

__all__ = [
    "Admin",
    "admin_errors",
    "fail",
    "iso",
    "parse_duration",
    "parse_expiry",
    "parse_moment",
    "pass_admin",
    "read_token",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^([0-9]{1,15})([smhdw])$")


def parse_duration(text: str) -> int:
    """``30s``, ``15m``, ``1h``, ``1d``, ``2w`` -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 15m, 1h, 1d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _in_range(stamp: int, text: str) -> int:
    if not _time.in_range(stamp):
        raise click.BadParameter(f"{text!r} is not a time between years 1 and 9999")
    return stamp


def parse_expiry(text: str) -> datetime.datetime | datetime.timedelta:
    """When a new token expires: a duration (counted from the mint) or a moment.

    A duration is handed to the service as such: opening the store takes a moment (more
    on a busy machine), and "1s" must not have run out before the token exists. Times
    past year 9999 are refused either way (:func:`parse_moment`).
    """
    moment = parse_moment(text, allow_duration=True)
    if _DURATION.match(text.strip()):
        return datetime.timedelta(seconds=parse_duration(text))
    return datetime.datetime.fromtimestamp(moment, datetime.UTC)


def parse_moment(text: str, *, allow_duration: bool = False) -> int:
    """An ISO 8601 datetime with an offset, epoch seconds, or (if allowed) a duration from now.

    Raises :class:`click.BadParameter` for anything else, and for a time outside the
    years 1 to 9999 UTC.
    """
    text = text.strip()
    if allow_duration and _DURATION.match(text):
        return _in_range(int(time.time()) + parse_duration(text), text)
    if text.isascii() and text.isdigit():
        # Digits only up to what a time can be: int() of a million digits is slow.
        return _in_range(int(text) if len(text) <= 15 else _time.MAX_TIMESTAMP + 1, text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        kinds = "a duration (1h, 2w), " if allow_duration else ""
        raise click.BadParameter(
            f"{text!r} is not {kinds}an ISO 8601 datetime with an offset, or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no UTC offset (add Z or +00:00)")
    return _in_range(int(moment.timestamp()), text)


def iso(timestamp: int | None) -> str | None:
    """A time for people (ISO 8601, UTC), or None for a time that is not set."""
    return None if timestamp is None else display.iso(timestamp)


def fail(message: str) -> NoReturn:
    """Say ``Error: <message>`` on standard error and exit 1."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def read_token(value: str) -> Token:
    """The token given as an argument, or on standard input for ``-``; exit 1 if unreadable.

    The message never repeats the token.
    """
    if value == "-":
        value = sys.stdin.read().strip()
    try:
        return Token.load(value)
    except PyPITokenException as exc:
        fail(f"cannot read the token: {exc}")


class Admin:
    """Global options; the service is opened on first use, so offline commands need no store."""

    def __init__(self, db: str | None, secret_file: str | None, ownership: str, allow_delete: bool):
        self.db, self.secret_file = db, secret_file
        self.ownership, self.allow_delete = ownership, allow_delete
        self._service: TokenService | None = None

    def service(self) -> TokenService:
        """The service over the store of ``--db``, closed when the command ends."""
        if self._service is None:
            self._service = TokenService.from_url(
                self.db,
                secret_file=self.secret_file,
                ownership=self.ownership,
                allow_delete=self.allow_delete,
            )
            click.get_current_context().call_on_close(self._service.close)
        return self._service


#: Decorator: hand a command the :class:`Admin` the group built.
pass_admin = click.make_pass_decorator(Admin)


def admin_errors(func: Callable[..., None]) -> Callable[..., None]:
    """Turn library errors (unknown user, duplicate name, unreachable store) into exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except PyPITokenException as exc:
            fail(str(exc))

    return wrapper
