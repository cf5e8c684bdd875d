"""Several processes, each with several threads, mint, read, touch and revoke at once.

The workers also open the brand-new store at the same moment, so schema creation races
too. While they work, the test revokes tokens itself and asks every worker process
what it reads right after ``revoke_token`` returns: revocation must be visible
everywhere at once. Afterwards every record and event must be there exactly once.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator

import pytest

from pypitoken_core.store import TokenStore, open_store
from tests.store._worker import expected, minted, revoked
from tests.store.children import Child

PROCESSES = 3
THREADS = 4
ROUNDS = 40
PARENT_ROUNDS = 10


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def workers(url: str) -> Iterator[list[Child]]:
    children = [Child("hammer", url, f"w{n}", str(THREADS), str(ROUNDS)) for n in range(PROCESSES)]
    try:
        yield children
    finally:
        for child in children:
            child.close()


def test_processes_and_threads_at_once(url: str, workers: list[Child]) -> None:
    for child in workers:
        assert child.readline() == "ready"
    store = open_store(url)
    try:
        parent = store.add_user("parent")
        for i in range(PARENT_ROUNDS):
            tid = f"parent-{i}"
            store.add_token(expected(tid, parent.id), event=minted(tid, "parent"))
            assert [w.ask(f"check {tid}") for w in workers] == ["active"] * PROCESSES
            assert store.revoke_token(tid, event=revoked(tid, "parent"))
            assert [w.ask(f"check {tid}") for w in workers] == ["revoked"] * PROCESSES

        summaries = []
        for child in workers:
            child.send("done")
            summaries.append(json.loads(child.readline()))
            assert child.proc.wait(timeout=60) == 0, child.stderr()
        assert [s["errors"] for s in summaries] == [[]] * PROCESSES

        check_final_state(store, summaries)
    finally:
        store.close()


def check_final_state(store: TokenStore, summaries: list[dict[str, list[str]]]) -> None:
    users = {u.name: u for u in store.list_users()}
    assert sorted(users) == ["parent"] + [f"w{n}" for n in range(PROCESSES)]

    minted_ids = [tid for s in summaries for tid in s["minted"]]
    revoked_ids = {tid for s in summaries for tid in s["revoked"]}
    assert len(minted_ids) == len(set(minted_ids)) == PROCESSES * THREADS * ROUNDS
    assert len(revoked_ids) == PROCESSES * THREADS * (ROUNDS // 2)

    tokens = store.list_tokens()
    assert len(tokens) == len({t.id for t in tokens}) == len(minted_ids) + PARENT_ROUNDS
    by_id = {t.id: t for t in tokens}
    for tid in minted_ids:
        owner = users[tid.split("-")[0]]
        round_ = int(tid.rsplit("-", 1)[1])
        want = dataclasses.replace(
            expected(tid, owner.id),
            last_used=1_700_000_000 + round_,
            revoked=tid in revoked_ids,
        )
        assert by_id[tid] == want
    assert all(by_id[f"parent-{i}"].revoked for i in range(PARENT_ROUNDS))

    events = store.list_events(limit=100_000)
    kinds = Counter((e.event, e.token_id) for e in events)
    assert len(events) == 2 * PARENT_ROUNDS + len(minted_ids) + len(revoked_ids)
    assert set(kinds.values()) == {1}
    for tid in by_id:
        assert kinds[("minted", tid)] == 1
        assert kinds[("revoked", tid)] == (1 if by_id[tid].revoked else 0)
