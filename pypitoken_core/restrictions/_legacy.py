"""Legacy caveats: the JSON objects Warehouse wrote before 2022 (and pypitoken still can).

They have no tag: :func:`_pick` tells them apart by their exact key set, one lookup and no
trial loading, and anything else fails closed. The three pypitoken writes are written
back byte for byte; ``{"project_ids": [...]}`` is only read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._time import iso
from ..exceptions import LoaderError
from ._context import Context
from ._core import SUCCESS, Restriction, Result, _is_int, _listed, _register_legacy, _str_list
from ._pypi import _in_window, _member

__all__ = [
    "LegacyDateRestriction",
    "LegacyNoopRestriction",
    "LegacyProjectIDsRestriction",
    "LegacyProjectNamesRestriction",
]


@dataclasses.dataclass(frozen=True, slots=True)
class LegacyNoopRestriction(Restriction):
    """``{"version": 1, "permissions": "user"}``: says it restricts, restricts nothing."""

    @classmethod
    def _from_value(cls, value: dict[str, Any]) -> LegacyNoopRestriction:
        if value != {"version": 1, "permissions": "user"} or type(value["version"]) is not int:
            raise LoaderError("not a legacy noop caveat")
        return cls()

    def dump(self) -> dict[str, Any]:
        return {"version": 1, "permissions": "user"}

    def _verify(self, context: Context) -> Result:
        return SUCCESS

    def describe(self) -> str:
        return "no restriction (legacy noop)"


@dataclasses.dataclass(frozen=True, slots=True)
class LegacyProjectNamesRestriction(Restriction):
    """``{"version": 1, "permissions": {"projects": [...]}}``: legacy project names."""

    project_names: list[str]

    @classmethod
    def _from_value(cls, value: dict[str, Any]) -> LegacyProjectNamesRestriction:
        permissions = value.get("permissions")
        if (
            value.keys() != {"version", "permissions"}
            or not _is_int(value["version"])
            or value["version"] != 1
            or type(permissions) is not dict
            or permissions.keys() != {"projects"}
        ):
            raise LoaderError("not a legacy project names caveat")
        return cls(project_names=_str_list(permissions["projects"]))

    def dump(self) -> dict[str, Any]:
        return {"version": 1, "permissions": {"projects": self.project_names}}

    def _verify(self, context: Context) -> Result:
        return _member(self.project_names, context.project_name, "project_name")

    def describe(self) -> str:
        return f"projects: {_listed(self.project_names)} (legacy)"


@dataclasses.dataclass(frozen=True, slots=True)
class LegacyDateRestriction(Restriction):
    """``{"nbf": ..., "exp": ...}``: legacy time interval, ``nbf <= now < exp``."""

    not_before: int
    not_after: int

    @classmethod
    def _from_value(cls, value: dict[str, Any]) -> LegacyDateRestriction:
        if value.keys() != {"nbf", "exp"} or not (_is_int(value["nbf"]) and _is_int(value["exp"])):
            raise LoaderError("not a legacy date caveat")
        return cls(not_before=value["nbf"], not_after=value["exp"])

    def dump(self) -> dict[str, Any]:
        return {"nbf": self.not_before, "exp": self.not_after}

    def _verify(self, context: Context) -> Result:
        return _in_window(self.not_before, self.not_after, context.now)

    def describe(self) -> str:
        return f"valid from {iso(self.not_before)} until {iso(self.not_after)} (excl, legacy)"


@dataclasses.dataclass(frozen=True, slots=True)
class LegacyProjectIDsRestriction(Restriction):
    """``{"project_ids": [...]}``: Warehouse's pre-2022 project-id caveat (read only)."""

    project_ids: list[str]

    @classmethod
    def _from_value(cls, value: dict[str, Any]) -> LegacyProjectIDsRestriction:
        if value.keys() != {"project_ids"}:
            raise LoaderError("not a legacy project ids caveat")
        return cls(project_ids=_str_list(value["project_ids"]))

    def dump(self) -> dict[str, Any]:
        return {"project_ids": self.project_ids}

    def _verify(self, context: Context) -> Result:
        return _member(self.project_ids, context.project_id, "project_id")

    def describe(self) -> str:
        return f"project ids: {_listed(self.project_ids)} (legacy)"


@_register_legacy
def _pick(value: dict[str, Any]) -> type[Restriction] | None:
    """The legacy class for this object, from its key set; None if it is none of them."""
    keys = value.keys()
    if keys == {"version", "permissions"}:
        if value["permissions"] == "user":
            return LegacyNoopRestriction
        return LegacyProjectNamesRestriction
    if keys == {"nbf", "exp"}:
        return LegacyDateRestriction
    if keys == {"project_ids"}:
        return LegacyProjectIDsRestriction
    return None
