"""devpi-server in-process: a real XOM with the plugin, and its pyramid app.

``devpi-init`` prepares one server directory per session (users root, alice and bob;
indexes alice/dev, alice/other and bob/dev; a devpi login for each user). Each test gets
its own copy, a real ``XOM`` built on it with the plugins devpi-server itself loads
(entry points: pypitoken_devpi, devpi-tokens, devpi's own modules), and the WSGI app
``XOM.create_app()`` makes. Requests are webob requests, which is what waitress hands
devpi; every request goes through devpi's tweens, keyfs transactions, security policy,
routes and our hooks, exactly as in ``devpi-server``, only without a socket.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from devpi_server.config import get_pluginmanager, parseoptions
from devpi_server.main import XOM
from webob import Request, Response

from tests.e2e.devpi.conftest import ARGON2_FAST, PASSWORDS, devpi_init, make_secret
from tests.e2e.dists import make_wheel

#: The users the template holds, and the indexes they own.
INDEXES = ("alice/dev", "alice/other", "bob/dev")


def _make_xom(serverdir: Path, secret: Path, *options: str) -> Any:
    """A real devpi-server application object on ``serverdir`` (no threads started)."""
    config = parseoptions(
        get_pluginmanager(),
        ["devpi-server", "--serverdir", str(serverdir), "--secretfile", str(secret),
         *ARGON2_FAST, *options],
    )  # fmt: skip
    config.init_nodeinfo()
    return XOM(config)


def _close(xom: Any) -> None:
    xom.thread_pool.kill()


class App:
    """A devpi-server's WSGI app, with the calls the tests make of it."""

    def __init__(self, xom: Any, logins: dict[str, dict[str, str]]) -> None:
        self.xom = xom
        self.wsgi = xom.create_app()
        self._logins = logins
        self._dists: Path | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        user: str | None = None,
    ) -> Response:
        """One request; ``auth`` sends Basic credentials, ``user`` that user's devpi login."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        if user is not None:
            all_headers.update(self._logins[user])
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            all_headers["Authorization"] = f"Basic {pair}"
        request = Request.blank(path, method=method, headers=all_headers)
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        if body is not None:
            request.body = body
        if content_type is not None:
            request.content_type = content_type
        return request.get_response(self.wsgi)

    def authstatus(self, **kwargs: Any) -> list[Any] | Response:
        """``/+api``'s authstatus for some credentials, or the response when not 200."""
        response = self.request("GET", "/+api", **kwargs)
        return response.json["result"]["authstatus"] if response.status_int == 200 else response

    def mint(self, owner: str = "alice", *, by: str | None = None, **body: Any) -> tuple[str, str]:
        """A token for ``owner`` through the token API (as ``by``, default the owner's
        login); returns (id, token)."""
        response = self.request("POST", f"/{owner}/+api-tokens", json_body=body, user=by or owner)
        assert response.status_int == 201, response
        result = response.json["result"]
        return result["id"], result["token"]

    def upload(self, index: str, name: str, version: str, **kwargs: Any) -> Response:
        """A twine-style multipart ``file_upload`` of a tiny wheel."""
        if self._dists is None:
            self._dists = Path(self.xom.config.server_path) / "test-dists"
            self._dists.mkdir()
        dist = make_wheel(self._dists, name, version)
        boundary = secrets.token_hex(8)
        fields = {":action": "file_upload", "name": name, "version": version,
                  "protocol_version": "1", "metadata_version": "2.1",
                  "filetype": "bdist_wheel", "pyversion": "py3"}  # fmt: skip
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="{dist.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + dist.read_bytes()
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            f"/{index}/",
            body=b"".join(parts),
            content_type=f"multipart/form-data; boundary={boundary}",
            **kwargs,
        )


@dataclass(frozen=True)
class Template:
    """The prepared server directory, its secret, and a devpi login per user."""

    serverdir: Path
    secret: Path
    logins: dict[str, dict[str, str]]


@pytest.fixture(scope="session")
def devpi_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A devpi-init'ed server directory with users, indexes and logins (made once)."""
    base = tmp_path_factory.mktemp("devpi-template")
    secret = make_secret(base / "secret")
    serverdir = base / "server"
    devpi_init(serverdir, "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    xom = _make_xom(serverdir, secret)
    try:
        app = App(xom, {})
        for name in ("alice", "bob"):
            body = {"password": PASSWORDS[name], "email": f"{name}@example.org"}
            assert app.request("PUT", f"/{name}", json_body=body).status_int == 201
        logins = {}
        for name in ("root", "alice", "bob"):
            body = {"user": name, "password": PASSWORDS[name]}
            response = app.request("POST", "/+login", json_body=body)
            assert response.status_int == 200, response
            pair = f"{name}:{response.json['result']['password']}".encode()
            logins[name] = {"X-Devpi-Auth": base64.b64encode(pair).decode()}
        app._logins = logins
        for index in INDEXES:
            body = {"bases": [], "volatile": True}
            response = app.request("PUT", f"/{index}", json_body=body, user=index.split("/")[0])
            assert response.status_int == 200, response
    finally:
        _close(xom)
    return Template(serverdir, secret, logins)


MakeXom = Callable[..., Any]


@pytest.fixture
def make_xom(devpi_template: Template, tmp_path: Path) -> Iterator[MakeXom]:
    """Build real XOMs, each on its own copy of the template; options are devpi-server's."""
    made: list[Any] = []

    def make(*options: str) -> Any:
        serverdir = tmp_path / f"devpi-server-{len(made)}"
        shutil.copytree(devpi_template.serverdir, serverdir)
        xom = _make_xom(serverdir, devpi_template.secret, *options)
        made.append(xom)
        return xom

    try:
        yield make
    finally:
        for xom in made:
            _close(xom)


@pytest.fixture
def xom(make_xom: MakeXom) -> Any:
    """A real XOM with the plugin, with the template's users and indexes."""
    return make_xom()


MakeApp = Callable[..., App]


@pytest.fixture
def make_app(make_xom: MakeXom, devpi_template: Template) -> MakeApp:
    """An app on a new XOM made with these devpi-server options."""
    return lambda *options: App(make_xom(*options), devpi_template.logins)


@pytest.fixture
def app(xom: Any, devpi_template: Template) -> App:
    """The app of :func:`xom`, default options."""
    return App(xom, devpi_template.logins)
