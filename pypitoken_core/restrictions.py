"""Restrictions (macaroon caveats): one small class per caveat, a registry keyed by tag.

Wire format. A caveat is JSON. The current format is an array whose first element is a
tag and whose other elements are the fields, in declaration order: ``[1, ["foo"]]``.
The legacy format (pre-2022 Warehouse) is a JSON object, adapted in
:func:`_adapt_legacy`. Writing uses :func:`json.dumps` with its default separators, so
that tokens are byte-identical to pypitoken 7.1.1; reading accepts any separators
(pypi.org writes compact JSON).

Tags. Integer tags belong to pypi.org (Warehouse ``caveats/__init__.py``): 0 date, 1 project
names, 2 project ids, 3 user id, 4 trusted publisher. This project's own caveats use
*string* tags (``"ptc.actions"``, ``"ptc.indexes"``): Warehouse only ever registers
integers, so they can never collide with a future pypi.org tag, and every other reader
(pypitoken, pypi.org) fails closed on them.

Reading is strict (exact array length, integer timestamps that are not bools, normalised
project names, no unknown keys): anything this module does not fully understand raises
:class:`LoaderError`, and a token carrying it never passes :meth:`Token.check`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from . import _time, names
from .exceptions import InvalidRestriction, LoaderError, MissingContextError, ValidationError

__all__ = [
    "ACTIONS",
    "ActionsRestriction",
    "Context",
    "DateRestriction",
    "IndexesRestriction",
    "LegacyDateRestriction",
    "LegacyNoopRestriction",
    "LegacyProjectIDsRestriction",
    "LegacyProjectNamesRestriction",
    "OIDCPublisherRestriction",
    "ProjectIDsRestriction",
    "ProjectNamesRestriction",
    "Restriction",
    "UserIDRestriction",
    "timestamp_from_parameter",
]

#: Actions an :class:`ActionsRestriction` may allow.
ACTIONS: tuple[str, ...] = ("upload", "download", "delete")

#: Longest caveat (in bytes) this library reads or writes. pypi.org's longest caveats are
#: a few hundred bytes; the limit keeps hostile JSON (deep nesting, huge numbers) cheap.
MAX_CAVEAT_BYTES = 4096

_MAX_REPR = 120


def _short_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:  # a deeply nested list (RecursionError) or a hostile __repr__
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def timestamp_from_parameter(param: object, name: str = "now") -> int:
    """Turn an int timestamp or a timezone-aware datetime into an int timestamp.

    Floats, bools and naive datetimes are refused with :class:`InvalidRestriction`
    naming the parameter (pypitoken leaks ``AttributeError`` for floats), and so are
    times outside the years 1 to 9999 UTC, which no datetime can show (pypitoken writes
    any integer).
    """
    if type(param) is int:
        return _time.checked(param, name)
    if isinstance(param, datetime.datetime):
        if param.tzinfo is None or param.tzinfo.utcoffset(param) is None:
            raise InvalidRestriction(
                "Cannot use a naive datetime. Either provide a timezone or the timestamp "
                f"directly. Received a naive datetime for `{name}`"
            )
        # An aware datetime near year 1 or 9999 can lie outside them in UTC.
        return _time.checked(int(param.timestamp()), name, received=param.isoformat())
    raise InvalidRestriction(
        f"`{name}` must be an integer timestamp or a timezone-aware datetime. "
        f"Received {type(param).__name__}"
    )


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
        for field in self.__slots__:  # type: ignore[attr-defined]
            object.__setattr__(new, field, changes.get(field, getattr(self, field)))
        return new


# --- registry -------------------------------------------------------------------------

_R = TypeVar("_R", bound="Restriction")
_REGISTRY: dict[int | str, type[Restriction]] = {}


def _register(tag: int | str) -> Callable[[type[_R]], type[_R]]:
    """Class decorator: register a restriction under ``tag``; a reused tag fails at import."""

    def decorator(cls: type[_R]) -> type[_R]:
        if tag in _REGISTRY:
            raise RuntimeError(f"restriction tag {tag!r} is already registered")
        cls.tag = tag
        _REGISTRY[tag] = cls
        return cls

    return decorator


def _missing(field: str) -> MissingContextError:
    return MissingContextError(
        "The restriction couldn't be checked because the context is missing required "
        f"values: {field}"
    )


def _is_int(value: object) -> bool:
    return type(value) is int


def _str_list(value: object, *, pattern: Callable[[str], bool] | None = None) -> list[str]:
    """Validate a JSON list of non-empty strings (optionally matching ``pattern``)."""
    if type(value) is not list:
        raise LoaderError("expected a list of strings")
    for item in value:
        if type(item) is not str or not item or (pattern is not None and not pattern(item)):
            raise LoaderError("expected a list of strings")
    return value


class Restriction:
    """Base Restriction class: lower-level caveat introspection.

    Subclasses are dataclasses whose fields are the caveat's fields in wire order.
    ``check`` raises; the internal ``_reason`` returns a failure reason or None so that
    :meth:`Token.check` can report every failing caveat at once.
    """

    __slots__ = ()
    tag: ClassVar[int | str | None] = None

    # -- per-class hooks ------------------------------------------------------------
    @classmethod
    def _from_value(cls: type[_R], value: Any) -> _R:  # pragma: no cover - abstract
        raise NotImplementedError

    def _reason(self, context: Context) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def dump(self) -> list[Any] | dict[str, Any]:
        """Transform a restriction into a JSON-compatible list or dict."""
        return [self.tag, *(getattr(self, f.name) for f in dataclasses.fields(self))]  # type: ignore[arg-type]

    # -- public API -----------------------------------------------------------------
    def check(self, context: Context) -> None:
        """Raise :class:`ValidationError` (or :class:`MissingContextError`) if unmet."""
        reason = self._reason(context)
        if reason is not None:
            raise ValidationError(reason)

    def dump_json(self) -> str:
        """Transform a restriction into a JSON-encoded string (default separators)."""
        return json.dumps(self.dump())

    @classmethod
    def load(cls, caveat: Any) -> Restriction:
        """Create a Restriction from a decoded caveat (list or dict).

        Dispatches on the tag (or, for legacy objects, on the key set); raises
        :class:`LoaderError` if the caveat is not fully understood, or if it loads as a
        restriction that is not a ``cls``.
        """
        restriction = _load_any(caveat)
        if not isinstance(restriction, cls):
            raise LoaderError(f"Could not find matching Restriction for {_short_repr(caveat)}")
        return restriction

    @classmethod
    def load_json(cls, caveat: Any) -> Restriction:
        """Create a Restriction from a caveat JSON string (or UTF-8 bytes)."""
        return cls.load(_decode_json(caveat))


def _load_any(caveat: Any) -> Restriction:
    """Restriction.load without the class filter; also Token's path to its caveats."""
    try:
        return _load(caveat)
    except LoaderError:
        raise
    except Exception as exc:  # Python objects that no JSON decoder would produce
        raise LoaderError(f"Could not find matching Restriction for {_short_repr(caveat)}") from exc


