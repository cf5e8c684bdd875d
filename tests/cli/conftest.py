"""Fixtures for the ``pypitoken`` CLI suite: a SQLite store, CliRunner and the console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pypitoken_core.cli import cli
from tests.service.conftest import ENV_VARS


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'tokens.sqlite3'}"


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(db: str) -> Invoke:
    """Run ``pypitoken --db <db> ARGS`` in-process; ``input`` feeds stdin."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, db_url: str | None = db) -> Result:
        argv = (["--db", db_url] if db_url else []) + list(args)
        return runner.invoke(cli, argv, input=input, prog_name="pypitoken")

    return run


def _console_script() -> str:
    found = Path(sys.executable).with_name("pypitoken")
    if found.exists():
        return str(found)
    on_path = shutil.which("pypitoken")
    if on_path is None:
        pytest.fail("the pypitoken console script is not installed (pip install -e .)")
    return on_path


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def pypitoken(db: str) -> Run:
    """Run the installed ``pypitoken`` console script with ``--db <db>``."""
    script = _console_script()
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}

    def run(
        *args: str, input: str | None = None, db_url: str | None = db
    ) -> subprocess.CompletedProcess[str]:
        argv = [script] + (["--db", db_url] if db_url else []) + list(args)
        return subprocess.run(
            argv, input=input, capture_output=True, text=True, env=env, timeout=60, check=False
        )

    return run
