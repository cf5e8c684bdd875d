"""Trusted publishing to a real pypiserver behind nginx, by real uv, pdm and twine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypitoken_core import Context, ValidationError
from pypitoken_core.display import iso
from pypitoken_core.oidc import gitlab_token_variable
from pypitoken_core.service import TokenService
from tests.e2e.procs import exe
from tests.e2e.pypiserver.conftest import Index, pypiserver_running
from tests.e2e.trusted.conftest import (
    PROJECT,
    Clients,
    ci_token,
    exchange,
    hostile_tokens,
    http,
    output,
    run,
)
from tests.e2e.trusted.tls import ConnectProxy, Front, client_env, tls_front
from tests.e2e.twine_output import twine_refusal
from tests.oidc_issuer import Issuer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Index]:
    with pypiserver_running(tmp_path_factory.mktemp("tp-pypiserver"), users=["alice"]) as idx:
        idx.admin("project", "add", PROJECT, "--owner", "alice")
        idx.admin(
            "publisher", "add", "github", "--project", PROJECT, "--repository",
            "octo-org/octo-repo", "--workflow", "release.yml", "--environment", "release",
            "--owner-id", "123456", "--issuer", issuer.url,
        )  # fmt: skip
        yield idx


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Iterator[Front]:
    with tls_front(tmp_path_factory.mktemp("tp-nginx"), index.url, "/") as made:
        yield made


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, front: Front) -> Clients:
    return Clients(issuer, front, tmp_path_factory.mktemp("tp-clients"))


def _publisher_tokens(index: Index) -> dict[str, dict[str, object]]:
    return {t["id"]: t for t in index.admin.tokens() if t["publisher_id"]}  # type: ignore[misc]


def test_uv(index: Index, clients: Clients) -> None:
    before = _publisher_tokens(index)
    wheel = clients.wheel("0.1")
    proc = clients.uv("/", wheel)
    assert proc.returncode == 0, output(proc)
    assert wheel.name in index.stored()
    # uv burns the token once the upload is done: revoked at once, not in 15 minutes
    (minted,) = [t for i, t in _publisher_tokens(index).items() if i not in before]
    assert minted["revoked"] is True
    assert minted["user"] == "alice" and minted["actions"] == ["upload"]
    assert "run: repository=octo-org/octo-repo, ref=refs/tags/v1.0.0" in str(minted["description"])


def test_pdm(index: Index, clients: Clients) -> None:
    wheel = clients.wheel("0.2")
    proc = clients.pdm("/", wheel)
    assert proc.returncode == 0, output(proc)
    assert wheel.name in index.stored()


def test_twine(index: Index, clients: Clients, front: Front) -> None:
    proxy = ConnectProxy(front.port)
    try:
        wheel = clients.wheel("0.3")
        proc = clients.twine(proxy, wheel)
    finally:
        proxy.close()
    assert proc.returncode == 0, output(proc)
    assert "Minted upload token for trusted publishing" in output(proc)
    assert wheel.name in index.stored()
    # every request went to "pypi.org", through the proxy, to our index
    assert proxy.targets and {t.rsplit(" ", 1)[0] for t in proxy.targets} == {
        "CONNECT upload.pypi.org:443"
    }


def test_the_minted_token_is_refused_elsewhere_and_after_revocation(
    index: Index, issuer: Issuer, front: Front, clients: Clients
) -> None:
    answer = exchange(front.url, ci_token(issuer, front.url, ca=front.ca), ca=front.ca)
    assert answer.status == 200, answer
    token = answer.body["token"]
    index.admin.user("bob")
    index.admin("project", "add", "other-proj", "--owner", "alice")
    other = clients.wheel("1.0", name="other-proj")
    assert twine_refusal(index.twine("__token__", token, other)) == (
        "Invalid API Token: not valid for project 'other-proj'"
    )
    mine = clients.wheel("0.4")
    assert index.twine("__token__", token, mine).returncode == 0
    token_id = index.admin.token_id(token)
    # after its window (900 s), on the server's own store; time comes in through Context
    (record,) = [t for t in index.admin.tokens() if t["id"] == token_id]
    window_end = int(answer.body["expires"])
    service = TokenService.from_url(index.admin.db)
    try:
        last = Context(project_name=PROJECT, action="upload", now=window_end - 1)
        assert service.authenticate(token, last).user_name == "alice"
        after = Context(project_name=PROJECT, action="upload", now=window_end)
        with pytest.raises(ValidationError, match=r"^token expired at "):
            service.authenticate(token, after)
    finally:
        service.close()
    assert record["expires"] == iso(window_end)
    index.admin("token", "revoke", token_id)
    again = clients.wheel("0.5")
    assert twine_refusal(index.twine("__token__", token, again)) == (
        "Invalid API Token: token revoked"
    )
    # neither the upload token nor the CI token it was minted for is in the server's log
    log = index.server.log_text()
    assert token not in log and token[5:40] not in log
    assert "eyJ" not in log


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"aud": "someone-else"}, 422, "invalid-token"),
        ({"exp": 1_000_000_000, "iat": 999_999_000, "nbf": 999_999_000}, 422, "invalid-token"),
        ({"repository": "octo-org/fork"}, 422, "invalid-publisher"),
        ({"environment": "staging"}, 422, "invalid-publisher"),
        ({"repository_owner_id": "42"}, 422, "invalid-publisher"),
        ({"repository_owner_id": 123456}, 422, "invalid-publisher"),
        ({"iss": "https://token.actions.githubusercontent.com"}, 422, "invalid-payload"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_refusals_over_http(
    index: Index, issuer: Issuer, changes: dict[str, object], status: int, code: str
) -> None:
    answer = exchange(index.url, ci_token(issuer, index.url, **changes))
    assert (answer.status, answer.code) == (status, code), answer


def test_every_refusal_of_the_issue_over_http(index: Index, issuer: Issuer) -> None:
    """Each CI token of the issue's refusal list: a 422 with its code and reason (never a
    500), and the server keeps minting for a good token afterwards."""
    audience = http(f"{index.url}/_/oidc/audience").body["audience"]
    for name, jwt, code, description in hostile_tokens(issuer, audience):
        answer = exchange(index.url, jwt)
        assert (answer.status, answer.code) == (422, code), (name, answer)
        assert answer.body["errors"][0]["description"].startswith(description), (name, answer)
    assert exchange(index.url, ci_token(issuer, index.url)).status == 200  # the control


def test_bodies_refused_over_http(index: Index, issuer: Issuer) -> None:
    for body, status, code in (
        (json.dumps({"token": "x" * 1_000_000}).encode(), 413, "payload-too-large"),
        (b"{not json", 422, "invalid-payload"),
        (json.dumps({"token": "eyJhbGciOiJub25lIn0.e30."}).encode(), 422, "invalid-token"),
    ):
        answer = http(f"{index.url}/_/oidc/mint-token", body)
        assert (answer.status, answer.code) == (status, code), answer
    replay = ci_token(issuer, index.url)
    assert exchange(index.url, replay).status == 200
    assert exchange(index.url, replay).code == "invalid-reuse-token"
    burn = http(f"{index.url}/_/oidc/burn-token", b"junk")
    assert (burn.status, burn.body) == (202, {"message": "Accepted", "errors": []})


def test_discovery(index: Index, front: Front) -> None:
    found = http(f"{front.url}/.well-known/pytp?discover=%2F", ca=front.ca)
    assert (found.status, found.content_type) == (200, "application/vnd.pypi.pytp.v1+json")
    assert found.body["token-mint-endpoint"] == f"{front.url}/_/oidc/mint-token"
    missing = http(f"{front.url}/.well-known/pytp?discover=%2Flegacy%2F", ca=front.ca)
    assert (missing.status, missing.code) == (404, "not-found")
    # the drafts' form: the hex SHA-256 of the upload path
    root, other = (hashlib.sha256(path).hexdigest() for path in (b"/", b"/x/"))
    draft = http(f"{front.url}/.well-known/pytp/{root}", ca=front.ca)
    assert (draft.status, draft.body) == (200, found.body)
    wrong = http(f"{front.url}/.well-known/pytp/{other}", ca=front.ca)
    assert (wrong.status, wrong.code) == (404, "not-found")


def test_the_issuer_unreachable(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> None:
    gone = Issuer()
    gone.stop()
    with pypiserver_running(tmp_path_factory.mktemp("tp-down"), users=["alice"]) as idx:
        for source in (gone, issuer):
            idx.admin(
                "publisher", "add", "github", "--project", "down", "--user", "alice",
                "--repository", "octo-org/octo-repo", "--workflow", "release.yml",
                "--issuer", source.url,
            )  # fmt: skip
        answer = exchange(idx.url, ci_token(gone, idx.url))
        assert (answer.status, answer.code) == (503, "issuer-unavailable"), answer
        assert answer.body["errors"][0]["description"].startswith(
            f"cannot fetch the signing keys of {gone.url}: "
        )
        assert http(f"{idx.url}/health").status == 200  # the server stays up
        assert exchange(idx.url, ci_token(issuer, idx.url)).status == 200


def test_oidc_exchange_for_twine(
    index: Index, issuer: Issuer, clients: Clients, tmp_path: Path
) -> None:
    """``pypitoken oidc-exchange``: the job's side, for twine against a private index."""
    exchange_argv = [exe("pypitoken"), "oidc-exchange", f"{index.url}/"]
    proc = run(exchange_argv, client_env(issuer, tmp_path / "gh"), tmp_path)
    assert proc.returncode == 0, output(proc)
    token = proc.stdout.strip()
    assert token.startswith("pypi-") and "\n" not in token
    assert index.twine("__token__", token, clients.wheel("0.6")).returncode == 0

    # GitLab CI: the job declares the index's audience under id_tokens
    index.admin(
        "publisher", "add", "gitlab", "--project", PROJECT, "--repository",
        "my-group/my-project", "--issuer", issuer.url,
    )  # fmt: skip
    audience = http(f"{index.url}/_/oidc/audience").body["audience"]
    gitlab = {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITLAB_CI": "true",
        gitlab_token_variable(audience): issuer.sign(issuer.gitlab_claims(audience)),
    }  # fmt: skip
    proc = run(exchange_argv, gitlab, tmp_path)
    assert proc.returncode == 0, output(proc)
    assert index.twine("__token__", proc.stdout.strip(), clients.wheel("0.7")).returncode == 0

    # the same job again: its OIDC token was used once
    proc = run(exchange_argv, gitlab, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.endswith(
        "answered 422\n* invalid-reuse-token: invalid token: already used\n"
    )

    proc = run(exchange_argv, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no OIDC token in this job: on GitHub Actions give")


def test_a_pending_publisher_creates_its_project(
    index: Index, issuer: Issuer, clients: Clients
) -> None:
    """The same workflow added for a project nobody registered yet: the first publish makes
    the publisher's user its owner."""
    added = index.admin(
        "publisher", "add", "github", "--project", "fresh-proj", "--user", "alice",
        "--repository", "octo-org/octo-repo", "--workflow", "release.yml",
        "--environment", "release", "--owner-id", "123456", "--issuer", issuer.url,
    ).stdout  # fmt: skip
    assert added.endswith(f"for {PROJECT}, fresh-proj (pending: its first publish creates it)\n")
    wheel = clients.wheel("1.0", name="fresh-proj")
    proc = clients.uv("/", wheel)
    assert proc.returncode == 0, output(proc)
    assert wheel.name in index.stored()
    (line,) = [p for p in index.admin("project", "list").stdout.splitlines() if "fresh" in p]
    assert line.startswith("fresh-proj\t") and line.endswith("\talice (Owner)")
