"""Throughput of pypiserver with token auth, against a trivial auther and htpasswd.

Starts four real servers, each ``pypi-server run -a update,list,download`` under the same
WSGI server (waitress, chosen by ``--server auto``), differing only in the auther:

- ``token``: ``pypitoken-pypiserver run`` with a project-scoped token;
- ``trivial``: pypiserver's own ``main()`` with an auther that says yes to everyone;
- ``apr1`` / ``bcrypt``: plain ``pypi-server run -P`` with an htpasswd file (passlib),
  bcrypt at cost 5, Apache's ``htpasswd -B`` default.

Then, with a few client processes on keep-alive connections, it measures requests per
second for ``GET /simple/<project>/`` and for multipart uploads (``POST /``, ``-o``), in
interleaved rounds, and the server process's CPU time per request (/proc; on a small
machine shared with the clients, the steadier figure). It prints medians and the median
of the per-round ratios. A fixed request count and a time cap bound each measurement.
Target: token auth keeps >= 90% of the trivial auther's throughput and beats apr1.

    python benchmarks/bench_pypiserver.py [--rounds 5] [--requests 600] [--clients 3] [--short]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.dists import make_wheel  # noqa: E402
from tests.e2e.procs import Server, free_port, run_server  # noqa: E402
from tests.e2e.pypiserver import client  # noqa: E402

BIN = Path(sys.executable).parent
PROJECT = "bench-pkg"
AUTHERS = ("token", "trivial", "apr1", "bcrypt")
COMMON = [
    "-i",
    "127.0.0.1",
    "-a",
    "update,list,download",
    "--disable-fallback",
    "-o",
    "--log-stream",
    "none",
]


def serve_trivial(argv: list[str]) -> None:
    """``pypi-server`` itself, with an always-yes auther: the ceiling token auth aims at."""
    from pypiserver.__main__ import main
    from pypiserver.config import RunConfig

    RunConfig.get_auther = lambda self, passed: lambda username, password: True
    main(argv)


def _htpasswd(path: Path, scheme: str, password: str) -> None:
    from passlib.apache import HtpasswdFile
    from passlib.hash import bcrypt

    ht = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    if scheme == "bcrypt":
        ht.set_hash("bench", bcrypt.using(rounds=5).hash(password))
    else:
        ht.set_password("bench", password)
    ht.save()


def _mint(db: str) -> str:
    from pypitoken_core.service import TokenService

    service = TokenService.from_url(db)
    try:
        service.add_user("bench")
        service.add_project(PROJECT, owner="bench")
        raw, _record = service.mint("bench", projects=(PROJECT,), description="bench")
        return raw
    finally:
        service.close()


@contextlib.contextmanager
def start(kind: str, work: Path, wheel: Path, db: str) -> Iterator[Server]:
    packages = work / kind
    packages.mkdir()
    (packages / wheel.name).write_bytes(wheel.read_bytes())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["run", "-p", str(port), *COMMON]
    if kind == "token":
        argv = [str(BIN / "pypitoken-pypiserver"), *args, "--token-db", db]
    elif kind == "trivial":
        argv = [sys.executable, __file__, "--serve-trivial", *args]
    else:
        argv = [str(BIN / "pypi-server"), *args, "-P", str(work / f"{kind}.htpasswd")]
    with run_server(
        [*argv, str(packages)], ready_url=url + "/health", base_url=url, log=work / f"{kind}.log"
    ) as server:
        yield server


def _client(job: tuple[str, str, str, bytes | None, str | None, int, float]) -> tuple[int, int]:
    """One client process: ``count`` requests on one keep-alive connection; (ok, failed)."""
    url, method, auth, body, content_type, count, deadline = job
    conn = client.connect(url)
    ok = failed = 0
    try:
        for _ in range(count):
            if time.time() > deadline:
                break
            resp = client.request(
                url,
                method,
                "/" if body else f"/simple/{PROJECT}/",
                auth=auth,
                body=body,
                content_type=content_type,
                conn=conn,
            )
            if resp.status == 200:
                ok += 1
            else:
                failed += 1
    finally:
        conn.close()
    return ok, failed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    pool,
    server: Server,
    auth: str,
    body: bytes | None,
    content_type: str | None,
    requests: int,
    clients: int,
    cap: float,
) -> tuple[float, float]:
    """Requests per second, and server CPU microseconds per request."""
    url = server.url
    method = "POST" if body else "GET"
    _client((url, method, auth, body, content_type, 20, time.time() + cap))  # warm-up
    deadline = time.time() + cap
    per_client = requests // clients
    cpu_before = cpu_seconds(server.pid)
    start_time = time.perf_counter()
    results = pool.map(
        _client, [(url, method, auth, body, content_type, per_client, deadline)] * clients
    )
    elapsed = time.perf_counter() - start_time
    cpu = cpu_seconds(server.pid) - cpu_before
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    if failed:
        raise RuntimeError(f"{failed} of {ok + failed} requests to {url} failed")
    return ok / elapsed, cpu / ok * 1e6


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-trivial":
        serve_trivial(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600, help="per measurement")
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--short", action="store_true", help="one round of 100 requests")
    opts = parser.parse_args()
    if opts.short:
        opts.rounds, opts.requests = 1, 100

    logging.getLogger("passlib").setLevel(logging.ERROR)  # "(trapped) error reading bcrypt"
    labels = ("simple", "upload")
    rates: dict[tuple[str, str], list[float]] = {(k, lb): [] for k in AUTHERS for lb in labels}
    costs: dict[tuple[str, str], list[float]] = {(k, lb): [] for k in AUTHERS for lb in labels}
    with tempfile.TemporaryDirectory() as tmp, multiprocessing.Pool(opts.clients) as pool:
        work = Path(tmp)
        wheel = make_wheel(work, PROJECT, "1.0")
        db = f"sqlite:///{work / 'tokens.sqlite3'}"
        token = _mint(db)
        for scheme in ("apr1", "bcrypt"):
            _htpasswd(work / f"{scheme}.htpasswd", scheme, "bench-password")
        auth = {
            "token": client.basic("__token__", token),
            "trivial": client.basic("__token__", token),
            "apr1": client.basic("bench", "bench-password"),
            "bcrypt": client.basic("bench", "bench-password"),
        }
        body, content_type = client.upload_body(wheel, PROJECT, "1.0")
        payloads = {"simple": (None, None), "upload": (body, content_type)}
        with contextlib.ExitStack() as stack:
            servers = {k: stack.enter_context(start(k, work, wheel, db)) for k in AUTHERS}
            for round_ in range(opts.rounds):
                # Rotate the order so that no auther always runs first (or last) in a round.
                order = AUTHERS[round_ % len(AUTHERS) :] + AUTHERS[: round_ % len(AUTHERS)]
                for label in labels:
                    for kind in order:
                        rate, cost = measure(
                            pool,
                            servers[kind],
                            auth[kind],
                            *payloads[label],
                            opts.requests,
                            opts.clients,
                            opts.cap,
                        )
                        rates[kind, label].append(rate)
                        costs[kind, label].append(cost)

    # Other jobs on a small machine move every figure; authers measured in the same round
    # saw the same load, so ratios are taken per round, then the median of those is shown.
    def ratio(kind: str, label: str) -> float:
        pairs = zip(rates["token", label], rates[kind, label], strict=True)
        return statistics.median(t / o for t, o in pairs)

    def cpu_ratio(kind: str, label: str) -> float:
        pairs = zip(costs["token", label], costs[kind, label], strict=True)
        return statistics.median(o / t for t, o in pairs)

    print(
        f"pypiserver {version('pypiserver')}, waitress {version('waitress')}, "
        f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()}, "
        f"{opts.clients} keep-alive clients, {opts.rounds} rounds x {opts.requests} requests "
        "(medians)"
    )
    print(
        f"{'auther':<9}{'GET /simple/<p>/ req/s':>23}{'server CPU us/req':>19}"
        f"{'upload req/s':>14}{'server CPU us/req':>19}"
    )
    for kind in AUTHERS:
        row = [statistics.median(d[kind, lb]) for lb in labels for d in (rates, costs)]
        print(f"{kind:<9}{row[0]:>23.0f}{row[1]:>19.0f}{row[2]:>14.0f}{row[3]:>19.0f}")
    for label in labels:
        ratios = ", ".join(f"token/{k} {ratio(k, label):.2f}" for k in AUTHERS[1:])
        print(f"{label} throughput: {ratios}")
        # What a CPU-bound server would get: the inverse ratio of server CPU per request.
        cpu_ratios = ", ".join(f"token/{k} {cpu_ratio(k, label):.2f}" for k in AUTHERS[1:])
        print(f"{label} by server CPU/request: {cpu_ratios}")
    ok = all(ratio("trivial", lb) >= 0.9 and ratio("apr1", lb) > 1 for lb in labels)
    print("target (token >= 0.90 x trivial and > apr1):", "met" if ok else "NOT met")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
