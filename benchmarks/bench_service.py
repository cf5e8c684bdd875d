"""Cost of one ``TokenService.authenticate``, against a bare ``Token.check`` and htpasswd.

One run, one process, one thread, times per call in microseconds:

- ``check``: ``Token.load(raw).check(key, ...)`` with the key already derived: the floor
  any token server pays (parse, HMAC chain, caveats);
- ``auth sqlite`` / ``auth postgresql``: ``TokenService.authenticate(raw, Context(...))``
  for a project-scoped upload token, ``pypi`` ownership (owner lookup included), warm
  store, ``last_used`` throttled as in production;
- ``htpasswd apr1`` / ``htpasswd bcrypt``: passlib's ``HtpasswdFile.check_password``, what
  pypiserver does per request with ``-P``; bcrypt at cost 5 (Apache ``htpasswd -B``).

Rounds are interleaved (every candidate once per round) and the best round counts, so a
noisy neighbour slows all candidates alike or none. Then a breakdown shows where an
authenticate call goes: each store read it makes, timed alone, and the in-memory work.

PostgreSQL: ``--pg URL`` uses that database (it must be empty or a previous bench's);
without it a throwaway cluster is started from the Debian server binaries, as the tests
do, and skipped with a note if there are none. Target: SQLite authenticate <= 3x check,
and faster than htpasswd apr1.

    python benchmarks/bench_service.py [--rounds 7] [--number 2000] [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pypitoken_core import Context, Token  # noqa: E402
from pypitoken_core.service import TokenService, derive_key  # noqa: E402

PROJECT = "bench-pkg"
PASSWORD = "bench-password"
TARGET_RATIO = 3.0


def per_call(func: Callable[[], object], number: int) -> float:
    """Seconds per call of ``func`` over ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def setup_service(url: str, secret_file: Path) -> tuple[TokenService, str, bytes, str]:
    """A service with one user, their project and a project-scoped token for it."""
    service = TokenService.from_url(url, secret_file=secret_file)
    if service.store.get_user("bench") is None:
        service.add_user("bench")
    if service.store.get_project(PROJECT) is None:
        service.add_project(PROJECT, "bench")
    raw, record = service.mint("bench", projects=[PROJECT], description="bench")
    key = derive_key(secret_file.read_bytes().strip(), record.salt)
    return service, raw, key, record.project_ids[0]


def authenticate_call(service: TokenService, raw: str) -> Callable[[], object]:
    def call() -> object:
        return service.authenticate(raw, Context(PROJECT, action="upload"))

    call()  # warm: connection opened, statements prepared, last_used written
    return call


def htpasswd_calls(work: Path) -> dict[str, Callable[[], object]]:
    from passlib.apache import HtpasswdFile
    from passlib.hash import bcrypt

    calls: dict[str, Callable[[], object]] = {}
    for scheme in ("apr1", "bcrypt"):
        path = work / f"{scheme}.htpasswd"
        ht = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
        if scheme == "bcrypt":
            ht.set_hash("bench", bcrypt.using(rounds=5).hash(PASSWORD))
        else:
            ht.set_password("bench", PASSWORD)
        ht.save()
        loaded = HtpasswdFile(str(path))
        assert loaded.check_password("bench", PASSWORD)
        calls[f"htpasswd {scheme}"] = lambda f=loaded: f.check_password("bench", PASSWORD)
    return calls


@contextlib.contextmanager
def postgres(opts: argparse.Namespace) -> Iterator[tuple[str | None, str]]:
    """A PostgreSQL URL (or None) and a note saying where it came from."""
    if opts.no_pg:
        yield None, "skipped (--no-pg)"
        return
    if opts.pg:
        yield opts.pg, "given with --pg"
        return
    from tests.pgcluster import find_bindir, start_cluster

    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield None, "skipped: psycopg is not installed (pip install 'pypitoken-core[postgres]')"
        return
    bindir = find_bindir()
    if bindir is None:
        yield None, "skipped: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
        return
    cluster = start_cluster(bindir)
    try:
        name = cluster.create_database()
        yield cluster.url(name), f"throwaway cluster ({bindir.parent.name}, 127.0.0.1 TCP)"
    finally:
        cluster.stop()


