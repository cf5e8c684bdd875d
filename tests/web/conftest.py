"""The token page in-process: ``TokenPages`` over a real service and store, and a small
WSGI client that keeps cookies the way a browser does (per name, dropped at Max-Age=0).

The site is pypiserver-like: users alice, bob and root (an administrator) with the
passwords in :data:`PASSWORDS`; alice owns ``tinypkg``, bob and carol maintain it.
"""

from __future__ import annotations

import io
import re
import secrets
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pypitoken_web import Site, TokenPages, Urls

from pypitoken_core.api import TokenAPI
from pypitoken_core.service import TokenService
from pypitoken_core.store import TokenStore, open_store

PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[-1] if found else None

    def cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    @property
    def location(self) -> str | None:
        return self.header("Location")

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert found is not None, self.body
        return found.group(1)


@dataclass
class Client:
    """A browser of one: cookies kept by name, every request through the WSGI app."""

    app: TokenPages
    environ: dict[str, Any] = field(default_factory=dict)
    jar: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, Any] | None = None,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        path, _, query = path.partition("?")
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            content_type = content_type or "application/x-www-form-urlencoded"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "index.test",
            "SERVER_PORT": "80",
            "HTTP_HOST": "index.test",
            "REMOTE_ADDR": "10.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body or b""),
            **self.environ,
        }
        if body is not None:
            environ["CONTENT_LENGTH"] = str(len(body))
        if content_type is not None:
            environ["CONTENT_TYPE"] = content_type
        if self.jar:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[Any] = []
        chunks = self.app(environ, lambda status, hdrs: started.append((status, hdrs)))
        status, hdrs = started[0]
        answer = Answer(int(status.split()[0]), list(hdrs), b"".join(chunks).decode())
        for cookie in answer.cookies():
            name, _, rest = cookie.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in cookie:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return answer

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict[str, Any] | None = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, form, **kwargs)

    def log_in(self, user: str, password: str | None = None) -> Answer:
        page = self.get("/+tokens/login")
        return self.post(
            "/+tokens/login",
            {"csrf": page.csrf(), "user": user, "password": password or PASSWORDS[user]},
        )

    def csrf(self, path: str = "/+tokens") -> str:
        return self.get(path).csrf()


@dataclass
class Web:
    """The page over a service, and a way to make browsers."""

    app: TokenPages
    service: TokenService
    checked: list[tuple[str, str]]

    @property
    def store(self) -> TokenStore:
        return self.service.store  # type: ignore[return-value]

    def client(self, **environ: Any) -> Client:
        return Client(self.app, dict(environ))

    def logged_in(self, user: str) -> Client:
        client = self.client()
        answer = client.log_in(user)
        assert answer.status == 303, answer.body
        return client


def make_web(store: TokenStore, *, trust_proxy_headers: bool = False, **service: Any) -> Web:
    svc = TokenService(store, secrets.token_bytes(32), **service)
    for user in PASSWORDS:
        svc.add_user(user)
    svc.add_user("carol")  # no password: never logs in here
    svc.add_project("tinypkg", "alice")
    svc.add_maintainer("tinypkg", "bob")
    svc.add_maintainer("tinypkg", "carol")
    checked: list[tuple[str, str]] = []

    def check_password(environ: Any, user: str, password: str) -> tuple[str, ...] | None:
        checked.append((user, password))
        return () if PASSWORDS.get(user) == password else None

    site = Site(
        name="testindex",
        api=lambda: TokenAPI(svc, indexes=False),
        sessions=lambda: store,
        check_password=check_password,
        is_admin=lambda user, groups: user == "root",
        urls=lambda base, index: Urls(base + "/", base + "/simple/"),
        trust_proxy_headers=trust_proxy_headers,
    )
    return Web(TokenPages(site), svc, checked)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'web.sqlite3'}"
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def web(store: TokenStore) -> Web:
    return make_web(store)
