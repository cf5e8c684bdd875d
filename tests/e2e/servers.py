"""Both index servers behind one interface, for the tests that must hold on each: the
token API table, the token page in a browser, and the ``pypitoken remote`` client.

Each server runs for real on 127.0.0.1 with users ``alice`` (who owns the project
``tinypkg``), ``bob`` and ``root`` (a token administrator), passwords from
:data:`PASSWORDS`, and the same maximum token lifetime, :data:`MAX_LIFETIME`:

- pypiserver: ``pypitoken-pypiserver run -P htpasswd --token-admins root
  --token-max-lifetime 86400``;
- devpi-server with the plugin and ``--pypitoken-max-expiry 86400`` (root is devpi's
  administrator); alice uploads to ``alice/dev``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.devpi.conftest import PASSWORDS as DEVPI_PASSWORDS
from tests.e2e.devpi.conftest import Devpi, devpi_init, devpi_server, make_secret
from tests.e2e.dists import make_wheel
from tests.e2e.pypiserver.conftest import pypiserver_running, write_htpasswd

__all__ = ["MAX_LIFETIME", "PASSWORDS", "Answer", "Served", "serve"]

PASSWORDS = dict(DEVPI_PASSWORDS)
MAX_LIFETIME = 7 * 86400


@dataclass
class Answer:
    """Status, JSON body (or text), headers and raw body bytes of one answer."""

    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes

    @property
    def message(self) -> str | None:
        return self.body.get("message") if isinstance(self.body, dict) else None


@dataclass
class Served:
    """A running index: where it is, how to upload to it, and who uses it."""

    kind: str
    url: str
    #: where alice's uploads go (twine's --repository-url) and her simple index (pip)
    upload_url: str
    simple_url: str
    work: Path
    log: Any
    tokens: list[str] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        auth: tuple[str, str] | None = None,
        data: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        """One HTTP request; ``user`` logs in with that user's password (Basic)."""
        headers = {"Accept": "application/json"}
        if user is not None:
            auth = (user, PASSWORDS[user])
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        if data is not None:
            body, content_type = json.dumps(data).encode(), content_type or "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status, raw, rh = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            status, raw, rh = exc.code, exc.read(), exc.headers
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed, {k.lower(): v for k, v in rh.items()}, raw)

    def mint(self, user: str = "alice", **fields: Any) -> tuple[str, str]:
        """A token of ``user`` through the API, as that user: (id, token)."""
        answer = self.call("POST", "/+api-tokens", user=user, data=fields)
        assert answer.status == 201, (answer.status, answer.body)
        result = answer.body["result"]
        self.tokens.append(result["token"])
        return result["id"], result["token"]

    def twine(
        self, password: str, dist: Path, user: str = "__token__"
    ) -> subprocess.CompletedProcess[str]:
        """``twine upload`` of ``dist`` to alice's upload URL; the finished process."""
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "400", "TERM": "dumb"}
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                self.upload_url,
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

    def log_text(self) -> str:
        return str(self.log())


@contextlib.contextmanager
def _pypiserver(work: Path, *options: str) -> Iterator[Served]:
    work.mkdir(parents=True, exist_ok=True)
    write_htpasswd(work / "htpasswd", PASSWORDS)
    with pypiserver_running(
        work / "run",
        "-P",
        str(work / "htpasswd"),
        "-a",
        "update",
        "--token-admins",
        "root",
        "--token-max-lifetime",
        str(MAX_LIFETIME),
        *options,
        users=("alice", "bob", "root"),
    ) as index:
        index.admin("project", "add", "tinypkg", "--owner", "alice")
        yield Served(
            "pypiserver",
            index.url,
            index.url + "/",
            index.url + "/simple/",
            work,
            index.server.log_text,
        )


@contextlib.contextmanager
def _devpi(work: Path, *options: str) -> Iterator[Served]:
    work.mkdir(parents=True, exist_ok=True)
    secret = make_secret(work / "secret")
    serverdir = work / "server"
    devpi_init(serverdir, "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with devpi_server(
        serverdir, secret, "--pypitoken-max-expiry", str(MAX_LIFETIME), *options
    ) as server:
        devpi = Devpi(server, work)
        devpi.create_user("alice")
        devpi.create_user("bob")
        devpi.create_index("alice/dev")
        # tinypkg exists on alice/dev, as it is registered on pypiserver
        first = make_wheel(devpi.dists, "tinypkg", "0.0.1")
        assert devpi.upload("alice/dev", first, user="alice").status == 200
        yield Served(
            "devpi",
            server.url,
            server.url + "/alice/dev/",
            server.url + "/alice/dev/+simple/",
            work,
            server.log_text,
        )


@contextlib.contextmanager
def serve(kind: str, work: Path, *options: str) -> Iterator[Served]:
    """Run the ``kind`` ("pypiserver" or "devpi") index until the block ends."""
    runner = _pypiserver if kind == "pypiserver" else _devpi
    with runner(work, *options) as served:
        yield served
