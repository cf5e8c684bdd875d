"""Every command in README.md, docs/**/*.md and examples/**/*.md is run by this module, as
written, or is listed here as an exemption with its reason.

Each fenced block tagged ``sh``/``bash``/``console``/``shell`` must match exactly one entry
of :data:`ENTRIES` (by a line it contains). A run entry executes the block's current text,
so a command added to such a block is run from then on; an exempt entry pins the block's
text by its hash, so a command added to it fails here until someone looks at it. A new
block, or an untagged one, fails too.

"As written" holds for ports, paths and host names too: blocks that name
``127.0.0.1:8080``, ``/srv/pypi``, ``/opt/pypitoken`` or ``pypi.example.com`` run in a
:class:`~tests.sandbox.Sandbox`, where those are the test's own. What a block expects
from its reader is provided as the docs say: ``TOKEN`` and ``ID`` in the environment (the
prose names them), a built project in ``dist/``, twine and pip on PATH (the test venv's),
and pip installing into a throwaway target (``PIP_TARGET``) so the test venv is untouched.
Servers are stopped by PID.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.deployment import deployment
from tests.e2e.dists import make_wheel
from tests.e2e.procs import free_port, run_server
from tests.packaging.test_distributions import source_copy
from tests.sandbox import Sandbox, sandbox

from .blocks import ROOT, SHELL, Block, doc_files, fenced_blocks

pytestmark = pytest.mark.e2e

TEST_BIN = Path(sys.executable).parent
PYPITOKEN = str(TEST_BIN / "pypitoken")
KNOWN_LANGS = SHELL | {"python", "text", "ini", "toml", "yaml", "json"}
LOCAL = "http://127.0.0.1:8080"


def _bash(text: str) -> list[str]:
    return ["bash", "-euo", "pipefail", "-c", text]


def _client_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The reader's shell: their twine and pip (the test venv's) first on PATH; pip
    installs into a throwaway directory and never asks."""
    return {
        "PATH": f"{TEST_BIN}{os.pathsep}{os.environ['PATH']}",
        "PIP_TARGET": str(tmp / "pip-target"),
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "NO_COLOR": "1",
        "COLUMNS": "400",
        **extra,
    }


def _ok(proc: subprocess.CompletedProcess[str], what: Block | str) -> str:
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _admin(db: str, *args: str) -> str:
    return _ok(
        subprocess.run([PYPITOKEN, "--db", db, *args], capture_output=True, text=True, timeout=60),
        f"pypitoken {' '.join(args)}",
    ).strip()


def _store_with_token(db: str, user: str = "bob") -> tuple[str, str]:
    """A store with ``user`` and one token of theirs: (token, its id)."""
    _admin(db, "user", "add", user)
    token = _admin(db, "token", "create", "--user", user)
    return token, json.loads(_admin(db, "token", "list", "--json"))[-1]["id"]


def _examples_copy(tmp: Path) -> Path:
    """A copy of examples/pypiserver: the blocks that run "from this directory" make
    ``packages/`` and stores there."""
    copy = tmp / "pypiserver"
    shutil.copytree(ROOT / "examples" / "pypiserver", copy)
    return copy


def _srv_sandbox(box: Sandbox, tmp: Path) -> Path:
    """``/srv`` of the sandbox, with ``/srv/pypi/packages`` made."""
    srv = tmp / "srv"
    (srv / "pypi" / "packages").mkdir(parents=True)
    box.bind(srv, "/srv")
    return srv


# -- the scenarios ----------------------------------------------------------------------------

_served: dict[str, Path] = {}


