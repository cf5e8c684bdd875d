"""The documented ways to run the adapter, each started from ``examples/pypiserver/``:
the CLI script, waitress and paste with a WSGI app, and gunicorn with two workers."""

from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.procs import free_port, run_server

from .client import Response, basic, form_body, request, upload_body
from .conftest import BIN, TOKEN_USER, Admin, Index, exe, run

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "pypiserver"
ENV = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _upload(url: str, token: str, path: Path, name: str) -> int:
    return _answer(url, token, path, name).status


def _answer(url: str, token: str, path: Path, name: str) -> Response:
    body, ctype = upload_body(path, name)
    auth = basic(TOKEN_USER, token)
    return request(url, "POST", "/", auth=auth, body=body, content_type=ctype)


def test_cli_example_script(tmp_path: Path, dists) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**ENV, "DATA": str(tmp_path / "data"), "PORT": str(port)}
    argv = ["sh", str(EXAMPLES / "run-cli.sh")]
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=tmp_path / "log", env=env, cwd=tmp_path
    ) as server:
        token = re.search(r"^(pypi-\S+)$", server.log_text(), re.M).group(1)
        idx = Index(server, url, tmp_path / "data" / "packages", Admin(""))
        wheel, sdist = dists("ex-cli")
        proc = idx.twine(TOKEN_USER, token, wheel, sdist)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert idx.pip_download("ex-cli", tmp_path / "dl", TOKEN_USER, token).returncode == 0
        assert request(url, "GET", "/simple/ex-cli/").status == 401


def _claims_only_stored_files(url: str, admin: Admin, token: str, path: Path, name: str) -> None:
    """A ``submit`` (ignored by pypiserver) claims nothing; the stored file claims ``name``."""
    body, ctype = form_body({":action": "submit", "name": name})
    auth = basic(TOKEN_USER, token)
    assert request(url, "POST", "/", auth=auth, body=body, content_type=ctype).status == 200
    assert name not in admin("project", "list").stdout
    assert _upload(url, token, path, name) == 200
    assert f"{name}\t" in admin("project", "list").stdout


def _wsgi_env(tmp_path: Path) -> tuple[dict[str, str], Admin]:
    packages = tmp_path / "packages"
    packages.mkdir()
    db = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    env = {
        **ENV,
        "PYPISERVER_PACKAGES": str(packages),
        "PYPITOKEN_DB": db,
        "PYPISERVER_AUTHENTICATE": "update,download,list",
    }
    return env, Admin(db)