_scan_once = json.JSONDecoder().scan_once


def _json_loads(text: str) -> Any:
    """``json.loads``, several times faster on what tokens carry.

    The C scanner parses a value starting at index 0; when that value is the whole string
    the result is what ``json.loads`` returns. Anything else (surrounding whitespace, junk,
    errors) is left to ``json.loads`` itself, for its result or its exact error.
    """
    try:
        value, stop = _scan_once(text, 0)
        if stop == len(text):
            return value
    except Exception:  # noqa: S110  StopIteration, JSONDecodeError, RecursionError
        pass
    return json.loads(text)


def _decode_json(caveat: object) -> Any:
    if isinstance(caveat, bytes | bytearray):
        if len(caveat) > MAX_CAVEAT_BYTES:
            raise LoaderError(f"Error while loading caveat: longer than {MAX_CAVEAT_BYTES} bytes")
        try:
            caveat = caveat.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LoaderError("Error while loading caveat: not valid UTF-8") from exc
    elif type(caveat) is not str:
        raise LoaderError(
            f"Error while loading caveat: expected str or bytes, got {type(caveat).__name__}"
        )
    elif len(caveat) > MAX_CAVEAT_BYTES:
        raise LoaderError(f"Error while loading caveat: longer than {MAX_CAVEAT_BYTES} bytes")
    try:
        return _json_loads(caveat)
    except RecursionError as exc:
        raise LoaderError("Error while loading caveat: JSON nested too deeply") from exc
    except ValueError as exc:
        raise LoaderError(f"Error while loading caveat: {exc}") from exc


