"""Trusted publishing to a real devpi-server behind nginx, by real uv, pdm and twine.

A devpi publisher names the index it uploads to (alice/dev): its tokens upload there as
alice, and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pypitoken_core import Token
from tests.e2e.devpi.conftest import (
    PASSWORDS,
    Devpi,
    devpi_init,
    devpi_server,
    make_secret,
)
from tests.e2e.trusted.conftest import (
    PROJECT,
    Clients,
    ci_token,
    exchange,
    hostile_tokens,
    http,
    output,
)
from tests.e2e.trusted.tls import ConnectProxy, Front, tls_front
from tests.e2e.twine_output import twine_refusal
from tests.oidc_issuer import Issuer

pytestmark = pytest.mark.e2e


def _publisher(issuer: Issuer, /, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "github", "index": "alice/dev", "projects": [PROJECT],
        "repository": "octo-org/octo-repo", "workflow": "release.yml",
        "environment": "release", "owner_id": "123456", "issuer": issuer.url, **changes,
    }  # fmt: skip


@pytest.fixture(scope="module")
def devpi(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Devpi]:
    base = tmp_path_factory.mktemp("tp-devpi")
    secret = make_secret(base / "secret")
    serverdir = base / "server"
    devpi_init(serverdir, "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with devpi_server(serverdir, secret) as srv:
        d = Devpi(srv, base)
        d.create_user("alice")
        d.create_user("bob")
        d.create_index("alice/dev")
        d.create_index("alice/other")
        reply = d.api("POST", "/alice/+trusted-publishers", _publisher(issuer), user="alice")
        assert reply.status == 201, reply
        yield d


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, devpi: Devpi) -> Iterator[Front]:
    with tls_front(tmp_path_factory.mktemp("tp-devpi-nginx"), devpi.url, "/alice/dev/") as made:
        yield made


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, front: Front) -> Clients:
    return Clients(issuer, front, tmp_path_factory.mktemp("tp-devpi-clients"))


def _versions(devpi: Devpi) -> set[str]:
    reply = devpi.api("GET", f"/alice/dev/{PROJECT}")
    return set(reply.body["result"]) if reply.status == 200 else set()


def _publisher_tokens(devpi: Devpi) -> dict[str, dict[str, Any]]:
    reply = devpi.api("GET", "/alice/+api-tokens", user="alice")
    return {t["id"]: t for t in reply.body["result"]["tokens"] if t["publisher_id"]}


def test_uv(devpi: Devpi, clients: Clients) -> None:
    before = _publisher_tokens(devpi)
    proc = clients.uv("/alice/dev/", clients.wheel("0.1"))
    assert proc.returncode == 0, output(proc)
    assert "0.1" in _versions(devpi)
    (minted,) = [t for i, t in _publisher_tokens(devpi).items() if i not in before]
    assert minted["revoked"] is True  # burned by uv after the upload
    assert minted["indexes"] == ["alice/dev"] and minted["actions"] == ["upload"]


def test_pdm(devpi: Devpi, clients: Clients) -> None:
    proc = clients.pdm("/alice/dev/", clients.wheel("0.2"))
    assert proc.returncode == 0, output(proc)
    assert "0.2" in _versions(devpi)


def test_twine(devpi: Devpi, clients: Clients, front: Front) -> None:
    proxy = ConnectProxy(front.port)
    try:
        proc = clients.twine(proxy, clients.wheel("0.3"))
    finally:
        proxy.close()
    assert proc.returncode == 0, output(proc)
    assert "Minted upload token for trusted publishing" in output(proc)
    assert "0.3" in _versions(devpi)


def test_the_minted_token_stays_on_its_index_and_project(
    devpi: Devpi, issuer: Issuer, front: Front
) -> None:
    answer = exchange(front.url, ci_token(issuer, front.url, ca=front.ca), ca=front.ca)
    assert answer.status == 200, answer
    token = answer.body["token"]
    other_index = devpi.twine("alice/other", devpi.wheel(PROJECT, "1.0"), "__token__", token)
    assert twine_refusal(other_index) == "Invalid API Token: not valid for index 'alice/other'"
    other_project = devpi.twine("alice/dev", devpi.wheel("other-proj", "1.0"), "__token__", token)
    assert twine_refusal(other_project) == ("Invalid API Token: not valid for project 'other-proj'")
    assert devpi.twine("alice/dev", devpi.wheel(PROJECT, "1.1"), "__token__", token).returncode == 0
    token_id = Token.load(token).identifier
    record = _publisher_tokens(devpi)[token_id]
    # its window: 15 minutes from the exchange, as the answer said, upload only, alice/dev
    assert record["expires"] == int(answer.body["expires"]) == record["created"] + 900
    assert record["not_before"] == record["created"]
    assert (record["actions"], record["indexes"]) == (["upload"], ["alice/dev"])
    assert devpi.api("DELETE", f"/alice/+api-tokens/{token_id}", user="alice").status == 200
    revoked = devpi.twine("alice/dev", devpi.wheel(PROJECT, "1.2"), "__token__", token)
    assert twine_refusal(revoked) == "Invalid API Token: token revoked"
    log = devpi.log_text()
    assert token not in log and token[5:40] not in log
    assert "eyJ" not in log  # nor any CI token


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"aud": "someone-else"}, 422, "invalid-token"),
        ({"repository": "octo-org/fork"}, 422, "invalid-publisher"),
        ({"repository_owner_id": "42"}, 422, "invalid-publisher"),
        ({"environment": None}, 422, "invalid-publisher"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_refusals_over_http(
    devpi: Devpi, issuer: Issuer, changes: dict[str, object], status: int, code: str
) -> None:
    answer = exchange(devpi.url, ci_token(issuer, devpi.url, **changes))
    assert (answer.status, answer.code) == (status, code), answer


def test_every_refusal_of_the_issue_over_http(devpi: Devpi, issuer: Issuer) -> None:
    """Each CI token of the issue's refusal list: a 422 with its code and reason (never a
    500), and the server keeps minting for a good token afterwards."""
    audience = http(f"{devpi.url}/_/oidc/audience").body["audience"]
    for name, jwt, code, description in hostile_tokens(issuer, audience):
        answer = exchange(devpi.url, jwt)
        assert (answer.status, answer.code) == (422, code), (name, answer)
        assert answer.body["errors"][0]["description"].startswith(description), (name, answer)
    assert exchange(devpi.url, ci_token(issuer, devpi.url)).status == 200  # the control


def test_the_issuer_unreachable(devpi: Devpi, issuer: Issuer) -> None:
    """A publisher whose issuer is down: a 503 that says so, and devpi stays up."""
    gone = Issuer()
    gone.stop()
    added = devpi.api(
        "POST", "/alice/+trusted-publishers",
        _publisher(issuer, issuer=gone.url, workflow="down.yml"), user="alice",
    )  # fmt: skip
    assert added.status == 201, added
    try:
        answer = exchange(devpi.url, ci_token(gone, devpi.url))
        assert (answer.status, answer.code) == (503, "issuer-unavailable"), answer
        assert answer.body["errors"][0]["description"].startswith(
            f"cannot fetch the signing keys of {gone.url}: "
        )
        assert http(f"{devpi.url}/+api").status == 200  # devpi stays up
        assert exchange(devpi.url, ci_token(issuer, devpi.url)).status == 200
    finally:
        removed = devpi.api(
            "DELETE", f"/alice/+trusted-publishers/{added.body['result']['id']}", user="alice"
        )
        assert removed.status == 200


def test_bodies_refused_over_http(devpi: Devpi, issuer: Issuer) -> None:
    for body, status, code in (
        (json.dumps({"token": "x" * 1_000_000}).encode(), 413, "payload-too-large"),
        (b"[]", 422, "invalid-payload"),
    ):
        answer = http(f"{devpi.url}/_/oidc/mint-token", body)
        assert (answer.status, answer.code) == (status, code), answer
    replay = ci_token(issuer, devpi.url)
    assert exchange(devpi.url, replay).status == 200
    assert exchange(devpi.url, replay).code == "invalid-reuse-token"


def test_discovery_per_index(front: Front) -> None:
    for path in ("%2Falice%2Fdev%2F", "%2Falice%2Fother"):
        found = http(f"{front.url}/.well-known/pytp?discover={path}", ca=front.ca)
        assert found.status == 200, found
        assert found.body["audience-endpoint"] == f"{front.url}/_/oidc/audience"
    for path in ("%2Fbob%2Fnothing%2F", "%2Falice%2F", ""):
        missing = http(f"{front.url}/.well-known/pytp?discover={path}", ca=front.ca)
        assert (missing.status, missing.code) == (404, "not-found")


def test_discovery_by_hash(devpi: Devpi, front: Front) -> None:
    """The drafts' form, ``/.well-known/pytp/<sha256 of the path>``, sees new indexes."""

    def found(path: bytes) -> int:
        key = hashlib.sha256(path).hexdigest()
        return http(f"{front.url}/.well-known/pytp/{key}", ca=front.ca).status

    assert found(b"/alice/dev/") == 200 and found(b"/alice/dev") == 200
    assert found(b"/bob/later/") == 404
    devpi.create_index("bob/later")
    assert found(b"/bob/later/") == 200


