"""devpi parity with the SQL stores: last uses are recorded, the audit trail is readable.

A real devpi-server with a read-protected index, so that a download (a read request,
where devpi's keyfs cannot write) checks the token: its last use is written a moment
later by the plugin's background writer. Refusals and revocations are kept in the
server's audit trail, read over HTTP by root (``GET /+pypitoken/audit``) and with the
``pypitoken audit`` command on the trail's file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pypitoken_devpi.server import AUDIT_FILE

from tests.e2e.pypiserver.conftest import exe, run

from .conftest import PASSWORDS, Devpi, request

pytestmark = pytest.mark.e2e


def file_url(devpi: Devpi) -> str:
    links = request(f"{devpi.url}/alice/private/tinypkg", auth=("alice", PASSWORDS["alice"]))
    return next(
        link["href"] for version in links.body["result"].values() for link in version["+links"]
    )


def record(devpi: Devpi, token_id: str) -> dict[str, Any]:
    listed = devpi.api("GET", "/alice/+api-tokens", user="alice")
    assert listed.status == 200, listed
    return next(t for t in listed.body["result"]["tokens"] if t["id"] == token_id)


def test_a_download_records_the_last_use_a_moment_later(private: Devpi) -> None:
    token_id, token = private.mint("alice", indexes=["alice/private"], actions=["download"])
    assert record(private, token_id)["last_used"] is None
    before = int(time.time())
    reply = request(file_url(private), auth=("__token__", token), headers={"Accept": "*/*"})
    assert reply.status == 200
    deadline = time.monotonic() + 30
    while (stamp := record(private, token_id)["last_used"]) is None:
        assert time.monotonic() < deadline, "the last use was never recorded"
        time.sleep(0.2)
    assert before <= stamp <= int(time.time())


def test_refusals_and_revocations_are_kept_in_the_audit_trail(private: Devpi) -> None:
    token_id, token = private.mint("alice", indexes=["alice/private"])
    assert private.api("DELETE", f"/alice/+api-tokens/{token_id}", user="alice").status == 200
    for _ in range(3):  # folded into one line with a count
        reply = request(file_url(private), auth=("__token__", token), headers={"Accept": "*/*"})
        assert (reply.status, reply.reason) == (403, "Invalid API Token: token revoked")
    trail = private.api("GET", f"/+pypitoken/audit?token={token_id}", user="root")
    assert trail.status == 200, trail
    lines = [(e["event"], e["count"], e["reason"]) for e in trail.body["result"]["events"]]
    assert lines == [("denied", 3, "token revoked"), ("revoked", 1, "revoked"), ("minted", 1, "")]


def test_the_trail_is_roots_to_read(private: Devpi) -> None:
    _, token = private.mint("alice")
    for credentials, status, message in (
        ({"user": "alice"}, 403, "only root reads the audit trail"),
        ({"auth": ("__token__", token)}, 403, "API tokens cannot read the audit trail"),
        ({}, 401, "only root reads the audit trail"),
    ):
        reply = private.api("GET", "/+pypitoken/audit", **credentials)
        assert (reply.status, reply.body["message"]) == (status, message + (
            "; log in with a password" if "tokens" in message else ""
        ))  # fmt: skip
    bad = private.api("GET", "/+pypitoken/audit?limit=lots", user="root")
    assert (bad.status, bad.body["message"]) == (
        400, "'limit' must be a number of lines (at most 999999)"
    )  # fmt: skip
    assert private.api("GET", "/+pypitoken/audit?limit=1", user="root").status == 200


def test_the_trail_file_reads_with_the_pypitoken_command(private: Devpi) -> None:
    token_id, _ = private.mint("alice")
    trail = Path(private.workdir) / "server" / AUDIT_FILE
    shown = run([exe("pypitoken"), "--db", f"sqlite:///{trail}", "audit", "list",
                 "--token", token_id, "--json"])  # fmt: skip
    assert [(e["event"], e["user"]) for e in json.loads(shown.stdout)] == [("minted", "alice")]