def _served_copy(tmp: Path) -> Path:
    """A fresh copy of the repository in which ``make serve`` has run once (on a free
    port: this is the run that creates .venv and installs, which needs the package index,
    so it cannot run in the sandbox). Made once per session."""
    if "copy" not in _served:
        copy = source_copy(tmp / "clone")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {"PATH": os.environ["PATH"]}  # nothing of the test venv
        with run_server(
            ["make", "serve", f"PORT={port}"],
            ready_url=url + "/health",
            base_url=url,
            log=tmp / "make-serve.log",
            cwd=copy,
            env=env,
            timeout=600,
        ) as server:
            out = server.log_text()
            # The token page, next to the upload URL, with the password to log in there.
            page = re.search(
                rf"^Token page .*\n({re.escape(url)}/\+tokens)\n.*\n(\S+)\n", out, re.M
            )
            assert page is not None, out
            login = urllib.request.Request(page.group(1) + "/login")
            with urllib.request.urlopen(login, timeout=30) as answer:
                assert answer.status == 200
            pair = base64.b64encode(f"admin:{page.group(2)}".encode()).decode()
            api = urllib.request.Request(
                url + "/+api-tokens", headers={"Authorization": f"Basic {pair}"}
            )
            with urllib.request.urlopen(api, timeout=30) as answer:
                assert json.loads(answer.read())["type"] == "api-tokens"
        assert re.search(r"^pypi-\S+$", out, re.M), out
        assert f"\n{url}/\n" in out
        _served["copy"], _served["log"] = copy, tmp / "make-serve.log"
    return _served["copy"]


def run_make_serve(block: Block, tmp: Path) -> None:
    """``make serve`` for real in a fresh copy, on a free port, until it prints the token.
    ``make test`` is exempt: run inside this suite it would run the suite again."""
    assert block.text.splitlines() == ["make serve", "make test"]
    copy = _served_copy(tmp)
    out = _served["log"].read_text()
    assert "Token (user-wide, expires " in out
    assert f".venv/bin/pypitoken --db sqlite:///{copy}/.data/pypitoken.sqlite3 token create" in out
    # Serving installed the pypiserver extra only: no test tools in its venv.
    assert (copy / ".venv" / "bin" / ".installed-serve").exists()
    assert (copy / ".venv" / "bin" / "pypitoken-pypiserver").exists()
    assert not (copy / ".venv" / "bin" / "pytest").exists()


def run_quickstart_clients(block: Block, tmp: Path) -> None:
    """The quick start's other shell, against ``make serve`` as written (port 8080 of the
    sandbox), in the copy where ``make serve`` already ran: the second run revokes the
    first run's token."""
    copy = _served_copy(tmp)
    first = re.search(r"^(pypi-\S+)$", _served["log"].read_text(), re.M).group(1)
    (copy / "dist").mkdir()
    make_wheel(copy / "dist", "my-project", "1.0")
    with (
        sandbox("curl") as box,
        box.serve(
            ["make", "serve"], ready_url=LOCAL + "/health", log=tmp / "serve.log", cwd=copy
        ) as server,
    ):
        log = server.log_text()
        assert "Revoked the token of the previous run" in log
        token = re.search(r"^(pypi-\S+)$", log, re.M).group(1)
        proc = box.run(_bash(block.text), cwd=copy, env=_client_env(tmp, TOKEN=token))
        assert _ok(proc, block).strip().splitlines()[-1].startswith("pypi-")
        assert list((tmp / "pip-target").glob("my_project-1.0.dist-info"))
        old = box.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                f"__token__:{first}",
                LOCAL + "/simple/",
            ]
        ).stdout
        assert old == "403"


def run_quickstart_remote(block: Block, tmp: Path) -> None:
    """``pypitoken remote`` against ``make serve`` as written (port 8080 of the sandbox),
    logged in with the password it printed; ``ID`` is a token of admin's."""
    copy = _served_copy(tmp)
    with (
        sandbox("curl") as box,
        box.serve(
            ["make", "serve"], ready_url=LOCAL + "/health", log=tmp / "serve.log", cwd=copy
        ) as server,
    ):
        found = re.search(r"^Password of 'admin' there .*\n(\S+)$", server.log_text(), re.M)
        assert found is not None, server.log_text()
        password = found.group(1)
        mint = [str(copy / ".venv" / "bin" / "pypitoken"), "remote", "--url", LOCAL, "--user",
                "admin", "create", "--description", "to revoke"]  # fmt: skip
        env = _client_env(tmp, PYPITOKEN_PASSWORD=password)
        _ok(box.run(mint, env=env), "remote create")
        listing = box.run([*mint[:6], "list", "--json"], env=env)
        token_id = json.loads(_ok(listing, "remote list"))[-1]["id"]
        env = _client_env(tmp, PASSWORD=password, ID=token_id)
        out = _ok(box.run(_bash(block.text), cwd=copy, env=env), block)
        assert out.splitlines()[-1] == f"API token {token_id} revoked"
        assert "laptop" in out and "ID" in out.splitlines()[0]
        assert (copy / "laptop-token.txt").read_text().startswith("pypi-")
        assert password not in out


