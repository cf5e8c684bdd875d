"""Many processes, several hosts: four gunicorn workers and a second server on one store.

Every process keeps the reads of its requests in memory (``store._cache``); what they
must never do is act on one after the store changed. Each check sends the next request
of every process at once (``cluster.Cluster.ask``), right after the change returned:

- a token revoked is refused by all, on their next request;
- a token minted works on all at once.

Changes are made by the admin command, a process of its own (as on another host). Once
the token API of pypiserver exists (issue 9), revoking through one of the workers is one
more case here; once trusted publishing exists (issue 10), so is a ``jti`` taken on one
process and refused by the others (``cluster.processes`` names each of them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import client
from .cluster import PROJECT, Cluster, running_cluster
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
