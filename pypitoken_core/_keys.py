"""The server secret, and the per-token keys derived from it.

Each token has a random salt, stored; its key is HMAC-SHA256(server secret, salt) and is
never stored, so a database dump alone cannot forge a token. Losing or changing the server
secret invalidates every token minted with it: the store keeps a fingerprint of the
secret (:func:`fingerprint`, never the secret) so that a changed one is noticed.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from ._macaroon import hmac_sha256
from .exceptions import ConfigurationError
from .store import TokenRecords

__all__ = [
    "MIN_SECRET_BYTES",
    "STAND_IN_SALT",
    "check_secret",
    "derive_key",
    "fingerprint",
    "load_secret",
    "new_salt",
    "note_fingerprint",
]

# The service's logger: operators configure one name for everything the service says.
log = logging.getLogger("pypitoken_core.service")

#: Shortest server secret accepted.
MIN_SECRET_BYTES = 16

#: An unknown id is checked against the key this salt gives, so that it costs what a known
#: id with a bad signature costs. No token has it: salts are 16 random bytes.
STAND_IN_SALT = b"pypitoken-core: no such token"

_SECRET_ENV = "PYPITOKEN_SECRET"  # noqa: S105 (a variable name, not a secret)
_SECRET_FILE_ENV = "PYPITOKEN_SECRET_FILE"  # noqa: S105
_FINGERPRINT_SETTING = "secret_fingerprint"


def derive_key(secret: bytes, salt: bytes) -> bytes:
    """A token's macaroon key: HMAC-SHA256(server secret, per-token salt)."""
    return hmac_sha256(secret, salt)


def new_salt() -> bytes:
    """A fresh per-token salt (16 random bytes)."""
    return secrets.token_bytes(16)


def fingerprint(secret: bytes) -> str:
    """A short, one-way name for ``secret``: equal secrets, equal fingerprints."""
    return hmac.digest(secret, b"pypitoken-core secret fingerprint", "sha256")[:8].hex()


def check_secret(secret: object) -> bytes:
    """Return ``secret`` if it can sign tokens: bytes, at least :data:`MIN_SECRET_BYTES`.

    Raises :class:`ConfigurationError` otherwise.
    """
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"the server secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret


def note_fingerprint(store: TokenRecords, secret: bytes, *, warn: bool) -> None:
    """Record in ``store`` that its tokens are minted with ``secret`` from now on.

    With ``warn`` (an index starting), a store whose tokens were minted with another secret
    keeps its fingerprint, and the log says that every existing token will be refused;
    otherwise (a token being minted) the new fingerprint replaces the old one.
    """
    known = store.get_setting(_FINGERPRINT_SETTING)
    current = fingerprint(secret)
    if known == current:
        return
    if known is not None and warn:
        log.warning(
            "the server secret differs from the one this store's tokens were minted "
            "with: every existing token will be refused"
        )
        return
    store.set_setting(_FINGERPRINT_SETTING, current)


def load_secret(
    db_url: str, secret_file: str | os.PathLike[str] | None = None, *, create: bool = True
) -> bytes:
    """Find the server secret: ``$PYPITOKEN_SECRET``, a secret file, or the SQLite default.

    The file is ``secret_file``, else ``$PYPITOKEN_SECRET_FILE``, else (for SQLite stores
    only) ``<database>.secret`` next to the database. A missing file is created with
    mode 0600 when ``create`` is true. A PostgreSQL store has no natural place for the
    file, so it needs one of the explicit sources. Raises :class:`ConfigurationError`.
    """
    env = os.environ.get(_SECRET_ENV)
    if env and secret_file is None:
        secret = env.encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"${_SECRET_ENV} must be at least {MIN_SECRET_BYTES} characters"
            )
        return secret
    path_text = secret_file or os.environ.get(_SECRET_FILE_ENV)
    if path_text is None:
        if not db_url.startswith("sqlite:///"):
            raise ConfigurationError(
                "this store needs a server secret: pass --secret-file or set "
                f"${_SECRET_FILE_ENV} or ${_SECRET_ENV}"
            )
        path_text = db_url[len("sqlite:///") :] + ".secret"
    path = Path(path_text)
    try:
        return _read_secret(path)
    except FileNotFoundError:
        if not create:
            raise ConfigurationError(f"secret file {path} does not exist") from None
    return _create_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigurationError(f"cannot read secret file {path}: {exc.strerror}") from exc
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"secret file {path} holds fewer than {MIN_SECRET_BYTES} bytes")
    return secret


def _create_secret(path: Path) -> bytes:
    # Write a temporary file, then link it into place: the link fails if another process
    # won the race, and then both use the winner's secret. Nobody ever reads half a file.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
            log.info("created a new server secret in %s (mode 0600)", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return _read_secret(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot create secret file {path}: {exc.strerror}") from exc
