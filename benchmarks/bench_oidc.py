"""Cost of the trusted-publishing exchange, beside a plain token authenticate.

One run, one process, one thread, times per call in microseconds, on a SQLite store:

- ``verify RS256`` / ``verify ES256``: ``Verifier.verify`` of a GitHub Actions-shaped OIDC
  token with the issuer's keys cached (size and shape checks, the issuer lookup in the
  store, PyJWT's signature and claim checks);
- ``exchange``: ``Endpoints.mint(body)`` end to end for a fresh OIDC token each call:
  verify, find and match the publisher, check the jti, mint (a token record and its audit
  line), take the jti;
- ``authenticate``: ``TokenService.authenticate`` of the minted upload token for its
  project, what every upload with it then costs.

The issuer is a local one (tests/oidc_issuer.py: real RSA 2048 and EC P-256 keys, its
JWKS over HTTP on 127.0.0.1), fetched once before timing. Rounds are interleaved and the
best round counts. Target: the exchange under 5 ms (it happens once per CI job, beside
an upload that takes longer), verification under 1 ms.

    python benchmarks/bench_oidc.py [--rounds 5] [--number 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jwt  # noqa: E402

from pypitoken_core import Context  # noqa: E402
from pypitoken_core.oidc import TrustedPublishingSettings  # noqa: E402
from pypitoken_core.service import TokenService  # noqa: E402
from tests.oidc_issuer import Issuer  # noqa: E402

AUDIENCE = "pypi.example.com"
TARGET_EXCHANGE_MS = 5.0
TARGET_VERIFY_MS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=300)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, PyJWT {jwt.__version__},"
          f" {platform.machine()}, {platform.system()}")  # fmt: skip
    issuer = Issuer()
    with tempfile.TemporaryDirectory() as tmp:
        service = TokenService.from_url(
            f"sqlite:///{tmp}/bench.sqlite3", secret_file=Path(tmp) / "secret", domain=AUDIENCE
        )
        service.add_user("alice")
        service.add_project("bench-pkg", owner="alice")
        service.add_publisher(
            "github",
            {"repository": "octo-org/octo-repo", "workflow": "release.yml",
             "environment": "release", "owner_id": "123456", "issuer": issuer.url},
            projects=["bench-pkg"], user="alice",
        )  # fmt: skip
        endpoints = service.trusted_publishing(TrustedPublishingSettings())
        verifier = endpoints.verifier
        rsa_token = issuer.sign(issuer.github_claims(AUDIENCE))
        ec_token = issuer.sign(issuer.github_claims(AUDIENCE), "ec-1")
        verifier.verify(rsa_token)  # fetches and caches the keys
        verifier.verify(ec_token)
        raw = endpoints.mint(json.dumps({"token": rsa_token}).encode()).body["token"]
        # Fresh OIDC tokens for the exchange, signed beforehand: signing is the CI's cost.
        bodies = [
            json.dumps({"token": issuer.sign(issuer.github_claims(AUDIENCE))}).encode()
            for _ in range(args.rounds * args.number)
        ]
        feed = iter(bodies)

        def exchange() -> None:
            response = endpoints.mint(next(feed))
            if response.status != 200:
                raise SystemExit(f"the exchange failed: {response.body}")

        def authenticate() -> None:
            service.authenticate(raw, Context(project_name="bench-pkg", action="upload"))

        candidates: dict[str, Callable[[], object]] = {
            "verify RS256": lambda: verifier.verify(rsa_token),
            "verify ES256": lambda: verifier.verify(ec_token),
            "exchange": exchange,
            "authenticate": authenticate,
        }
        best = dict.fromkeys(candidates, float("inf"))
        for _ in range(args.rounds):
            for name, func in candidates.items():
                start = time.perf_counter()
                for _ in range(args.number):
                    func()
                best[name] = min(best[name], (time.perf_counter() - start) / args.number)
        service.close()
    issuer.stop()
    base = best["authenticate"]
    print("\n| candidate     | µs/call | x authenticate |\n|---|--:|--:|")
    for name, seconds in best.items():
        print(f"| {name:<13} | {seconds * 1e6:7.1f} | {seconds / base:14.2f} |")
    verify_ms = max(best["verify RS256"], best["verify ES256"]) * 1e3
    exchange_ms = best["exchange"] * 1e3
    met = exchange_ms <= TARGET_EXCHANGE_MS and verify_ms <= TARGET_VERIFY_MS
    print(
        f"\nexchange {exchange_ms:.2f} ms (target <= {TARGET_EXCHANGE_MS} ms), verification"
        f" {verify_ms:.3f} ms (target <= {TARGET_VERIFY_MS} ms): target"
        f" {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
