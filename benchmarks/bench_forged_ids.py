"""What a forged token's refusal costs over HTTP, by what its id points at (issue 8, H2/H3).

The red team's second round measured, on real servers, medians over many requests of a
forged token (right shape, wrong key) by the kind of id it carries, and found on devpi an
id oracle: with ``<owner>:<token>`` an unknown id fell through to devpi's password check
while a known one was refused (different answers, ~12% apart in time), and on pypiserver
unknown ids ~3% faster than known ones. This script repeats that measurement against a
real devpi-server with the plugin and a real ``pypitoken-pypiserver``:

- ids: ``unknown`` (a fresh UUID4 per request), ``unknown fixed`` (one UUID4), ``live``
  (a real token's id), ``revoked``, ``removed owner``;
- devpi: ``GET /+api`` as ``__token__:<forged>`` and as ``alice:<forged>`` (the form of
  the oracle); pypiserver (``-a update,download,list``): ``GET /simple/`` as
  ``__token__:<forged>``.

Requests of all kinds are shuffled together on one keep-alive connection (the forged
tokens are made before timing). It prints, per server and form, every answer seen per id
kind (they must all be the same refusal), the median, p25 and p75 latency in ms, and each
median over ``live``'s. Target: every kind's median within 5% of live's.

    python benchmarks/bench_forged_ids.py [--requests 400]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pypitoken_core import Token  # noqa: E402
from tests.e2e.devpi.conftest import PASSWORDS as DEVPI_PASSWORDS  # noqa: E402
from tests.e2e.devpi.conftest import (  # noqa: E402
    Devpi,
    basic,
    devpi_init,
    devpi_server,
    make_secret,
)
from tests.e2e.pypiserver.conftest import pypiserver_running  # noqa: E402

TOLERANCE = 0.05
KINDS = ("unknown", "unknown fixed", "live", "revoked", "removed owner")


def forge(token_id: str, location: str) -> str:
    return Token.create(location, token_id, secrets.token_bytes(32)).dump()


def measure(
    url: str, path: str, user: str, ids: dict[str, Callable[[], str]], location: str, n: int
) -> tuple[dict[str, list[float]], dict[str, set[str]]]:
    """Latency samples and answers per id kind, the kinds shuffled together."""
    order = [kind for kind in ids for _ in range(n)]
    random.shuffle(order)
    requests = [(kind, forge(ids[kind](), location)) for kind in order]
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times: dict[str, list[float]] = {kind: [] for kind in ids}
    answers: dict[str, set[str]] = {kind: set() for kind in ids}
    try:
        for _ in range(20):  # warm: connection, caches
            conn.request("GET", path, headers=basic(user, requests[0][1]))
            conn.getresponse().read()
        for kind, token in requests:
            headers = {"Accept": "application/json", **basic(user, token)}
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            times[kind].append(time.perf_counter() - started)
            answers[kind].add(f"{response.status} {response.reason}")
    finally:
        conn.close()
    return times, answers


def report(title: str, times: dict[str, list[float]], answers: dict[str, set[str]]) -> bool:
    live = statistics.median(times["live"])
    print(f"\n{title}")
    print(f"{'id':<15}{'median ms':>10}{'p25':>8}{'p75':>8}{'x live':>8}  answers")
    met = True
    for kind, samples in times.items():
        samples.sort()
        median = statistics.median(samples)
        ratio = median / live
        met &= abs(ratio - 1) <= TOLERANCE
        q1, q3 = samples[len(samples) // 4], samples[3 * len(samples) // 4]
        print(
            f"{kind:<15}{median * 1e3:>10.3f}{q1 * 1e3:>8.3f}{q3 * 1e3:>8.3f}{ratio:>8.2f}"
            f"  {sorted(answers[kind])}"
        )
    same = len({frozenset(a) for a in answers.values()}) == 1
    print(f"one answer for every id kind: {'yes' if same else 'NO'}")
    return met and same


def devpi(work: Path, n: int) -> bool:
    secret = make_secret(work / "secret")
    devpi_init(work / "server", "--no-root-pypi", "--root-passwd", DEVPI_PASSWORDS["root"])
    with devpi_server(work / "server", secret) as server:
        d = Devpi(server, work)
        d.create_user("alice")
        d.create_user("bob")
        live, _ = d.mint("alice")
        revoked, _ = d.mint("alice")
        assert d.api("DELETE", f"/alice/+api-tokens/{revoked}", user="alice").status == 200
        orphan, _ = d.mint("bob")
        assert d.api("DELETE", "/bob", user="bob").status == 200
        fixed = str(uuid.uuid4())
        ids = {
            "unknown": lambda: str(uuid.uuid4()),
            "unknown fixed": lambda: fixed,
            "live": lambda: live,
            "revoked": lambda: revoked,
            "removed owner": lambda: orphan,
        }
        met = True
        for user in ("__token__", "alice"):
            times, answers = measure(d.url, "/+api", user, ids, "devpi", n)
            met &= report(f"devpi-server, GET /+api as {user}:<forged>", times, answers)
        return met


def pypiserver(work: Path, n: int) -> bool:
    with pypiserver_running(work, "-a", "update,download,list", users=["dora", "gone"]) as idx:
        live = idx.admin.token_id(idx.admin.mint("dora"))
        revoked = idx.admin.token_id(idx.admin.mint("dora"))
        idx.admin("token", "revoke", revoked)
        orphan = idx.admin.token_id(idx.admin.mint("gone"))
        idx.admin("user", "remove", "gone")
        fixed = str(uuid.uuid4())
        ids = {
            "unknown": lambda: str(uuid.uuid4()),
            "unknown fixed": lambda: fixed,
            "live": lambda: live,
            "revoked": lambda: revoked,
            "removed owner": lambda: orphan,
        }
        times, answers = measure(idx.url, "/simple/", "__token__", ids, "localhost", n)
        return report("pypiserver, GET /simple/ as __token__:<forged>", times, answers)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per id kind")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    print("versions: " + ", ".join(
        f"{d} {_version(d)}" for d in ("devpi-server", "pypiserver", "pypitoken-core")
    ))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-forged-ids-") as tmp:
        met = devpi(Path(tmp) / "devpi", args.requests)
        met &= pypiserver(Path(tmp) / "pypiserver", args.requests)
    print(f"\ntarget {'met' if met else 'NOT met'}: every id kind within "
          f"{TOLERANCE:.0%} of live, one answer for all")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
