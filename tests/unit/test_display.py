"""The one record serializer, reason-phrase maker and time format, shared by CLI and adapters."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pypitoken_core.display import (
    MAX_REASON_PHRASE,
    iso,
    publisher_json,
    reason_phrase,
    token_json,
)
from pypitoken_core.store import PublisherRecord, TokenRecord

RECORD = TokenRecord(
    id="3b4f8c2e-5d6a-4e7b-9c1d-2f3a4b5c6d7e",
    user_id="0f2e4d6c-8b0a-4c2e-8f1a-3b5c7d9e1f20",
    salt=b"SALT-never-shown",
    description="ci",
    projects=("foo",),
    project_ids=("8b1d4a3c-7f58-4b5c-9d0e-2f3a4b5c6d7e",),
    indexes=("root/dev",),
    actions=("upload",),
    created=1_700_000_000,
    expires=1_700_003_600,
    not_before=None,
    last_used=None,
    revoked=False,
)


def test_token_json_for_people():
    assert token_json(RECORD, owner="alice") == {
        "id": RECORD.id,
        "user": "alice",
        "user_id": RECORD.user_id,
        "description": "ci",
        "projects": ["foo"],
        "indexes": ["root/dev"],
        "actions": ["upload"],
        "created": "2023-11-14T22:13:20Z",
        "not_before": None,
        "expires": "2023-11-14T23:13:20Z",
        "last_used": None,
        "revoked": False,
        "publisher_id": None,
    }


def test_publisher_json():
    record = PublisherRecord(
        id="p1", kind="github", issuer="https://token.actions.githubusercontent.com",
        config='{"owner":"o","repository":"r","workflow":"w.yml"}', lookup_key="k",
        projects=("foo",), index=None, pending=("foo",), added_by="u1", created=1_700_000_000,
    )  # fmt: skip
    assert publisher_json(record, added_by="alice") == {
        "id": "p1", "kind": "github", "issuer": "https://token.actions.githubusercontent.com",
        "owner": "o", "repository": "r", "workflow": "w.yml", "projects": ["foo"],
        "index": None, "pending": ["foo"], "added_by": "alice", "created": "2023-11-14T22:13:20Z",
    }  # fmt: skip
    assert publisher_json(record, added_by=None, epoch=True)["created"] == 1_700_000_000
    damaged = dataclasses.replace(record, config="{")
    assert "owner" not in publisher_json(damaged, added_by=None)


def test_token_json_for_programs_keeps_seconds():
    shown = token_json(dataclasses.replace(RECORD, revoked=True), owner=None, epoch=True)
    assert (shown["user"], shown["created"], shown["expires"], shown["revoked"]) == (
        None,
        1_700_000_000,
        1_700_003_600,
        True,
    )
    assert shown.keys() == token_json(RECORD, owner="alice").keys()


@pytest.mark.parametrize("epoch", [False, True])
def test_token_json_never_shows_the_salt(epoch):
    text = json.dumps(token_json(RECORD, owner="alice", epoch=epoch))
    assert "SALT" not in text and "salt" not in text and "project_ids" not in text


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Invalid API Token: token revoked", "Invalid API Token: token revoked"),
        ("bad\r\nSet-Cookie: a=b", "bad??Set-Cookie: a=b"),
        ("project 'ünï'", "project '?n?'"),
        ("tab\there", "tab?here"),
        ("  many   spaces  ", "many spaces"),
        ("", ""),
        ("x" * MAX_REASON_PHRASE, "x" * MAX_REASON_PHRASE),
        ("x" * (MAX_REASON_PHRASE + 1), "x" * (MAX_REASON_PHRASE - 3) + "..."),
    ],
)
def test_reason_phrase(text, phrase):
    assert reason_phrase(text) == phrase
    assert reason_phrase(text).isascii() and reason_phrase(text).isprintable()


def test_reason_phrase_limit():
    assert reason_phrase("abcdefgh", limit=5) == "ab..."
    assert reason_phrase("abcde", limit=5) == "abcde"


def test_iso_is_the_core_time_format():
    assert iso(1_700_000_000) == "2023-11-14T22:13:20Z"
    assert iso(1_700_000_000, spaced=True) == "2023-11-14 22:13:20 UTC"
