"""Token: create, load, restrict, dump and check PyPI-style macaroon tokens.

A token string is ``<prefix>-<base64url(v2 binary macaroon)>``, the format of pypi.org and
pypitoken. Writing is byte-identical to pypitoken 7.1.1; reading is a strict superset of
what pypitoken and pypi.org write, and everything else fails closed. See ``README.md``,
"Differences from pypitoken", for the deliberate differences.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from typing import Any

import pymacaroons

from . import _macaroon
from ._parameters import from_parameters
from .exceptions import (
    InvalidRestriction,
    LoaderError,
    MissingContextError,
    PyPITokenException,
    ValidationError,
)
from .restrictions import MAX_CAVEAT_BYTES, Context, Restriction
from .restrictions._core import Failure, _decode_json, _load_any

__all__ = ["MAX_CAVEATS", "MAX_TOKEN_LENGTH", "PREFIX", "TOKEN_USERNAME", "Token"]

#: Default token prefix, as on pypi.org.
PREFIX = "pypi"

#: The Basic-auth user name that says "the password is an API token" (twine, pip, pypi.org).
TOKEN_USERNAME = "__token__"  # noqa: S105 (a user name, not a secret)

#: Longest token string :meth:`Token.load` reads. pypi.org tokens are 100-400 characters;
#: a holder adding many restrictions offline stays far below this. Longer input is refused
#: before any decoding, so a 10 MB string costs nothing.
MAX_TOKEN_LENGTH = 8192

#: Most caveats a token may carry.
MAX_CAVEATS = 64

_INVALID = "Error while validating token: "


def _key_bytes(key: object) -> bytes:
    if isinstance(key, str):
        try:
            return key.encode("utf-8")
        except UnicodeEncodeError:
            # "from None": the UnicodeEncodeError would carry the key itself.
            raise ValidationError(f"{_INVALID}the key is not encodable as UTF-8") from None
    if isinstance(key, bytes | bytearray):
        return bytes(key)
    raise ValidationError(f"{_INVALID}the key must be str or bytes")


class Token:
    """A PyPI token: a macaroon and a prefix.

    Create one as the index would with :meth:`create`, read one with :meth:`load`, narrow
    it with :meth:`restrict` (anyone holding it can), write it with :meth:`dump`, and
    verify it with :meth:`check` (only the holder of the key can).
    """

    __slots__ = ("_macaroon_cache", "_raw", "_restrictions", "_version", "prefix")

    prefix: str
    _macaroon_cache: pymacaroons.Macaroon | None
    _restrictions: list[Restriction | LoaderError] | None

    def __init__(self, prefix: str, macaroon: pymacaroons.Macaroon) -> None:
        """Wrap an existing pymacaroons ``Macaroon`` (as pypitoken's constructor does)."""
        try:
            caveats = tuple(c.caveat_id_bytes for c in macaroon.first_party_caveats())
            raw = _macaroon.RawMacaroon(
                location=(macaroon.location or "").encode("utf-8"),
                identifier=macaroon.identifier_bytes,
                caveats=caveats,
                signature=bytes.fromhex(macaroon.signature),
            )
            version = macaroon.version
        except Exception as exc:  # a foreign object: say so in our own terms
            raise LoaderError(f"Not a usable macaroon: {type(exc).__name__}") from exc
        if len(macaroon.caveats) != len(caveats):
            raise LoaderError("Third-party caveats are not supported")
        self._init(prefix, raw, version)
        self._macaroon_cache = macaroon

    def _init(self, prefix: str, raw: _macaroon.RawMacaroon, version: int) -> None:
        try:
            raw.identifier.decode("utf-8")
            raw.location.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LoaderError("Deserialization error: identifier or location is not UTF-8") from exc
        self.prefix = prefix
        self._raw = raw
        self._version = version
        self._macaroon_cache = None
        self._restrictions = None

    @classmethod
    def _from_raw(cls, prefix: str, raw: _macaroon.RawMacaroon, version: int = 2) -> Token:
        token = cls.__new__(cls)
        token._init(prefix, raw, version)
        return token

    def __repr__(self) -> str:
        # Never the signature: with it, anyone can use the token.
        return (
            f"<Token prefix={self.prefix!r} domain={self.domain!r} identifier={self.identifier!r}>"
        )

    # -- attributes ---------------------------------------------------------------------

    @property
    def domain(self) -> str:
        """The macaroon location, e.g. ``pypi.org``: informational, never verified."""
        return self._raw.location.decode("utf-8")

    @property
    def identifier(self) -> str:
        """How the index finds the token in its database."""
        return self._raw.identifier.decode("utf-8")

    @property
    def _macaroon(self) -> pymacaroons.Macaroon:
        """The underlying pymacaroons ``Macaroon`` (private API; built on first use)."""
        if self._macaroon_cache is None:
            self._macaroon_cache = pymacaroons.Macaroon.deserialize(self._body())
        return self._macaroon_cache

    # -- create / load / dump -----------------------------------------------------------

    @classmethod
    def create(
        cls,
        domain: str,
        identifier: str | bytes,
        key: str | bytes,
        prefix: str = PREFIX,
        version: int = pymacaroons.MACAROON_V2,
    ) -> Token:
        """Create a token with no restriction, signed with ``key`` (the secret part).

        ``version=1`` writes a v1 macaroon, as pypitoken can; v2 is what pypi.org uses.
        Raises :class:`LoaderError` for parameters that cannot make a token.
        """
        if not isinstance(prefix, str) or not prefix or "-" in prefix:
            raise LoaderError("The prefix must be a non-empty string without '-'")
        if domain is None:
            domain = ""
        if not isinstance(domain, str):
            raise LoaderError("The domain must be a string")
        try:
            location = domain.encode("utf-8")
            if isinstance(identifier, str):
                identifier = identifier.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise LoaderError("The domain and identifier must be encodable as UTF-8") from exc
        if not isinstance(identifier, bytes) or not identifier:
            raise LoaderError("The identifier must be a non-empty string")
        if not isinstance(key, str | bytes) or not key:
            # pymacaroons signs nothing with an empty key; that token would verify with no key.
            raise LoaderError("The key must be a non-empty string or bytes")
        if version not in (pymacaroons.MACAROON_V1, pymacaroons.MACAROON_V2):
            raise LoaderError("The macaroon version must be 1 or 2")
        try:
            key_bytes = key.encode("utf-8") if isinstance(key, str) else key
        except UnicodeEncodeError:
            # "from None": the UnicodeEncodeError would carry the key itself.
            raise LoaderError("The key must be encodable as UTF-8") from None
        raw = _macaroon.RawMacaroon(
            location=location,
            identifier=identifier,
            caveats=(),
            signature=_macaroon.root_signature(key_bytes, identifier),
        )
        return cls._from_raw(prefix, raw, version)

    @classmethod
    def load(cls, raw: str) -> Token:
        """Read a token string (including its prefix). Does NOT check validity: see :meth:`check`.

        Raises :class:`LoaderError` for anything that is not a well-formed token of at most
        :data:`MAX_TOKEN_LENGTH` characters.
        """
        if not isinstance(raw, str):
            raise LoaderError(f"Token must be a string, not {type(raw).__name__}")
        if len(raw) > MAX_TOKEN_LENGTH:
            raise LoaderError(f"Token is longer than {MAX_TOKEN_LENGTH} characters")
        prefix, sep, body = raw.partition("-")
        if not sep:
            raise LoaderError("Token is missing a prefix")
        data = _macaroon.b64decode(body)
        if data[:1] and data[:1] in b"0123456789abcdef":  # v1 starts with a hex length
            decoded = _decode_v1(body)
            version = pymacaroons.MACAROON_V1
        else:
            decoded = _macaroon.decode(data)
            version = pymacaroons.MACAROON_V2
        if len(decoded.caveats) > MAX_CAVEATS:
            raise LoaderError(f"Token has more than {MAX_CAVEATS} caveats")

        return cls._from_raw(prefix, decoded, version)

    def _body(self) -> str:
        if self._version == pymacaroons.MACAROON_V1:
            body: str = self._pymacaroon_v1().serialize()
            return body
        return _macaroon.b64encode(_macaroon.encode(self._raw))

    def _pymacaroon_v1(self) -> pymacaroons.Macaroon:
        m = pymacaroons.Macaroon(
            location=self._raw.location.decode("utf-8"),
            identifier=self._raw.identifier,
            signature=self._raw.signature.hex(),
            version=pymacaroons.MACAROON_V1,
        )
        for caveat in self._raw.caveats:
            m.caveats.append(pymacaroons.Caveat(caveat_id=caveat, version=pymacaroons.MACAROON_V1))
        return m

    def dump(self) -> str:
        """The token string, as used for API authentication: ``<prefix>-<base64>``."""
        return f"{self.prefix}-{self._body()}"

    # -- restrict -----------------------------------------------------------------------

    def restrict(
        self,
        not_before: int | datetime.datetime | None = None,
        not_after: int | datetime.datetime | None = None,
        project_names: Any = None,
        project_ids: Any = None,
        user_id: str | None = None,
        legacy_project_names: Any = None,
        legacy_not_before: int | datetime.datetime | None = None,
        legacy_not_after: int | datetime.datetime | None = None,
        legacy_noop: bool | None = None,
        *,
        actions: Any = None,
        indexes: Any = None,
        oidc_publisher_id: str | None = None,
    ) -> Token:
        """Add restrictions (in place) and return the token, to ease chaining.

        Anyone holding the token may call this: restrictions only narrow. Caveats are
        appended in a fixed order (date, project names, project ids, user, pypi.org's
        trusted publisher, legacy noop, legacy names, legacy date, then this project's
        ``actions`` and ``indexes``), the same as pypitoken for what pypitoken writes.
        Project names are PEP 503-normalised.

        Raises :class:`InvalidRestriction` if the parameters cannot describe a restriction.
        """
        new = from_parameters(
            not_before=not_before,
            not_after=not_after,
            project_names=project_names,
            project_ids=project_ids,
            user_id=user_id,
            legacy_project_names=legacy_project_names,
            legacy_not_before=legacy_not_before,
            legacy_not_after=legacy_not_after,
            legacy_noop=legacy_noop,
            actions=actions,
            indexes=indexes,
            oidc_publisher_id=oidc_publisher_id,
        )
        if not new:
            return self
        caveats = [r.dump_json().encode("utf-8") for r in new]
        if len(self._raw.caveats) + len(caveats) > MAX_CAVEATS:
            raise InvalidRestriction(f"A token may carry at most {MAX_CAVEATS} caveats")
        for caveat in caveats:
            # Refuse to write what load() and check() would refuse to read.
            if len(caveat) > MAX_CAVEAT_BYTES:
                raise InvalidRestriction(
                    f"A restriction may be at most {MAX_CAVEAT_BYTES} bytes of "
                    f"JSON; this one would be {len(caveat)}"
                )
        signature = _macaroon.chain(self._raw.signature, caveats)
        raw = self._raw._replace(caveats=self._raw.caveats + tuple(caveats), signature=signature)
        if self._version == pymacaroons.MACAROON_V1:
            body_length = len(self._from_raw(self.prefix, raw, self._version)._body())
        else:
            body_length = _macaroon.encoded_length(raw)
        if len(self.prefix) + 1 + body_length > MAX_TOKEN_LENGTH:
            raise InvalidRestriction(
                f"The token would be longer than {MAX_TOKEN_LENGTH} characters"
            )
        self._raw = raw
        self._macaroon_cache = None
        if self._restrictions is not None:
            self._restrictions.extend(new)
        return self

    # -- read restrictions --------------------------------------------------------------

    def _parsed(self) -> list[Restriction | LoaderError]:
        if self._restrictions is None:
            parsed: list[Restriction | LoaderError] = []
            for caveat in self._raw.caveats:
                try:
                    # Restriction.load_json(caveat), minus two layers of calls
                    parsed.append(_load_any(_decode_json(caveat)))
                except LoaderError as exc:
                    parsed.append(exc)
            self._restrictions = parsed
        return self._restrictions

    @property
    def restrictions(self) -> list[Restriction]:
        """The token's restrictions, in caveat order.

        Raises :class:`LoaderError` if a caveat cannot be understood.
        """
        result = []
        for item in self._parsed():
            if isinstance(item, LoaderError):
                raise LoaderError(str(item)) from item
            result.append(item)
        return result

    def inspect(self) -> list[Restriction | LoaderError]:
        """Every caveat, in order: its restriction, or the error saying why it is unreadable.

        Unlike :attr:`restrictions`, never raises for a caveat it cannot understand: for
        tools that show a token (``pypitoken inspect``). A token with an unreadable caveat
        never passes :meth:`check`.
        """
        return list(self._parsed())

    # -- check --------------------------------------------------------------------------

    def check(
        self,
        key: str | bytes,
        project_name: str | None = None,
        project_id: str | None = None,
        user_id: str | None = None,
        now: int | datetime.datetime | None = None,
        *,
        action: str | None = None,
        index: str | None = None,
        oidc_publisher_id: str | None = None,
    ) -> None:
        """Raise :class:`ValidationError` unless the token is valid for this use.

        Verifies the signature with ``key`` (constant-time comparison) and every
        restriction against the context. A restriction that needs a context value which
        was not given fails (:class:`MissingContextError`), except ``now``, which
        defaults to the current time. Unknown caveats fail. When several restrictions
        fail, one error reports all their reasons, joined with ``", "``.
        ``action``, ``index`` and ``oidc_publisher_id`` feed this project's extension
        caveats and pypi.org's trusted-publisher caveat.
        """
        context = Context(
            project_name=project_name,
            project_id=project_id,
            user_id=user_id,
            now=now,
            action=action,
            index=index,
            oidc_publisher_id=oidc_publisher_id,
        )
        self.check_context(key, context)

    def check_context(self, key: str | bytes, context: Context) -> None:
        """Like :meth:`check`, with the use described by a ready :class:`Context`."""
        signature_ok, failures = self._evaluate(key, context)
        # As in pypitoken, a failing restriction is reported before a bad signature.
        if failures:
            reasons = tuple(failure.reason for failure in failures)
            # One MissingContextError when that is all there is to say; else the reasons.
            only_missing = len(failures) == 1 and failures[0].missing is not None
            error = MissingContextError if only_missing else ValidationError
            raise error(_INVALID + ", ".join(reasons), reasons=reasons)
        if not signature_ok:
            raise ValidationError(
                _INVALID + "Signatures do not match: the token was not signed with this key, "
                "or it was altered"
            )

    def _evaluate(self, key: str | bytes, context: Context) -> tuple[bool, list[Failure]]:
        """Verify the signature and every restriction, raising for none of them.

        Returns whether the signature matches, and the failures in caveat order.
        """
        return self._signature_matches(key), self._failures(context)

    def _signature_matches(self, key: str | bytes) -> bool:
        """Recompute the HMAC chain with ``key`` and compare it in constant time."""
        raw = self._raw
        return _macaroon.signatures_match(
            _macaroon.sign(_key_bytes(key), raw.identifier, raw.caveats), raw.signature
        )

    def _seal(self, key: bytes) -> bytes:
        """A keyed digest of the signature: names this very token without holding it."""
        return hashlib.blake2b(self._raw.signature, key=key, digest_size=16).digest()

    def _failures(self, context: Context, *, partial: bool = False) -> list[Failure]:
        """Every unmet restriction, in caveat order; an unreadable caveat is one too.

        ``partial`` skips the restrictions the context has no value for, to check what a
        context can tell before the use is known (an unreadable caveat still fails).
        """
        failures: list[Failure] = []
        for caveat in self._raw.caveats:
            try:
                item = _checking_restriction(caveat)
            except LoaderError as exc:
                failures.append(Failure(str(exc)))
                continue
            result = item._verify(context)
            if isinstance(result, Failure) and not (partial and result.missing is not None):
                failures.append(result)
        return failures


@functools.lru_cache(maxsize=1024)
def _checking_restriction(caveat: bytes) -> Restriction:
    """The restriction a caveat reads as, for checks only; raises :class:`LoaderError`.

    A server checks the same few caveats on every request of a token, so their reading
    is kept (at most 1024 of at most ``MAX_CAVEAT_BYTES`` each; a caveat that cannot be
    read is read again each time). The kept objects are shared, so they are only ever
    asked to verify; :attr:`Token.restrictions` and :meth:`Token.inspect` hand out
    restrictions of their own.
    """
    return _load_any(_decode_json(caveat))


def _decode_v1(body: str) -> _macaroon.RawMacaroon:
    """v1 (text packet) macaroons: rare, read through pymacaroons, never on the hot path."""
    try:
        m = pymacaroons.Macaroon.deserialize(body)
        if m.version != pymacaroons.MACAROON_V1:
            raise LoaderError("Deserialization error: not a v1 macaroon")
        if any(c.third_party() or c.location for c in m.caveats):
            raise LoaderError("Deserialization error: third-party caveats are not supported")
        signature = bytes.fromhex(m.signature)
        if len(signature) != 32:  # pymacaroons reads a missing or truncated one as short
            raise LoaderError("Deserialization error: macaroon has no valid signature")
        return _macaroon.RawMacaroon(
            location=(m.location or "").encode("utf-8"),
            identifier=m.identifier_bytes,
            caveats=tuple(c.caveat_id_bytes for c in m.caveats),
            signature=signature,
        )
    except PyPITokenException:
        raise
    except Exception as exc:  # pymacaroons raises many types for bad input
        raise LoaderError(f"Deserialization error: {type(exc).__name__}") from exc
