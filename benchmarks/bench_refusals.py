"""What a forged token's refusal costs, by what its id points at (issue 8, part 3).

A forger who knows (or guesses) a token id must learn nothing from the answer: not from
its words (every refusal before the signature reads ``invalid or unknown token``), and not
from its time. Per call, single thread, in microseconds, ``TokenService.authenticate``
refusing a token with the right shape and a wrong signature whose id is:

- ``unknown``: a fresh random UUID4 each call (checked against a stand-in key);
- ``live``: a real token's id;
- ``revoked``: a revoked token's id;
- ``removed owner``: the id of a token whose owner was removed;
- ``not a uuid``: an id the store cannot hold, so never looked up (crafted ids must not
  reach a query); its sender knows that much already, so it is shown, not targeted.

each call a new forgery (a new signature), as a prober's are; and, for scale,
``genuine revoked`` (the real revoked token, which may cost what it likes: its holder
has the key). Every refusal writes its audit line (folded: an update).
Rounds are interleaved, the best round counts. Target: the ids a forger cannot tell
apart otherwise (unknown, live, revoked, removed owner) within 25% of ``live``, on SQLite
and on PostgreSQL.

    python benchmarks/bench_refusals.py [--rounds 7] [--number 1000] [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_service import per_call, postgres  # noqa: E402

from pypitoken_core import Context, Token, ValidationError  # noqa: E402
from pypitoken_core.service import INVALID_TOKEN, TokenService  # noqa: E402

TOLERANCE = 0.25
REFERENCE = "live"
TARGETED = ("unknown", "live", "revoked", "removed owner")


def forged(token_id: str) -> str:
    """A token of ``token_id`` signed with a guessed key: a new signature each time."""
    return Token.create("localhost", token_id, os.urandom(32)).dump()


def refusal(service: TokenService, raw: Callable[[], str], expected: str) -> Callable[[], None]:
    context = Context("bench-pkg", action="download")

    def call() -> None:
        try:
            service.authenticate(raw(), context)
        except ValidationError as exc:
            if str(exc) != expected:
                raise AssertionError(f"refused with {exc!s}, expected {expected}") from None
        else:
            raise AssertionError("a forged token was accepted")

    call()  # warm: connection, statements, the audit line exists
    return call


def candidates(service: TokenService, supply: int) -> dict[str, Callable[[], None]]:
    for user in ("bench", "gone"):
        if service.store.get_user(user) is None:
            service.add_user(user)
    _, live = service.mint("bench")
    raw_revoked, revoked = service.mint("bench")
    service.revoke(revoked.id)
    _, orphan = service.mint("gone")
    service.remove_user("gone")
    # Built before: a forged token's cost is the server's, not the forger's. Each call is
    # a new forgery, as a prober's are (the server keeps what it read for a token under
    # the token's own signature, so a repeated forgery costs what a repeated unknown id
    # does, and the first of each costs a read whatever its id points at).
    ids = {"unknown": None, "live": live.id, "revoked": revoked.id,
           "removed owner": orphan.id, "not a uuid": "not-a-uuid"}  # fmt: skip
    calls: dict[str, Callable[[], None]] = {}
    for name, token_id in ids.items():
        made = [forged(token_id or str(uuid.uuid4())) for _ in range(supply)]
        calls[name] = refusal(service, iter(made).__next__, INVALID_TOKEN)
    calls["genuine revoked"] = refusal(service, lambda: raw_revoked, "token revoked")
    return calls


def run(service: TokenService, rounds: int, number: int) -> dict[str, float]:
    calls = candidates(service, rounds * number + 1)
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(per_call(call, number), best.get(name, float("inf")))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=1000, help="calls per round")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL database to use")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    opts = parser.parse_args()
    for var in ("PYPITOKEN_SECRET", "PYPITOKEN_SECRET_FILE", "PYPITOKEN_DB"):
        os.environ.pop(var, None)
    # A refused forged token is logged by nobody; the audit trail records it.
    logging.getLogger("pypitoken_core").setLevel(logging.ERROR)

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres(opts) as (pg_url, pg_note):
        work = Path(tmp)
        urls = {"sqlite": f"sqlite:///{work / 'tokens.sqlite3'}"}
        if pg_url is not None:
            urls["postgresql"] = pg_url
        for store, url in urls.items():
            service = TokenService.from_url(url, secret_file=work / f"{store}.secret")
            try:
                number = opts.number if store == "sqlite" else max(100, opts.number // 4)
                results[store] = run(service, opts.rounds, number)
            finally:
                service.close()

    print(
        f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()}; "
        f"best of {opts.rounds} interleaved rounds; PostgreSQL: {pg_note}"
    )
    met = True
    for store, best in results.items():
        reference = best[REFERENCE]
        print(f"\n{store}: refusing a forged token, by what its id points at")
        print(f"{'id':<18}{'us/call':>10}{'x live':>10}")
        for name, seconds in best.items():
            ratio = seconds / reference
            print(f"{name:<18}{seconds * 1e6:>10.1f}{ratio:>10.2f}")
            if name in TARGETED and abs(ratio - 1) > TOLERANCE:
                met = False
    print(
        f"\ntarget ({', '.join(TARGETED)} within {TOLERANCE:.0%} of a live id's bad signature): "
        f"{'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
