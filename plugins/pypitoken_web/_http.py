"""Reading a WSGI request and writing a response, with nothing but the standard library.

Only what the token page needs, bounded whatever a client sends: a form body of at most
:data:`MAX_FORM` bytes (read only when ``Content-Length`` says it fits), at most
:data:`MAX_FIELDS` fields, cookies split by hand (``http.cookies`` gives up on a whole
header for one odd cookie, and another site's cookies share the header).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_FIELDS",
    "MAX_FORM",
    "BadRequest",
    "PageRequest",
    "Response",
    "read_body",
]

#: Largest form body read; the page's forms are a few hundred bytes.
MAX_FORM = 16 * 1024
#: Most fields a form may have (a project per checkbox: the token form's longest).
MAX_FIELDS = 500
_MAX_COOKIE_HEADER = 8192

_REASONS = {
    200: "OK",
    201: "Created",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BadRequest(Exception):
    """The request cannot be read; ``status`` and the message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of the request body (a longer one is the caller's to
    refuse); nothing is read past ``Content-Length``, and a body without one is refused.
    """
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not length_text:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "DELETE"):
            return b""
        raise BadRequest(411, "the request needs a Content-Length")
    if not (length_text.isascii() and length_text.isdigit()) or len(length_text) > 12:
        raise BadRequest(400, "the Content-Length is not a number")
    length = int(length_text)
    stream = environ.get("wsgi.input")
    if stream is None or length == 0:
        return b""
    return bytes(stream.read(min(length, limit + 1)))


@dataclass
class PageRequest:
    """A WSGI request, read the way the page needs it."""

    environ: Mapping[str, Any]
    #: Whether X-Forwarded-Proto and X-Forwarded-For come from a proxy the operator trusts.
    trust_proxy_headers: bool = False
    #: The index's own reading of the client's address, where it has one (devpi's).
    client_address: Callable[[Mapping[str, Any]], str] | None = None
    _form: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def path(self) -> str:
        """The path below the index's root (``/+tokens/new``)."""
        return str(self.environ.get("PATH_INFO", "")) or "/"

    @property
    def root(self) -> str:
        """Where the index is mounted (``SCRIPT_NAME``), without a trailing slash."""
        return str(self.environ.get("SCRIPT_NAME", "")).rstrip("/")

    @property
    def secure(self) -> bool:
        """Whether the browser talks https: as the WSGI server reports it, or as the
        trusted proxy says."""
        if self.environ.get("wsgi.url_scheme") == "https":
            return True
        if self.trust_proxy_headers:
            forwarded = str(self.environ.get("HTTP_X_FORWARDED_PROTO", ""))
            return forwarded.split(",")[-1].strip().lower() == "https"
        return False

    @property
    def address(self) -> str:
        """The client's address: as the index reads it (if it says), else the last one the
        trusted proxy added, else the peer's."""
        if self.client_address is not None:
            return str(self.client_address(self.environ) or "unknown")[:100]
        if self.trust_proxy_headers:
            forwarded = str(self.environ.get("HTTP_X_FORWARDED_FOR", "")).split(",")[-1].strip()
            if forwarded:
                return forwarded[:100]
        return str(self.environ.get("REMOTE_ADDR", "") or "unknown")[:100]

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]/root``: the index's address as the browser sees it."""
        scheme = "https" if self.secure else "http"
        host = str(self.environ.get("HTTP_HOST", "")).strip()
        if not host or any(c in host for c in "/\\@ \t") or len(host) > 300:
            host = f"{self.environ.get('SERVER_NAME', 'localhost')}"
            port = str(self.environ.get("SERVER_PORT", ""))
            if port and port not in ("80", "443"):
                host += f":{port}"
        return f"{scheme}://{host}{self.root}"

    def url(self, path: str, **query: str) -> str:
        """A path of the index (``/+tokens``), as a link the browser follows."""
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return self.root + path + suffix

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(
            str(self.environ.get("QUERY_STRING", "")),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
        )

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def cookies(self) -> dict[str, str]:
        header = str(self.environ.get("HTTP_COOKIE", ""))[:_MAX_COOKIE_HEADER]
        cookies: dict[str, str] = {}
        for part in header.split(";"):
            name, eq, value = part.strip().partition("=")
            if eq and name and name not in cookies:
                cookies[name] = value.strip().strip('"')
        return cookies

    def form(self) -> dict[str, list[str]]:
        """The fields of an ``application/x-www-form-urlencoded`` body."""
        if self._form is None:
            media = str(self.environ.get("CONTENT_TYPE", "")).partition(";")[0].strip().lower()
            if media != "application/x-www-form-urlencoded":
                raise BadRequest(415, "this form must be sent as a web form")
            body = read_body(self.environ, MAX_FORM)
            if len(body) > MAX_FORM:
                raise BadRequest(413, "the form is too large")
            try:
                text = body.decode("utf-8")
                self._form = urllib.parse.parse_qs(
                    text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
                )
            except (UnicodeDecodeError, ValueError):
                raise BadRequest(400, "the form cannot be read") from None
        return self._form

    def field(self, name: str) -> str:
        """One form field ("" when absent; refused when given twice)."""
        values = self.form().get(name, [])
        if len(values) > 1:
            raise BadRequest(400, f"the form gives {name!r} more than once")
        return values[0] if values else ""

    def fields(self, name: str) -> list[str]:
        """Every value of a repeated form field (checkboxes)."""
        return self.form().get(name, [])


@dataclass
class Response:
    """A response: status, headers, body."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str, value: str) -> Response:
        self.headers.append((name, value))
        return self

    def __call__(self, start_response: Any) -> Iterable[bytes]:
        """Answer through WSGI's ``start_response``."""
        status = f"{self.status} {_REASONS.get(self.status, 'Unknown')}"
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(status, headers)
        return [self.body]


def redirect(location: str) -> Response:
    """303 See Other to ``location`` (a path of this site)."""
    return Response(303, b"", [("Location", location)])