def run_install_from_clone(block: Block, tmp: Path) -> None:
    """In a fresh copy of the repository (needs the package index, like a reader)."""
    copy = source_copy(tmp / "clone")
    _ok(
        subprocess.run(
            _bash(block.text),
            cwd=copy,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PATH": os.environ["PATH"]},
        ),
        block,
    )
    for command in ("pypitoken", "pypitoken-pypiserver", "pserve"):
        _ok(
            subprocess.run(
                [str(copy / ".venv" / "bin" / command), "--help"],
                capture_output=True,
                text=True,
                timeout=60,
            ),
            command,
        )


def run_cli_block(block: Block, tmp: Path) -> None:
    """The README's CLI tour, in a directory whose ``.venv`` is the test venv; ``ID`` is a
    token of the store, which the block revokes."""
    (tmp / ".venv").symlink_to(Path(sys.prefix))
    _, token_id = _store_with_token(f"sqlite:///{tmp / '.data' / 'pypitoken.sqlite3'}")
    out = _ok(
        subprocess.run(
            _bash(block.text),
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ID": token_id},
        ),
        block,
    )
    assert '"project": "my-project"' in out or "my-project" in out
    listed = _admin(f"sqlite:///{tmp / '.data' / 'pypitoken.sqlite3'}", "token", "list")
    assert re.search(rf"^{token_id}  bob +revoked  ", listed, re.M), listed


def run_pypiserver_admin(block: Block, tmp: Path) -> None:
    """Section 1 of the pypiserver example, with ``/srv`` the sandbox's."""
    with sandbox() as box:
        srv = tmp / "srv"
        srv.mkdir()
        box.bind(srv, "/srv")
        (srv / "pypi").mkdir()
        token, token_id = _store_with_token(f"sqlite:///{srv / 'pypi' / 'pypitoken.sqlite3'}")
        proc = box.run(_bash(block.text), cwd=tmp, env=_client_env(tmp, TOKEN=token, ID=token_id))
        assert _ok(proc, block).strip().splitlines()[-1].startswith("pypi-")
        assert (srv / "pypi" / "packages").is_dir()


def run_publisher_admin(block: Block, tmp: Path) -> None:
    """The publisher commands of the trusted-publishing example, on a store where alice
    owns acme-utils; ``ID`` is a publisher of it, which the block removes."""
    db = f"sqlite:///{tmp / 'pypitoken.sqlite3'}"
    _admin(db, "user", "add", "alice")
    _admin(db, "project", "add", "acme-utils", "--owner", "alice")
    added = _admin(db, "publisher", "add", "github", "--project", "acme-utils",
                   "--repository", "octo-org/old", "--workflow", "old.yml")  # fmt: skip
    publisher_id = added.split()[1]
    env = _client_env(tmp, PYPITOKEN_DB=db, ID=publisher_id)
    out = _ok(subprocess.run(_bash(block.text), cwd=tmp, capture_output=True, text=True,
                             timeout=120, env=env), block)  # fmt: skip
    assert f"removed publisher {publisher_id}; its tokens are revoked" in out
    listed = json.loads(_admin(db, "publisher", "list", "--json"))
    assert sorted(p["kind"] for p in listed) == ["github", "gitlab", "oidc"]


