"""A TokenService over devpi's keyfs store opened without its trail file: no trail to read,
no projects.

devpi keeps the users and the projects (the plugin opens the store with the trail file in
devpi's server directory); the service then refuses, with a reason
that names the store, what only a store with a directory or a trail can answer. The same
calls on a store that keeps everything are the positive controls.
"""

from __future__ import annotations

from typing import Any

import pytest
from pypitoken_devpi._store import KeyfsStore

from pypitoken_core.exceptions import StoreError
from pypitoken_core.service import Claim, TokenService
from pypitoken_core.store import open_store

SECRET = b"s" * 32


def test_it_has_no_audit_trail_to_read(xom: Any) -> None:
    service = TokenService(KeyfsStore(xom), SECRET, ownership="external")
    with pytest.raises(
        StoreError, match=r"^this devpi keyfs store was opened without an audit trail to read$"
    ):
        service.list_events()
    full = TokenService(open_store("memory://"), SECRET, ownership="external")
    assert full.list_events() == []


def test_it_has_no_claims_to_settle(xom: Any) -> None:
    service = TokenService(KeyfsStore(xom), SECRET, ownership="external")
    claim = Claim("foo", "0" * 32, "alice")
    for settle in (
        lambda: service.confirm_claim(claim),
        lambda: service.release_claim(claim, has_files=lambda: False),
        lambda: service.adopt_unowned("alice", ["foo"]),
    ):
        with pytest.raises(StoreError, match=r"^devpi-keyfs.* keeps no projects to claim$"):
            settle()
    full = TokenService(open_store("memory://"), SECRET, ownership="pypi")
    full.add_user("alice")
    assert full.adopt_unowned("alice", ["foo"]) == ["foo"]
