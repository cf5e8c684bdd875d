"""The machinery: results, the base class, the registry by tag, and decoding caveats.

The catalogue (one small class per caveat) lives beside this module: ``_pypi`` (pypi.org's
tags), ``_legacy`` (pre-2022 JSON objects) and ``_extensions`` (this project's tags).

Failures are values: a restriction's ``_verify`` returns :data:`SUCCESS` or a
:class:`Failure` carrying its reason (and, when the context lacked a value, which one), so
that :meth:`Token.check` and the service collect every reason and raise once, at the edge.
Only the public :meth:`Restriction.check` raises, as pypitoken's does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from .._text import short_repr
from ..exceptions import LoaderError, MissingContextError, ValidationError
from ._context import Context

__all__ = ["MAX_CAVEAT_BYTES", "SUCCESS", "Failure", "Restriction", "Result", "Success"]

#: Longest caveat (in bytes) this library reads or writes. pypi.org's longest caveats are
#: a few hundred bytes; the limit keeps hostile JSON (deep nesting, huge numbers) cheap.
MAX_CAVEAT_BYTES = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class Success:
    """A restriction is met (use the one instance, :data:`SUCCESS`)."""

    def __bool__(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A restriction is not met: ``reason``, in pypitoken's words.

    ``missing`` names the context value the restriction needed and did not get: then it
    could not be checked at all (:class:`MissingContextError` at the edge), which a check
    of what is known so far may skip.
    """

    reason: str
    missing: str | None = None

    def __bool__(self) -> bool:
        return False


Result = Success | Failure

#: The result of every met restriction: checks allocate nothing when they pass.
SUCCESS = Success()

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


LegacyPicker = Callable[[dict[str, Any]], "type[Restriction] | None"]
_legacy_pickers: list[LegacyPicker] = []


def _register_legacy(picker: LegacyPicker) -> LegacyPicker:
    """Decorator: the function that tells legacy (JSON object) caveats apart by their keys.

    Legacy classes have no tag; ``_legacy`` subclasses :class:`Restriction`, so this module
    cannot import it, and it registers its picker here instead. There is only one.
    """
    if _legacy_pickers:
        raise RuntimeError("a legacy caveat picker is already registered")
    _legacy_pickers.append(picker)
    return picker


def _missing(field: str) -> Failure:
    """The failure of a restriction that needs the context value ``field``, absent."""
    return Failure(
        "The restriction couldn't be checked because the context is missing required "
        f"values: {field}",
        missing=field,
    )


def _is_int(value: object) -> bool:
    return type(value) is int


def _listed(values: list[str]) -> str:
    """``values`` for a description: comma-separated, or ``(none)``."""
    return ", ".join(values) or "(none)"


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

    Subclasses are dataclasses whose fields are the caveat's fields in wire order, with
    two hooks: ``_from_value`` reads the decoded caveat (strictly: anything else raises
    :class:`LoaderError`) and ``_verify`` checks it against a :class:`Context`, returning
    a result. ``check`` raises; :meth:`Token.check` collects every result and reports all
    failing caveats at once.
    """

    __slots__ = ()
    tag: ClassVar[int | str | None] = None

    # -- per-class hooks ------------------------------------------------------------
    @classmethod
    def _from_value(cls: type[_R], value: Any) -> _R:  # pragma: no cover - abstract
        raise NotImplementedError

    def _verify(self, context: Context) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """What the restriction allows, in words, for people (``pypitoken inspect``).

        Each class says it in its own terms; this fallback shows the caveat itself.
        """
        return f"{type(self).__name__}: {self.dump_json()}"

    def dump(self) -> list[Any] | dict[str, Any]:
        """Transform a restriction into a JSON-compatible list or dict."""
        return [self.tag, *(getattr(self, f.name) for f in dataclasses.fields(self))]  # type: ignore[arg-type]

    # -- public API -----------------------------------------------------------------
    def check(self, context: Context) -> None:
        """Raise :class:`ValidationError` (or :class:`MissingContextError`) if unmet."""
        result = self._verify(context)
        if isinstance(result, Failure):
            error = ValidationError if result.missing is None else MissingContextError
            raise error(result.reason)

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
            raise LoaderError(f"Could not find matching Restriction for {short_repr(caveat)}")
        return restriction

    @classmethod
    def load_json(cls, caveat: Any) -> Restriction:
        """Create a Restriction from a caveat JSON string (or UTF-8 bytes)."""
        return cls.load(_decode_json(caveat))


# --- decoding -------------------------------------------------------------------------


def _load_any(caveat: Any) -> Restriction:
    """Restriction.load without the class filter; also Token's path to its caveats."""
    try:
        return _load(caveat)
    except LoaderError:
        raise
    except Exception as exc:  # Python objects that no JSON decoder would produce
        raise LoaderError(f"Could not find matching Restriction for {short_repr(caveat)}") from exc


# The C scanner behind json.loads; typeshed does not declare the attribute.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


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
        cls = _legacy_pickers[0](caveat) if _legacy_pickers else None
    else:
        cls = None
    if cls is not None:
        try:
            return cls._from_value(caveat)
        except LoaderError as exc:
            # The class's own words ("date caveat must be [0, not_after, not_before]")
            # stay attached as the cause; the message is the one pypitoken gives.
            raise LoaderError(
                f"Could not find matching Restriction for {short_repr(caveat)}"
            ) from exc
    raise LoaderError(f"Could not find matching Restriction for {short_repr(caveat)}")
