"""What the ``pypitoken`` commands share: times and durations, token input, the store.

Every command module (offline, admin, and those to come) imports from here and from the
public core only; ``__init__`` assembles them into one group.
"""

from __future__ import annotations

import datetime
import functools
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from .. import display, times
from ..exceptions import InvalidInput, PyPITokenException
from ..service import DEFAULT_DB_URL, TokenService
from ..store.sqlite import parse_sqlite_url
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
    "table",
]


def _usage(func: Callable[..., Any], text: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(text, *args, **kwargs)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc)) from None


def parse_duration(text: str) -> int:
    """``30s``, ``15m``, ``1h``, ``1d``, ``2w`` -> seconds (:func:`times.parse_duration`)."""
    seconds: int = _usage(times.parse_duration, text)
    return seconds


def parse_expiry(text: str) -> datetime.datetime | datetime.timedelta:
    """When a new token expires: a duration (counted from the mint) or a moment.

    One of :data:`times.FORMS`, as everywhere; a usage error for anything else.
    """
    when: datetime.datetime | datetime.timedelta = _usage(times.parse_time, text)
    return when


def parse_moment(text: str, *, ago: bool = False) -> int:
    """One of :data:`times.FORMS` as a timestamp; a duration counts from now (or back
    from now, with ``ago``). A usage error for anything else."""
    stamp: int = _usage(times.resolve, text, int(time.time()), ago=ago)
    return stamp


def iso(timestamp: int | None) -> str | None:
    """A time for people (ISO 8601, UTC), or None for a time that is not set."""
    return None if timestamp is None else display.iso(timestamp)


def table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` as columns aligned with spaces, the first row being the header.

    The last column (a free-text description) is not padded, so lines end where text does.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


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

    def service(self, *, create: bool = False) -> TokenService:
        """The service over the store of ``--db``, closed when the command ends.

        Without ``--db`` (or ``$PYPITOKEN_DB``) the store is :data:`DEFAULT_DB_URL`, in the
        current directory. Only a command that makes something (``create``) may create
        that file, and says so: any other exits 1 naming the file, rather than answer from
        a new, empty store (and leave it, with a new secret, wherever it ran).
        """
        if self._service is None:
            new = None
            if self.db is None:
                path = parse_sqlite_url(DEFAULT_DB_URL)
                if not path.exists():
                    if not create:
                        fail(f"no token store at {path} (pass --db or set PYPITOKEN_DB)")
                    new = path
            self._service = TokenService.from_url(
                self.db or DEFAULT_DB_URL,
                secret_file=self.secret_file,
                ownership=self.ownership,
            )
            if self.allow_delete:
                # An override for this command only: the store keeps its server's choice.
                self._service.allow_delete = True
            click.get_current_context().call_on_close(self._service.close)
            if new is not None:
                secret = "" if self.secret_file else f", its secret in {new}.secret"
                click.echo(
                    f"created a token store at {new}{secret} (pass --db or set PYPITOKEN_DB"
                    " to use another)",
                    err=True,
                )
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
