"""Many processes on one store: is every change seen by all of them on the next request?

Four gunicorn workers and a second server process (standing in for another host) on one
store, SQLite then PostgreSQL (``tests/e2e/pypiserver/cluster.py``; the e2e test
``test_many_processes.py`` runs the same set-up). While ``--clients`` threads keep every
process busy with downloads (on connections of their own, so they land on all workers),
this process, as another host's admin, repeats for ``--rounds`` rounds: mint a token,
send the next request of every process at once with it (all must be 200), revoke it,
send the next request of every process again (all must be 403 "token revoked").

It prints per store: the rounds, the stale answers (a new token refused, or a revoked
one let in: must be 0), how long the five answers took after the change returned, and
the background throughput; then the PostgreSQL / SQLite throughput ratio. Target: no
stale answer. The e2e test also checks a token minted and revoked through one process's
token API, and a trusted-publishing ``jti`` taken on one process and refused by the others.

    python benchmarks/bench_processes.py [--rounds 50] [--clients 6] [--short]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pypitoken_core.service import TokenService  # noqa: E402
from tests.e2e.pypiserver import client  # noqa: E402
from tests.e2e.pypiserver.cluster import PROJECT, Cluster, running_cluster  # noqa: E402

TOKEN_USER = "__token__"


def background(cluster: Cluster, auth: str, stop: threading.Event, counts: list[int]) -> None:
    """Download until ``stop``, alternating between gunicorn and the second server."""
    urls = [server.url for server in cluster.servers]
    conns = [client.connect(url) for url in urls]
    done = 0
    try:
        while not stop.is_set():
            which = done % len(urls)
            answer = client.request(urls[which], "GET", f"/simple/{PROJECT}/", auth=auth,
                                    conn=conns[which])  # fmt: skip
            if answer.status != 200:
                raise RuntimeError(f"background download answered {answer.status}")
            done += 1
    finally:
        counts.append(done)
        for conn in conns:
            conn.close()


def rounds(cluster: Cluster, service: TokenService, count: int) -> tuple[int, int, list[float]]:
    """Mint, ask all, revoke, ask all: (answers, stale answers, seconds to all answers)."""
    answers = stale = 0
    after: list[float] = []
    for _ in range(count):
        raw, record = service.mint("carla", projects=[PROJECT])
        auth = client.basic(TOKEN_USER, raw)
        for change, expect in ((None, (200, "OK")),
                               (record.id, (403, "Invalid API Token: token revoked"))):  # fmt: skip
            if change is not None:
                service.revoke(change)
            start = time.monotonic()
            got = cluster.ask(auth=auth)
            after.append(time.monotonic() - start)
            answers += len(got)
            stale += sum((a.status, a.reason) != expect for a in got.values())
    return answers, stale, after


@contextlib.contextmanager
def stores(work: Path, with_pg: bool) -> Iterator[list[tuple[str, str]]]:
    found = [("sqlite", f"sqlite:///{work / 'tokens.sqlite3'}")]
    if not with_pg:
        yield found
        return
    from tests.pgcluster import find_bindir, start_cluster

    bindir = find_bindir()
    if bindir is None:
        yield found
        return
    pg = start_cluster(bindir)
    try:
        yield [*found, ("postgresql", pg.url(pg.create_database()))]
    finally:
        pg.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--clients", type=int, default=6, help="background download threads")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--short", action="store_true", help="5 rounds, 2 clients")
    opts = parser.parse_args()
    if opts.short:
        opts.rounds, opts.clients = 5, 2
    for var in ("PYPITOKEN_SECRET", "PYPITOKEN_SECRET_FILE", "PYPITOKEN_DB"):
        os.environ.pop(var, None)
    logging.getLogger("passlib").setLevel(logging.ERROR)  # "(trapped) error reading bcrypt"
    results: dict[str, tuple[int, int, list[float], float]] = {}
    with tempfile.TemporaryDirectory() as tmp, stores(Path(tmp), not opts.no_pg) as found:
        for name, db in found:
            work = Path(tmp) / name
            with running_cluster(work, db) as cluster:
                service = TokenService.from_url(db, secret_file=cluster.admin.secret)
                try:
                    raw, _ = service.mint("carla", projects=[PROJECT])
                    stop = threading.Event()
                    counts: list[int] = []
                    threads = [
                        threading.Thread(
                            target=background,
                            args=(cluster, client.basic(TOKEN_USER, raw), stop, counts),
                        )
                        for _ in range(opts.clients)
                    ]
                    start = time.monotonic()
                    for thread in threads:
                        thread.start()
                    answers, stale, after = rounds(cluster, service, opts.rounds)
                    stop.set()
                    for thread in threads:
                        thread.join()
                    elapsed = time.monotonic() - start
                    if len(counts) != len(threads):
                        raise RuntimeError("a background client failed")
                    results[name] = (answers, stale, after, sum(counts) / elapsed)
                finally:
                    service.close()

    print(
        f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()}; 4"
        f" gunicorn workers (gthread) + 1 second server; {opts.rounds} rounds,"
        f" {opts.clients} background clients"
    )
    print(f"{'store':<12}{'answers':>9}{'stale':>7}{'5 answers p50 ms':>18}{'p99 ms':>8}"
          f"{'background req/s':>18}")  # fmt: skip
    for name, (answers, stale, after, rate) in results.items():
        p99 = sorted(after)[min(len(after) - 1, int(0.99 * len(after)))]
        print(f"{name:<12}{answers:>9}{stale:>7}{statistics.median(after) * 1e3:>18.1f}"
              f"{p99 * 1e3:>8.1f}{rate:>18.0f}")  # fmt: skip
    if "postgresql" in results:
        ratio = results["postgresql"][3] / results["sqlite"][3]
        print(f"background throughput, PostgreSQL / SQLite: {ratio:.2f}")
    ok = all(stale == 0 for _, stale, _, _ in results.values())
    print("target (no stale answer on any process):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
