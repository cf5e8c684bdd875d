"""A bare HTTP client of the token page for tests against real servers: no browser, one
new connection per request (so gunicorn hands each to any worker), cookies by hand."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from dataclasses import dataclass

__all__ = ["Reply", "call", "csrf_of", "log_in"]


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[-1] if found else None

    def cookie(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == "set-cookie" and value.startswith(name + "="):
                return value.split(";")[0].split("=", 1)[1]
        return None

    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


def call(
    url: str,
    method: str,
    path: str,
    cookies: dict[str, str],
    form: dict[str, str] | None = None,
) -> Reply:
    """One request to ``url`` + ``path`` with these cookies (and a web form, if given)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.getheaders(), response.read().decode())
    finally:
        conn.close()


def csrf_of(page: Reply) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.body)
    assert found is not None, page.body
    return found.group(1)


def log_in(url: str, user: str, password: str) -> tuple[Reply, dict[str, str]]:
    """Log in as a browser does: the form (and its cookie), then the POST. Returns the
    answer and the session's cookies (empty when refused)."""
    page = call(url, "GET", "/+tokens/login", {})
    cookies = {"pypitoken_login": page.cookie("pypitoken_login") or ""}
    reply = call(
        url, "POST", "/+tokens/login", cookies,
        {"csrf": csrf_of(page), "user": user, "password": password},
    )  # fmt: skip
    session = reply.cookie("pypitoken_session")
    return reply, {} if not session else {"pypitoken_session": session}
