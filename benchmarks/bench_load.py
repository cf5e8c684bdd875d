"""Sustained mixed load: 16 clients for minutes, every answer checked against its decision.

Three servers, one after the other, each on 127.0.0.1 with a fresh store: pypiserver on
SQLite, pypiserver on PostgreSQL (a throwaway cluster, or ``--pg URL``) and devpi-server
(with a read-protected index, so that downloads need a credential too). On each, for
``--seconds`` (and at most ``--max-ops`` operations), ``--clients`` threads:

- download a project's simple page and the file it links to (on pypiserver one time in
  four: its pages are protected too), as pip does, with a token of that project or, one
  time in twenty, of another one;
- upload a new version of a project, as twine does (a multipart ``file_upload``);
- mint tokens (half of them expiring a few seconds later) and revoke some, through the
  server's token API (devpi ``POST``/``DELETE /{user}/+api-tokens``, pypiserver
  ``/+api-tokens``);
- send forged tokens (a real one with its signature altered, and unknown ids);
- and two of them run the real tools in a loop: ``pip download`` and ``twine upload``.

Every answer is checked against the decision it should have had, from what the client
knows: the token's revocation (a request sent after the revocation returned must be
refused; one that overlapped it may go either way), its expiry (by the clock, with the
same rule at the boundary), its project, its signature. At the end, every upload that
was answered 200 must be served. It prints, per server, the operations, the wrong
decisions, 5xx answers and lost uploads (all must be 0), latency percentiles per kind of
operation, and the server's RSS at start and end; it exits 1 if anything was wrong.

    python benchmarks/bench_load.py [--seconds 120] [--clients 16] [--max-ops 200000]
        [--only pypiserver-sqlite,pypiserver-postgresql,devpi] [--pg URL] [--short]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import logging
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pypitoken_core import DateRestriction, Token  # noqa: E402
from pypitoken_core.service import TokenService  # noqa: E402
from tests.e2e.dists import make_wheel  # noqa: E402
from tests.e2e.procs import Server, free_port, run_server  # noqa: E402
from tests.e2e.pypiserver import client  # noqa: E402

BIN = Path(sys.executable).parent
PROJECTS = ("load-a", "load-b", "load-c", "load-d")
TOKEN_USER = "__token__"
#: The token owner's htpasswd password on pypiserver (its token API logs her in with it).
LARA_PASSWORD = "lara-load-password"
#: Tokens in play at most; the oldest revoked or expired ones leave first.
POOL = 120
#: Seconds to expiry of the tokens minted to expire during the run (half of them).
SHORT_LIVES = (1, 2, 3, 5)
OPERATIONS = {  # kind -> weight
    "download": 56,
    "upload": 14,
    "forged": 8,
    "mint": 8,
    "revoke": 3,
    "other project": 4,
}


@dataclass
class Held:
    """A token as its holder knows it; the times say what the server must answer."""

    id: str
    raw: str
    project: str
    #: When its validity ends (epoch seconds), from its date caveat; None: never.
    expires: int | None
    #: "genuine", or "forged" (signature altered) or "unknown" (an id no store has).
    kind: str = "genuine"
    #: time.monotonic() when its revocation was sent, and when it returned.
    revoking: float | None = None
    revoked: float | None = None
    #: Never revoked: the real pip and twine use it, and the final listing.
    pinned: bool = False


def forge(held: Held) -> Held:
    """The token with one byte of its signature changed: refused, whatever it was."""
    prefix, body = held.raw.split("-", 1)
    data = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data[-1] ^= 0x01
    raw = prefix + "-" + base64.urlsafe_b64encode(bytes(data)).decode().rstrip("=")
    return Held(held.id, raw, held.project, held.expires, kind="forged")


def unknown(project: str, domain: str) -> Held:
    """A well-formed token of an id no store has."""
    tid = str(uuid.uuid4())
    raw = Token.create(domain, tid, os.urandom(32)).dump()
    return Held(tid, raw, project, None, kind="unknown")


def expected(
    held: Held, project: str, sent: tuple[float, float], done: tuple[float, float]
) -> set[str]:
    """The answers a request may have had: ``{"allow"}`` or a refusal's kind, or two of
    them when it overlapped a change. ``sent`` and ``done`` are (monotonic, epoch)."""
    if held.kind != "genuine":
        return {"invalid"}
    if held.revoked is not None and sent[0] > held.revoked:
        return {"revoked"}
    answers: set[str] = set()
    if held.expires is not None and sent[1] >= held.expires:
        answers.add("expired")
    else:
        answers.add("project" if project != held.project else "allow")
        if held.expires is not None and done[1] >= held.expires:
            answers.add("expired")  # the server's clock passed the expiry meanwhile
    if held.revoking is not None and done[0] >= held.revoking:
        answers.add("revoked")  # sent while the revocation was under way
    return answers


def outcome(response: client.Response) -> str:
    """What a response decided: "allow", a refusal's kind, "5xx" or "status <n>"."""
    if response.status == 200:
        return "allow"
    if response.status >= 500:
        return "5xx"
    if response.status == 403:
        reason = response.reason
        for kind, words in (
            ("revoked", "token revoked"),
            ("expired", "token expired at"),
            ("invalid", "invalid or unknown token"),
            ("project", "not valid for project"),
        ):
            if words in reason:
                return kind
        return f"403 {reason}"
    return f"status {response.status}"


