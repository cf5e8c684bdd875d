"""A missing or unwritable package directory stops the server at start, in every launch
style, with a message that names the directory and what to do.

pypiserver itself starts on such a directory (only its command line checks the ones it is
given, and only for reading) and answers the first upload with a 500 that twine retries
five times: the paste example did exactly that in a fresh clone, where ``packages/`` does
not exist. Each refusal here is paired with the same launch on a good directory.

Unwritable is tried as a user the directory does not belong to: as root (CI), the servers
run as ``nobody`` through ``setpriv``, since root writes anywhere; as anyone else, on a
directory without write permission.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pypitoken_pypiserver import make_app
from pypitoken_pypiserver._app import PackageDirectoryError, check_package_dirs

from tests.e2e.procs import free_port, run_server

from .conftest import BIN, Admin, exe
from .test_launch_styles import EXAMPLES

pytestmark = pytest.mark.e2e

ENV = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
NOBODY = 65534


def _exits(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a server command that must refuse to start; return its output."""
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env={**os.environ, **ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0, f"the server started:\n{proc.stdout}\n{proc.stderr}"
    return " ".join((proc.stdout + proc.stderr).split())


def _serves(
    argv: Sequence[str], *, port: int, cwd: Path, env: dict[str, str] | None = None, log: Path
) -> None:
    """Run a server command that must start: wait for /health, then stop it by PID."""
    url = f"http://127.0.0.1:{port}"
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=log, env={**ENV, **(env or {})}, cwd=cwd
    ):
        pass


# -- in-process: the check itself ------------------------------------------------------------


def test_check_names_the_directory_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "packages"
    with pytest.raises(
        PackageDirectoryError,
        match=rf"^the package directory {missing} "
        rf"does not exist: create it \(mkdir -p {missing}\)",
    ):
        check_package_dirs([missing])
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(
        PackageDirectoryError,
        match=r"^the package directory .* is not a "
        r"directory$",
    ):
        check_package_dirs([a_file])
    missing.mkdir()
    check_package_dirs([missing])
    # Only the first directory takes uploads; the others are read, and must exist too.
    with pytest.raises(PackageDirectoryError, match="does not exist"):
        check_package_dirs([missing, tmp_path / "other"])


def test_make_app_refuses_a_missing_directory(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    packages = tmp_path / "packages"
    with pytest.raises(PackageDirectoryError, match=f"{packages} does not exist"):
        make_app(roots=[str(packages)], token_db=db)
    packages.mkdir()
    assert callable(make_app(roots=[str(packages)], token_db=db))


# -- every launch style, as a real process ----------------------------------------------------


def test_cli_refuses_its_default_directory_when_missing(tmp_path: Path) -> None:
    """pypiserver checks the directories given on its command line, not its default
    ``~/packages``: ours is checked too."""
    home = tmp_path / "home"
    home.mkdir()
    db = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    argv = [
        exe("pypitoken-pypiserver"),
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "--token-db",
        db,
    ]
    out = _exits(argv, cwd=tmp_path, env={"HOME": str(home)})
    assert f"pypitoken-pypiserver: the package directory {home}/packages does not exist" in out
    (home / "packages").mkdir()
    port = free_port()
    argv[5] = str(port)
    _serves(argv, port=port, cwd=tmp_path, env={"HOME": str(home)}, log=tmp_path / "log")


def test_waitress_wsgi_example_refuses_a_missing_directory(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    env = {
        "PYPISERVER_PACKAGES": str(packages),
        "PYPITOKEN_DB": f"sqlite:///{tmp_path / 'tokens.sqlite3'}",
    }
    port = free_port()
    argv = [exe("waitress-serve"), f"--listen=127.0.0.1:{port}", "wsgi_app:application"]
    out = _exits(argv, cwd=EXAMPLES, env=env)
    # waitress-serve: "There was an exception (PackageDirectoryError) importing your module."
    assert "(PackageDirectoryError)" in out
    assert f"the package directory {packages} does not exist: create it" in out
    packages.mkdir()
    _serves(argv, port=port, cwd=EXAMPLES, env=env, log=tmp_path / "log")


def test_paste_example_in_a_fresh_clone_refuses_to_start(tmp_path: Path) -> None:
    """The reproduction: paste.ini's ``roots = %(here)s/packages`` does not exist in a
    fresh clone. The server used to start and answer the first upload with a 500."""
    shutil.copy(EXAMPLES / "paste.ini", tmp_path / "paste.ini")
    port = free_port()
    argv = [exe("pserve"), str(tmp_path / "paste.ini"), f"http_port={port}"]
    out = _exits(argv, cwd=tmp_path)
    assert f"the package directory {tmp_path}/packages does not exist: create it" in out
    (tmp_path / "packages").mkdir()
    Admin(f"sqlite:///{tmp_path / 'pypitoken.sqlite3'}")("user", "list")
    _serves(argv, port=port, cwd=tmp_path, log=tmp_path / "log")


@contextlib.contextmanager
def _other_user_dirs() -> Iterator[tuple[Path, list[str]]]:
    """A directory tree the server's user can reach, and the prefix that runs a command as
    a user who cannot write to a directory this process makes read-only (see module doc)."""
    base = Path(tempfile.mkdtemp(prefix="pkgdir-"))
    try:
        base.chmod(0o755)
        if os.geteuid() == 0:
            yield (
                base,
                ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"],
            )
        else:
            yield base, []
    finally:
        shutil.rmtree(base)


def _as_server_user(path: Path, writable: bool) -> None:
    if os.geteuid() == 0:
        os.chown(path, NOBODY if writable else 0, NOBODY if writable else 0)
        path.chmod(0o755)
    else:
        path.chmod(0o755 if writable else 0o555)


@pytest.mark.parametrize("style", ["cli", "waitress"])
def test_unwritable_directory_is_refused(style: str) -> None:
    with _other_user_dirs() as (base, prefix):
        state = base / "state"  # the store, writable by the server's user
        state.mkdir()
        _as_server_user(state, writable=True)
        packages = base / "packages"
        packages.mkdir()
        _as_server_user(packages, writable=False)
        db = f"sqlite:///{state / 'tokens.sqlite3'}"
        port = free_port()
        if style == "cli":
            argv = [
                *prefix,
                exe("pypitoken-pypiserver"),
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "--token-db",
                db,
                str(packages),
            ]
            cwd, env = base, {}
            expected = "pypitoken-pypiserver: cannot write to the package directory"
        else:
            argv = [
                *prefix,
                exe("waitress-serve"),
                f"--listen=127.0.0.1:{port}",
                "wsgi_app:application",
            ]
            cwd, env = EXAMPLES, {"PYPISERVER_PACKAGES": str(packages), "PYPITOKEN_DB": db}
            expected = (
                "(PackageDirectoryError) importing your module. It had these arguments: "
                "1. cannot write to the package directory"
            )
        out = _exits(argv, cwd=cwd, env=env)
        assert (
            f"{expected} {packages}, where uploads are stored: Permission denied; make it "
            "writable for the user the server runs as" in out
        )
        _as_server_user(packages, writable=True)
        _serves(argv, port=port, cwd=cwd, env=env, log=state / "log")
