"""This project's own caveats, under string tags.

Warehouse only ever registers integer tags, so a string tag (``"ptc.<name>"``) can never
collide with a future pypi.org caveat, and every other reader (pypitoken, pypi.org) fails
closed on it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..exceptions import LoaderError
from ._context import Context
from ._core import SUCCESS, Failure, Restriction, Result, _listed, _missing, _register, _str_list

__all__ = ["ACTIONS", "ActionsRestriction", "IndexesRestriction"]

#: Actions an :class:`ActionsRestriction` may allow.
ACTIONS: tuple[str, ...] = ("upload", "download", "delete")


@_register("ptc.actions")
@dataclasses.dataclass(frozen=True, slots=True)
class ActionsRestriction(Restriction):
    """Restrict a Token to some actions: ``upload``, ``download``, ``delete``."""

    actions: list[str]

    @classmethod
    def _from_value(cls, value: list[Any]) -> ActionsRestriction:
        if len(value) != 2:
            raise LoaderError('actions caveat must be ["ptc.actions", [actions]]')
        return cls(actions=_str_list(value[1], pattern=ACTIONS.__contains__))

    def _verify(self, context: Context) -> Result:
        if context.action is None:
            return _missing("action")
        if context.action in self.actions:
            return SUCCESS
        return Failure(
            f"This token can only be used for action(s): {', '.join(self.actions)}. "
            f"Received: {context.action}"
        )

    def describe(self) -> str:
        return f"actions: {_listed(self.actions)}"


@_register("ptc.indexes")
@dataclasses.dataclass(frozen=True, slots=True)
class IndexesRestriction(Restriction):
    """Restrict a Token to some package indexes (devpi ``user/index`` names)."""

    indexes: list[str]

    @classmethod
    def _from_value(cls, value: list[Any]) -> IndexesRestriction:
        if len(value) != 2:
            raise LoaderError('indexes caveat must be ["ptc.indexes", [indexes]]')
        return cls(indexes=_str_list(value[1]))

    def _verify(self, context: Context) -> Result:
        if context.index is None:
            return _missing("index")
        if context.index in self.indexes:
            return SUCCESS
        return Failure(
            f"This token can only be used on index(es): {', '.join(self.indexes)}. "
            f"Received: {context.index}"
        )

    def describe(self) -> str:
        return f"indexes: {_listed(self.indexes)}"
