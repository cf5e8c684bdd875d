"""A separate server process for the concurrency tests, driven over stdin/stdout in JSON lines.

    python -m tests.service._worker serve URL SECRET_FILE
        answers {"op": "auth", "token": ..., "project": ..., "action": ...} with
        {"ok": true, "user": ...} or {"ok": false, "reason": ...}, until {"op": "quit"}.

    python -m tests.service._worker churn URL SECRET_FILE USER PROJECT THREADS TOKENS
        after {"op": "go"}, THREADS threads each mint TOKENS tokens for USER scoped to
        PROJECT, authenticate each, revoke every other one and check that it is refused;
        prints one JSON summary (tokens minted, ids revoked, unexpected errors).

Tokens travel on the pipes, never on the command line. Every line the worker writes is
JSON; the first is {"ready": true} once the store is open.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from typing import Any

from pypitoken_core import Context, ValidationError
from pypitoken_core.service import TokenService


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _read() -> dict[str, Any]:
    line = sys.stdin.readline()
    if not line:
        return {"op": "quit"}
    return json.loads(line)  # type: ignore[no-any-return]


def serve(service: TokenService) -> None:
    while True:
        msg = _read()
        if msg["op"] == "quit":
            return
        context = Context(msg.get("project"), action=msg.get("action"))
        try:
            identity = service.authenticate(msg["token"], context)
        except ValidationError as exc:
            _say({"ok": False, "reason": str(exc)})
        else:
            _say({"ok": True, "user": identity.user_name, "token_id": identity.token_id})


def churn(service: TokenService, user: str, project: str, threads: int, tokens: int) -> None:
    minted: list[dict[str, Any]] = []
    errors: list[str] = []
    lock = threading.Lock()
    upload = Context(project, action="upload")

    def work(n: int) -> None:
        for i in range(tokens):
            try:
                raw, record = service.mint(
                    user, projects=[project], description=f"{os.getpid()}/{n}/{i}"
                )
                for _ in range(2):
                    if service.authenticate(raw, upload).token_id != record.id:
                        errors.append(f"wrong identity for {record.id}")
                revoke = i % 2 == 0
                if revoke:
                    service.revoke(record.id)
                    try:
                        service.authenticate(raw, upload)
                        errors.append(f"revoked token {record.id} was accepted")
                    except ValidationError as exc:
                        if str(exc) != "token revoked":
                            errors.append(f"revoked token {record.id}: {exc}")
                with lock:
                    minted.append({"id": record.id, "raw": raw, "revoked": revoke})
            except Exception:
                errors.append(traceback.format_exc())

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    _say({"minted": minted, "errors": errors})


def main(argv: list[str]) -> None:
    mode, url, secret_file, *rest = argv
    service = TokenService.from_url(url, secret_file=secret_file)
    try:
        _say({"ready": True})
        if mode == "serve":
            serve(service)
        elif mode == "churn":
            user, project, threads, tokens = rest
            if _read()["op"] == "go":
                churn(service, user, project, int(threads), int(tokens))
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        service.close()


if __name__ == "__main__":
    main(sys.argv[1:])
