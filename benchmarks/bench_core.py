"""Speed of the core token library: ours, pypitoken 7.1.1 and the floor, in one run.

For tokens with 0, 1 and 4 restrictions (none; project names; date + project names +
project ids + user id, as in formats.md section 3) it times, in µs per operation:

- ``load``: ``Token.load(text)``;
- ``check``: ``token.check(key, ...)`` on a token already loaded, with a context that
  satisfies every restriction (so the whole path runs);
- ``load+check``: both, from the string, the way a server sees a token;
- ``create+restrict+dump``: mint a token, add the restrictions, write the string.

The floor is what no implementation can skip, written with the stdlib alone:

- ``check`` and ``load+check``: the HMAC-SHA256 chain (``hmac.digest``) over the
  identifier and caveats, already split out, a ``hmac.compare_digest``, and ``json.loads``
  of each caveat. Decoding the string is *not* in it, so the ``load+check`` ratio is the
  strict one;
- ``load``: base64url-decoding the body;
- ``create+restrict+dump``: ``json.dumps`` of each caveat, the HMAC chain, and base64url
  of the concatenated parts.

Target (issue): on the 4-restriction ``load+check``, at least 100x faster than pypitoken
and at most 2x the floor.

Last, the cost of refusing an oversized token: ``Token.load`` of a 10 MB string, ours
against pypitoken's (the test suite checks the reason, "longer than 8192 characters";
this measures that the refusal comes before any decoding: microseconds, not the tens of
milliseconds that decoding 10 MB costs). Every figure is the best of ``--repeat`` runs of at least
``--min-time`` seconds each; implementations are interleaved inside each repeat so that a
noisy neighbour hits all of them alike.

    python benchmarks/bench_core.py [--repeat 25] [--min-time 0.05] [--quick]
"""

from __future__ import annotations

import argparse
import binascii
import hmac
import importlib.metadata
import json
import os
import platform
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pypitoken

import pypitoken_core
from pypitoken_core import _macaroon

KEY = "a" * 64
DOMAIN = "pypi.org"
IDENTIFIER = "3b4f8c2e-5d6a-4e7b-9c1d-2f3a4b5c6d7e"
PROJECT_ID = "8b1d4a3c-7f58-4b5c-9d0e-2f3a4b5c6d7e"
USER_ID = "0f2e4d6c-8b0a-4c2e-8f1a-3b5c7d9e1f20"
NOW = 1_700_000_000

RESTRICTIONS: dict[int, dict[str, object]] = {
    0: {},
    1: {"project_names": ["my-project"]},
    4: {
        "not_before": NOW - 3600,
        "not_after": NOW + 3600,
        "project_names": ["my-project"],
        "project_ids": [PROJECT_ID],
        "user_id": USER_ID,
    },
}
CONTEXT = {"project_name": "my-project", "project_id": PROJECT_ID, "user_id": USER_ID, "now": NOW}
OPS = ("load", "check", "load+check", "create+restrict+dump")
IMPLS = ("ours", "pypitoken", "floor")


def floor_ops(text: str, kwargs: dict[str, object]) -> dict[str, Callable[[], object]]:
    """The stdlib-only floor for each operation (see the module docstring)."""
    body = text.partition("-")[2]
    padded = body.encode() + b"=" * (-len(body) % 4)
    raw = _macaroon.decode(_macaroon.b64decode(body))
    identifier, caveats, signature = raw.identifier, raw.caveats, raw.signature
    key = KEY.encode()
    digest, compare, loads, dumps = hmac.digest, hmac.compare_digest, json.loads, json.dumps
    a2b, b2a = binascii.a2b_base64, binascii.b2a_base64
    dumped = [
        r.dump()
        for r in pypitoken_core.Token.create(DOMAIN, IDENTIFIER, KEY)
        .restrict(**kwargs)
        .restrictions
    ]

    def load() -> object:
        return a2b(padded.replace(b"-", b"+").replace(b"_", b"/"))

    def check() -> object:
        sig = digest(digest(b"macaroons-key-generator", key, "sha256"), identifier, "sha256")
        for caveat in caveats:
            sig = digest(sig, caveat, "sha256")
        ok = compare(sig, signature)
        for caveat in caveats:
            loads(caveat)
        return ok

    def create() -> object:
        sig = digest(digest(b"macaroons-key-generator", key, "sha256"), identifier, "sha256")
        parts = [identifier]
        for value in dumped:
            caveat = dumps(value).encode()
            sig = digest(sig, caveat, "sha256")
            parts.append(caveat)
        parts.append(sig)
        return b2a(b"".join(parts), newline=False)

    return {"load": load, "check": check, "load+check": check, "create+restrict+dump": create}


