"""Upload latency on devpi-server: password vs pypitoken-core token vs devpi-tokens token.

One devpi-server data directory with both plugins installed (this environment's
``pypitoken-core[dev]``), user alice, volatile index alice/dev; three credentials for the
same uploads:

- ``password``: Basic ``alice:<password>`` (devpi checks the passlib argon2 hash);
- ``pypitoken``: Basic ``__token__:<token>`` minted by our plugin (scoped to the index);
- ``devpi-tokens``: Basic ``alice:<token>`` from devpi-tokens 1.1.0 (same scope).

Each upload is a multipart ``file_upload`` POST (what twine sends) of a tiny wheel of a
new project, timed on the client. Two measurements:

- first use after a restart: for each credential, start the server, let devpi answer one
  anonymous request (its own warm-up is nobody's), then time the first upload;
- steady state: one server run, one warm-up upload each, then ``--rounds`` rounds with the
  three credentials interleaved; the median per credential.

Targets: our first use >= 10x faster than devpi-tokens', steady state no slower than
password auth.

    python benchmarks/bench_devpi.py [--rounds 30] [--devpi-argon2]

``--devpi-argon2`` keeps devpi-server's default argon2 parameters for its own secret
(~6 s per start); by default they are lowered to make starts fast. Neither plugin's token
check depends on them: devpi-tokens stretches each token key with its own fixed argon2
parameters, ours derives per-token keys with one HMAC.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.metadata
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.dists import make_wheel  # noqa: E402
from tests.e2e.procs import Server, free_port, run_server  # noqa: E402

BIN = Path(sys.executable).parent
PASSWORD = "alicepw-bench"
KINDS = ("password", "pypitoken", "devpi-tokens")
FAST_ARGON2 = ["--argon2-memory-cost", "8", "--argon2-parallelism", "1", "--argon2-time-cost", "1"]


def _http(
    url: str,
    method: str = "GET",
    *,
    data: object = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> tuple[int, dict]:
    hdrs = {"Accept": "application/json", **(headers or {})}
    if auth:
        hdrs["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    if data is not None:
        body = json.dumps(data).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {}


def _upload_body(dist: Path) -> tuple[bytes, str]:
    name, version = dist.name.split("-")[:2]
    boundary = secrets.token_hex(16)
    fields = {
        ":action": "file_upload",
        "name": name,
        "version": version,
        "protocol_version": "1",
        "metadata_version": "2.1",
        "filetype": "bdist_wheel",
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
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Bench:
    def __init__(self, work: Path, devpi_argon2: bool) -> None:
        self.work = work
        self.serverdir = work / "server"
        self.secret = work / "secret" / "secret"
        self.argon2 = [] if devpi_argon2 else FAST_ARGON2
        self.creds: dict[str, tuple[str, str]] = {}
        self.versions = iter(range(1, 1_000_000))
        (work / "dists").mkdir()

    @contextlib.contextmanager
    def server(self) -> Iterator[Server]:
        port = free_port()
        argv = [
            str(BIN / "devpi-server"),
            "--serverdir",
            str(self.serverdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--secretfile",
            str(self.secret),
            *self.argon2,
        ]
        url = f"http://127.0.0.1:{port}"
        log = self.work / f"server-{port}.log"
        with run_server(argv, ready_url=f"{url}/+api", base_url=url, log=log, timeout=180) as srv:
            yield srv

    def setup(self) -> None:
        self.secret.parent.mkdir(mode=0o700)
        self.secret.write_bytes(base64.b64encode(secrets.token_bytes(32)))
        self.secret.chmod(0o600)
        subprocess.run(
            [
                str(BIN / "devpi-init"),
                "--serverdir",
                str(self.serverdir),
                "--no-root-pypi",
                "--root-passwd",
                "rootpw",
            ],
            check=True,
            capture_output=True,
        )
        with self.server() as srv:
            alice = ("alice", PASSWORD)
            assert _http(f"{srv.url}/alice", "PUT", data={"password": PASSWORD})[0] == 201
            status, _ = _http(
                f"{srv.url}/alice/dev", "PUT", auth=alice, data={"bases": [], "volatile": True}
            )
            assert status == 200
            scope = {"indexes": ["alice/dev"]}
            status, ours = _http(f"{srv.url}/alice/+api-tokens", "POST", auth=alice, data=scope)
            assert status == 201, ours
            theirs_scope = {
                **scope,
                "expires": int(time.time()) + 86400,
                "allowed": ["upload", "pkg_read"],
            }
            status, theirs = _http(
                f"{srv.url}/alice/+token-create", "POST", auth=alice, data=theirs_scope
            )
            assert status == 200, theirs
        self.creds = {
            "password": alice,
            "pypitoken": ("__token__", ours["result"]["token"]),
            "devpi-tokens": ("alice", theirs["result"]["token"]),
        }

    def upload(self, srv: Server, kind: str) -> float:
        # A new project each time: devpi's work per upload grows with a project's
        # releases, and should stay the same for every sample.
        dist = make_wheel(self.work / "dists", f"benchpkg{next(self.versions)}", "1.0")
        body, content_type = _upload_body(dist)
        started = time.perf_counter()
        status, _ = _http(
            f"{srv.url}/alice/dev/",
            "POST",
            body=body,
            auth=self.creds[kind],
            headers={"Content-Type": content_type, "Accept": "*/*"},
        )
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{kind} upload answered {status}")
        return elapsed

    def first_use(self, restarts: int) -> dict[str, float]:
        samples: dict[str, list[float]] = {k: [] for k in KINDS}
        for _ in range(restarts):
            for kind in KINDS:
                with self.server() as srv:
                    _http(f"{srv.url}/+api")  # devpi's own warm-up, paid by nobody
                    _http(f"{srv.url}/alice/dev/")
                    samples[kind].append(self.upload(srv, kind))
        return {k: statistics.median(v) for k, v in samples.items()}

    def steady(self, rounds: int) -> dict[str, float]:
        samples: dict[str, list[float]] = {k: [] for k in KINDS}
        with self.server() as srv:
            for kind in KINDS:
                self.upload(srv, kind)
            for _ in range(rounds):
                for kind in KINDS:
                    samples[kind].append(self.upload(srv, kind))
        return {k: statistics.median(v) for k, v in samples.items()}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=30,
        help="steady-state rounds (each uploads once per credential)",
    )
    parser.add_argument(
        "--restarts",
        type=int,
        default=3,
        help="server starts per credential for the first-use median",
    )
    parser.add_argument(
        "--devpi-argon2",
        action="store_true",
        help="keep devpi-server's default argon2 parameters (slow starts)",
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
    print(
        "versions: "
        + ", ".join(
            f"{d} {_version(d)}" for d in ("devpi-server", "devpi-tokens", "pypitoken-core")
        )
    )
    with tempfile.TemporaryDirectory(prefix="bench-devpi-") as tmp:
        bench = Bench(Path(tmp), args.devpi_argon2)
        bench.setup()
        first = bench.first_use(args.restarts)
        steady = bench.steady(args.rounds)
    print(
        f"\nupload latency, ms (first use after a restart: median of {args.restarts}; "
        f"steady state: median of {args.rounds})"
    )
    print(f"{'credential':<14}{'first use':>12}{'steady':>10}")
    for kind in KINDS:
        print(f"{kind:<14}{first[kind] * 1000:>12.1f}{steady[kind] * 1000:>10.1f}")
    first_ratio = first["devpi-tokens"] / first["pypitoken"]
    steady_ratio = steady["pypitoken"] / steady["password"]
    print(f"\nfirst use: devpi-tokens / pypitoken = {first_ratio:.1f}x (target >= 10x)")
    print(f"steady:    pypitoken / password     = {steady_ratio:.2f} (target <= 1.0)")
    # No per-token key stretching: a token's first use costs what any later one does.
    print(
        f"first use / steady: pypitoken {first['pypitoken'] / steady['pypitoken']:.2f}, "
        f"devpi-tokens {first['devpi-tokens'] / steady['devpi-tokens']:.2f}"
    )
    met = first_ratio >= 10 and steady_ratio <= 1.0
    print(
        f"target {'met' if met else 'NOT met'}: first use {first_ratio:.1f}x faster than "
        f"devpi-tokens, steady state {steady_ratio:.2f}x password"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
