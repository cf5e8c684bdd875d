"""The endpoints' semantics, shared by both servers: plain values in, a :class:`Response` out.

An adapter routes ``GET /_/oidc/audience``, ``POST /_/oidc/mint-token`` (and its legacy
alias ``/_/oidc/github/mint-token``), ``POST /_/oidc/burn-token`` and PEP 807 discovery
(``GET /.well-known/pytp?discover=<path>``) to :class:`Endpoints`, handing over the body
(after checking its length with :func:`check_length`), the query string and the
``Accept`` header; it sends back the response as given. Nothing here knows HTTP servers.

Errors are RFC 9457 problem documents (PEP 807) that also carry Warehouse's ``message``
and ``errors`` members: twine and pypa/gh-action-pypi-publish read ``errors`` (and crash
without it), uv prints the whole body.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import PyPITokenException, StoreError
from ._errors import ExchangeError
from ._settings import TrustedPublishingSettings
from ._verify import Verifier

__all__ = [
    "DISCOVERY_TYPE",
    "MAX_BODY",
    "Endpoints",
    "Minted",
    "Response",
    "check_length",
    "path_hashes",
    "problem",
]

log = logging.getLogger("pypitoken_core.oidc")

#: Longest request body the endpoints read; a CI token request is about 2 KB.
MAX_BODY = 64 * 1024
#: PEP 807's media type for discovery documents.
DISCOVERY_TYPE = "application/vnd.pypi.pytp.v1+json"
_PROBLEM_TYPE = "application/problem+json"
_TITLE = "Token request failed"
_FEATURES = ["multi-use-token"]


@dataclass(frozen=True, slots=True)
class Response:
    """What an endpoint answers: a status, a JSON body and its media type."""

    status: int
    body: dict[str, Any]
    content_type: str = "application/json"

    def content(self) -> bytes:
        """The body as UTF-8 JSON bytes."""
        return json.dumps(self.body).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Minted:
    """A token minted by the exchange (shown once), and when it expires (Unix time)."""

    token: str
    expires: int

    def __repr__(self) -> str:
        return f"<Minted expires={self.expires}>"


def problem(error: ExchangeError, title: str = _TITLE) -> Response:
    """The error document: RFC 9457 members plus Warehouse's ``message`` and ``errors``."""
    return Response(
        error.status,
        {
            "type": "about:blank",
            "title": title,
            "status": error.status,
            "detail": f"{error.code}: {error.description}",
            "message": title,
            "errors": [{"code": error.code, "description": error.description}],
        },
        _PROBLEM_TYPE,
    )


def check_length(content_length: int | None) -> None:
    """Refuse, before reading it, a body longer than :data:`MAX_BODY` bytes.

    Raises :class:`ExchangeError` (``payload-too-large``); an unknown length (chunked) is
    the adapter's to cap while reading.
    """
    if content_length is not None and content_length > MAX_BODY:
        raise ExchangeError(
            "payload-too-large", f"the request body is larger than {MAX_BODY} bytes"
        )


def path_hashes(paths: Iterable[str]) -> dict[str, str]:
    """The drafts' discovery keys of ``paths``: hex SHA-256 of each path -> the path."""
    return {hashlib.sha256(p.encode("utf-8")).hexdigest(): p for p in paths}


def _json_object(body: bytes) -> dict[str, Any]:
    check_length(len(body))
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise ExchangeError("invalid-payload", "the body must be a JSON object") from None
    if type(value) is not dict:
        raise ExchangeError("invalid-payload", "the body must be a JSON object")
    return value


def _accepts_discovery(accept: str | None) -> bool:
    """PEP 807: no ``Accept`` means its media type; otherwise one of the ranges must cover
    it with a non-zero quality. (Read literally, the PEP would answer 406 to ``*/*``,
    which every client sends.)"""
    if accept is None or not accept.strip():
        return True
    for item in accept.split(",")[:50]:
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.lower() in ("*/*", "application/*", DISCOVERY_TYPE):
            return True
    return False


