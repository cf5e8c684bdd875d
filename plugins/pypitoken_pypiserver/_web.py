"""The token page and the token API in front of pypiserver's app.

pypiserver has no way to add routes, so a small WSGI front sends ``/+tokens...`` to the
token page (:mod:`pypitoken_web`), ``/+api-tokens...``, ``/+api-projects...`` and
``/+api-publishers...`` to the token API, and everything else to pypiserver untouched.
Both log users in with the password check pypiserver built from ``-P`` (the fallback of
the :class:`~pypitoken_pypiserver._auth.TokenAuther`), read the Basic credentials with
bottle's own parser, and never accept an API token as a login. The core decides
everything else (:class:`pypitoken_core.api.TokenAPI`).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pypiserver.bottle_wrapper.bottle import parse_auth
from pypitoken_web import BadRequest, Site, TokenPages, Urls, read_body

from pypitoken_core.api import (
    MAX_BODY,
    Caller,
    Reply,
    Request,
    TokenAPI,
    token_refused,
    unauthenticated,
)
from pypitoken_core.exceptions import StoreError
from pypitoken_core.service import TokenService
from pypitoken_core.store import PageSessions
from pypitoken_core.token import TOKEN_USERNAME

__all__ = ["TokenFront", "WebSettings", "token_front"]

log = logging.getLogger("pypitoken_pypiserver")

Auther = Callable[[str, str], bool]
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

_PAGE = "/+tokens"
_API = ("/+api-tokens", "/+api-projects", "/+api-publishers")
_HEADERS = (
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The page's and the API's options: the token administrators, and whether a proxy
    in front says the scheme and the client's address (``--trust-proxy-headers``)."""

    admins: frozenset[str] = frozenset()
    trust_proxy_headers: bool = False
    passwords: bool = True


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class TokenFront:
    """WSGI: the token page and API in front of ``app`` (pypiserver's)."""

    def __init__(self, app: WSGIApp, pages: WSGIApp, api: WSGIApp) -> None:
        self.app = app
        self.pages = pages
        self.api = api

    def __repr__(self) -> str:
        return f"<TokenFront {self.app!r}>"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if _under(path, _PAGE):
            return self.pages(environ, start_response)
        if any(_under(path, prefix) for prefix in _API):
            return self.api(environ, start_response)
        return self.app(environ, start_response)


class APIEndpoint:
    """The token API over HTTP: Basic credentials checked by pypiserver's own password
    check, then :meth:`TokenAPI.handle`."""

    def __init__(
        self,
        service: Callable[[], TokenService],
        fallback: Auther,
        settings: WebSettings,
    ) -> None:
        self._service = service
        self._fallback = fallback
        self._settings = settings

    def __repr__(self) -> str:
        return "<APIEndpoint>"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            reply = self._answer(environ)
        except Exception as exc:  # logged without credentials; never a traceback out
            log.error("pypitoken: the token API failed: %s", type(exc).__name__)
            reply = Reply(500, {"message": "the server could not answer; try again later"})
        body = reply.encode()
        headers = [*_HEADERS, *reply.headers, ("Content-Length", str(len(body)))]
        start_response(f"{reply.status} {_phrase(reply.status)}", headers)
        return [body]

    def _answer(self, environ: dict[str, Any]) -> Reply:
        credentials = parse_auth(str(environ.get("HTTP_AUTHORIZATION", "")))
        if not credentials or credentials[1] is None:
            return unauthenticated()
        user, password = credentials
        service = self._service()
        if user == TOKEN_USERNAME or service.recognizes(password):
            return token_refused()
        if not self._fallback(user, password):
            return unauthenticated()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            query = urllib.parse.parse_qs(
                str(environ.get("QUERY_STRING", "")), keep_blank_values=True, max_num_fields=20
            )
        except ValueError:
            return Reply(400, {"message": "the query string has too many parameters"})
        try:
            body = read_body(environ, MAX_BODY) if method in ("POST", "PUT", "PATCH") else b""
        except BadRequest as exc:
            return Reply(exc.status, {"message": str(exc)})
        request = Request(
            method=method,
            path=str(environ.get("PATH_INFO", "")),
            query=query,
            body=body,
            content_type=environ.get("CONTENT_TYPE"),
        )
        caller = Caller(user, user in self._settings.admins)
        return TokenAPI(service, indexes=False).handle(caller, request)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def token_front(
    app: WSGIApp,
    service: Callable[[], TokenService],
    fallback: Auther,
    settings: WebSettings,
) -> TokenFront:
    """pypiserver's ``app`` with the token page and API in front of it."""

    def check_password(environ: Any, user: str, password: str) -> tuple[str, ...] | None:
        return () if fallback(user, password) else None

    def sessions() -> PageSessions:
        store = service().store
        if not isinstance(store, PageSessions):
            raise StoreError(f"{store.url} keeps no token page sessions")
        return store

    site = Site(
        name="pypiserver",
        api=lambda: TokenAPI(service(), indexes=False),
        sessions=sessions,
        check_password=check_password,
        is_admin=lambda user, groups: user in settings.admins,
        urls=lambda base, index: Urls(upload=base + "/", simple=base + "/simple/"),
        passwords=settings.passwords,
        trust_proxy_headers=settings.trust_proxy_headers,
        login_hint="The server must be started with -P HTPASSWD_FILE.",
    )
    return TokenFront(app, TokenPages(site), APIEndpoint(service, fallback, settings))
