"""Several processes and threads mint, authenticate and revoke at once, on SQLite and PostgreSQL.

Nothing may error, no record may be lost or duplicated, and a revoked token (or a removed
user's) is refused on the very next request in every process. The other processes are
``tests/service/_worker.py``, stopped by PID whatever happens.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from pypitoken_core import AlreadyExists, ValidationError
from pypitoken_core.service import TokenService
from tests.service.conftest import MakeService, upload

REPO = Path(__file__).resolve().parents[2]
PROCESSES, THREADS, TOKENS = 3, 3, 6


class Worker:
    """One ``_worker`` process, talked to in JSON lines with a timeout on every answer."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.service._worker", *args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 60) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            assert self.proc.stderr is not None
            raise AssertionError(f"worker gave no answer:\n{self.proc.stderr.read()[-4000:]}")
        return json.loads(line)  # type: ignore[no-any-return]

    def auth(self, raw: str, project: str = "shared", action: str = "upload") -> dict[str, Any]:
        self.send({"op": "auth", "token": raw, "project": project, "action": action})
        return self.receive()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"op": "quit"})
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def workers(count: int, *args: str) -> Iterator[list[Worker]]:
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            worker = Worker(*args)
            stack.callback(worker.stop)
            started.append(worker)
        for worker in started:
            assert worker.receive() == {"ready": True}
        yield started


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store that separate processes can share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def shared(shared_url: str, tmp_path: Path) -> Iterator[tuple[TokenService, str, str]]:
    """This process's service on the shared store, its URL, and the secret file path."""
    secret_file = str(tmp_path / "server.secret")
    service = TokenService.from_url(shared_url, secret_file=secret_file)
    try:
        for name in ("alice", *(f"user{n}" for n in range(PROCESSES))):
            service.add_user(name)
        service.add_project("shared", "alice")
        for n in range(PROCESSES):
            service.add_maintainer("shared", f"user{n}")
        yield service, shared_url, secret_file
    finally:
        service.close()


def test_processes_and_threads_mint_authenticate_and_revoke_at_once(
    shared: tuple[TokenService, str, str],
) -> None:
    service, url, secret_file = shared
    parent_errors: list[str] = []
    parent_minted: list[tuple[str, str]] = []
    with ExitStack() as stack:
        procs = []
        for n in range(PROCESSES):
            w = Worker("churn", url, secret_file, f"user{n}", "shared", str(THREADS), str(TOKENS))
            stack.callback(w.stop)
            procs.append(w)
        for w in procs:
            assert w.receive() == {"ready": True}
        for w in procs:
            w.send({"op": "go"})

        # Meanwhile, this process mints, authenticates and revokes from its own threads.
        def parent_work(n: int) -> None:
            for i in range(TOKENS):
                try:
                    raw, record = service.mint("alice", description=f"parent/{n}/{i}")
                    service.authenticate(raw, upload("shared"))
                    service.revoke(record.id)
                    parent_minted.append((record.id, raw))
                except Exception as exc:
                    parent_errors.append(repr(exc))

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(parent_work, range(THREADS)))
        results = [w.receive(timeout=120) for w in procs]

    errors = [e for r in results for e in r["errors"]] + parent_errors
    assert errors == []
    minted = [t for r in results for t in r["minted"]]
    assert len(minted) == PROCESSES * THREADS * TOKENS
    ids = [t["id"] for t in minted] + [i for i, _ in parent_minted]
    assert len(set(ids)) == len(ids)

    records = {r.id: r for r in service.list_tokens()}
    assert set(records) == set(ids)
    for token in minted:
        assert records[token["id"]].revoked is token["revoked"]
        if token["revoked"]:
            with pytest.raises(ValidationError, match="token revoked"):
                service.authenticate(token["raw"], upload("shared"))
        else:
            assert service.authenticate(token["raw"], upload("shared")).token_id == token["id"]
    for token_id, raw in parent_minted:
        assert records[token_id].revoked
        with pytest.raises(ValidationError, match="token revoked"):
            service.authenticate(raw, upload("shared"))

    events = service.store.list_events(limit=100_000)
    revoked_total = sum(t["revoked"] for t in minted) + len(parent_minted)
    assert sum(e.event == "minted" for e in events) == len(ids)
    assert sum(e.event == "revoked" for e in events) == revoked_total

    # A fresh process agrees on every revocation.
    with workers(1, "serve", url, secret_file) as (fresh,):
        for token in minted[:6]:
            answer = fresh.auth(token["raw"])
            assert answer["ok"] is (not token["revoked"]), answer


def test_revocation_is_seen_by_other_processes_on_the_next_request(
    shared: tuple[TokenService, str, str],
) -> None:
    service, url, secret_file = shared
    raw, record = service.mint("user0", projects=["shared"])
    other_store = TokenService.from_url(url, secret_file=secret_file)
    try:
        with workers(2, "serve", url, secret_file) as procs:
            for w in procs:
                assert w.auth(raw) == {"ok": True, "user": "user0", "token_id": record.id}
            assert other_store.authenticate(raw, upload("shared")).user_name == "user0"
            service.revoke(record.id)
            for w in procs:
                assert w.auth(raw) == {"ok": False, "reason": "token revoked"}
            with pytest.raises(ValidationError, match="token revoked"):
                other_store.authenticate(raw, upload("shared"))
    finally:
        other_store.close()


