"""A throwaway PostgreSQL cluster for the test suite, built from the Debian server binaries.

``initdb`` refuses to run as root, and the tests run as root in CI, so the cluster is
created and run as the ``postgres`` system user in a temporary directory it owns. It
listens on 127.0.0.1 on a free port (and on a Unix socket in that directory), trusts
local connections, and trades durability for speed (``fsync=off``): a test cluster is
never power-cut, and a killed *client* is all the crash tests need.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.procs import free_port

REQUIRE_ENV = "PYPITOKEN_REQUIRE_POSTGRES"
#: The database that holds one schema per test.
SCHEMA_DB = "store_tests"


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, or None."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bindir = Path(initdb).parent
        version = re.fullmatch(r"\d+(?:\.\d+)?", bindir.parent.name)
        if version and (bindir / "pg_ctl").exists():
            found.append((float(version.group()), bindir))
    return max(found)[1] if found else None


@dataclass
class Cluster:
    """A running cluster: where it lives, how to reach it, how to stop it."""

    bindir: Path
    root: Path
    port: int
    user: str | None  # the system user it runs as, when we are root
    host: str = "127.0.0.1"
    _counter: int = field(default=0, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(
        self, dbname: str = "postgres", password: str | None = None, schema: str | None = None
    ) -> str:
        """A URL for ``dbname``; with ``schema``, one whose tables live in that schema."""
        auth = "postgres" if password is None else f"postgres:{password}"
        options = "" if schema is None else f"?options=-csearch_path%3D{schema}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}{options}"

    def admin(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True)

    def _next_name(self) -> str:
        self._counter += 1
        return f"t_{self._counter}"

    def create_database(self) -> str:
        """Create an empty database with a new name and return that name."""
        name = self._next_name()
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_schema(self) -> str:
        """Create an empty schema in the shared :data:`SCHEMA_DB` and return its name.

        Much cheaper than a database per test (no file copy, no checkpoint), and just as
        isolated for the store, which names no schema in its SQL.
        """
        name = self._next_name()
        with self.admin(SCHEMA_DB) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return name

    def drop_schema(self, name: str) -> None:
        with self.admin(SCHEMA_DB) as conn:
            # Fail, rather than hang, if a test left a transaction open on these tables.
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def run(self, *argv: str, timeout: float = 120) -> None:
        _run(self.user, self.root, [str(self.bindir / argv[0]), *argv[1:]], timeout)

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def stop(self) -> None:
        """``pg_ctl stop -m fast``; SIGKILL the postmaster by PID if that fails."""
        pid = self.postmaster_pid()
        try:
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        except (subprocess.SubprocessError, OSError):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    time.sleep(0.5)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _run(user: str | None, cwd: Path, argv: list[str], timeout: float) -> None:
    log = cwd / "commands.log"
    with open(log, "ab") as out:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            user=user,
            group=user,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(
            proc.returncode, argv, output=log.read_text(errors="replace")[-4000:]
        )


def start_cluster(bindir: Path) -> Cluster:
    """initdb a new cluster in a temporary directory and start it on a free port."""
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="pypitoken-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bindir=bindir, root=root, port=0, user=user)
    try:
        cluster.run(
            "initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        # A free port can be taken by someone else before the server binds it: retry.
        for attempt in range(3):
            cluster.port = free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={cluster.port}",
                    f"-c unix_socket_directories={root}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            try:
                cluster.run(
                    "pg_ctl", "-D", str(cluster.data), "-l", str(root / "server.log"),
                    "-o", options, "-w", "-t", "60", "start",
                )  # fmt: skip
                with cluster.admin() as conn:
                    conn.execute(f'CREATE DATABASE "{SCHEMA_DB}"')
                return cluster
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        log = root / "server.log"
        detail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        cluster.stop()
        if detail:
            raise RuntimeError(f"PostgreSQL test cluster failed to start:\n{detail}") from None
        raise