class Target(Protocol):
    """A running index with its tokens' admin, as the clients use them."""

    name: str
    server: Server
    domain: str
    #: Whether the simple pages are public (the files are protected either way).
    public_pages: bool

    def mint(self, project: str, expires: int | None) -> Held: ...
    def revoke(self, held: Held) -> None: ...
    def simple(self, project: str) -> str: ...
    def upload_path(self) -> str: ...
    def pip_index(self, raw: str) -> str: ...


def _expiry(raw: str) -> int | None:
    dates = [r for r in Token.load(raw).restrictions if isinstance(r, DateRestriction)]
    return min(r.not_after for r in dates) if dates else None


class Pypiserver:
    """``pypitoken-pypiserver run`` (waitress) on one store; tokens minted and revoked
    through its token API (``/+api-tokens``) by their owner, lara, with her password."""

    domain = "localhost"
    public_pages = False  # -a update,download,list

    def __init__(self, name: str, server: Server) -> None:
        self.name = name
        self.server = server
        self._auth = client.basic("lara", LARA_PASSWORD)

    @classmethod
    @contextlib.contextmanager
    def running(cls, name: str, work: Path, db: str) -> Iterator[Pypiserver]:
        from passlib.apache import HtpasswdFile

        secret = work / "server.secret"
        secret.write_text("a-load-test-secret-of-enough-bytes\n")
        htpasswd = HtpasswdFile(str(work / "htpasswd"), new=True, default_scheme="apr_md5_crypt")
        htpasswd.set_password("lara", LARA_PASSWORD)
        htpasswd.save()
        service = TokenService.from_url(db, secret_file=secret)
        packages = work / "packages"
        packages.mkdir()
        try:
            service.add_user("lara")
            for project in PROJECTS:
                service.add_project(project, "lara")
                make_wheel(packages, project, "0.0")
        finally:
            service.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [
            str(BIN / "pypitoken-pypiserver"), "run", "-i", "127.0.0.1", "-p", str(port),
            "-a", "update,download,list", "--disable-fallback", "--token-db", db,
            "--token-secret-file", str(secret), "-P", str(work / "htpasswd"), str(packages),
        ]  # fmt: skip
        with run_server(argv, ready_url=url + "/health", base_url=url, log=work / "log") as s:
            yield cls(name, s)

    def _api(self, method: str, path: str, body: bytes | None = None) -> client.Response:
        return client.request(
            self.server.url, method, path, auth=self._auth, body=body,
            content_type=None if body is None else "application/json",
        )  # fmt: skip

    def mint(self, project: str, expires: int | None) -> Held:
        import json

        body: dict[str, object] = {"projects": [project]}
        if expires is not None:
            body["expires"] = expires
        reply = self._api("POST", "/+api-tokens", json.dumps(body).encode())
        if reply.status != 201:
            raise RuntimeError(f"minting through pypiserver's API failed: {reply}")
        result = json.loads(reply.body)["result"]
        return Held(result["id"], result["token"], project, _expiry(result["token"]))

    def revoke(self, held: Held) -> None:
        reply = self._api("DELETE", f"/+api-tokens/{held.id}")
        if reply.status != 200:
            raise RuntimeError(f"revoking through pypiserver's API failed: {reply}")

    def simple(self, project: str) -> str:
        return f"/simple/{project}/"

    def upload_path(self) -> str:
        return "/"

    def pip_index(self, raw: str) -> str:
        return f"http://{TOKEN_USER}:{raw}@{self.server.url.split('://')[1]}/simple/"