def breakdown(service: TokenService, raw: str, number: int, rounds: int) -> list[tuple[str, float]]:
    """Time each step of one authenticate call on its own (best of ``rounds``)."""
    token = Token.load(raw)
    record = service.store.get_token(token.identifier)
    assert record is not None
    user = service.store.get_user_by_id(record.user_id)
    project = service.store.get_project(PROJECT)
    assert user is not None and project is not None
    secret = service._secret  # the benchmark measures the service's own derivation
    context = Context(PROJECT, project_id=project.id, user_id=user.id, action="upload")
    store = service.store
    steps: list[tuple[str, Callable[[], object]]] = [
        # The one read authenticate makes when the use is known up front ...
        ("store.get_token_grant", lambda: store.get_token_grant(token.identifier, PROJECT)),
        # ... which answers what these four single reads would.
        ("(store.get_token)", lambda: store.get_token(token.identifier)),
        ("(store.get_user_by_id)", lambda: store.get_user_by_id(record.user_id)),
        ("(store.get_project)", lambda: store.get_project(PROJECT)),
        ("(store.get_role)", lambda: store.get_role(project.id, user.id)),
        ("Token.load", lambda: Token.load(raw)),
        ("derive_key", lambda: derive_key(secret, record.salt)),
        ("signature + caveats", lambda: token._evaluate(derive_key(secret, record.salt), context)),
        ("Context(...)", lambda: Context(PROJECT, action="upload")),
    ]
    return [(label, min(per_call(f, number) for _ in range(rounds))) for label, f in steps]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL database to use")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    opts = parser.parse_args()

    import passlib

    # passlib 1.7.4 logs a harmless traceback reading bcrypt >= 4.1's version.
    logging.getLogger("passlib.handlers.bcrypt").setLevel(logging.ERROR)
    # A developer's environment must not pick another secret or store for us.
    for var in ("PYPITOKEN_SECRET", "PYPITOKEN_SECRET_FILE", "PYPITOKEN_DB"):
        os.environ.pop(var, None)

    best: dict[str, float] = {}
    services: dict[str, tuple[TokenService, str]] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres(opts) as (pg_url, pg_note):
        work = Path(tmp)
        sqlite, raw, key, project_id = setup_service(
            f"sqlite:///{work / 'tokens.sqlite3'}", work / "sqlite.secret"
        )
        services["sqlite"] = (sqlite, raw)
        calls: dict[str, Callable[[], object]] = {
            "check": lambda: Token.load(raw).check(
                key, project_name=PROJECT, project_id=project_id, action="upload"
            ),
            "auth sqlite": authenticate_call(sqlite, raw),
        }
        if pg_url is not None:
            pg, pg_raw, _, _ = setup_service(pg_url, work / "pg.secret")
            services["postgresql"] = (pg, pg_raw)
            calls["auth postgresql"] = authenticate_call(pg, pg_raw)
        calls.update(htpasswd_calls(work))

        # bcrypt and PostgreSQL are slow per call: fewer calls, same rounds.
        numbers = {name: opts.number for name in calls}
        numbers["htpasswd bcrypt"] = max(20, opts.number // 100)
        numbers["auth postgresql"] = max(100, opts.number // 4)
        for _round in range(opts.rounds):
            for name, call in calls.items():
                seconds = per_call(call, numbers[name])
                best[name] = min(seconds, best.get(name, float("inf")))

        parts = {
            name: breakdown(svc, r, numbers[f"auth {name}"], opts.rounds)
            for name, (svc, r) in services.items()
        }
        for svc, _ in services.values():
            svc.close()

    print(
        f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()}, "
        f"passlib {passlib.__version__}; best of {opts.rounds} interleaved rounds"
    )
    print(f"PostgreSQL: {pg_note}")
    floor, apr1 = best["check"], best["htpasswd apr1"]
    print(f"{'candidate':<18}{'us/call':>10}{'x check':>10}{'x apr1':>10}")
    for name, seconds in best.items():
        print(f"{name:<18}{seconds * 1e6:>10.1f}{seconds / floor:>10.2f}{seconds / apr1:>10.3f}")
    for name, steps in parts.items():
        print(f"\nwhere auth {name} goes (each step alone, us/call):")
        for label, seconds in steps:
            print(f"  {label:<22}{seconds * 1e6:>8.1f}")
    ratio = best["auth sqlite"] / floor
    met = ratio <= TARGET_RATIO and best["auth sqlite"] < apr1
    print(
        f"\ntarget (SQLite authenticate <= {TARGET_RATIO:.0f}x check and < htpasswd apr1): "
        f"{'met' if met else 'NOT met'} ({ratio:.2f}x check, "
        f"{best['auth sqlite'] / apr1:.3f}x apr1)"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
