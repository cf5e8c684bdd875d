"""Several server processes on one token store, each reachable on a connection of its own.

Four gunicorn workers (``gthread``, so a keep-alive connection stays with the worker that
accepted it) and a second, separate ``pypitoken-pypiserver`` process standing in for
another host, all on one store and one package directory. :meth:`Cluster.ask` sends the
same request to every process at once, each on its pinned connection: "the next request
of every process", exactly. Used by ``test_many_processes.py`` and
``benchmarks/bench_processes.py``.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.dists import make_wheel
from tests.e2e.procs import Server, free_port, run_server

from . import client
from .conftest import Admin, exe, run, write_htpasswd

PROJECT = "cluster-pkg"
#: carla's password (htpasswd): the token API of every process logs her in with it.
PASSWORD = "carla-cluster-password"
WORKERS = 4
#: How long a pinned connection may stay idle before gunicorn closes it.
KEEP_ALIVE = 600


@dataclass
class SecretAdmin(Admin):
    """The admin command of a store whose secret is in a file of its own (PostgreSQL)."""

    secret: Path = field(default_factory=Path)

    def __call__(self, *args: str, check: bool = True):  # type: ignore[no-untyped-def]
        return run([exe("pypitoken"), "--db", self.db, "--secret-file", str(self.secret),
                    *args], check=check)  # fmt: skip


@dataclass
class Cluster:
    """The running processes, the admin command and one connection per process."""

    admin: SecretAdmin
    servers: list[Server]
    #: "worker <pid>" (gunicorn) or "second server" -> (base URL, pinned connection)
    processes: dict[str, tuple[str, http.client.HTTPConnection]]

    def ask(
        self, method: str = "GET", path: str = f"/simple/{PROJECT}/", **request: object
    ) -> dict[str, client.Response]:
        """Send one request to every process at once; their answers by process."""

        def send(label: str) -> client.Response:
            url, conn = self.processes[label]
            return client.request(url, method, path, conn=conn, **request)  # type: ignore[arg-type]

        with ThreadPoolExecutor(len(self.processes)) as pool:
            return dict(zip(self.processes, pool.map(send, self.processes), strict=True))


def _pid_of(server: Server, probe: str, deadline: float) -> str:
    """The gunicorn worker that answered the request with ``probe`` in its query string."""
    while True:
        found = re.search(rf"^<(\d+)> \"GET /health\?probe={probe} ", server.log_text(), re.M)
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no access log line for probe {probe}:\n{server.log_text()}")
        time.sleep(0.05)


def _pin_workers(server: Server, workers: int) -> dict[str, http.client.HTTPConnection]:
    """One keep-alive connection accepted by each gunicorn worker."""
    pinned: dict[str, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + 60
    probe = 0
    while len(pinned) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"connections reached only workers {sorted(pinned)}")
        probe += 1
        conn = client.connect(server.url)
        assert client.request(server.url, "GET", f"/health?probe={probe}", conn=conn).status == 200
        pid = _pid_of(server, str(probe), deadline)
        if pid in pinned:
            conn.close()
        else:
            pinned[pid] = conn
    return {f"worker {pid}": conn for pid, conn in sorted(pinned.items())}


@contextlib.contextmanager
def running_cluster(workdir: Path, db: str, *, workers: int = WORKERS) -> Iterator[Cluster]:
    """Start the processes on store ``db`` (created here, with user ``carla`` owning
    :data:`PROJECT`, of which the package directory holds one file, and logging in to the
    token API with :data:`PASSWORD`); stop them after."""
    packages = workdir / "packages"
    packages.mkdir(parents=True)
    make_wheel(packages, PROJECT, "1.0")
    secret = workdir / "server.secret"
    secret.write_text("a-cluster-secret-of-enough-bytes\n")
    write_htpasswd(workdir / "htpasswd", {"carla": PASSWORD})
    admin = SecretAdmin(db, secret=secret)
    admin.user("carla")
    admin("project", "add", PROJECT, "--owner", "carla")
    token_options = ["--token-db", db, "--token-secret-file", str(secret)]
    gunicorn_port, second_port = free_port(), free_port()
    factory = (
        f"pypitoken_pypiserver:make_app(roots=[{str(packages)!r}], token_db={db!r},"
        f" token_secret_file={str(secret)!r}, authenticate=['update', 'download', 'list'],"
        f" disable_fallback=True, password_file={str(workdir / 'htpasswd')!r})"
    )
    gunicorn = [
        exe("gunicorn"), "-w", str(workers), "-k", "gthread", "--threads", "2",
        "--keep-alive", str(KEEP_ALIVE), "-b", f"127.0.0.1:{gunicorn_port}",
        "--access-logfile", "-", "--access-logformat", '%(p)s "%(r)s" %(s)s', factory,
    ]  # fmt: skip
    if "--no-control-socket" in run([exe("gunicorn"), "--help"]).stdout:
        gunicorn.insert(1, "--no-control-socket")  # gunicorn >= 27 would share ~/.gunicorn
    second = [
        exe("pypitoken-pypiserver"), "run", "-i", "127.0.0.1", "-p", str(second_port),
        "-a", "update,download,list", "--disable-fallback", *token_options,
        "-P", str(workdir / "htpasswd"), str(packages),
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        started = []
        for argv, port, name in ((gunicorn, gunicorn_port, "gunicorn"),
                                 (second, second_port, "second")):  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            started.append(
                stack.enter_context(
                    run_server(
                        argv,
                        ready_url=url + "/health",
                        base_url=url,
                        log=workdir / f"{name}.log",
                        cwd=workdir,
                    )
                )
            )
        processes = {
            label: (started[0].url, conn)
            for label, conn in _pin_workers(started[0], workers).items()
        }
        processes["second server"] = (started[1].url, client.connect(started[1].url))
        try:
            yield Cluster(admin, started, processes)
        finally:
            for _url, conn in processes.values():
                conn.close()