def _load(caveat: Any) -> Restriction:
    if type(caveat) is list:
        tag = caveat[0] if caveat else None
        # bool is a subclass of int, but `true` is not a tag.
        cls = _REGISTRY.get(tag) if type(tag) in (int, str) else None  # type: ignore[arg-type]
    elif type(caveat) is dict:
        cls = _legacy_class(caveat)
    else:
        cls = None
    if cls is not None:
        try:
            return cls._from_value(caveat)
        except LoaderError:
            pass
    raise LoaderError(f"Could not find matching Restriction for {_short_repr(caveat)}")


# --- current format (tagged arrays) ---------------------------------------------------
#
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

    def _reason(self, context: Context) -> str | None:
        return _date_reason(self.not_before, self.not_after, context.now)


def _date_reason(not_before: int, not_after: int, now: int) -> str | None:
    if not_before <= now < not_after:
        return None
    return (
        f"This token can only be used between timestamps {not_before} (incl) and "
        f"{not_after} (excl). Received: {now}"
    )


def _membership_reason(allowed: list[str], value: str | None, field: str) -> str | None:
    if value is None:
        raise _missing(field)
    if value in allowed:
        return None
    return f"This token can only be used for project(s): {', '.join(allowed)}. Received: {value}"


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

    def _reason(self, context: Context) -> str | None:
        return _membership_reason(self.project_names, context.project_name, "project_name")


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

    def _reason(self, context: Context) -> str | None:
        return _membership_reason(self.project_ids, context.project_id, "project_id")


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

    def _reason(self, context: Context) -> str | None:
        if context.user_id is None:
            raise _missing("user_id")
        if context.user_id == self.user_id:
            return None
        return (
            f"This token can only be used by user with id: {self.user_id}. "
            f"Received: {context.user_id}"
        )


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

    def _reason(self, context: Context) -> str | None:
        if context.oidc_publisher_id is None:
            raise _missing("oidc_publisher_id")
        if context.oidc_publisher_id == self.oidc_publisher_id:
            return None
        return (
            f"This token can only be used by trusted publisher: {self.oidc_publisher_id}. "
            f"Received: {context.oidc_publisher_id}"
        )


# --- this project's extension caveats (string tags: see the module docstring) ------------


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

    def _reason(self, context: Context) -> str | None:
        if context.action is None:
            raise _missing("action")
        if context.action in self.actions:
            return None
        return (
            f"This token can only be used for action(s): {', '.join(self.actions)}. "
            f"Received: {context.action}"
        )


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

    def _reason(self, context: Context) -> str | None:
        if context.index is None:
            raise _missing("index")
        if context.index in self.indexes:
            return None
        return (
            f"This token can only be used on index(es): {', '.join(self.indexes)}. "
            f"Received: {context.index}"
        )


# --- legacy format (JSON objects) -----------------------------------------------------


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

    def _reason(self, context: Context) -> str | None:
        return None


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

    def _reason(self, context: Context) -> str | None:
        return _membership_reason(self.project_names, context.project_name, "project_name")


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

    def _reason(self, context: Context) -> str | None:
        return _date_reason(self.not_before, self.not_after, context.now)


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

    def _reason(self, context: Context) -> str | None:
        return _membership_reason(self.project_ids, context.project_id, "project_id")


def _legacy_class(value: dict[str, Any]) -> type[Restriction] | None:
    """Pick the legacy class from the object's key set (one lookup, no trial loading)."""
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


# --- building restrictions from Token.restrict parameters -----------------------------


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
                f"{param} should be an iterable of non-empty strings. Received {_short_repr(item)}"
            )
        if normalize:
            item = names.normalize(item)
            if not names.is_normalized(item):
                raise InvalidRestriction(
                    f"{param}: {_short_repr(item)} is not a valid project name"
                )
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


def _from_parameters(
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
) -> list[Restriction]:
    """Build the restrictions for ``Token.restrict``, in the fixed caveat order.

    The order (date, names, ids, user, legacy noop, legacy names, legacy date, then the
    extensions) is pypitoken's, so that the same call writes the same bytes.
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