class Endpoints:
    """The trusted-publishing endpoints of one index (see module docstring).

    ``exchange(claims)`` turns a verified token's claims into a :class:`Minted` token or
    raises :class:`ExchangeError`; ``burn(raw)`` revokes a minted token the holder is done
    with (it must verify the token itself). Both belong to the token service.
    """

    def __init__(
        self,
        settings: TrustedPublishingSettings,
        verifier: Verifier,
        exchange: Callable[[dict[str, Any]], Minted],
        burn: Callable[[str], object],
    ) -> None:
        self.settings = settings
        self._verifier = verifier
        self._exchange = exchange
        self._burn = burn

    def __repr__(self) -> str:
        return f"<Endpoints audience={self.audience!r} enabled={self.settings.enabled}>"

    @property
    def verifier(self) -> Verifier:
        """The verifier of the OIDC tokens (and its cache of issuer keys)."""
        return self._verifier

    @property
    def audience(self) -> str:
        """The ``aud`` the index's OIDC tokens must carry."""
        return self._verifier.audience

    def get_audience(self) -> Response:
        """``GET /_/oidc/audience``."""
        if not self.settings.enabled:
            return problem(self._disabled(), "Trusted publishing not enabled")
        return Response(200, {"audience": self.audience})

    def mint(self, body: bytes) -> Response:
        """``POST /_/oidc/mint-token``: exchange the OIDC token in ``body``; never a 500."""
        try:
            if not self.settings.enabled:
                raise self._disabled()
            payload = _json_object(body)
            features = payload.get("features")
            if features is not None:
                if type(features) is not list or not all(type(f) is str for f in features):
                    raise ExchangeError("invalid-payload", "'features' must be a list of strings")
                unsupported = sorted(set(features) - set(_FEATURES))
                if unsupported:
                    raise ExchangeError(
                        "unsupported-feature",
                        f"not supported here: {', '.join(unsupported)};"
                        f" supported: {', '.join(_FEATURES)}",
                    )
            minted = self._exchange(self._verifier.verify(payload.get("token")))
        except ExchangeError as exc:
            return problem(exc)
        except StoreError as exc:
            log.error("trusted publishing: the token store failed: %s", exc)
            return problem(ExchangeError("store-unavailable", "the token store failed; retry"))
        except PyPITokenException as exc:
            return problem(ExchangeError("invalid-publisher", str(exc)))
        except Exception:
            # Nothing was consumed (the exchange takes the jti last), so a retry may work.
            log.exception("trusted publishing: could not mint a token")
            return problem(ExchangeError("server-error", "the index could not mint a token"))
        return Response(200, {"success": True, "token": minted.token, "expires": minted.expires})

    def burn(self, body: bytes) -> Response:
        """``POST /_/oidc/burn-token``: revoke a minted token its holder is done with.

        Always ``202 Accepted`` (as Warehouse), whatever the body: whether a token existed
        is not the caller's to learn.
        """
        try:
            raw = _json_object(body).get("token")
            if type(raw) is str and self.settings.enabled:
                self._burn(raw)
        except (ExchangeError, PyPITokenException) as exc:
            log.info("trusted publishing: burn-token request not acted on: %s", exc)
        return Response(202, {"message": "Accepted", "errors": []})

    def discover(
        self,
        query: str,
        accept: str | None,
        base_url: str,
        is_upload_path: Callable[[str], bool],
    ) -> Response:
        """PEP 807 discovery: ``GET /.well-known/pytp?discover=<upload path>``.

        ``base_url`` is ``scheme://host[:port]`` as the request reached the index (every
        URL returned is on it, with the https scheme: see :meth:`_discovery_document`);
        ``is_upload_path(path)`` whether uploads go to ``path``.
        """
        try:
            if not _accepts_discovery(accept):
                raise ExchangeError("not-acceptable", f"this index answers {DISCOVERY_TYPE}")
            values = urllib.parse.parse_qs(query, keep_blank_values=True).get("discover", [""])
            if len(values) != 1:
                raise ExchangeError("not-found", "give one 'discover' parameter")
            if not self.settings.enabled or not is_upload_path(values[0]):
                raise ExchangeError("not-found", "no trusted publishing for that upload URL")
        except ExchangeError as exc:
            return problem(exc, "Trusted publishing discovery failed")
        return self._discovery_document(base_url)

    def discover_by_hash(
        self, key: str, accept: str | None, base_url: str, hashes: Mapping[str, str]
    ) -> Response:
        """The first drafts' discovery (before PEP 807 became reversible):
        ``GET /.well-known/pytp/<hex sha256 of the upload path>``; ``hashes`` maps the
        digest of each upload path to it (:func:`path_hashes`)."""
        found = self.settings.enabled and key.lower() in hashes
        if not _accepts_discovery(accept):
            error = ExchangeError("not-acceptable", f"this index answers {DISCOVERY_TYPE}")
            return problem(error, "Trusted publishing discovery failed")
        if not found:
            error = ExchangeError("not-found", "no trusted publishing for that upload URL")
            return problem(error, "Trusted publishing discovery failed")
        return self._discovery_document(base_url)

    def _discovery_document(self, base_url: str) -> Response:
        # Always https: PEP 807 allows nothing else but loopback URLs, uv and twine force
        # https for the exchange whatever the upload URL says, and behind a TLS proxy the
        # index itself only ever sees http (waitress drops X-Forwarded-Proto by default).
        parts = urllib.parse.urlsplit(base_url)
        base = urllib.parse.urlunsplit(("https", parts.netloc, parts.path.rstrip("/"), "", ""))
        return Response(
            200,
            {
                "audience-endpoint": f"{base}/_/oidc/audience",
                "token-mint-endpoint": f"{base}/_/oidc/mint-token",
                "features": list(_FEATURES),
                "default-features": list(_FEATURES),
            },
            DISCOVERY_TYPE,
        )

    def _disabled(self) -> ExchangeError:
        return ExchangeError("not-enabled", "trusted publishing is not enabled on this index")
