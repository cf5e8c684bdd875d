"""``Token.restrict``'s keyword parameters, checked and turned into restrictions.

The order of the result is pypitoken's caveat order, so that the same call writes the same
bytes; every parameter error is an :class:`InvalidRestriction` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import names
from ._text import short_repr
from ._time import timestamp_from_parameter
from .exceptions import InvalidRestriction
from .restrictions import (
    ACTIONS,
    ActionsRestriction,
    DateRestriction,
    IndexesRestriction,
    LegacyDateRestriction,
    LegacyNoopRestriction,
    LegacyProjectNamesRestriction,
    OIDCPublisherRestriction,
    ProjectIDsRestriction,
    ProjectNamesRestriction,
    Restriction,
    UserIDRestriction,
)

__all__ = ["from_parameters"]


def _names_param(value: object, param: str, *, normalize: bool) -> list[str]:
    if isinstance(value, str | bytes):
        raise InvalidRestriction(
            f"{param} should be an iterable of strings. Received a single string not "
            "wrapped in an iterable."
        )
    if not isinstance(value, Iterable):
        raise InvalidRestriction(f"{param} should be an iterable of strings.")
    result = []
    for item in value:
        if type(item) is not str or not item:
            raise InvalidRestriction(
                f"{param} should be an iterable of non-empty strings. Received {short_repr(item)}"
            )
        if normalize:
            item = names.normalize(item)
            if not names.is_normalized(item):
                raise InvalidRestriction(f"{param}: {short_repr(item)} is not a valid project name")
        result.append(item)
    return result


def _date_params(not_before: object, not_after: object, prefix: str = "") -> tuple[int, int] | None:
    if not_before is None and not_after is None:
        return None
    if not_before is None or not_after is None:
        raise InvalidRestriction(
            f"`{prefix}not_before` and `{prefix}not_after` parameters must be used together. "
            f"Either define both or neither. Received {prefix}not_before={not_before!r} and "
            f"{prefix}not_after={not_after!r}"
        )
    nbf = timestamp_from_parameter(not_before, f"{prefix}not_before")
    exp = timestamp_from_parameter(not_after, f"{prefix}not_after")
    if nbf > exp:
        raise InvalidRestriction(
            f"`{prefix}not_before` ({nbf}) must not be later than `{prefix}not_after` ({exp})"
        )
    return nbf, exp


def from_parameters(
    *,
    not_before: object = None,
    not_after: object = None,
    project_names: object = None,
    project_ids: object = None,
    user_id: object = None,
    legacy_project_names: object = None,
    legacy_not_before: object = None,
    legacy_not_after: object = None,
    legacy_noop: object = None,
    actions: object = None,
    indexes: object = None,
    oidc_publisher_id: object = None,
) -> list[Restriction]:
    """Build the restrictions for ``Token.restrict``, in the fixed caveat order.

    The order (date, names, ids, user, legacy noop, legacy names, legacy date, then the
    extensions) is pypitoken's, so that the same call writes the same bytes; pypi.org's
    trusted-publisher caveat (tag 4, which pypitoken cannot write) follows the user's.
    """
    result: list[Restriction] = []
    dates = _date_params(not_before, not_after)
    if dates is not None:
        result.append(DateRestriction(not_before=dates[0], not_after=dates[1]))
    if project_names is not None:
        result.append(
            ProjectNamesRestriction(_names_param(project_names, "project_names", normalize=True))
        )
    if project_ids is not None:
        result.append(
            ProjectIDsRestriction(_names_param(project_ids, "project_ids", normalize=False))
        )
    if user_id is not None:
        if type(user_id) is not str or not user_id:
            raise InvalidRestriction("user_id should be a non-empty string.")
        result.append(UserIDRestriction(user_id))
    if oidc_publisher_id is not None:
        if type(oidc_publisher_id) is not str or not oidc_publisher_id:
            raise InvalidRestriction("oidc_publisher_id should be a non-empty string.")
        result.append(OIDCPublisherRestriction(oidc_publisher_id))
    if legacy_noop is True:
        result.append(LegacyNoopRestriction())
    if legacy_project_names is not None:
        result.append(
            LegacyProjectNamesRestriction(
                _names_param(legacy_project_names, "legacy_project_names", normalize=True)
            )
        )
    legacy_dates = _date_params(legacy_not_before, legacy_not_after, "legacy_")
    if legacy_dates is not None:
        result.append(LegacyDateRestriction(not_before=legacy_dates[0], not_after=legacy_dates[1]))
    if actions is not None:
        allowed = _names_param(actions, "actions", normalize=False)
        unknown = [a for a in allowed if a not in ACTIONS]
        if unknown:
            raise InvalidRestriction(
                f"actions: unknown action(s) {', '.join(unknown)}; expected {', '.join(ACTIONS)}"
            )
        result.append(ActionsRestriction(allowed))
    if indexes is not None:
        result.append(IndexesRestriction(_names_param(indexes, "indexes", normalize=False)))
    return result
