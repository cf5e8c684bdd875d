"""Fixtures for the store suite: SQLite files (the PostgreSQL ones are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a not-yet-existing SQLite file in a directory that does not exist yet."""
    return f"sqlite:///{tmp_path / 'data' / 'tokens.sqlite3'}"
