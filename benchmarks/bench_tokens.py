"""Is the store flat in the number of tokens? 10^3 against 10^6 tokens, in one run.

Two stores per backend (SQLite, and PostgreSQL in a throwaway cluster as the tests start
one), bulk-loaded with direct SQL (a benchmark fixture, not a product path: one
``executemany`` transaction on SQLite, ``COPY`` on PostgreSQL): the small one with
``--small`` tokens, the large one with ``--large``, both with ten tokens per user (so
10^2 and 10^5 users), one project per user with its owner's role, a tenth of the tokens
revoked and a tenth expired, and one audit line per ten tokens. Then a few hundred
genuine tokens are minted through the service in each, and these are timed on both
stores, in interleaved rounds (small, large, large, small, ...), best round per
operation, microseconds per call:

- ``authenticate (kept)``: a download of the token's project; the store keeps the
  request's reads in memory and checks only that nothing changed (``store._cache``);
- ``authenticate (first use)``: the same with nothing kept (as after any change to the
  store): the indexed reads themselves;
- ``mint``, ``list a user's tokens`` (ten each), ``revoke``.

SQLite is timed in this thread's CPU time (all of its work happens here, and the machine
may be shared), PostgreSQL in wall time (its work happens in the server).

It ends with the store's size per token (the tokens table with its indexes, and the whole
store) and the ratios large / small. Target: authenticate within 1.2x on both backends.

    python benchmarks/bench_tokens.py [--small 1000] [--large 1000000] [--rounds 5]
        [--number 200] [--no-pg] [--short]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pypitoken_core import Context  # noqa: E402
from pypitoken_core.service import TokenService  # noqa: E402

TOKENS_PER_USER = 10
GENUINE = 200
TARGET = 1.2
NOW = int(time.time())


def fixture_rows(tokens: int) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """The rows of a store with ``tokens`` tokens, table by table, in insertion order."""
    users = max(1, tokens // TOKENS_PER_USER)
    rng = random.Random(tokens)
    user_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(users)]
    project_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(users)]
    yield "users", [(uid, f"user-{n}", NOW - 86400) for n, uid in enumerate(user_ids)]
    yield "projects", [(pid, f"project-{n}", NOW - 86400) for n, pid in enumerate(project_ids)]
    yield "roles", [(pid, uid, "Owner") for pid, uid in zip(project_ids, user_ids, strict=True)]
    rows = []
    for n in range(tokens):
        owner = n % users
        rows.append(
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                user_ids[owner],
                secrets.token_bytes(16),
                f"bulk token {n}",
                f"project-{owner}",
                project_ids[owner],
                "",
                "upload\ndownload",
                NOW - 86400 + n % 86400,
                NOW - 3600 if n % 10 == 1 else NOW + 86400 * 30,
                None,
                None,
                n % 10 == 0,
            )
        )
    yield "tokens", rows
    yield "events", [
        (row[8], "minted", row[0], f"user-{n % users}", f"project-{n % users}", None, "", 1,
         row[8], None)
        for n, row in enumerate(rows[:: TOKENS_PER_USER])
    ]  # fmt: skip


COLUMNS = {
    "users": "id, name, created",
    "projects": "id, name, created",
    "roles": "project_id, user_id, role",
    "tokens": "id, user_id, salt, description, projects, project_ids, indexes, actions,"
    " created, expires, not_before, last_used, revoked",
    "events": "time, event, token_id, user_name, project, action, reason, count,"
    " first_time, merge_key",
}


def bulk_load(service: TokenService, tokens: int) -> float:
    """Fill an empty store with direct SQL; seconds taken."""
    start = time.perf_counter()
    store: Any = service.store
    with store._tx() as conn:
        for table, rows in fixture_rows(tokens):
            if type(store).__name__ == "SQLiteStore":
                marks = ", ".join("?" * len(COLUMNS[table].split(",")))
                conn.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)
            else:
                with conn.cursor().copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
    with store._tx() as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - start


def sizes(service: TokenService) -> tuple[int, int]:
    """Bytes of the tokens table with its indexes, and of the whole store."""
    store: Any = service.store
    if type(store).__name__ == "SQLiteStore":
        conn = store._conns.get()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        (tokens,) = conn.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN ('tokens', 'tokens_user')"
        ).fetchone()
        return int(tokens), (pages - free) * page_size
    (tokens,) = store._read("SELECT pg_total_relation_size('tokens')", ())[0]
    (whole,) = store._read("SELECT pg_database_size(current_database())", ())[0]
    return int(tokens), int(whole)


class Bench:
    """One store with its service, its genuine tokens and its users."""

    def __init__(self, url: str, secret_file: Path, tokens: int) -> None:
        self.service = TokenService.from_url(url, secret_file=secret_file)
        # SQLite does all its work in this thread: its CPU time is the steady measure on
        # a shared machine. PostgreSQL works in its server process: wall time.
        self.clock = time.thread_time if url.startswith("sqlite") else time.perf_counter
        self.tokens = tokens
        self.load_seconds = bulk_load(self.service, tokens)
        self.users = max(1, tokens // TOKENS_PER_USER)
        rng = random.Random(1)
        self.genuine: list[tuple[str, str]] = []
        for _ in range(GENUINE):
            n = rng.randrange(self.users)
            raw, _record = self.service.mint(f"user-{n}", projects=[f"project-{n}"])
            self.genuine.append((raw, f"project-{n}"))
        self.minted: list[str] = []
        self._rng = rng
        self._turn = 0

    def _next(self) -> tuple[str, str]:
        self._turn = (self._turn + 1) % len(self.genuine)
        return self.genuine[self._turn]

    def authenticate(self) -> None:
        raw, project = self._next()
        self.service.authenticate(raw, Context(project, action="download"))

    def authenticate_first(self) -> None:
        self.service.store._cache.clear()  # type: ignore[attr-defined]
        self.authenticate()

    def mint(self) -> None:
        n = self._rng.randrange(self.users)
        _raw, record = self.service.mint(f"user-{n}", projects=[f"project-{n}"])
        self.minted.append(record.id)

    def list_tokens(self) -> None:
        self.service.list_tokens(f"user-{self._rng.randrange(self.users)}")

    def revoke(self) -> None:
        self.service.revoke(self.minted.pop())


OPERATIONS: dict[str, Callable[[Bench], None]] = {
    "authenticate (kept)": Bench.authenticate,
    "authenticate (first use)": Bench.authenticate_first,
    "mint": Bench.mint,
    "list a user's tokens": Bench.list_tokens,
    "revoke": Bench.revoke,
}


def per_call(bench: Bench, operation: Callable[[Bench], None], number: int) -> float:
    if operation is Bench.authenticate:
        for _ in range(len(bench.genuine)):  # keep them all: a mint forgot everything
            bench.authenticate()
    clock = bench.clock
    start = clock()
    for _ in range(number):
        operation(bench)
    return (clock() - start) / number


@contextlib.contextmanager
def postgres(opts: argparse.Namespace) -> Iterator[tuple[list[str], str]]:
    """Two empty PostgreSQL databases (or none) and a note saying where they came from."""
    if opts.no_pg:
        yield [], "skipped (--no-pg)"
        return
    from tests.pgcluster import find_bindir, start_cluster

    bindir = find_bindir()
    if bindir is None:
        yield [], "skipped: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
        return
    cluster = start_cluster(bindir)
    try:
        urls = [cluster.url(cluster.create_database()) for _ in range(2)]
        yield urls, f"throwaway cluster ({bindir.parent.name}, 127.0.0.1 TCP, fsync off)"
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000, help="tokens in the small store")
    parser.add_argument("--large", type=int, default=1_000_000, help="tokens in the large one")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=200, help="calls per round")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--short", action="store_true", help="a quick check: 10^3 against 2x10^4, 2 rounds"
    )
    opts = parser.parse_args()
    if opts.short:
        opts.large, opts.rounds, opts.number = 20_000, 2, 50
    for var in ("PYPITOKEN_SECRET", "PYPITOKEN_SECRET_FILE", "PYPITOKEN_DB"):
        os.environ.pop(var, None)

    results: dict[tuple[str, str, int], float] = {}
    facts: dict[tuple[str, int], tuple[float, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres(opts) as (pg_urls, pg_note):
        work = Path(tmp)
        urls = {"sqlite": [f"sqlite:///{work / f'{size}.sqlite3'}" for size in ("small", "large")]}
        if pg_urls:
            urls["postgresql"] = pg_urls
        for backend, (small_url, large_url) in urls.items():
            benches = {
                opts.small: Bench(small_url, work / f"{backend}.secret", opts.small),
                opts.large: Bench(large_url, work / f"{backend}.secret", opts.large),
            }
            for size, bench in benches.items():
                token_bytes, store_bytes = sizes(bench.service)
                facts[backend, size] = (bench.load_seconds, token_bytes, store_bytes)
            for round_ in range(opts.rounds):
                for name, operation in OPERATIONS.items():
                    # Alternate which store goes first, so neither always runs cold.
                    order = list(benches.items())[:: 1 if round_ % 2 == 0 else -1]
                    for size, bench in order:
                        seconds = per_call(bench, operation, opts.number)
                        key = (backend, name, size)
                        results[key] = min(seconds, results.get(key, float("inf")))
            for bench in benches.values():
                bench.service.close()

    print(
        f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()}; "
        f"PostgreSQL: {pg_note}; best of {opts.rounds} interleaved rounds x {opts.number}"
    )
    small, large = opts.small, opts.large
    for backend in urls:
        print(f"\n{backend}: {small} against {large} tokens ({large // TOKENS_PER_USER} users)")
        print(f"{'us/call':<26}{small:>12}{large:>12}{'large/small':>13}")
        for name in OPERATIONS:
            a, b = results[backend, name, small], results[backend, name, large]
            print(f"{name:<26}{a * 1e6:>12.1f}{b * 1e6:>12.1f}{b / a:>13.2f}")
        (_, _, store_small) = facts[backend, small]
        (load_large, tokens_large, store_large) = facts[backend, large]
        print(
            f"size: tokens table with its indexes {tokens_large / large:.0f} B/token; whole"
            f" store {(store_large - store_small) / (large - small):.0f} B per added token"
            f" (with its user, project, role and audit line); bulk load {load_large:.1f} s"
        )
    ratios = [
        results[backend, name, large] / results[backend, name, small]
        for backend in urls
        for name in ("authenticate (kept)", "authenticate (first use)")
    ]
    met = all(ratio <= TARGET for ratio in ratios)
    print(
        f"\ntarget (authenticate at {large} tokens <= {TARGET}x at {small}, on every backend):"
        f" {'met' if met else 'NOT met'} (worst {max(ratios):.2f}x)"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
