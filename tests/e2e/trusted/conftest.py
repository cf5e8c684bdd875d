"""Fixtures of the trusted-publishing end-to-end tests: the issuer, clients, dists.

Real, unmodified clients (uv, pdm, twine) run as subprocesses in a simulated GitHub
Actions job (:func:`tests.e2e.trusted.tls.client_env`) against a real index behind nginx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.dists import make_wheel
from tests.e2e.procs import exe
from tests.e2e.trusted.tls import ConnectProxy, Front, client_env
from tests.oidc_issuer import Issuer

PROJECT = "tp-demo"


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a client to completion (never raises for its exit status)."""
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str

    @property
    def code(self) -> str:
        """The error code of a problem document (twine's ``errors[0].code``)."""
        assert self.content_type == "application/problem+json", self
        assert self.body["status"] == self.status and self.body["message"], self
        return str(self.body["errors"][0]["code"])


def http(url: str, body: bytes | None = None, *, ca: Path | None = None) -> Answer:
    """GET (or POST ``body``) ``url``; never raises for a status."""
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), exc.headers
    content_type = headers.get("Content-Type", "")
    parsed = json.loads(raw) if raw and "json" in content_type else raw.decode(errors="replace")
    return Answer(status, parsed, content_type)


def exchange(base: str, jwt: str, ca: Path | None = None) -> Answer:
    """POST ``{"token": jwt}`` to ``base``/_/oidc/mint-token."""
    return http(f"{base}/_/oidc/mint-token", json.dumps({"token": jwt}).encode(), ca=ca)


def ci_token(issuer: Issuer, base: str, ca: Path | None = None, **changes: Any) -> str:
    """What a job's OIDC request gives for the index at ``base`` (its audience), as
    clients do it; ``changes`` alter the claims."""
    audience = http(f"{base}/_/oidc/audience", ca=ca).body["audience"]
    return issuer.sign(issuer.github_claims(audience, **changes))


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def hostile_tokens(issuer: Issuer, audience: str) -> list[tuple[str, str, str, str]]:
    """The issue's refusal list as CI tokens for the index of ``audience``, each with the
    code and (the start of) the description it must be refused with: ``(name, jwt,
    code, description)``. Every one is a 422; the publisher is octo-org/octo-repo's
    release.yml in environment release, owner id 123456, trusting ``issuer``."""
    claims = issuer.github_claims(audience)
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    signing_input = _unsigned(issuer.github_claims(audience), header)[:-1]
    public = (
        issuer.keys["rsa-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    hs256 = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    wrong_workflow = "octo-org/octo-repo/.github/workflows/ci.yml@refs/tags/v1.0.0"

    def signed(**changes: Any) -> str:
        return issuer.sign(issuer.github_claims(audience, **changes))

    no_publisher = "valid token, but no corresponding publisher"
    return [
        ("alg none", _unsigned(claims, {"alg": "none", "kid": "rsa-1"}), "invalid-token",
         "algorithm 'none' is not allowed"),
        ("HS256 with the public key", hs256, "invalid-token", "algorithm 'HS256' is not allowed"),
        ("a key not in the JWKS", issuer.sign(claims, "rsa-1", key=stranger), "invalid-token",
         "the signature does not verify with the issuer's key"),
        ("an unknown kid", issuer.sign(claims, "rsa-9", key=stranger), "invalid-token",
         f"the issuer {issuer.url} has no key 'rsa-9'"),
        ("wrong iss", signed(iss="https://token.actions.githubusercontent.com"),
         "invalid-payload", "unknown trusted publishing issuer"),
        ("wrong aud", signed(aud="another-index.example.com"), "invalid-token",
         f"the token's audience is not '{audience}'"),
        ("expired", signed(exp=now - 60, iat=now - 400, nbf=now - 400), "invalid-token",
         "the token has expired"),
        ("nbf in the future", signed(nbf=now + 120), "invalid-token",
         "the token is not valid yet"),
        ("another repository", signed(repository="octo-org/fork"), "invalid-publisher",
         no_publisher),
        ("another workflow", signed(job_workflow_ref=wrong_workflow), "invalid-publisher",
         f"{no_publisher} (workflow '{wrong_workflow}' is not"),
        ("another environment", signed(environment="staging"), "invalid-publisher",
         f"{no_publisher} (environment 'staging' is not 'release')"),
        ("another owner id", signed(repository_owner_id="999"), "invalid-publisher",
         f"{no_publisher} (repository owner id '999' is not '123456'"),
        ("a claim of the wrong type", signed(repository_owner_id=123456), "invalid-publisher",
         f"{no_publisher} (claim 'repository_owner_id' must be a string, not int)"),
        ("a registered claim of the wrong type", signed(exp="later"), "invalid-token",
         "DecodeError: Expiration Time claim (exp) must be an integer."),
    ]  # fmt: skip


class Clients:
    """The three clients, each publishing a wheel of :data:`PROJECT` in its own job."""

    def __init__(self, issuer: Issuer, front: Front, work: Path) -> None:
        self.issuer, self.front, self.work = issuer, front, work

    def wheel(self, version: str, name: str = PROJECT) -> Path:
        where = self.work / f"{name}-{version}"
        (where / "dist").mkdir(parents=True, exist_ok=True)
        (where / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        )
        return make_wheel(where / "dist", name, version)

    def uv(self, upload_path: str, wheel: Path) -> subprocess.CompletedProcess[str]:
        env = client_env(self.issuer, self.work / "home-uv", SSL_CERT_FILE=str(self.front.ca))
        argv = [exe("uv"), "publish", "--trusted-publishing", "always",
                "--publish-url", f"{self.front.url}{upload_path}", str(wheel)]  # fmt: skip
        return run(argv, env, wheel.parent)

    def pdm(self, upload_path: str, wheel: Path) -> subprocess.CompletedProcess[str]:
        env = client_env(self.issuer, self.work / "home-pdm", PDM_CHECK_UPDATE="false")
        argv = [exe("pdm"), "publish", "--no-build", "-r", f"{self.front.url}{upload_path}",
                "--ca-certs", str(self.front.ca)]  # fmt: skip
        return run(argv, env, wheel.parent.parent)

    def twine(self, proxy: ConnectProxy, wheel: Path) -> subprocess.CompletedProcess[str]:
        """twine 7 as in a GitHub Actions job uploading to pypi.org: no URL, no password.
        The proxy sends its upload.pypi.org to our index."""
        env = client_env(
            self.issuer, self.work / "home-twine",
            REQUESTS_CA_BUNDLE=str(self.front.ca), HTTPS_PROXY=proxy.url, https_proxy=proxy.url,
        )  # fmt: skip
        argv = [sys.executable, "-m", "twine", "upload", "--non-interactive",
                "--disable-progress-bar", str(wheel)]  # fmt: skip
        return run(argv, env, wheel.parent)


@pytest.fixture(scope="session", autouse=True)
def _nginx_installed() -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (Debian: apt-get install nginx)")