def test_managing_publishers(devpi: Devpi, issuer: Issuer) -> None:
    listed = devpi.api("GET", "/alice/+trusted-publishers", user="alice")
    (mine,) = listed.body["result"]["publishers"]
    assert (mine["kind"], mine["index"], mine["added_by"]) == ("github", "alice/dev", "alice")
    refused = devpi.api("POST", "/alice/+trusted-publishers", _publisher(issuer), user="bob")
    assert (refused.status, refused.body["message"]) == (
        403, "no permission to manage the trusted publishers of user 'alice'",
    )  # fmt: skip
    bad = devpi.api(
        "POST", "/alice/+trusted-publishers", _publisher(issuer, index="bob/none"), user="alice"
    )
    assert (bad.status, bad.body["message"]) == (403, "no index 'bob/none' that takes uploads")
    devpi.create_index("bob/dev")
    foreign = devpi.api(
        "POST", "/alice/+trusted-publishers", _publisher(issuer, index="bob/dev"), user="alice"
    )
    assert (foreign.status, foreign.body["message"]) == (
        403, "user 'alice' may not upload to 'bob/dev'",
    )  # fmt: skip
    joined = devpi.api(
        "POST", "/alice/+trusted-publishers", _publisher(issuer, projects=["x"]), user="alice"
    )
    assert joined.status == 201, joined
    assert (joined.body["result"]["id"], joined.body["result"]["projects"]) == (
        mine["id"], [PROJECT, "x"],
    )  # fmt: skip
    other = devpi.api(
        "POST", "/alice/+trusted-publishers", _publisher(issuer, workflow="nightly.yml"),
        user="alice",
    )  # fmt: skip
    assert other.status == 201 and other.body["result"]["id"] != mine["id"]
    gone = devpi.api("DELETE", f"/alice/+trusted-publishers/{other.body['result']['id']}",
                     user="alice")  # fmt: skip
    assert gone.status == 200
    (left,) = devpi.api("GET", "/alice/+trusted-publishers", user="alice").body["result"][
        "publishers"]  # fmt: skip
    assert left["id"] == mine["id"]
