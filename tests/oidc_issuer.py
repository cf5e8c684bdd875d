"""A local OIDC issuer: what GitHub Actions (or GitLab) is to an index, on 127.0.0.1.

Real keys (RSA 2048 ``rsa-1`` and EC P-256 ``ec-1``), an OIDC discovery document and a
JWKS served over HTTP on the loopback (which the index accepts as an issuer only because
it is the loopback), and a GitHub-Actions-compatible token endpoint: what
``ACTIONS_ID_TOKEN_REQUEST_URL`` points to, answering ``GET ?audience=<aud>`` with a
bearer token by ``{"count": 1, "value": "<JWT>"}``. The JWTs carry GitHub's claim set
(or GitLab's, see :attr:`Issuer.flavour`) with ``aud`` a plain string, as the ``id``
package requires. The server runs in a thread of the test process and is stopped by
:meth:`Issuer.stop`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["CI_BEARER", "Issuer"]

#: What ACTIONS_ID_TOKEN_REQUEST_TOKEN is in the simulated GitHub Actions runs.
CI_BEARER = "ci-request-token"
SHA = "a" * 40


class Issuer:
    """The issuer (see module docstring). ``url`` is the ``iss`` of its tokens."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.published = ["rsa-1", "ec-1"]
        #: "github" or "gitlab": the claim set the token endpoint issues.
        self.flavour = "github"
        #: Claims the token endpoint changes in (or, with value None, removes from) the
        #: next tokens it issues.
        self.overrides: dict[str, Any] = {}
        self.jwks_fetches = 0
        self.requests: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                parts = urllib.parse.urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._send(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"})
                elif parts.path == "/jwks":
                    issuer.jwks_fetches += 1
                    self._send(200, issuer.jwks())
                elif parts.path == "/token":
                    if self.headers.get("Authorization", "").lower() != f"bearer {CI_BEARER}":
                        self._send(401, {"message": "bad bearer"})
                        return
                    audience = urllib.parse.parse_qs(parts.query).get("audience", [None])[0]
                    claims = issuer.ci_claims(audience)
                    self._send(200, {"count": 1, "value": issuer.sign(claims)})
                else:
                    self._send(404, {"message": "not found"})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        #: What ACTIONS_ID_TOKEN_REQUEST_URL is (GitHub's has an api-version query too).
        self.token_url = f"{self.url}/token?api-version=2.0"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (the port then refuses connections: an unreachable issuer)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # -- keys and signing -----------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The published keys as a JWKS document."""
        return {"keys": [self._public_jwk(kid) for kid in self.published]}

    def _public_jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            data.update(alg="RS256")
        else:
            data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            data.update(alg="ES256")
        data.update(kid=kid, use="sig")
        return data

    def add_key(self, kid: str) -> None:
        """Generate a new RSA key and publish it (a key rotation)."""
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)

    def sign(
        self,
        claims: dict[str, Any],
        kid: str = "rsa-1",
        *,
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
        key: Any = None,
    ) -> str:
        """``claims`` as a JWT signed with key ``kid`` (or ``key``)."""
        private = key if key is not None else self.keys[kid]
        algorithm = alg or ("RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(
            claims, private, algorithm=algorithm, headers={"kid": kid, **(headers or {})}
        )

    # -- claim sets ---------------------------------------------------------------------------

    def ci_claims(self, audience: str | None) -> dict[str, Any]:
        """What the token endpoint issues now: :attr:`flavour`'s claims plus overrides."""
        make = self.github_claims if self.flavour == "github" else self.gitlab_claims
        return make(audience, **self.overrides)

    def github_claims(self, audience: str | None, **changes: Any) -> dict[str, Any]:
        """GitHub Actions' claim set (GitHub's docs; every id is a string), for a run of
        ``octo-org/octo-repo``'s ``release.yml`` on tag v1.0.0 in environment ``release``."""
        now = int(time.time())
        ref = "refs/tags/v1.0.0"
        workflow = "octo-org/octo-repo/.github/workflows/release.yml"
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()), "sub": "repo:octo-org/octo-repo:environment:release",
            "environment": "release", "aud": audience, "ref": ref, "sha": SHA,
            "repository": "octo-org/octo-repo", "repository_owner": "octo-org",
            "repository_owner_id": "123456", "repository_id": "654321",
            "repository_visibility": "private", "run_id": "42", "run_number": "7",
            "run_attempt": "1", "actor": "octocat", "actor_id": "1", "workflow": "release",
            "workflow_ref": f"{workflow}@{ref}", "workflow_sha": SHA,
            "job_workflow_ref": f"{workflow}@{ref}", "job_workflow_sha": SHA,
            "event_name": "push", "ref_type": "tag", "ref_protected": "false",
            "runner_environment": "github-hosted", "head_ref": "", "base_ref": "",
            "iss": self.url, "nbf": now - 5, "exp": now + 300, "iat": now,
        }  # fmt: skip
        return _changed(claims, changes)

    def gitlab_claims(self, audience: str | None, **changes: Any) -> dict[str, Any]:
        """GitLab CI's claim set (Warehouse's test constants; ``runner_id`` is an integer),
        for ``my-group/my-project``'s ``.gitlab-ci.yml`` on tag v1.0.0."""
        now = int(time.time())
        domain = self.url.split("://", 1)[1]
        claims: dict[str, Any] = {
            "namespace_id": "72", "namespace_path": "my-group", "project_id": "20",
            "project_path": "my-group/my-project", "user_id": "5", "user_login": "alice",
            "user_email": "alice@example.com", "user_access_level": "maintainer",
            "pipeline_id": "574", "pipeline_source": "push", "job_id": "302",
            "ref": "v1.0.0", "ref_type": "tag", "ref_path": "refs/tags/v1.0.0",
            "ref_protected": "true", "environment": "release",
            "environment_protected": "true", "deployment_tier": "production",
            "environment_action": "start", "runner_id": 1,
            "runner_environment": "gitlab-hosted", "sha": SHA, "project_visibility": "private",
            "ci_config_ref_uri": f"{domain}/my-group/my-project//.gitlab-ci.yml@refs/tags/v1.0.0",
            "ci_config_sha": SHA, "jti": str(uuid.uuid4()), "iss": self.url, "iat": now,
            "nbf": now - 5, "exp": now + 3600,
            "sub": "project_path:my-group/my-project:ref_type:tag:ref:v1.0.0", "aud": audience,
        }  # fmt: skip
        return _changed(claims, changes)


def _changed(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims
