"""Many processes, several hosts: four gunicorn workers and a second server on one store.

Every process keeps the reads of its requests in memory (``store._cache``); what they
must never do is act on one after the store changed. Each check sends the next request
of every process at once (``cluster.Cluster.ask``), right after the change returned:

- a token revoked is refused by all, on their next request;
- a token minted works on all at once.

Changes are made by the admin command, a process of its own (as on another host), and
through the token API of one of the processes (``/+api-tokens``). A trusted-publishing
exchange takes its CI token's ``jti`` on one process: every other one refuses it next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.trusted.conftest import ci_token
from tests.oidc_issuer import Issuer

from . import client
from .cluster import PASSWORD, PROJECT, Cluster, running_cluster
from .conftest import TOKEN_USER

pytestmark = pytest.mark.e2e

ROUNDS = 3


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp(f"cluster-{request.param}")
    if request.param == "sqlite":
        db = f"sqlite:///{workdir / 'tokens.sqlite3'}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        db = cluster.url(cluster.create_database())
    with running_cluster(workdir, db) as running:
        yield running


def statuses(answers: dict[str, client.Response]) -> dict[str, tuple[int, str]]:
    return {label: (answer.status, answer.reason) for label, answer in answers.items()}


def everywhere(cluster: Cluster, status: int, reason: str) -> dict[str, tuple[int, str]]:
    return dict.fromkeys(cluster.processes, (status, reason))


def test_every_process_has_a_connection_of_its_own(cluster: Cluster) -> None:
    labels = list(cluster.processes)
    assert len(labels) == 5 and len(set(labels)) == 5
    assert labels[-1] == "second server"


def test_a_revoked_token_is_refused_by_every_process_on_its_next_request(
    cluster: Cluster,
) -> None:
    for _ in range(ROUNDS):
        token = cluster.admin.mint("carla", PROJECT)
        auth = client.basic(TOKEN_USER, token)
        # Every process reads the grant, and keeps it.
        assert statuses(cluster.ask(auth=auth)) == everywhere(cluster, 200, "OK")
        assert statuses(cluster.ask(auth=auth)) == everywhere(cluster, 200, "OK")
        cluster.admin("token", "revoke", cluster.admin.token_id(token))
        assert statuses(cluster.ask(auth=auth)) == everywhere(
            cluster, 403, "Invalid API Token: token revoked"
        )


def test_a_new_token_works_on_every_process_at_once(cluster: Cluster) -> None:
    known = client.basic(TOKEN_USER, cluster.admin.mint("carla", PROJECT))
    for _ in range(ROUNDS):
        # Every process is busy with, and keeps the reads of, another token.
        assert statuses(cluster.ask(auth=known)) == everywhere(cluster, 200, "OK")
        token = cluster.admin.mint("carla", PROJECT)
        answers = cluster.ask(auth=client.basic(TOKEN_USER, token))
        assert statuses(answers) == everywhere(cluster, 200, "OK")
        assert all(PROJECT in answer.body.decode() for answer in answers.values())


def test_a_forged_token_is_refused_everywhere_while_its_twin_works(cluster: Cluster) -> None:
    token = cluster.admin.mint("carla", PROJECT)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert statuses(cluster.ask(auth=client.basic(TOKEN_USER, token))) == everywhere(
        cluster, 200, "OK"
    )
    assert statuses(cluster.ask(auth=client.basic(TOKEN_USER, forged))) == everywhere(
        cluster, 403, "Invalid API Token: invalid or unknown token"
    )


def test_removing_the_owner_is_seen_by_every_process(cluster: Cluster, tmp_path: Path) -> None:
    cluster.admin.user("otto")
    cluster.admin("project", "add-maintainer", PROJECT, "otto")
    token = cluster.admin.mint("otto", PROJECT)
    auth = client.basic(TOKEN_USER, token)
    assert statuses(cluster.ask(auth=auth)) == everywhere(cluster, 200, "OK")
    cluster.admin("user", "remove", "otto")
    assert statuses(cluster.ask(auth=auth)) == everywhere(
        cluster, 403, "Invalid API Token: token revoked"
    )


def through(
    cluster: Cluster, label: str, method: str, path: str, **request: object
) -> client.Response:
    """One request of carla's to the token API of the process ``label``, on its connection."""
    url, conn = cluster.processes[label]
    return client.request(
        url, method, path, conn=conn, auth=client.basic("carla", PASSWORD), **request
    )  # type: ignore[arg-type]


def test_a_token_minted_and_revoked_through_one_process_is_seen_by_every_other(
    cluster: Cluster,
) -> None:
    labels = list(cluster.processes)
    for minter, revoker in ((labels[0], labels[-1]), (labels[-1], labels[1])):
        body = json.dumps({"projects": [PROJECT], "description": "cluster"}).encode()
        answer = through(cluster, minter, "POST", "/+api-tokens", body=body,
                         content_type="application/json")  # fmt: skip
        assert answer.status == 201, answer.body
        minted = json.loads(answer.body)["result"]
        auth = client.basic(TOKEN_USER, minted["token"])
        assert statuses(cluster.ask(auth=auth)) == everywhere(cluster, 200, "OK")
        answer = through(cluster, revoker, "DELETE", f"/+api-tokens/{minted['id']}")
        assert (answer.status, json.loads(answer.body)) == (
            200, {"message": f"API token {minted['id']} revoked"}
        )  # fmt: skip
        assert statuses(cluster.ask(auth=auth)) == everywhere(
            cluster, 403, "Invalid API Token: token revoked"
        )


def test_a_jti_taken_on_one_process_is_refused_by_every_other(
    cluster: Cluster, issuer: Issuer
) -> None:
    cluster.admin(
        "publisher", "add", "github", "--project", PROJECT, "--user", "carla",
        "--repository", "octo-org/octo-repo", "--workflow", "release.yml", "--issuer", issuer.url,
    )  # fmt: skip
    labels = list(cluster.processes)
    for taker in (labels[0], labels[-1]):
        url, _conn = cluster.processes[taker]
        body = json.dumps({"token": ci_token(issuer, url)}).encode()

        def exchange(label: str, body: bytes = body) -> tuple[int, str]:
            base, conn = cluster.processes[label]
            answer = client.request(base, "POST", "/_/oidc/mint-token", body=body,
                                    content_type="application/json", conn=conn)  # fmt: skip
            if answer.status == 200:
                return 200, json.loads(answer.body)["token"][:5]
            return answer.status, json.loads(answer.body)["errors"][0]["code"]

        assert exchange(taker) == (200, "pypi-")
        others = [label for label in labels if label != taker]
        assert {label: exchange(label) for label in others} == dict.fromkeys(
            others, (422, "invalid-reuse-token")
        )
    # The control: a fresh CI token is exchanged by every process.
    for label in labels:
        url, _conn = cluster.processes[label]
        fresh = json.dumps({"token": ci_token(issuer, url)}).encode()
        base, conn = cluster.processes[label]
        answer = client.request(base, "POST", "/_/oidc/mint-token", body=fresh,
                                content_type="application/json", conn=conn)  # fmt: skip
        assert answer.status == 200, (label, answer.body)
