"""Writers killed with SIGKILL mid-transaction leave a consistent store.

Two children loop on ``add_token`` (with its minted event, one transaction) and
``revoke_token`` (with its revoked event) and report each write after it returns. They
are killed without warning, twice, on the same store. Afterwards the store opens, passes
its integrity check, holds every reported write, at most the one unreported write in
flight per child, every token whole, and exactly one event per committed change.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter

import pytest

from pypitoken_core.store import open_store
from pypitoken_core.store.sqlite import SQLiteStore
from tests.store._worker import expected
from tests.store.children import Child

KILLS = 2
CHILDREN = 2
MINTS_BEFORE_KILL = 25


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def test_sigkill_mid_write_leaves_consistent_store(url: str) -> None:
    setup = open_store(url)
    user = setup.add_user("crash")
    setup.close()

    reported_minted: set[str] = set()
    reported_revoked: set[str] = set()
    for _ in range(KILLS):
        children = [Child("crash", url, user.id) for _ in range(CHILDREN)]
        try:
            for child in children:
                while sum(x.startswith("minted ") for x in child.history) < MINTS_BEFORE_KILL:
                    child.readline()
            for child in children:
                child.kill()
                lines = child.drain()
                reported_minted |= {x.split()[1] for x in lines if x.startswith("minted ")}
                reported_revoked |= {x.split()[1] for x in lines if x.startswith("revoked ")}
        finally:
            for child in children:
                child.close()

    store = open_store(url)
    try:
        if isinstance(store, SQLiteStore):
            assert store.integrity_check() == "ok"
            with sqlite3.connect(store.path) as raw:
                assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
            raw.close()

        tokens = {t.id: t for t in store.list_tokens()}
        assert reported_minted <= tokens.keys()
        # Per kill and child at most one write was committed but not yet reported.
        assert len(tokens.keys() - reported_minted) <= KILLS * CHILDREN
        for tid, token in tokens.items():
            assert token == dataclasses.replace(expected(tid, user.id), revoked=token.revoked)
        revoked_ids = {tid for tid, t in tokens.items() if t.revoked}
        assert reported_revoked <= revoked_ids
        assert len(revoked_ids - reported_revoked) <= KILLS * CHILDREN

        events = Counter((e.event, e.token_id) for e in store.list_events(limit=100_000))
        assert set(events.values()) == {1}
        assert {tid for kind, tid in events if kind == "minted"} == tokens.keys()
        assert {tid for kind, tid in events if kind == "revoked"} == revoked_ids

        # ... and it still takes writes.
        store.add_token(expected("after-crash", user.id))
        assert store.get_token("after-crash") == expected("after-crash", user.id)
    finally:
        store.close()