def _serves(cwd_kind: str) -> Callable[[Block, Path], None]:
    def scenario(block: Block, tmp: Path) -> None:
        """The block starts a server: it must answer on port 8080 of the sandbox; then
        it is stopped by PID."""
        cwd = _examples_copy(tmp) if cwd_kind == "examples" else tmp
        with sandbox("curl") as box:
            _srv_sandbox(box, tmp)
            env = _client_env(tmp, HOME=str(tmp))  # gunicorn >= 27 keeps a socket in ~
            with box.serve(
                _bash(block.text),
                ready_url=LOCAL + "/health",
                cwd=cwd,
                log=tmp / "server.log",
                env=env,
            ) as server:
                assert server.proc.poll() is None

    return scenario


def run_local_clients(block: Block, tmp: Path) -> None:
    """twine and pip against a local server on 8080 (sandbox), with a project token; and
    what section 3 says of pip: a refusal reads "from versions: none", ``-vv`` shows it."""
    db = f"sqlite:///{tmp / 'tokens.sqlite3'}"
    _admin(db, "user", "add", "alice")
    _admin(db, "project", "add", "acme-utils", "--owner", "alice")
    token = _admin(db, "token", "create", "--user", "alice", "--project", "acme-utils")
    (tmp / "dist").mkdir()
    make_wheel(tmp / "dist", "acme-utils", "1.0")
    (tmp / "packages").mkdir()
    argv = [
        str(TEST_BIN / "pypitoken-pypiserver"),
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        "8080",
        "-a",
        "update,download,list",
        "--token-db",
        db,
        str(tmp / "packages"),
    ]
    with (
        sandbox("curl") as box,
        box.serve(argv, ready_url=LOCAL + "/health", log=tmp / "server.log"),
    ):
        _ok(box.run(_bash(block.text), cwd=tmp, env=_client_env(tmp, TOKEN=token)), block)
        assert list((tmp / "pip-target").glob("acme_utils-1.0.dist-info"))
        wrong = _admin(db, "token", "create", "--user", "alice", "--actions", "upload")
        pip = [
            str(TEST_BIN / "pip"),
            "download",
            "--no-deps",
            "-d",
            str(tmp / "dl"),
            "--index-url",
            f"{LOCAL.replace('//', f'//__token__:{wrong}@')}/simple/",
            "acme-utils",
        ]
        quiet = box.run(pip, env=_client_env(tmp))
        assert quiet.returncode != 0
        assert "(from versions: none)" in quiet.stderr
        assert "403" not in quiet.stdout + quiet.stderr
        loud = box.run([*pip[:2], "-vv", *pip[2:]], env=_client_env(tmp))
        assert "403 Client Error: Invalid API Token: not valid for action 'download'" in (
            loud.stdout + loud.stderr
        )


def run_https_clients(block: Block, tmp: Path) -> None:
    """The deployment's clients, through nginx with TLS to the unit's server."""
    with deployment(tmp / "deploy") as deploy:

        def admin(*args: str) -> str:
            argv = deploy.as_service_user(["/opt/pypitoken/bin/pypitoken", *args])
            return _ok(deploy.box.run(argv, env=deploy.env, inherit_env=False), "admin")

        admin("user", "add", "alice")
        token = admin("token", "create", "--user", "alice", "--expires", "1d").strip()
        (tmp / "dist").mkdir()
        make_wheel(tmp / "dist", "acme-utils", "1.0")
        env = _client_env(tmp, TOKEN=token, **deploy.client_env())
        _ok(deploy.box.run(_bash(block.text), cwd=tmp, env=env), block)
        assert list((tmp / "pip-target").glob("acme_utils-1.0.dist-info"))


def run_devpi_quickstart(block: Block, tmp: Path) -> None:
    """quickstart.sh from its directory, on port 3141 of the sandbox."""
    with sandbox("curl") as box:
        proc = box.run(
            _bash(block.text), cwd=ROOT / "examples" / "devpi", env=_client_env(tmp), timeout=300
        )
        out = " ".join(_ok(proc, block).split())
        assert out.endswith("done")
        assert "not valid for index 'alice/other'" in " ".join((proc.stdout + proc.stderr).split())


