"""Real devpi-server processes with the pypitoken_devpi plugin, and real clients.

Every server runs on 127.0.0.1 with an ephemeral port, a fixed secret file, no root/pypi
mirror (no network) and tiny argon2 settings (fast start-up); it is stopped by PID.
The commands come from the running interpreter's environment, where the project is
installed with its ``dev`` extra (devpi-server, devpi-client, devpi-tokens, twine, pip).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.dists import make_wheel
from tests.e2e.procs import Server, exe, free_port, run_server

ARGON2_FAST = ["--argon2-memory-cost", "8", "--argon2-parallelism", "1", "--argon2-time-cost", "1"]
PASSWORDS = {"root": "rootpw", "alice": "alicepw", "bob": "bobpw"}
READACL_SERVER = Path(__file__).with_name("_readacl_server.py")


def squash(text: str) -> str:
    """Collapse whitespace (twine wraps long messages) for substring assertions."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())


@dataclass
class Reply:
    status: int
    reason: str
    body: Any
    headers: dict[str, str]


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def request(
    url: str,
    method: str = "GET",
    *,
    data: Any = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Reply:
    """One HTTP request, JSON in (``data``) or raw ``body``; never raises for a status."""
    hdrs = {"Accept": "application/json", **(headers or {})}
    if auth is not None:
        hdrs.update(basic(*auth))
    if data is not None:
        body = json.dumps(data).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, reason, raw, rh = resp.status, resp.reason, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        status, reason, raw, rh = exc.code, exc.reason, exc.read(), exc.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Reply(status, str(reason), parsed, dict(rh.items()))


def raw_request(
    url: str,
    method: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Reply:
    """One request sent as given: http.client adds Host and Content-Length, nothing else.

    urllib adds a form Content-Type to every body; requests that have none, or an empty
    one, need this.
    """
    parts = urllib.parse.urlsplit(url)
    all_headers = {**(headers or {}), **(basic(*auth) if auth else {})}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, parts.path, body=body, headers=all_headers)
        resp = conn.getresponse()
        raw = resp.read()
        status, reason, rh = resp.status, resp.reason, dict(resp.headers.items())
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Reply(status, reason, parsed, rh)


class Listener:
    """A local HTTP server standing in for an external push's target: it records every
    request's body and answers 200, so a test can prove what a push sent, or that it sent
    nothing. Stopped (and its thread joined) by ``close``."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def projects(self) -> list[str]:
        """The ``name`` form field of every upload received, in order."""
        return [
            m.decode()
            for body in self.bodies
            for m in re.findall(rb'name="name"\r\n\r\n([^\r]*)\r\n', body)
        ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A fresh :class:`Listener` for one test."""
    server = Listener()
    try:
        yield server
    finally:
        server.close()


def make_secret(directory: Path) -> Path:
    """A devpi secret file (0600, in a directory only we can write)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / "secret"
    path.write_bytes(base64.b64encode(secrets.token_bytes(32)))
    path.chmod(0o600)
    return path


def devpi_init(serverdir: Path, *extra: str) -> None:
    subprocess.run(
        [exe("devpi-init"), "--serverdir", str(serverdir), *extra],
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextlib.contextmanager
def devpi_server(
    serverdir: Path,
    secret: Path,
    *extra: str,
    port: int | None = None,
    readacl: bool = False,
    stock: bool = False,
) -> Iterator[Server]:
    """Run devpi-server on ``serverdir`` until the block ends (stopped by PID).

    ``readacl`` adds the test plugin with the index option ``acl_pkg_read``; ``stock``
    (which implies it) runs without the pypitoken_devpi plugin, for comparisons.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    if readacl or stock:
        # The real devpi-server main with one extra test plugin: an index option
        # ``acl_pkg_read`` like the read-protection plugins offer (stock devpi has none).
        argv = [sys.executable, str(READACL_SERVER)]
        argv += ["--without-pypitoken"] if stock else []
    else:
        argv = [exe("devpi-server")]
    argv += [
        "--serverdir",
        str(serverdir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--secretfile",
        str(secret),
        *ARGON2_FAST,
        *extra,
    ]
    log = serverdir.parent / f"{serverdir.name}-{port}.log"
    with run_server(argv, ready_url=f"{url}/+api", base_url=url, log=log, timeout=120) as srv:
        yield srv


class Devpi:
    """A running devpi-server plus helpers to drive it over HTTP and with real clients."""

    def __init__(self, server: Server, workdir: Path) -> None:
        self.server = server
        self.url = server.url
        self.workdir = workdir
        self.dists = workdir / "dists"
        self.dists.mkdir(exist_ok=True)
        #: every raw token handed out in this run, to prove none reaches the log
        self.tokens: list[str] = []

    def api(
        self,
        method: str,
        path: str,
        data: Any = None,
        *,
        user: str | None = None,
        auth: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if user is not None:
            auth = (user, PASSWORDS[user])
        return request(f"{self.url}{path}", method, data=data, auth=auth, headers=headers)

    def create_user(self, name: str) -> None:
        reply = self.api("PUT", f"/{name}", {"password": PASSWORDS[name], "email": f"{name}@x"})
        assert reply.status == 201, reply

    def login(self, user: str) -> dict[str, str]:
        """Headers with a devpi login for ``user``, as devpi-client sends: checked without
        the password hash, so a request costs milliseconds instead of ~0.1 s."""
        reply = self.api("POST", "/+login", {"user": user, "password": PASSWORDS[user]})
        assert reply.status == 200, reply
        pair = f"{user}:{reply.body['result']['password']}".encode()
        return {"X-Devpi-Auth": base64.b64encode(pair).decode()}

    def create_index(
        self, name: str, *, headers: dict[str, str] | None = None, **config: Any
    ) -> None:
        """Create ``user/index`` as its owner: with ``headers`` (a login), else the password."""
        user = None if headers else name.split("/")[0]
        body = {"bases": [], "volatile": True, **config}
        reply = self.api("PUT", f"/{name}", body, user=user, headers=headers)
        assert reply.status == 200, reply

    def mint(
        self, user: str = "alice", *, headers: dict[str, str] | None = None, **body: Any
    ) -> tuple[str, str]:
        """Create a token through the HTTP API as ``user`` (``headers``, a login, else the
        password); return (id, token)."""
        reply = self.api(
            "POST", f"/{user}/+api-tokens", body, user=None if headers else user, headers=headers
        )
        assert reply.status == 201, reply
        assert reply.body["type"] == "api-token"
        self.tokens.append(reply.body["result"]["token"])
        return reply.body["result"]["id"], reply.body["result"]["token"]

    def upload(self, index: str, dist: Path, **kwargs: Any) -> Reply:
        """A twine-style multipart ``file_upload`` through urllib (fast, shows the reason)."""
        name, version = dist.name.split("-")[:2]
        boundary = secrets.token_hex(16)
        fields = {
            ":action": "file_upload",
            "name": name,
            "version": version,
            "protocol_version": "1",
            "metadata_version": "2.1",
            "filetype": "bdist_wheel",
            "pyversion": "py3",
        }
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
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "*/*"}
        headers.update(kwargs.pop("headers", None) or {})
        if "user" in kwargs:
            name = kwargs.pop("user")
            kwargs["auth"] = (name, PASSWORDS[name])
        url = f"{self.url}/{index}/"
        return request(url, "POST", body=b"".join(parts), headers=headers, **kwargs)

    def devpi_tokens_token(self, user: str = "alice", **restrictions: Any) -> str:
        """A devpi-tokens 1.1.0 token, through its own HTTP API (its CLI needs extras)."""
        body = {"expires": int(time.time()) + 86400, **restrictions}
        reply = self.api("POST", f"/{user}/+token-create", body, user=user)
        assert reply.status == 200, reply
        self.tokens.append(reply.body["result"]["token"])
        return reply.body["result"]["token"]

    def wheel(self, name: str, version: str) -> Path:
        return make_wheel(self.dists, name, version)

    def twine(
        self, index: str, dist: Path, user: str, password: str
    ) -> subprocess.CompletedProcess[str]:
        """``twine upload`` of one file; returns the finished process (never raises)."""
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "400", "TERM": "dumb"}
        return subprocess.run(
            [
                exe("twine"),
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                f"{self.url}/{index}/",
                "-u",
                user,
                "-p",
                password,
                str(dist),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    def auth_status(self, **kwargs: Any) -> list[Any] | Reply:
        """``/+api`` authstatus for some credentials, or the Reply when it is not 200."""
        reply = self.api("GET", "/+api", **kwargs)
        return reply.body["result"]["authstatus"] if reply.status == 200 else reply

    def log_text(self) -> str:
        return self.server.log_text()


def devpi_client(
    clientdir: Path, *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real ``devpi`` command with its own client directory."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "400"}
    env.pop("DEVPI_INDEX", None)
    env.pop("DEVPI_USER", None)
    proc = subprocess.run(
        [exe("devpi"), "--clientdir", str(clientdir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"devpi {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_until(predicate: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def devpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devpi]:
    """One devpi-server for a test module: root, alice (alice/dev, alice/other), bob."""
    base = tmp_path_factory.mktemp("devpi")
    secret = make_secret(base / "secret")
    serverdir = base / "server"
    devpi_init(serverdir, "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with devpi_server(serverdir, secret) as srv:
        d = Devpi(srv, base)
        d.create_user("alice")
        d.create_user("bob")
        d.create_index("alice/dev")
        d.create_index("alice/other")
        yield d


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devpi]:
    """A server whose index alice/private lets only alice read packages (tinypkg and
    otherpkg 1.0)."""
    base = tmp_path_factory.mktemp("devpi-private")
    secret = make_secret(base / "secret")
    devpi_init(base / "server", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with devpi_server(base / "server", secret, readacl=True) as srv:
        d = Devpi(srv, base)
        d.create_user("alice")
        d.create_index("alice/private", acl_pkg_read=["alice"])
        assert d.upload("alice/private", d.wheel("tinypkg", "1.0"), user="alice").status == 200
        assert d.upload("alice/private", d.wheel("otherpkg", "1.0"), user="alice").status == 200
        yield d
