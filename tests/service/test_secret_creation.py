"""A new server secret: 32 random bytes written as 64 hex digits, and one log line saying where.

An operator backs the file up, or provides one made with ``openssl rand -hex 32``: what the
service writes is that same shape.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from pypitoken_core.service import TokenService


def test_a_created_secret_is_64_hex_digits_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "tokens.sqlite3"
    with caplog.at_level(logging.INFO, logger="pypitoken_core"):
        TokenService.from_url(f"sqlite:///{db}").close()
    secret_file = db.with_name(db.name + ".secret")
    assert re.fullmatch(rb"[0-9a-f]{64}\n", secret_file.read_bytes())
    assert [r.getMessage() for r in caplog.records] == [
        f"created a new server secret in {secret_file} (mode 0600)"
    ]
    # Opened again, the secret is read, not created: no new line.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pypitoken_core"):
        TokenService.from_url(f"sqlite:///{db}").close()
    assert caplog.records == []


def test_a_changed_secret_is_one_warning_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "tokens.sqlite3"
    first = TokenService.from_url(f"sqlite:///{db}")
    first.add_user("alice")
    first.mint("alice")  # the store now knows the secret its tokens are minted with
    first.close()
    db.with_name(db.name + ".secret").write_bytes(b"another-secret-of-enough-length-0123456789\n")
    with caplog.at_level(logging.INFO, logger="pypitoken_core"):
        TokenService.from_url(f"sqlite:///{db}").close()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "the server secret differs from the one this store's tokens were minted with: "
            "every existing token will be refused",
        )
    ]