def test_waitress_example(tmp_path: Path, dists) -> None:
    env, admin = _wsgi_env(tmp_path)
    token = admin.mint(admin.user("wanda"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [exe("waitress-serve"), f"--listen=127.0.0.1:{port}", "wsgi_app:application"]
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=tmp_path / "log", env=env, cwd=EXAMPLES
    ):
        _claims_only_stored_files(url, admin, token, dists("ex-waitress")[0], "ex-waitress")
        auth = basic(TOKEN_USER, token)
        assert request(url, "GET", "/simple/ex-waitress/", auth=auth).status == 200
        assert request(url, "GET", "/simple/ex-waitress/").status == 401


def test_paste_example(tmp_path: Path, dists) -> None:
    shutil.copy(EXAMPLES / "paste.ini", tmp_path / "paste.ini")
    (tmp_path / "packages").mkdir()
    admin = Admin(f"sqlite:///{tmp_path / 'pypitoken.sqlite3'}")  # %(here)s in paste.ini
    token = admin.mint(admin.user("paula"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [exe("pserve"), str(tmp_path / "paste.ini"), f"http_port={port}"]
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=tmp_path / "log", env=ENV, cwd=tmp_path
    ):
        _claims_only_stored_files(url, admin, token, dists("ex-paste")[0], "ex-paste")
        refused = _answer(url, token + "x", dists("ex-paste", "0.2")[0], "ex-paste")
        assert (refused.status, refused.reason) == (
            403,
            "Invalid API Token: malformed token (Deserialization error: token is not valid"
            " base64 (bad length))",
        )


def _pids(log: str, method: str, status: int) -> set[str]:
    # gunicorn.conf.py's access log: "<pid> host "METHOD /path HTTP/1.1" status bytes"
    return set(re.findall(rf"^<(\d+)> \S+ \"{method} [^\"]*\" {status} ", log, re.M))


def test_gunicorn_two_workers_share_one_store(tmp_path: Path, dists) -> None:
    env, admin = _wsgi_env(tmp_path)
    packages, db = env["PYPISERVER_PACKAGES"], env["PYPITOKEN_DB"]
    gus = admin.user("gunicorn-gus")
    token = admin.mint(gus)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    factory = (
        f"pypitoken_pypiserver:make_app(roots=[{packages!r}], token_db={db!r}, "
        'authenticate=["update", "download", "list"], disable_fallback=True)'
    )
    argv = [
        exe("gunicorn"),
        "-c",
        str(EXAMPLES / "gunicorn.conf.py"),
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        factory,
    ]
    if "--no-control-socket" in run([exe("gunicorn"), "--help"]).stdout:
        argv.insert(1, "--no-control-socket")  # gunicorn >= 27 would share ~/.gunicorn/*.ctl
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=tmp_path / "log", env=env, cwd=tmp_path
    ) as server:
        idx = Index(server, url, Path(packages), admin)
        assert idx.twine(TOKEN_USER, token, *dists("gu-proj", "0.1")).returncode == 0

        # Concurrent requests until both workers have answered (sync workers: one each).
        versions = iter(range(2, 100))
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(8) as pool:
            while True:
                files = [dists("gu-proj", f"0.{next(versions)}")[0] for _ in range(8)]
                statuses = pool.map(lambda f: _upload(url, token, f, "gu-proj"), files)
                assert set(statuses) == {200}
                if len(_pids(server.log_text(), "POST", 200)) >= 2:
                    break
                assert time.monotonic() < deadline, "uploads did not reach two workers"

            admin("token", "revoke", admin.token_id(token))
            auth = basic(TOKEN_USER, token)
            while len(_pids(server.log_text(), "GET", 403)) < 2:
                assert time.monotonic() < deadline, "revocation was not seen by two workers"
                answers = pool.map(
                    lambda _: request(url, "GET", "/simple/gu-proj/", auth=auth), range(8)
                )
                assert {(a.status, a.reason) for a in answers} == {
                    (403, "Invalid API Token: token revoked")
                }


def test_cli_passes_pypi_server_options_through(tmp_path: Path, dists) -> None:
    welcome = tmp_path / "welcome.html"
    welcome.write_text("<p>tokens only, please</p>")
    port = free_port()
    url = f"http://127.0.0.1:{port}/pypi"
    packages = tmp_path / "packages"
    packages.mkdir()
    admin = Admin(f"sqlite:///{tmp_path / 'tokens.sqlite3'}")
    olga = admin.user("opt-olga")
    token = admin(
        "--allow-delete", "token", "create", "--user", olga, "--actions", "upload,download,delete"
    ).stdout.strip()
    argv = [
        exe("pypitoken-pypiserver"),
        "run",
        "--token-db",
        admin.db,
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--server-base-url",
        "/pypi",
        "--health-endpoint",
        "/alive",
        "--welcome",
        str(welcome),
        "--hash-algo",
        "md5",
        "-a",
        "update,list",
        "--allow-token-delete",
        "--disable-fallback",
        str(packages),
    ]
    with run_server(argv, ready_url=url + "/alive", base_url=url, log=tmp_path / "log") as server:
        idx = Index(server, url, packages, admin)
        wheel, sdist = dists("opt-proj")
        assert idx.twine(TOKEN_USER, token, wheel, sdist).returncode == 0
        assert b"tokens only, please" in request(url, "GET", "/pypi/").body
        auth = basic(TOKEN_USER, token)
        page = request(url, "GET", "/pypi/simple/opt-proj/", auth=auth)
        assert page.status == 200
        assert b"#md5=" in page.body
        assert request(url, "GET", "/pypi/simple/opt-proj/").status == 401

        # --allow-token-delete: the owner's delete-capable token may remove_pkg.
        body, ctype = form_body({":action": "remove_pkg", "name": "opt_proj", "version": "0.1"})
        resp = request(url, "POST", "/pypi/", auth=auth, body=body, content_type=ctype)
        assert resp.status == 200, resp
        assert not idx.stored()
