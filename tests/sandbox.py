"""A private network and private paths, so that documented commands run exactly as written.

The docs name fixed ports (``127.0.0.1:8080``, nginx on 443) and fixed paths
(``/srv/pypi``, ``/opt/pypitoken``, ``/var/lib/pypitoken``, ``/etc/ssl/...``), and a host
name (``pypi.example.com``). On a shared machine none of these can be taken for real, so
every command of a :class:`Sandbox` runs

- in its own network namespace (``ip netns``), which has nothing but its own loopback: port
  8080 there is free whatever runs on the machine, and nothing leaves the machine;
- in its own mount namespace (``unshare --mount``), where directories and files of the
  test are bind-mounted over the documented paths (``/srv``, ``/etc/hosts``, ...). The
  mounts are private: the machine's own ``/srv`` or ``/etc/hosts`` never change, and every
  command of one sandbox sees the same test directories.

This needs root (CI runs as root). Elsewhere the tests that use it skip with the reason,
except when ``PYPITOKEN_REQUIRE_SANDBOX=1`` (``.ci/run`` sets it): then a missing tool or
privilege fails the run. Processes are started in their own process group and stopped by
PID; the namespace is deleted at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.e2e.procs import Server

__all__ = ["REQUIRE_ENV", "Sandbox", "require", "sandbox"]

REQUIRE_ENV = "PYPITOKEN_REQUIRE_SANDBOX"
_names = itertools.count()

# Binds each (source, target) pair given as arguments until "--", then runs the rest.
_MOUNT_AND_EXEC = (
    'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"'
)


def require(*tools: str) -> None:
    """Skip (or fail, with ``PYPITOKEN_REQUIRE_SANDBOX=1``) unless this runs as root and
    every one of ``tools`` is installed."""
    missing = [t for t in ("ip", "unshare", *tools) if shutil.which(t) is None]
    reason = None
    if os.geteuid() != 0:
        reason = "needs root for a private network and mount namespace (ip netns, unshare)"
    elif missing:
        reason = f"needs {', '.join(missing)} (Debian: apt-get install nginx iproute2 systemd)"
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to make this a failure")


def _env(env: Mapping[str, str] | None, inherit: bool) -> dict[str, str]:
    return {**(os.environ if inherit else {}), **(env or {})}


class Sandbox:
    """One network namespace plus a set of bind mounts; see the module docstring."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._binds: list[tuple[Path, str]] = []

    def bind(self, source: Path, target: str) -> None:
        """Show ``source`` (a test file or directory) at ``target`` to every later command."""
        self._binds.append((source, target))

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped to run inside the sandbox (same PID: every layer execs)."""
        pairs = [str(part) for source, target in self._binds for part in (source, target)]
        return [
            "ip", "netns", "exec", self.name,
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _MOUNT_AND_EXEC, "sh", *pairs, "--", *argv,
        ]  # fmt: skip

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        input: str | None = None,
        inherit_env: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the sandbox and return the finished process (not checked).
        ``env`` adds to this process's environment, or replaces it (``inherit_env=False``)."""
        return subprocess.run(
            self.argv(argv), cwd=cwd, env=_env(env, inherit_env), text=True,
            capture_output=True, timeout=timeout, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )  # fmt: skip

    def answers(self, url: str, *, cacert: Path | None = None) -> bool:
        """Whether ``url`` answers with any HTTP status, from inside the sandbox."""
        extra = ["--cacert", str(cacert)] if cacert else []
        proc = self.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                         "5", *extra, url], timeout=30)  # fmt: skip
        return proc.stdout.strip() not in ("", "000")

    @contextlib.contextmanager
    def serve(
        self,
        argv: Sequence[str],
        *,
        ready_url: str,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        cacert: Path | None = None,
        timeout: float = 120,
        inherit_env: bool = True,
    ) -> Iterator[Server]:
        """Run a server in the sandbox until the block ends; wait until ``ready_url``
        answers (or fail with its log). Stopped by PID, with its process group."""
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                self.argv(argv), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=cwd, env=_env(env, inherit_env),
                start_new_session=True,
            )  # fmt: skip
        server = Server(proc, ready_url, log)
        try:
            deadline = time.monotonic() + timeout
            while not self.answers(ready_url, cacert=cacert):
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {proc.returncode}:\n"
                                       f"{server.log_text()}")  # fmt: skip
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{ready_url} did not answer:\n{server.log_text()}")
                time.sleep(0.2)
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def sandbox(*tools: str) -> Iterator[Sandbox]:
    """A new :class:`Sandbox` (loopback up), deleted at the end; see :func:`require`."""
    require(*tools)
    box = Sandbox(f"ptc-{os.getpid()}-{next(_names)}")
    subprocess.run(["ip", "netns", "add", box.name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "netns", "exec", box.name, "ip", "link", "set", "lo", "up"],
                       check=True, capture_output=True)  # fmt: skip
        yield box
    finally:
        subprocess.run(["ip", "netns", "delete", box.name], check=True, capture_output=True)
