"""The server secret: where it comes from, how it is created, what changing it does."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from pypitoken_core import ConfigurationError, ValidationError
from pypitoken_core.service import INVALID_TOKEN, TokenService, derive_key, load_secret
from tests.service.conftest import upload


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tokens.sqlite3"


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def open_service(path: Path, **kwargs: object) -> TokenService:
    return TokenService.from_url(url(path), **kwargs)  # type: ignore[arg-type]


def mint_alice(service: TokenService) -> str:
    service.add_user("alice")
    raw, _ = service.mint("alice")
    return raw


def refused_for_the_secret(service: TokenService, raw: str) -> None:
    """The holder reads only INVALID_TOKEN; the audit trail tells the admin about the secret."""
    with pytest.raises(ValidationError, match=f"^{INVALID_TOKEN}$"):
        service.authenticate(raw, upload("foo"))
    newest = service.store.list_events(limit=1)[0]
    assert newest.event == "denied"
    assert "server secret changed" in newest.reason


def test_secret_file_created_0600_next_to_the_database(db: Path) -> None:
    service = open_service(db)
    try:
        secret_file = db.with_name(db.name + ".secret")
        assert secret_file.exists()
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert len(secret_file.read_bytes().strip()) >= 32
        assert [p.name for p in db.parent.iterdir() if p.name.startswith(".")] == []
    finally:
        service.close()


def test_secret_file_created_0600_whatever_the_umask(db: Path) -> None:
    old = os.umask(0)
    try:
        service = open_service(db)
        service.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.with_name(db.name + ".secret").stat().st_mode) == 0o600


def test_secret_is_reused_on_reopen(db: Path) -> None:
    first = open_service(db)
    raw = mint_alice(first)
    first.close()
    secret_file = db.with_name(db.name + ".secret")
    before = secret_file.read_bytes()
    second = open_service(db)
    try:
        assert second.authenticate(raw, upload("foo")).user_name == "alice"
        assert secret_file.read_bytes() == before
    finally:
        second.close()


def test_database_alone_holds_neither_secret_nor_keys(db: Path) -> None:
    service = open_service(db)
    try:
        mint_alice(service)
        records = service.list_tokens()
        secret = db.with_name(db.name + ".secret").read_bytes().strip()
        keys = [derive_key(secret, r.salt) for r in records]
    finally:
        service.close()
    files = [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm")]
    dump = b"".join(p.read_bytes() for p in files if p.exists())
    assert b"SQLite format 3" in dump
    assert secret not in dump
    assert bytes.fromhex(secret.decode()) not in dump
    for key in keys:
        assert key not in dump and key.hex().encode() not in dump


def test_changed_secret_invalidates_tokens_and_says_so(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = open_service(db)
    raw = mint_alice(first)
    first.close()
    db.with_name(db.name + ".secret").write_bytes(b"a-completely-different-secret-0123456789\n")
    with caplog.at_level(logging.WARNING):
        second = open_service(db)
    try:
        assert any("secret" in r.getMessage() for r in caplog.records), caplog.records
        refused_for_the_secret(second, raw)
    finally:
        second.close()


def test_lost_secret_invalidates_tokens_and_says_so(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = open_service(db)
    raw = mint_alice(first)
    first.close()
    db.with_name(db.name + ".secret").unlink()
    with caplog.at_level(logging.WARNING):
        second = open_service(db)
    try:
        assert any("secret" in r.getMessage() for r in caplog.records), caplog.records
        refused_for_the_secret(second, raw)
    finally:
        second.close()


def test_explicit_secret_file(db: Path, tmp_path: Path) -> None:
    explicit = tmp_path / "keys" / "server.secret"
    service = open_service(db, secret_file=explicit)
    try:
        raw = mint_alice(service)
    finally:
        service.close()
    assert stat.S_IMODE(explicit.stat().st_mode) == 0o600
    assert not db.with_name(db.name + ".secret").exists()
    again = open_service(db, secret_file=str(explicit))
    try:
        assert again.authenticate(raw, upload("foo")).user_name == "alice"
    finally:
        again.close()


def test_secret_file_from_environment(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = tmp_path / "env.secret"
    monkeypatch.setenv("PYPITOKEN_SECRET_FILE", str(explicit))
    open_service(db).close()
    assert explicit.exists()
    assert not db.with_name(db.name + ".secret").exists()


def test_secret_from_environment(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYPITOKEN_SECRET", "an environment secret, long enough")
    service = open_service(db)
    try:
        raw = mint_alice(service)
    finally:
        service.close()
    assert not db.with_name(db.name + ".secret").exists()
    assert load_secret(url(db)) == b"an environment secret, long enough"
    again = open_service(db)
    try:
        assert again.authenticate(raw, upload("foo")).user_name == "alice"
    finally:
        again.close()
    monkeypatch.setenv("PYPITOKEN_SECRET", "another environment secret, long")
    changed = open_service(db)
    try:
        refused_for_the_secret(changed, raw)
    finally:
        changed.close()


def test_short_secrets_are_refused(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "short.secret"
    short.write_bytes(b"tiny\n")
    with pytest.raises(ConfigurationError, match="fewer than"):
        load_secret(url(db), short)
    with pytest.raises(ConfigurationError, match="fewer than"):
        open_service(db, secret_file=short)
    monkeypatch.setenv("PYPITOKEN_SECRET", "tiny")
    with pytest.raises(ConfigurationError, match="PYPITOKEN_SECRET"):
        load_secret(url(db))


def test_missing_secret_file_without_create(db: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_secret(url(db), tmp_path / "absent", create=False)


def test_unreadable_secret_path(db: Path, tmp_path: Path) -> None:
    a_directory = tmp_path / "dir.secret"
    a_directory.mkdir()
    with pytest.raises(ConfigurationError, match="secret file"):
        load_secret(url(db), a_directory)


def test_memory_store_needs_an_explicit_secret() -> None:
    with pytest.raises(ConfigurationError, match="secret"):
        TokenService.from_url("memory://")


@pytest.mark.postgres
def test_postgres_store_needs_an_explicit_secret(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="secret"):
        TokenService.from_url(pg_url)
    service = TokenService.from_url(pg_url, secret_file=tmp_path / "pg.secret")
    try:
        assert stat.S_IMODE((tmp_path / "pg.secret").stat().st_mode) == 0o600
    finally:
        service.close()


def test_domain_defaults_to_the_store_setting(db: Path) -> None:
    service = open_service(db)
    assert service.domain == "localhost"
    service.store.set_setting("domain", "pkgs.example.org")
    service.close()
    again = open_service(db)
    try:
        assert again.domain == "pkgs.example.org"
    finally:
        again.close()
    explicit = open_service(db, domain="given.example")
    try:
        assert explicit.domain == "given.example"
    finally:
        explicit.close()
