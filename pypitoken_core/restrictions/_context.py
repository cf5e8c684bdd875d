"""Context: how the bearer is attempting to use a token, the input of every check.

Adapters build one from a request, :meth:`Token.check` from its keyword arguments, and the
service completes it with what only the store knows (the owner's and the project's ids).
Restrictions read it; nothing changes it (:meth:`Context._evolve` makes a copy).
"""

from __future__ import annotations

import dataclasses
import datetime
import time

from .. import names
from .._time import timestamp_from_parameter
from ..exceptions import InvalidRestriction

__all__ = ["Context"]


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Context:
    """How the bearer is attempting to use the token.

    The first four fields are pypitoken's. ``action``, ``index`` and ``oidc_publisher_id``
    are this project's extensions, read by the extension caveats and by tag 4.
    ``project_name`` is PEP 503-normalised on construction.
    """

    project_name: str | None
    project_id: str | None
    user_id: str | None
    now: int
    action: str | None
    index: str | None
    oidc_publisher_id: str | None

    def __init__(
        self,
        project_name: str | None = None,
        project_id: str | None = None,
        user_id: str | None = None,
        now: int | datetime.datetime | None = None,
        *,
        action: str | None = None,
        index: str | None = None,
        oidc_publisher_id: str | None = None,
    ) -> None:
        if project_name is not None:
            if type(project_name) is not str:
                raise InvalidRestriction("`project_name` must be a string")
            project_name = names.normalize(project_name)
        if not (  # one test on the hot path; the loop below only names the culprit
            (project_id is None or type(project_id) is str)
            and (user_id is None or type(user_id) is str)
            and (action is None or type(action) is str)
            and (index is None or type(index) is str)
            and (oidc_publisher_id is None or type(oidc_publisher_id) is str)
        ):
            for label, value in (
                ("project_id", project_id),
                ("user_id", user_id),
                ("action", action),
                ("index", index),
                ("oidc_publisher_id", oidc_publisher_id),
            ):
                if value is not None and type(value) is not str:
                    raise InvalidRestriction(f"`{label}` must be a string")
        stamp = int(time.time()) if now is None else timestamp_from_parameter(now, "now")
        setter = object.__setattr__
        setter(self, "project_name", project_name)
        setter(self, "project_id", project_id)
        setter(self, "user_id", user_id)
        setter(self, "now", stamp)
        setter(self, "action", action)
        setter(self, "index", index)
        setter(self, "oidc_publisher_id", oidc_publisher_id)

    def _evolve(self, **changes: str | None) -> Context:
        """A copy with some fields replaced by values the caller already validated."""
        new = object.__new__(Context)
        for field in self.__slots__:
            object.__setattr__(new, field, changes.get(field, getattr(self, field)))
        return new
