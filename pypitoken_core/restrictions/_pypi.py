"""pypi.org's caveats (Warehouse ``caveats/__init__.py``): integer tags 0 to 4."""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import names
from .._time import iso
from ..exceptions import LoaderError
from ._context import Context
from ._core import (
    SUCCESS,
    Failure,
    Restriction,
    Result,
    _is_int,
    _listed,
    _missing,
    _register,
    _str_list,
)

__all__ = [
    "DateRestriction",
    "OIDCPublisherRestriction",
    "ProjectIDsRestriction",
    "ProjectNamesRestriction",
    "UserIDRestriction",
]

# NOTE: field order is the wire format. Never reorder or remove a field of a registered
# class; a changed shape needs a new tag. In particular the date caveat is
# [0, not_after, not_before] (expiry first), as Warehouse's Expiration(expires_at,
# not_before); the names below follow the seed API, the order follows the wire.


@_register(0)
@dataclasses.dataclass(frozen=True, slots=True)
class DateRestriction(Restriction):
    """Restrict a Token to a single time interval: ``not_before <= now < not_after``."""

    not_after: int
    not_before: int

    def __init__(self, not_before: int, not_after: int) -> None:
        object.__setattr__(self, "not_after", not_after)
        object.__setattr__(self, "not_before", not_before)

    @classmethod
    def _from_value(cls, value: list[Any]) -> DateRestriction:
        if len(value) != 3 or not (_is_int(value[1]) and _is_int(value[2])):
            raise LoaderError("date caveat must be [0, not_after, not_before]")
        return cls(not_before=value[2], not_after=value[1])

    def _verify(self, context: Context) -> Result:
        return _in_window(self.not_before, self.not_after, context.now)

    def describe(self) -> str:
        return f"valid from {iso(self.not_before)} until {iso(self.not_after)} (excl)"


def _in_window(not_before: int, not_after: int, now: int) -> Result:
    if not_before <= now < not_after:
        return SUCCESS
    return Failure(
        f"This token can only be used between timestamps {not_before} (incl) and "
        f"{not_after} (excl). Received: {now}"
    )


def _member(allowed: list[str], value: str | None, field: str) -> Result:
    if value is None:
        return _missing(field)
    if value in allowed:
        return SUCCESS
    return Failure(
        f"This token can only be used for project(s): {', '.join(allowed)}. Received: {value}"
    )


@_register(1)
@dataclasses.dataclass(frozen=True, slots=True)
class ProjectNamesRestriction(Restriction):
    """Restrict a Token to projects with these (normalised) names."""

    project_names: list[str]

    @classmethod
    def _from_value(cls, value: list[Any]) -> ProjectNamesRestriction:
        if len(value) != 2:
            raise LoaderError("project names caveat must be [1, [names]]")
        return cls(project_names=_str_list(value[1], pattern=names.is_normalized))

    def _verify(self, context: Context) -> Result:
        return _member(self.project_names, context.project_name, "project_name")

    def describe(self) -> str:
        return f"projects: {_listed(self.project_names)}"


@_register(2)
@dataclasses.dataclass(frozen=True, slots=True)
class ProjectIDsRestriction(Restriction):
    """Restrict a Token to projects with these ids."""

    project_ids: list[str]

    @classmethod
    def _from_value(cls, value: list[Any]) -> ProjectIDsRestriction:
        if len(value) != 2:
            raise LoaderError("project ids caveat must be [2, [ids]]")
        return cls(project_ids=_str_list(value[1]))

    def _verify(self, context: Context) -> Result:
        return _member(self.project_ids, context.project_id, "project_id")

    def describe(self) -> str:
        return f"project ids: {_listed(self.project_ids)}"


@_register(3)
@dataclasses.dataclass(frozen=True, slots=True)
class UserIDRestriction(Restriction):
    """Restrict a Token to being used by the user with this id."""

    user_id: str

    @classmethod
    def _from_value(cls, value: list[Any]) -> UserIDRestriction:
        if len(value) != 2 or type(value[1]) is not str or not value[1]:
            raise LoaderError("user id caveat must be [3, user_id]")
        return cls(user_id=value[1])

    def _verify(self, context: Context) -> Result:
        if context.user_id is None:
            return _missing("user_id")
        if context.user_id == self.user_id:
            return SUCCESS
        return Failure(
            f"This token can only be used by user with id: {self.user_id}. "
            f"Received: {context.user_id}"
        )

    def describe(self) -> str:
        return f"user id: {self.user_id}"


@_register(4)
@dataclasses.dataclass(frozen=True, slots=True)
class OIDCPublisherRestriction(Restriction):
    """Trusted-publisher token (pypi.org tag 4): only for this OIDC publisher.

    Checked against the keyword-only ``oidc_publisher_id`` of :meth:`Token.check`;
    without it the check fails closed. ``oidc_claims`` is deprecated on pypi.org and
    always written as ``null``.
    """

    oidc_publisher_id: str
    oidc_claims: dict[str, Any] | None = None

    @classmethod
    def _from_value(cls, value: list[Any]) -> OIDCPublisherRestriction:
        if len(value) not in (2, 3) or type(value[1]) is not str or not value[1]:
            raise LoaderError("trusted publisher caveat must be [4, publisher_id, claims]")
        claims = value[2] if len(value) == 3 else None
        if claims is not None and type(claims) is not dict:
            raise LoaderError("trusted publisher claims must be an object or null")
        return cls(oidc_publisher_id=value[1], oidc_claims=claims)

    def _verify(self, context: Context) -> Result:
        if context.oidc_publisher_id is None:
            return _missing("oidc_publisher_id")
        if context.oidc_publisher_id == self.oidc_publisher_id:
            return SUCCESS
        return Failure(
            f"This token can only be used by trusted publisher: {self.oidc_publisher_id}. "
            f"Received: {context.oidc_publisher_id}"
        )

    def describe(self) -> str:
        return f"trusted publisher: {self.oidc_publisher_id}"
