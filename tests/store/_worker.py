"""A child process for the concurrency and crash tests (run as a script, not collected).

    _worker.py hammer URL NAME THREADS ROUNDS
        Opens the store (concurrently with its siblings, so schema creation races too),
        adds user NAME, prints "ready", then runs THREADS threads that each mint, read,
        touch and revoke ROUNDS tokens. Meanwhile it answers "check <token id>" lines on
        stdin with the state this process reads ("active", "revoked" or "missing"; the
        grant a request reads, which the store may keep in memory, must agree). On
        "done" it joins the threads and prints a JSON summary.

    _worker.py crash URL USER_ID
        Loops forever: add_token with its minted event in one transaction, then print
        the id; every third token is also revoked with its event. The parent SIGKILLs it.

Token fields are derived from the token id (:func:`expected`), so the parent can check
that every row survived whole.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import traceback
import uuid

from pypitoken_core.store import AuditEvent, TokenRecord, TokenStore, open_store


def expected(token_id: str, user_id: str) -> TokenRecord:
    """The record a worker writes for ``token_id`` (before any touch or revoke)."""
    digest = hashlib.sha256(token_id.encode()).digest()
    return TokenRecord(
        id=token_id,
        user_id=user_id,
        salt=digest,
        description=f"worker token {token_id}",
        projects=(f"p-{digest[0]}", "shared"),
        project_ids=(str(uuid.UUID(bytes=digest[:16], version=4)),),
        indexes=(),
        actions=("upload",),
        created=1_700_000_000 + digest[1],
        expires=1_800_000_000,
        not_before=None,
        last_used=None,
        revoked=False,
    )


def minted(token_id: str, user: str) -> AuditEvent:
    return AuditEvent(1_700_000_000, "minted", token_id, user, "shared", None, "")


def revoked(token_id: str, user: str) -> AuditEvent:
    return AuditEvent(1_700_000_001, "revoked", token_id, user, None, None, "test")


def hammer(url: str, name: str, threads: int, rounds: int) -> None:
    store = open_store(url)
    user = store.add_user(name)
    lock = threading.Lock()
    summary: dict[str, list[str]] = {"minted": [], "revoked": [], "errors": []}

    def work(n: int) -> None:
        try:
            for i in range(rounds):
                tid = f"{name}-{n}-{i}"
                assert store.get_token_grant(tid, None) is None
                store.add_token(expected(tid, user.id), event=minted(tid, name))
                assert store.get_token(tid) == expected(tid, user.id)
                grant = store.get_token_grant(tid, None)
                assert grant is not None and grant.token == expected(tid, user.id), tid
                store.touch_token(tid, 1_700_000_000 + i)
                if i % 2:
                    assert store.revoke_token(tid, event=revoked(tid, name))
                    got = store.get_token(tid)
                    assert got is not None and got.revoked, tid
                    grant = store.get_token_grant(tid, None)
                    assert grant is not None and grant.token.revoked, tid
                    with lock:
                        summary["revoked"].append(tid)
                with lock:
                    summary["minted"].append(tid)
        except BaseException:
            with lock:
                summary["errors"].append(traceback.format_exc())

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    print("ready", flush=True)
    for t in workers:
        t.start()
    answer(store)
    for t in workers:
        t.join()
    store.close()
    print(json.dumps(summary), flush=True)


def answer(store: TokenStore) -> None:
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "done":
            return
        if command == "check":
            got = store.get_token(arg)
            state = "missing" if got is None else "revoked" if got.revoked else "active"
            # What a request reads, kept in memory between requests: it must agree.
            grant = store.get_token_grant(arg, "shared")
            kept = "missing" if grant is None else "revoked" if grant.token.revoked else "active"
            print(state if kept == state else f"{state}, but kept {kept}", flush=True)


def crash(url: str, user_id: str) -> None:
    store = open_store(url)
    prefix = uuid.uuid4().hex[:8]
    for i in range(1_000_000):
        tid = f"crash-{prefix}-{i}"
        store.add_token(expected(tid, user_id), event=minted(tid, "crash"))
        print(f"minted {tid}", flush=True)
        if i % 3 == 0:
            store.revoke_token(tid, event=revoked(tid, "crash"))
            print(f"revoked {tid}", flush=True)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "hammer":
        hammer(args[0], args[1], int(args[2]), int(args[3]))
    elif mode == "crash":
        crash(args[0], args[1])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
