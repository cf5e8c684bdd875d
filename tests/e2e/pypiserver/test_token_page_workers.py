"""The token page under gunicorn with four worker processes: a session, its logout and
the log-in throttle hold in every worker, because they live in the shared store.

Requests are sent concurrently until the access log shows that several workers (by PID)
answered each phase, so the test proves what it claims rather than hoping for it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.page_client import call, csrf_of, log_in
from tests.e2e.procs import Server, free_port, run_server
from tests.e2e.servers import PASSWORDS

from .conftest import Admin, exe, run, write_htpasswd

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "pypiserver"
WORKERS = 4


def pids(server: Server, since: int, pattern: str) -> set[str]:
    """The workers whose access-log lines after offset ``since`` match ``pattern``."""
    return set(re.findall(rf"^<(\d+)> \S+ \"{pattern}", server.log_text()[since:], re.M))


def until_workers(server: Server, pattern: str, send: Callable[[], int], expect: int) -> None:
    """Send ``send`` requests, eight at a time, until three workers have answered them;
    every answer must be ``expect``."""
    start = len(server.log_text())
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while True:
            assert set(pool.map(lambda _: send(), range(8))) == {expect}
            if len(pids(server, start, pattern)) >= 3:
                break
            assert time.monotonic() < deadline, f"{pattern} did not reach three workers"


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    work = tmp_path_factory.mktemp("page-workers")
    (work / "packages").mkdir()
    write_htpasswd(work / "htpasswd", PASSWORDS)
    db = f"sqlite:///{work / 'tokens.sqlite3'}"
    Admin(db)("user", "list")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    factory = (
        f"pypitoken_pypiserver:make_app(roots=[{str(work / 'packages')!r}], token_db={db!r}, "
        f"password_file={str(work / 'htpasswd')!r}, authenticate=['update'], "
        "token_admins='root')"
    )
    argv = [exe("gunicorn"), "-c", str(EXAMPLES / "gunicorn.conf.py"), "-w", str(WORKERS),
            "-b", f"127.0.0.1:{port}", factory]  # fmt: skip
    if "--no-control-socket" in run([exe("gunicorn"), "--help"]).stdout:
        argv.insert(1, "--no-control-socket")
    with run_server(argv, ready_url=url + "/health", base_url=url, log=work / "log",
                    cwd=work, env={"HOME": str(work)}) as server:  # fmt: skip
        yield server, url


def test_a_session_and_its_logout_hold_in_every_worker(gunicorn: tuple[Server, str]) -> None:
    server, url = gunicorn
    reply, cookies = log_in(url, "alice", PASSWORDS["alice"])
    assert reply.status == 303 and cookies
    until_workers(
        server, "GET /\\+tokens HTTP", lambda: call(url, "GET", "/+tokens", cookies).status, 200
    )

    csrf = csrf_of(call(url, "GET", "/+tokens", cookies))
    assert call(url, "POST", "/+tokens/logout", cookies, {"csrf": csrf}).status == 303
    # The copied cookie is refused by every worker from now on.
    until_workers(
        server, "GET /\\+tokens HTTP", lambda: call(url, "GET", "/+tokens", cookies).status, 303
    )


def test_the_throttle_holds_across_workers(gunicorn: tuple[Server, str]) -> None:
    server, url = gunicorn
    start = len(server.log_text())

    def failed() -> int:
        return log_in(url, "bob", "guess")[0].status

    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lambda _: failed(), range(5)))
    assert statuses == [401] * 5
    assert len(pids(server, start, "POST /\\+tokens/login HTTP")) >= 2  # counted by several
    # Every worker now refuses bob, even with his password, unchecked.
    until_workers(server, "POST /\\+tokens/login HTTP",
                  lambda: log_in(url, "bob", PASSWORDS["bob"])[0].status, 429)  # fmt: skip
    assert log_in(url, "root", PASSWORDS["root"])[0].status == 303  # the control