def impl_ops(
    module: object, text: str, kwargs: dict[str, object]
) -> dict[str, Callable[[], object]]:
    token_class = module.Token  # type: ignore[attr-defined]
    loaded = token_class.load(text)
    loaded.check(KEY, **CONTEXT)  # must pass, so that the whole path is timed

    def load() -> object:
        return token_class.load(text)

    def check() -> object:
        return loaded.check(KEY, **CONTEXT)

    def load_check() -> object:
        return token_class.load(text).check(KEY, **CONTEXT)

    def create() -> object:
        return token_class.create(DOMAIN, IDENTIFIER, KEY).restrict(**kwargs).dump()

    assert create() == text, "both implementations must write the same bytes"
    return {"load": load, "check": check, "load+check": load_check, "create+restrict+dump": create}


#: An oversized token: the size limit must refuse it before anything reads it.
HUGE = "pypi-" + "A" * 10_000_000


def refuse_huge(module: object) -> Callable[[], object]:
    """``Token.load`` of :data:`HUGE`, which must raise the module's LoaderError."""
    token_class, loader_error = module.Token, module.LoaderError  # type: ignore[attr-defined]

    def load() -> object:
        try:
            token_class.load(HUGE)
        except loader_error as exc:
            return exc
        raise AssertionError("a 10 MB token loaded")

    return load


def oversized(repeat: int) -> tuple[float, float]:
    """µs to refuse :data:`HUGE`: ours (best of ``repeat`` x 1000 calls), pypitoken's."""
    ours = min(timeit.repeat(refuse_huge(pypitoken_core), number=1000, repeat=repeat)) / 1000
    theirs = min(timeit.repeat(refuse_huge(pypitoken), number=1, repeat=min(repeat, 5)))
    return ours * 1e6, theirs * 1e6


def loops_for(func: Callable[[], object], min_time: float) -> int:
    number = 1
    while True:
        if timeit.timeit(func, number=number) >= min_time / 4:
            elapsed = max(timeit.timeit(func, number=number), 1e-9)
            return max(1, int(number * 4 * min_time / elapsed))
        number *= 4


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = importlib.metadata.version
    return [
        f"machine: {platform.machine()} {platform.system()}, nproc {os.cpu_count()}, CPU {model}",
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"pymacaroons {version('pymacaroons')}, pypitoken {version('pypitoken')}, "
        f"jsonschema {version('jsonschema')}, pypitoken-core {version('pypitoken-core')}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per repeat")
    parser.add_argument("--quick", action="store_true", help="5 repeats of 0.02 s")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.min_time = 5, 0.02

    for line in machine():
        print(line)
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"best of {args.repeat} repeats of >= {args.min_time} s; µs per operation\n")

    best: dict[tuple[str, int, str], float] = {}
    for n, kwargs in RESTRICTIONS.items():
        text = pypitoken.Token.create(DOMAIN, IDENTIFIER, KEY).restrict(**kwargs).dump()
        funcs = {
            "ours": impl_ops(pypitoken_core, text, kwargs),
            "pypitoken": impl_ops(pypitoken, text, kwargs),
            "floor": floor_ops(text, kwargs),
        }
        loops = {
            (impl, op): loops_for(funcs[impl][op], args.min_time) for impl in IMPLS for op in OPS
        }
        for _ in range(args.repeat):
            for op in OPS:
                for impl in IMPLS:
                    func, number = funcs[impl][op], loops[impl, op]
                    per_op = timeit.timeit(func, number=number) / number * 1e6
                    key = (op, n, impl)
                    best[key] = min(best.get(key, per_op), per_op)

    header = (
        f"{'op':<22}{'restr':>6}{'ours':>10}{'pypitoken':>12}{'floor':>9}"
        f"{'pypitoken/ours':>16}{'ours/floor':>12}"
    )
    print(header)
    print("-" * len(header))
    for op in OPS:
        for n in RESTRICTIONS:
            ours, theirs, floor = (best[op, n, impl] for impl in IMPLS)
            print(
                f"{op:<22}{n:>6}{ours:>10.1f}{theirs:>12.1f}{floor:>9.1f}"
                f"{theirs / ours:>15.0f}x{ours / floor:>11.2f}x"
            )

    ours, theirs, floor = (best["load+check", 4, impl] for impl in IMPLS)
    speedup, overhead = theirs / ours, ours / floor
    verdict = "MET" if speedup >= 100 and overhead <= 2 else "MISSED"
    print("\nload average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(
        f"target, 4-restriction load+check: >= 100x pypitoken and <= 2x floor: "
        f"{speedup:.0f}x and {overhead:.2f}x -> {verdict}"
    )
    ours_huge, theirs_huge = oversized(args.repeat)
    print(
        f"refusing a 10 MB token (Token.load): ours {ours_huge:.2f} µs, pypitoken "
        f"{theirs_huge:.0f} µs, pypitoken/ours {theirs_huge / ours_huge:.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