def test_removed_user_is_refused_by_other_processes_on_the_next_request(
    shared: tuple[TokenService, str, str],
) -> None:
    service, url, secret_file = shared
    scoped, _ = service.mint("user1", projects=["shared"])
    wide, _ = service.mint("user1")
    keep, _ = service.mint("user2")
    with workers(2, "serve", url, secret_file) as procs:
        for w in procs:
            assert w.auth(scoped)["ok"] and w.auth(wide, "elsewhere")["ok"]
        service.remove_user("user1")
        for w in procs:
            for raw in (scoped, wide):
                answer = w.auth(raw)
                assert answer["ok"] is False
                assert answer["reason"] in ("token revoked", "the token's owner no longer exists")
            assert w.auth(keep)["ok"] is True


def test_revocation_by_another_process_is_seen_here(
    shared: tuple[TokenService, str, str],
) -> None:
    """The other direction: a CLI-like process revokes, this long-lived service notices."""
    service, url, secret_file = shared
    raw, record = service.mint("user0")
    assert service.authenticate(raw, upload("shared")).user_name == "user0"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pypitoken_core.service import TokenService; "
            "s = TokenService.from_url(sys.argv[1], secret_file=sys.argv[2]); "
            "s.revoke(sys.argv[3]); s.close()",
            url,
            secret_file,
            record.id,
        ],
        check=True,
        timeout=60,
    )
    with pytest.raises(ValidationError, match="token revoked"):
        service.authenticate(raw, upload("shared"))


def test_first_upload_race_has_one_winner(shared: tuple[TokenService, str, str]) -> None:
    """Users store the first file of one new name at once: exactly one claim is taken."""
    service, _url, _ = shared
    tokens = [service.mint(f"user{n}")[0] for n in range(PROCESSES)]
    tokens += [service.mint("alice")[0]]
    barrier = threading.Barrier(len(tokens))

    def race(raw: str) -> str:
        identity = service.authenticate(raw, upload("contested"))  # claims nothing
        barrier.wait(timeout=30)
        try:
            claim = service.claim_upload(identity, "contested", has_files=lambda: False)
        except ValidationError as exc:
            return f"refused: {exc}"
        assert claim is not None
        return claim.user_name

    with ThreadPoolExecutor(len(tokens)) as pool:
        outcomes = list(pool.map(race, tokens))
    winners = [o for o in outcomes if not o.startswith("refused")]
    assert len(winners) == 1, outcomes
    for outcome in outcomes:
        if outcome.startswith("refused"):
            assert "may not upload to project 'contested'" in outcome
    project = service.store.get_project("contested")
    assert project is not None
    assert service.store.list_roles(project.id) == [(winners[0], "Owner")]


def test_threads_on_one_service(make_service: MakeService) -> None:
    """The memory and SQLite stores under one service: concurrent mints and user adds."""
    svc = make_service()
    svc.add_user("alice")
    svc.add_project("foo", "alice")
    barrier = threading.Barrier(6)

    def work(n: int) -> tuple[list[str], int]:
        barrier.wait(timeout=30)
        ids = []
        for _ in range(10):
            raw, record = svc.mint("alice", projects=["foo"])
            assert svc.authenticate(raw, upload("foo")).token_id == record.id
            ids.append(record.id)
        svc.revoke(ids[0])
        try:
            svc.add_user("same-name")
            added = 1
        except AlreadyExists:
            added = 0
        return ids, added

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(work, range(6)))
    ids = [i for r, _ in results for i in r]
    assert len(set(ids)) == 60
    assert {r.id for r in svc.list_tokens("alice")} == set(ids)
    assert sum(r.revoked for r in svc.list_tokens("alice")) == 6
    assert sum(added for _, added in results) == 1


def test_processes_opening_a_new_store_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    """Several servers start on a fresh SQLite file: one secret file wins, all use it."""
    db = tmp_path / "fresh" / "tokens.sqlite3"
    url = f"sqlite:///{db}"
    secret_file = str(db) + ".secret"
    with ExitStack() as stack:
        procs = [Worker("serve", url, secret_file) for _ in range(4)]
        for w in procs:
            stack.callback(w.stop)
        for w in procs:
            assert w.receive() == {"ready": True}
        service = TokenService.from_url(url)
        stack.callback(service.close)
        service.add_user("alice")
        raw, _ = service.mint("alice")
        for w in procs:
            assert w.auth(raw, "anything")["ok"] is True
    assert sorted(p.name for p in db.parent.iterdir() if "secret" in p.name) == [
        "tokens.sqlite3.secret"
    ]
