"""A keyring backend for the ``pypitoken remote`` tests: passwords from a JSON file named by
``$PYPITOKEN_TEST_KEYRING`` (``{"service": {"user": "password"}}``), selected with
``PYTHON_KEYRING_BACKEND=tests.e2e.keyring_backend.FileKeyring`` as keyring documents."""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _read(self) -> dict[str, dict[str, str]]:
        with open(os.environ["PYPITOKEN_TEST_KEYRING"]) as handle:
            return json.load(handle)  # type: ignore[no-any-return]

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError("the tests' keyring is read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError("the tests' keyring is read-only")
