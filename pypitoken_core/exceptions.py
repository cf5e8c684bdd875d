"""Exceptions raised by pypitoken-core.

Every exception this library raises derives from :class:`PyPITokenException`; any other
exception type escaping a public function is a bug::

    PyPITokenException
    +-- LoaderError            Token.load / Token.restrictions / Restriction.load: bad format
    +-- ValidationError        Token.check / TokenService.authenticate: a refusal, the token
    |   |                      must not be used as asked
    |   +-- MissingContextError    a restriction needs a context value that was not given
    +-- InvalidInput           a caller's value is not acceptable (a user or project name);
    |   |                      also a ValueError
    |   +-- InvalidRestriction     Token.restrict, TokenService.mint: parameters cannot
    |                              describe a restriction (a ValueError, as in pypitoken)
    +-- ConfigurationError     the server is set up wrong: its secret, ownership mode,
    |                          token prefix or limits
    +-- StoreError             the token store failed or refused an operation
        +-- NotFound           no such user / project / token
        +-- AlreadyExists      a unique name or id is taken

Three families answer three questions: a refusal (``ValidationError``) is about the token
and the use, invalid input (``InvalidInput``) about what a caller typed, and the last two
about the server (fix its configuration, or its store). Messages are English sentences a
twine user can act on. They never contain a token, a signature or a key.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "ConfigurationError",
    "InvalidInput",
    "InvalidRestriction",
    "LoaderError",
    "MissingContextError",
    "NotFound",
    "PyPITokenException",
    "StoreError",
    "ValidationError",
]


class PyPITokenException(Exception):
    """The base exception for all exceptions raised from this library."""


class LoaderError(PyPITokenException):
    """The token or caveat string could not be understood."""


class ValidationError(PyPITokenException):
    """The token must be considered invalid for this use.

    ``reasons`` holds every individual failure (one per unmet restriction); the message is
    those reasons joined with ``", "``. A server's refusal also says, where it knows,
    whose: ``token_id`` (never the token itself) and ``user``, for log lines.
    """

    def __init__(
        self,
        message: str = "",
        *,
        reasons: tuple[str, ...] = (),
        token_id: str | None = None,
        user: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reasons: tuple[str, ...] = reasons or ((message,) if message else ())
        #: The id of the refused token's record, when the server found one.
        self.token_id = token_id
        #: The user whose token or password was refused, when known.
        self.user = user


class MissingContextError(ValidationError):
    """A restriction could not be checked because the context lacks a required value."""


class InvalidInput(PyPITokenException, ValueError):
    """A value a caller passed is not acceptable, e.g. a malformed user or project name."""


class InvalidRestriction(InvalidInput):
    """``Token.restrict`` received parameters that cannot describe a valid restriction."""


class ConfigurationError(PyPITokenException):
    """The server's configuration cannot work: a missing or short secret, an unknown
    ownership mode, a bad token prefix or limit."""


class StoreError(PyPITokenException):
    """The token store is unreachable, inconsistent, or refused the operation."""


class NotFound(StoreError):
    """The named user, project or token does not exist."""


class AlreadyExists(StoreError):
    """A user or project with this name (or a record with this id) already exists."""
