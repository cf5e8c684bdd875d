"""What a token's record says about one use: the pure record checks, as tables."""

from __future__ import annotations

import pytest

from pypitoken_core import Context
from pypitoken_core._checks import scope_reasons, window_reasons
from pypitoken_core.store import TokenRecord

NOW = 1_700_000_000


def record(**changes: object) -> TokenRecord:
    fields: dict = {
        "id": "00000000-0000-4000-8000-000000000000",
        "user_id": "00000000-0000-4000-8000-000000000001",
        "salt": b"s" * 16,
        "description": "",
        "projects": (),
        "project_ids": (),
        "indexes": (),
        "actions": ("upload", "download"),
        "created": NOW - 10,
        "expires": None,
        "not_before": None,
        "last_used": None,
        "revoked": False,
    }
    fields.update(changes)
    return TokenRecord(**fields)


@pytest.mark.parametrize(
    ("changes", "now", "reasons"),
    [
        ({}, NOW, []),
        ({"expires": NOW + 1}, NOW, []),
        ({"expires": NOW}, NOW, ["token expired at 2023-11-14 22:13:20 UTC"]),
        ({"not_before": NOW}, NOW, []),
        ({"not_before": NOW + 1}, NOW, ["token not valid before 2023-11-14 22:13:21 UTC"]),
        (
            {"expires": NOW - 5, "not_before": NOW + 5},
            NOW,
            [
                "token expired at 2023-11-14 22:13:15 UTC",
                "token not valid before 2023-11-14 22:13:25 UTC",
            ],
        ),
    ],
)
def test_window(changes, now, reasons):
    assert window_reasons(record(**changes), now) == reasons


@pytest.mark.parametrize(
    ("changes", "context", "reasons"),
    [
        ({}, Context("foo", action="upload"), []),
        ({}, Context(action="download"), []),
        ({"projects": ("foo",)}, Context("Foo", action="upload"), []),
        ({"projects": ("foo",)}, Context("bar", action="upload"), ["not valid for project 'bar'"]),
        (
            {"projects": ("foo",)},
            Context(action="download"),
            ["this token is scoped to projects and the request names none"],
        ),
        ({"indexes": ("root/dev",)}, Context(action="upload", index="root/dev"), []),
        (
            {"indexes": ("root/dev",)},
            Context(action="upload", index="alice/dev"),
            ["not valid for index 'alice/dev'"],
        ),
        (
            {"indexes": ("root/dev",)},
            Context(action="upload"),
            ["this token is scoped to indexes and the request names none"],
        ),
        ({}, Context("foo"), ["the request's action is unknown"]),
        ({}, Context("foo", action="delete"), ["not valid for action 'delete'"]),
        (
            {"projects": ("foo",), "indexes": ("root/dev",), "actions": ("download",)},
            Context("bar", action="upload", index="alice/dev"),
            [
                "not valid for project 'bar'",
                "not valid for index 'alice/dev'",
                "not valid for action 'upload'",
            ],
        ),
    ],
)
def test_scope(changes, context, reasons):
    assert scope_reasons(record(**changes), context) == reasons
