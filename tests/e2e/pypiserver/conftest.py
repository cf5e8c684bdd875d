"""Real ``pypitoken-pypiserver`` processes on 127.0.0.1, driven by real twine, pip and the
``pypitoken`` admin command, each run as a subprocess the way a user would."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.dists import make_sdist, make_wheel
from tests.e2e.procs import Server, exe, free_port, run_server

with warnings.catch_warnings():
    # test_adapter.py runs pypiserver in-process. Its vendored bottle imports the deprecated
    # stdlib cgi module, and optional imports (watchdog) warn through bottle's importer.
    warnings.simplefilter("ignore")
    import pypiserver.bottle_wrapper  # noqa: F401

# bottle appends an importer for its "bottle.ext" namespace to sys.meta_path. It has no
# find_spec(), so every *failed* import in this process would then raise ImportWarning (an
# error under filterwarnings=error) instead of ImportError, in other test modules too.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_ImportRedirect"]

BIN = Path(sys.executable).parent
TOKEN_USER = "__token__"


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, fail the test with that output if it fails."""
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{argv[:4]}... exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_htpasswd(path: Path, passwords: Mapping[str, str]) -> None:
    """Write a new htpasswd file at ``path`` with these users (apr1 hashes)."""
    from passlib.apache import HtpasswdFile

    htpasswd = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    for user, password in passwords.items():
        htpasswd.set_password(user, password)
    htpasswd.save()


@dataclass
class Admin:
    """The ``pypitoken --db URL`` admin command of a store."""

    db: str

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([exe("pypitoken"), "--db", self.db, *args], check=check)

    def user(self, name: str) -> str:
        self("user", "add", name)
        return name

    def mint(
        self,
        user: str,
        *projects: str,
        expires: str | None = None,
        actions: str | None = None,
    ) -> str:
        """Create a token with ``pypitoken token create`` and return it (its only output)."""
        args = ["token", "create", "--user", user]
        for project in projects:
            args += ["--project", project]
        if expires is not None:
            args += ["--expires", expires]
        if actions is not None:
            args += ["--actions", actions]
        return self(*args).stdout.strip()

    def tokens(self) -> list[dict[str, Any]]:
        return json.loads(self("token", "list", "--json").stdout)

    def restrict(self, raw: str, *args: str) -> str:
        """``pypitoken restrict`` (offline, no store): the narrowed token."""
        return run([exe("pypitoken"), "restrict", raw, *args]).stdout.strip()

    def token_id(self, raw: str) -> str:
        """The token's identifier, read offline with ``pypitoken inspect --json``."""
        return json.loads(run([exe("pypitoken"), "inspect", "--json", raw]).stdout)["identifier"]


@dataclass
class Index:
    """A running pypiserver with its package directory and token store."""

    server: Server
    url: str
    packages: Path
    admin: Admin

    def twine(self, user: str, password: str, *files: Path) -> subprocess.CompletedProcess[str]:
        """``twine upload`` the files; returns the finished process (not checked)."""
        return run(
            [
                sys.executable,
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                self.url + "/",
                "-u",
                user,
                "-p",
                password,
                *map(str, files),
            ],
            check=False,
        )

    def pip_download(
        self, project: str, dest: Path, user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``pip download`` one project from this index (credentials in the URL, like CI).

        ``--isolated``: no pip.conf of the machine running the tests adds another index.
        """
        netloc = self.url.split("://", 1)[1]
        creds = f"{user}:{password}@" if user is not None else ""
        return run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--isolated",
                "--disable-pip-version-check",
                "--no-input",
                "--keyring-provider",
                "disabled",
                "--retries",
                "0",
                "-d",
                str(dest),
                "--index-url",
                f"http://{creds}{netloc}/simple/",
                project,
            ],
            check=False,
        )

    def stored(self) -> set[str]:
        return {p.name for p in self.packages.iterdir()}


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple[Path, Path]]:
    """``dists(name, version)`` -> (wheel, sdist), built once per name and version."""
    root = tmp_path_factory.mktemp("dists")
    made: dict[tuple[str, str], tuple[Path, Path]] = {}

    def build(name: str, version: str = "0.1") -> tuple[Path, Path]:
        if (name, version) not in made:
            where = root / f"{name}-{version}"
            where.mkdir()
            made[name, version] = (
                make_wheel(where, name, version),
                make_sdist(where, name, version),
            )
        return made[name, version]

    return build


@contextlib.contextmanager
def pypiserver_running(
    workdir: Path,
    *options: str,
    ownership: str = "pypi",
    users: Sequence[str] = (),
    seed: Mapping[str, bytes] | None = None,
) -> Iterator[Index]:
    """Start ``pypitoken-pypiserver run`` on a free port with a fresh store and package dir.

    ``users`` are registered and ``seed`` (file name -> bytes) is written into the package
    directory before the server starts.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    packages = workdir / "packages"
    packages.mkdir()
    for filename, data in (seed or {}).items():
        (packages / filename).write_bytes(data)
    db = f"sqlite:///{workdir / 'tokens.sqlite3'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        exe("pypitoken-pypiserver"),
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--disable-fallback",
        "--token-db",
        db,
        "--ownership",
        ownership,
        *options,
        str(packages),
    ]
    admin = Admin(db)
    admin("user", "list")  # creates the store (and its secret) before the server opens it
    for user in users:
        admin.user(user)
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=workdir / "server.log", cwd=workdir
    ) as server:
        yield Index(server, url, packages, admin)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """One server per module, default pypiserver flags (``-a update``), ownership ``pypi``."""
    with pypiserver_running(tmp_path_factory.mktemp("index")) as idx:
        yield idx