class Devpi:
    """devpi-server with a read-protected index ``alice/load``; tokens through its API."""

    domain = "devpi"
    index = "alice/load"
    # devpi reads a request's credentials only for a permission it checks, and the index's
    # read protection (``acl_pkg_read``) guards the files: a simple page answers anyone.
    public_pages = True

    def __init__(self, server: Server, login: dict[str, str]) -> None:
        self.name = "devpi"
        self.server = server
        self._login = login

    @classmethod
    @contextlib.contextmanager
    def running(cls, work: Path) -> Iterator[Devpi]:
        from tests.e2e.devpi.conftest import PASSWORDS, devpi_init, devpi_server, make_secret
        from tests.e2e.devpi.conftest import Devpi as Driver

        secret = make_secret(work / "secret")
        devpi_init(work / "server", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
        with devpi_server(work / "server", secret, readacl=True) as server:
            driver = Driver(server, work)
            driver.create_user("alice")
            driver.create_index(cls.index, acl_pkg_read=["alice"])
            for project in PROJECTS:
                seed = driver.upload(cls.index, driver.wheel(project, "0.0"), user="alice")
                assert seed.status == 200, seed
            yield cls(server, driver.login("alice"))

    def _api(self, method: str, path: str, body: bytes | None = None) -> client.Response:
        headers = {**self._login, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn = client.connect(self.server.url)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return client.Response(resp.status, resp.reason, {}, resp.read())
        finally:
            conn.close()

    def mint(self, project: str, expires: int | None) -> Held:
        import json

        body = {"projects": [project], "indexes": [self.index]}
        if expires is not None:
            body["expires"] = expires  # type: ignore[assignment]
        reply = self._api("POST", "/alice/+api-tokens", json.dumps(body).encode())
        if reply.status != 201:
            raise RuntimeError(f"minting through devpi's API failed: {reply}")
        result = json.loads(reply.body)["result"]
        return Held(result["id"], result["token"], project, _expiry(result["token"]))

    def revoke(self, held: Held) -> None:
        reply = self._api("DELETE", f"/alice/+api-tokens/{held.id}")
        if reply.status != 200:
            raise RuntimeError(f"revoking through devpi's API failed: {reply}")

    def simple(self, project: str) -> str:
        return f"/{self.index}/+simple/{project}/"

    def upload_path(self) -> str:
        return f"/{self.index}/"

    def pip_index(self, raw: str) -> str:
        host = self.server.url.split("://")[1]
        return f"http://{TOKEN_USER}:{raw}@{host}/{self.index}/+simple/"


@dataclass
class Tally:
    """What the clients saw, shared by all of them (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    operations: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    either: int = 0
    #: File requests devpi answered 404 because they linked an upload not yet answered.
    unfinished: int = 0
    uploaded: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def note(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.operations[kind] += 1
            self.latencies[kind].append(seconds)


class Load:
    """The clients of one target, and the tokens they share."""

    def __init__(self, target: Target, work: Path, deadline: float, max_ops: int) -> None:
        self.target = target
        self.work = work
        self.deadline = deadline
        self.budget = max_ops
        self.tally = Tally()
        self.lock = threading.Lock()
        self.pool: list[Held] = []
        self.versions: Counter[str] = Counter()
        #: Wheels whose upload has been sent and not yet answered.
        self.in_flight: set[str] = set()
        self.pinned = {project: target.mint(project, None) for project in PROJECTS}
        for held in self.pinned.values():
            held.pinned = True
            self.pool.append(held)
        for project in PROJECTS:
            self.pool.append(target.mint(project, None))

    # -- the pool ------------------------------------------------------------------------

    def _take_op(self) -> bool:
        with self.lock:
            if self.budget <= 0 or time.monotonic() > self.deadline:
                return False
            self.budget -= 1
            return True

    def _next_version(self, project: str) -> str:
        with self.lock:
            self.versions[project] += 1
            return f"1.{self.versions[project]}"

    def _add(self, held: Held) -> None:
        with self.lock:
            self.pool.append(held)
            if len(self.pool) > POOL:
                now = time.time()
                for old in self.pool:
                    if old.revoked is not None or (old.expires or now + 1) < now:
                        self.pool.remove(old)
                        break
                else:
                    self.pool.pop(len(self.pinned))

    # -- one request, checked ---------------------------------------------------------

    def _send(
        self, conn: http.client.HTTPConnection, kind: str, held: Held, project: str,
        method: str, path: str, body: bytes | None = None, content_type: str | None = None,
        public: bool = False, unfinished: bool = False,
    ) -> client.Response | None:  # fmt: skip
        """Send one request with ``held``; check its answer (``public``: a page that asks
        for no credential, which must answer whatever the token; ``unfinished``: a file
        whose upload was still unanswered when this was sent)."""
        auth = client.basic(TOKEN_USER, held.raw)
        sent = (time.monotonic(), time.time())
        try:
            response = client.request(
                self.target.server.url, method, path, auth=auth, body=body,
                content_type=content_type, conn=conn,
            )  # fmt: skip
        except (OSError, http.client.HTTPException) as exc:
            with self.tally.lock:
                self.tally.errors.append(f"{kind} {path}: {type(exc).__name__}: {exc}")
            conn.close()
            return None
        done = (time.monotonic(), time.time())
        self.tally.note(kind, done[0] - sent[0])
        got = outcome(response)
        allowed = {"allow"} if public else expected(held, project, sent, done)
        with self.tally.lock:
            if unfinished and got == "status 404" and "allow" in allowed:
                # devpi commits an upload's database record before it renames the file into
                # place (keyfs's commit), so for that moment its simple page links a file
                # it answers 404 for. devpi's own race, with or without a token: counted, and
                # refused as wrong once the upload has been answered.
                self.tally.unfinished += 1
                allowed = {got}
            self.tally.outcomes[got] += 1
            if len(allowed) > 1:
                self.tally.either += 1
            if got not in allowed:
                self.tally.wrong.append(
                    f"{kind} {method} {path} with a {held.kind} token of {held.project}"
                    f" (revoked {held.revoked is not None}, expires {held.expires},"
                    f" sent at {sent[1]:.3f}): {response.status} {response.reason!r},"
                    f" expected {sorted(allowed)}"
                )
        return response

    def download(self, conn: http.client.HTTPConnection, held: Held, project: str, kind: str,
                 rng: random.Random) -> None:  # fmt: skip
        public = self.target.public_pages
        response = self._send(
            conn, kind, held, project, "GET", self.target.simple(project), public=public
        )
        if response is None or response.status != 200 or (not public and rng.random() >= 0.25):
            return
        hrefs = re.findall(rb'href="([^"]+)"', response.body)
        if not hrefs:
            with self.tally.lock:
                self.tally.errors.append(f"no link on the simple page of {project}")
            return
        base = self.target.server.url + self.target.simple(project)
        link = urllib.parse.urljoin(base, hrefs[0].decode()).split("#")[0]
        path = urllib.parse.urlsplit(link).path
        with self.lock:
            unfinished = urllib.parse.unquote(path.rsplit("/", 1)[-1]) in self.in_flight
        self._send(conn, "file", held, project, "GET", path, unfinished=unfinished)

    def upload(self, conn: http.client.HTTPConnection, held: Held, wheels: Path) -> None:
        project = held.project
        wheel = make_wheel(wheels, project, self._next_version(project))
        fields = {
            ":action": "file_upload", "protocol_version": "1", "name": project,
            "version": wheel.name.split("-")[1], "filetype": "bdist_wheel", "pyversion": "py3",
            "metadata_version": "2.1",
        }  # fmt: skip
        body, content_type = client.form_body(fields, {"content": (wheel.name, wheel.read_bytes())})
        wheel.unlink()
        with self._in_flight(wheel.name):
            response = self._send(
                conn, "upload", held, project, "POST", self.target.upload_path(), body,
                content_type,
            )  # fmt: skip
        if response is not None and response.status == 200:
            with self.tally.lock:
                self.tally.uploaded[project].add(wheel.name)

    # -- the clients ----------------------------------------------------------------------

    def client(self, number: int) -> None:
        rng = random.Random(number)
        wheels = self.work / f"client-{number}"
        wheels.mkdir()
        conn = client.connect(self.target.server.url)
        kinds, weights = list(OPERATIONS), list(OPERATIONS.values())
        try:
            while self._take_op():
                kind = rng.choices(kinds, weights)[0]
                with self.lock:
                    held = rng.choice(self.pool)
                try:
                    if kind == "download":
                        self.download(conn, held, held.project, kind, rng)
                    elif kind == "other project":
                        other = rng.choice([p for p in PROJECTS if p != held.project])
                        self.download(conn, held, other, kind, rng)
                    elif kind == "forged":
                        fake = (
                            forge(held)
                            if rng.random() < 0.5
                            else unknown(held.project, self.target.domain)
                        )
                        self.download(conn, fake, held.project, kind, rng)
                    elif kind == "upload":
                        self.upload(conn, held, wheels)
                    elif kind == "mint":
                        self._timed(
                            "mint",
                            lambda: self._add(
                                self.target.mint(
                                    rng.choice(PROJECTS), rng.choice((None,) * 4 + SHORT_LIVES)
                                )
                            ),
                        )
                    elif kind == "revoke":
                        self._revoke(rng)
                except Exception as exc:  # a client must report, never die silently
                    with self.tally.lock:
                        self.tally.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    @contextlib.contextmanager
    def _in_flight(self, name: str) -> Iterator[None]:
        with self.lock:
            self.in_flight.add(name)
        try:
            yield
        finally:
            with self.lock:
                self.in_flight.discard(name)

    def _timed(self, kind: str, action: Any) -> None:
        start = time.monotonic()
        action()
        self.tally.note(kind, time.monotonic() - start)

    def _revoke(self, rng: random.Random) -> None:
        with self.lock:
            candidates = [h for h in self.pool if not h.pinned and h.revoking is None]
            if not candidates:
                return
            held = rng.choice(candidates)
            held.revoking = time.monotonic()
        self._timed("revoke", lambda: self.target.revoke(held))
        held.revoked = time.monotonic()

    def tool(self, name: str) -> None:
        """Run the real ``pip download`` or ``twine upload`` in a loop, with pinned tokens."""
        rng = random.Random(name)
        where = self.work / name
        where.mkdir()
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "NO_COLOR": "1"}
        while self._take_op():
            held = self.pinned[rng.choice(PROJECTS)]
            if name == "pip":
                argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                        "--isolated", "--disable-pip-version-check", "--no-input", "--retries",
                        "0", "-d", str(where / uuid.uuid4().hex), "--index-url",
                        self.target.pip_index(held.raw), f"{held.project}==0.0"]  # fmt: skip
            else:
                wheel = make_wheel(where, held.project, self._next_version(held.project))
                argv = [sys.executable, "-m", "twine", "upload", "--non-interactive",
                        "--disable-progress-bar", "--repository-url",
                        self.target.server.url + self.target.upload_path(),
                        "-u", TOKEN_USER, "-p", held.raw, str(wheel)]  # fmt: skip
            start = time.monotonic()
            uploading = self._in_flight(wheel.name) if name == "twine" else contextlib.nullcontext()
            with uploading:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
            self.tally.note(name, time.monotonic() - start)
            with self.tally.lock:
                if proc.returncode != 0:
                    self.tally.wrong.append(
                        f"{name} with a pinned token failed: {(proc.stdout + proc.stderr)[-500:]}"
                    )
                elif name == "twine":
                    self.tally.uploaded[held.project].add(wheel.name)

    def lost_uploads(self) -> list[str]:
        """Uploads answered 200 that the index does not serve."""
        lost = []
        for project, names in self.tally.uploaded.items():
            auth = client.basic(TOKEN_USER, self.pinned[project].raw)
            page = client.request(self.target.server.url, "GET", self.target.simple(project),
                                  auth=auth)  # fmt: skip
            served = {
                urllib.parse.unquote(href.decode().split("#")[0].rsplit("/", 1)[-1])
                for href in re.findall(rb'href="([^"]+)"', page.body)
            }
            lost += sorted(f"{project}: {name}" for name in names - served)
        return lost


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_load(target: Target, work: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then the clients until the deadline or the budget; the figures."""
    load = Load(target, work, time.monotonic() + 1e9, 10**9)
    warm = client.connect(target.server.url)
    for held in load.pinned.values():
        load.download(warm, held, held.project, "warm-up", random.Random(0))
    warm.close()
    rss_start = rss_kib(target.server.pid)
    load.deadline = time.monotonic() + opts.seconds
    load.budget = opts.max_ops
    load.tally = Tally()
    start = time.monotonic()
    threads = [threading.Thread(target=load.tool, args=(name,)) for name in ("pip", "twine")]
    threads += [threading.Thread(target=load.client, args=(n,)) for n in range(opts.clients - 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    rss_end = rss_kib(target.server.pid)
    return {
        "name": target.name,
        "elapsed": elapsed,
        "tally": load.tally,
        "lost": load.lost_uploads(),
        "rss": (rss_start, rss_end),
    }


@contextlib.contextmanager
def postgres_url(opts: argparse.Namespace) -> Iterator[str | None]:
    if opts.pg:
        yield opts.pg
        return
    from tests.pgcluster import find_bindir, start_cluster

    bindir = find_bindir()
    if bindir is None:
        yield None
        return
    cluster = start_cluster(bindir)
    try:
        yield cluster.url(cluster.create_database())
    finally:
        cluster.stop()


def report(result: dict[str, Any]) -> bool:
    """Print one server's figures; whether everything was right."""
    tally: Tally = result["tally"]
    total = sum(tally.operations.values())
    requests = sum(tally.outcomes.values())
    rss_start, rss_end = result["rss"]
    bad_5xx = tally.outcomes["5xx"]
    print(
        f"\n{result['name']}: {total} operations ({requests} checked requests,"
        f" {requests / result['elapsed']:.0f}/s) in {result['elapsed']:.0f} s;"
        f" wrong decisions {len(tally.wrong)}, 5xx {bad_5xx}, lost uploads"
        f" {len(result['lost'])}, other errors {len(tally.errors)}; answers that raced a"
        f" change {tally.either}; links to an unfinished upload answered 404"
        f" {tally.unfinished}; RSS {rss_start / 1024:.1f} -> {rss_end / 1024:.1f} MiB"
    )
    print("  answers: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items())))
    print(f"  {'operation':<15}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for kind in sorted(tally.latencies):
        values = tally.latencies[kind]
        print(
            f"  {kind:<15}{len(values):>8}{percentile(values, 0.5) * 1e3:>10.1f}"
            f"{percentile(values, 0.99) * 1e3:>10.1f}"
        )
    everything = [v for values in tally.latencies.values() for v in values]
    if everything:
        print(
            f"  {'all':<15}{len(everything):>8}{statistics.median(everything) * 1e3:>10.1f}"
            f"{percentile(everything, 0.99) * 1e3:>10.1f}"
        )
    for line in (tally.wrong + tally.errors + result["lost"])[:20]:
        print("  !", line)
    return not (tally.wrong or tally.errors or result["lost"] or bad_5xx)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per server")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-ops", type=int, default=200_000, help="per server")
    parser.add_argument(
        "--only", default="pypiserver-sqlite,pypiserver-postgresql,devpi",
        help="comma-separated servers to run",
    )  # fmt: skip
    parser.add_argument("--pg", metavar="URL", help="an empty PostgreSQL database to use")
    parser.add_argument("--short", action="store_true", help="a few seconds per server")
    opts = parser.parse_args()
    if opts.short:
        opts.seconds, opts.max_ops = 4.0, 4000
    if opts.clients < 3:
        parser.error("--clients must be at least 3 (two run the real pip and twine)")
    for var in ("PYPITOKEN_SECRET", "PYPITOKEN_SECRET_FILE", "PYPITOKEN_DB"):
        os.environ.pop(var, None)
    logging.getLogger("passlib").setLevel(logging.ERROR)  # "(trapped) error reading bcrypt"
    wanted = opts.only.split(",")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in wanted:
            work = root / name
            work.mkdir()
            if name == "pypiserver-sqlite":
                db = f"sqlite:///{work / 'tokens.sqlite3'}"
                with Pypiserver.running(name, work, db) as target:
                    results.append(run_load(target, work, opts))
            elif name == "pypiserver-postgresql":
                with postgres_url(opts) as url:
                    if url is None:
                        print(f"\n{name}: skipped, no PostgreSQL server binaries")
                        continue
                    with Pypiserver.running(name, work, url) as target:
                        results.append(run_load(target, work, opts))
            elif name == "devpi":
                with Devpi.running(work) as target:
                    results.append(run_load(target, work, opts))
            else:
                parser.error(f"unknown server {name!r}")

    from importlib.metadata import version

    print(
        f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()};"
        f" pypiserver {version('pypiserver')}, devpi-server {version('devpi-server')};"
        f" {opts.clients} clients, {opts.seconds:.0f} s per server"
    )
    ok = all([report(result) for result in results])
    print("\ntarget (0 wrong decisions, 0 5xx, 0 lost uploads):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
