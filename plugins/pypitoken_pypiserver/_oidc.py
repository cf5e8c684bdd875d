"""Trusted publishing on pypiserver: the ``/_/oidc/*`` and ``/.well-known/pytp`` routes.

The routes read the request into plain values (the body, once its length is known to be
small, the query string, ``Accept``, the URL it came in on) and hand them to the core's
:class:`~pypitoken_core.oidc.Endpoints`; the answer goes back as it is. pypiserver uploads
to ``/`` (under ``--server-base-url`` if any), the one upload path discovery knows. A
failure of the adapter itself is a 503 problem document, never a 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pypiserver.bottle_wrapper import Bottle, HTTPResponse, request

from pypitoken_core.oidc import (
    MAX_BODY,
    Endpoints,
    ExchangeError,
    Response,
    TrustedPublishingSettings,
    check_length,
    path_hashes,
    problem,
)
from pypitoken_core.service import TokenService

__all__ = ["TrustedPublishingRoutes"]

log = logging.getLogger("pypitoken_pypiserver")


def _send(answer: Response) -> HTTPResponse:
    return HTTPResponse(
        body=answer.content(), status=answer.status, headers={"Content-Type": answer.content_type}
    )


def _read_body() -> bytes:
    """The request body, refused unread when it says it is longer than the endpoints take."""
    length = request.content_length
    check_length(None if length < 0 else length)
    data: bytes = request.body.read(MAX_BODY + 1)
    return data


def _base_url() -> str:
    """``scheme://host[:port]`` as the client reached the server (proxy headers included)."""
    parts = request.urlparts
    return f"{parts.scheme}://{parts.netloc}{request.script_name.rstrip('/')}"


def _upload_paths() -> list[str]:
    root = request.script_name.rstrip("/")
    return [root, root + "/"] if root else ["", "/"]


class TrustedPublishingRoutes:
    """The routes of one app; the endpoints are built per process from its service.

    ``service`` gives the process's :class:`TokenService` (a new one after a fork).
    """

    def __init__(
        self, service: Callable[[], TokenService], settings: TrustedPublishingSettings
    ) -> None:
        self._service = service
        self._settings = settings
        self._lock = threading.Lock()
        self._built: tuple[TokenService, Endpoints] | None = None

    def __repr__(self) -> str:
        return f"<TrustedPublishingRoutes enabled={self._settings.enabled}>"

    def endpoints(self) -> Endpoints:
        """This process's endpoints (their issuer keys are cached for its life)."""
        service = self._service()
        built = self._built
        if built is None or built[0] is not service:
            with self._lock:
                built = self._built
                if built is None or built[0] is not service:
                    built = (service, service.trusted_publishing(self._settings))
                    self._built = built
        return built[1]

    def install(self, app: Bottle) -> None:
        """Add the routes to ``app`` (pypiserver's own never match these paths)."""
        app.route("/_/oidc/audience", "GET", self._guarded(self._audience))
        mint = self._guarded(self._mint)
        app.route("/_/oidc/mint-token", "POST", mint)
        app.route("/_/oidc/github/mint-token", "POST", mint)
        app.route("/_/oidc/burn-token", "POST", self._guarded(self._burn))
        app.route("/.well-known/pytp", "GET", self._guarded(self._discover))
        app.route("/.well-known/pytp/<key>", "GET", self._guarded(self._discover_by_hash))

    def _guarded(self, handler: Callable[..., Response]) -> Callable[..., HTTPResponse]:
        def route(**kwargs: Any) -> HTTPResponse:
            try:
                return _send(handler(**kwargs))
            except ExchangeError as exc:
                return _send(problem(exc))
            except Exception:
                log.exception("pypitoken: trusted publishing failed on %s", request.path)
                error = ExchangeError("server-error", "the index could not answer; retry")
                return _send(problem(error))

        return route

    def _audience(self) -> Response:
        return self.endpoints().get_audience()

    def _mint(self) -> Response:
        return self.endpoints().mint(_read_body())

    def _burn(self) -> Response:
        return self.endpoints().burn(_read_body())

    def _discover(self) -> Response:
        paths = _upload_paths()
        return self.endpoints().discover(
            request.query_string, request.headers.get("Accept"), _base_url(), paths.__contains__
        )

    def _discover_by_hash(self, key: str) -> Response:
        return self.endpoints().discover_by_hash(
            key, request.headers.get("Accept"), _base_url(), path_hashes(_upload_paths())
        )