# -- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One shell block: found by ``marker`` (a line of it) in ``path``; either ``run``
    by a scenario, or exempt for ``reason``, its text pinned by ``sha256``."""

    path: str
    marker: str
    run: Callable[[Block, Path], None] | None = None
    reason: str = ""
    sha256: str = ""

    @property
    def id(self) -> str:
        return f"{self.path}: {self.marker[:60]}"


PYPISERVER = "examples/pypiserver/README.md"
DEVPI = "examples/devpi/README.md"
TRUSTED = "examples/trusted-publishing/README.md"
EXAMPLE_COM = (
    "talks to https://devpi.example.com, a host with TLS these commands assume; "
    "tests/e2e/devpi runs the same client commands and HTTP requests against a local "
    "devpi-server"
)

ENTRIES = [
    Entry("README.md", "make serve", run_make_serve),
    Entry(
        "README.md",
        'twine upload --repository-url http://127.0.0.1:8080/ -u __token__ -p "$TOKEN" dist/*',
        run_quickstart_clients,
    ),
    Entry(
        "README.md",
        ".venv/bin/pypitoken remote create --expires 1d --description laptop > laptop-token.txt",
        run_quickstart_remote,
    ),
    Entry("README.md", "python3 -m venv .venv", run_install_from_clone),
    Entry(
        "README.md",
        ".venv/bin/python -m build",
        reason="installs into /opt/pypitoken on the machine; tests/packaging builds the "
        "wheel and sdist with `python -m build` and installs each the same way (the "
        "`extra @ file://` form) into a fresh venv, then runs the servers from it",
        sha256="f6c4b20082034b5b",
    ),
    Entry(
        "README.md",
        "# administer a store (default: $PYPITOKEN_DB, else sqlite:///pypitoken.sqlite3)",
        run_cli_block,
    ),
    Entry(
        PYPISERVER,
        "export PYPITOKEN_DB=sqlite:////srv/pypi/pypitoken.sqlite3",
        run_pypiserver_admin,
    ),
    Entry(
        PYPISERVER,
        "pypitoken-pypiserver run -p 8080 -a update,download,list "
        "--disable-fallback /srv/pypi/packages",
        _serves("tmp"),
    ),
    Entry(
        PYPISERVER,
        "gunicorn -c gunicorn.conf.py 'pypitoken_pypiserver:make_app("
        'roots=["/srv/pypi/packages"],',
        _serves("examples"),
    ),
    Entry(
        PYPISERVER,
        "waitress-serve --listen 127.0.0.1:8080 wsgi_app:application   "
        "# wsgi_app.py, configured by env",
        _serves("examples"),
    ),
    Entry(PYPISERVER, "pserve paste.ini http_port=8080", _serves("examples")),
    Entry(
        PYPISERVER,
        'pip install --index-url "http://__token__:$TOKEN@127.0.0.1:8080/simple/" acme-utils',
        run_local_clients,
    ),
    Entry(
        PYPISERVER,
        "useradd --system --home-dir /var/lib/pypitoken --shell /usr/sbin/nologin pypitoken",
        reason="changes the machine (a system user, /opt, /etc/systemd, /etc/nginx) and "
        "needs a running systemd; tests/deploy runs the unit's command lines and nginx with "
        "this site file unchanged, in a sandbox, and systemd-analyze verifies the unit",
        sha256="7dd165db92a5ad62",
    ),
    Entry(
        PYPISERVER,
        "runuser -u pypitoken -- env PYPITOKEN_DB=sqlite:////var/lib/pypitoken/"
        "pypitoken.sqlite3 /opt/pypitoken/bin/pypitoken user add alice",
        reason="needs the system user pypitoken, which only the exempt set-up creates; "
        "tests/deploy runs the same pypitoken command lines with the unit's environment "
        "as the user standing in for it",
        sha256="6afb0aed8e3636ea",
    ),
    Entry(
        PYPISERVER,
        'twine upload --repository-url https://pypi.example.com/ -u __token__ -p "$TOKEN" dist/*',
        run_https_clients,
    ),
    Entry(
        DEVPI,
        "pip install '.[devpi]'                   # in the clone, next to devpi-server "
        "and devpi-client",
        reason="installs into devpi-server's environment (run here, into the test venv "
        "itself), and devpi-server.yml names /var/lib/devpi and /etc/devpi/secret; "
        "tests/packaging installs the built wheel and sdist with [devpi] into fresh venvs "
        "and runs devpi-server with the plugin, tests/e2e/devpi/test_options.py reads "
        "these options from a config file",
        sha256="41ce1ed96770d96d",
    ),
    Entry(DEVPI, "PORT=3141 sh quickstart.sh", run_devpi_quickstart),
    Entry(
        DEVPI, "devpi use https://devpi.example.com/", reason=EXAMPLE_COM, sha256="921d7ea4f2e9a3b3"
    ),
    Entry(
        DEVPI,
        "curl -u alice:PASSWORD -H 'Accept: application/json' "
        "https://devpi.example.com/alice/+api-tokens",
        reason=EXAMPLE_COM,
        sha256="7c2e0f5583db63df",
    ),
    Entry(
        DEVPI,
        'TWINE_USERNAME=__token__ TWINE_PASSWORD="$TOKEN" twine upload --repository-url ... dist/*',
        reason=EXAMPLE_COM,
        sha256="1e485c42e975c8eb",
    ),
    Entry(TRUSTED, "pypitoken publisher list", run_publisher_admin),
    Entry(
        TRUSTED,
        "https://devpi.example.com/alice/+trusted-publishers",
        reason=EXAMPLE_COM.replace("tests/e2e/devpi", "tests/e2e/trusted/test_devpi.py"),
        sha256="77f870443b43fbf2",
    ),
    Entry(
        "docs/mutation-testing.md",
        "make mutation SAMPLE=8 MUTANTS='pypitoken_core.service.* "
        "pypitoken_core.restrictions.* pypitoken_devpi._request.*'",
        reason="runs mutmut over a few hundred mutants, each against the in-process tests "
        "(about an hour on two cores); what it printed is in that document",
        sha256="fc92813e285f62e3",
    ),
]


def _shell_blocks() -> list[Block]:
    return [b for f in doc_files() for b in fenced_blocks(f) if b.lang in SHELL]


def _matches(entry: Entry, block: Block) -> bool:
    return block.path == entry.path and entry.marker in (
        line.strip() for line in block.text.splitlines()
    )


def _digest(block: Block) -> str:
    return hashlib.sha256(block.text.encode()).hexdigest()[:16]


def test_every_block_says_its_language() -> None:
    blocks = [b for f in doc_files() for b in fenced_blocks(f)]
    assert len(blocks) > 20
    untagged = [str(b) for b in blocks if b.lang not in KNOWN_LANGS]
    assert not untagged, f"tag these blocks with their language (sh for commands): {untagged}"


def test_every_command_block_is_run_or_exempt() -> None:
    blocks = _shell_blocks()
    for block in blocks:
        found = [e.id for e in ENTRIES if _matches(e, block)]
        assert len(found) == 1, f"{block} must match exactly one entry of ENTRIES: {found}"
    for entry in ENTRIES:
        found = [b for b in blocks if _matches(entry, b)]
        assert len(found) == 1, f"{entry.id}: {len(found)} blocks"
        if entry.run is None:
            assert entry.reason, entry.id
            assert _digest(found[0]) == entry.sha256, (
                f"{found[0]} changed; an exempt block's commands are not run: check that the "
                f"reason still holds, then pin sha256={_digest(found[0])!r}:\n{found[0].text}"
            )


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.run], ids=lambda e: e.id)
def test_command_block_runs(entry: Entry, tmp_path_factory: pytest.TempPathFactory) -> None:
    (block,) = [b for b in _shell_blocks() if _matches(entry, b)]
    assert entry.run is not None
    entry.run(block, tmp_path_factory.mktemp("docs"))
