"""The built distributions work on their own: ``python -m build`` makes the wheel and the
sdist from a copy of the source tree, each is installed into a fresh venv with only the
``[pypiserver]`` or only the ``[devpi]`` extra, and the server is started from that venv.

Nothing here imports the project from the source tree: every command runs from the venv
the distribution was installed into (only twine, a client, comes from the test venv). The
four installs resolve the dependencies from the package index (the pip cache makes them
quick; a fresh machine downloads them once per extra).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.dists import make_wheel
from tests.e2e.procs import free_port, run_server
from tests.e2e.pypiserver.client import basic, request

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TEST_BIN = Path(sys.executable).parent
KINDS = ("wheel", "sdist")
EXTRAS = ("pypiserver", "devpi")
#: What each extra brings, and must not bring in the other's venv.
SERVER_MODULE = {"pypiserver": "pypiserver", "devpi": "devpi_server"}


def _run(
    argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        text=True,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        pytest.fail(f"{argv[:5]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def source_copy(dest: Path) -> Path:
    """The files git would commit (tracked, or new and not ignored), without build debris:
    building in the checkout would leave ``build/`` and ``*.egg-info`` behind."""
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not shipped
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"wheel": path, "sdist": path}``, built by ``python -m build`` (sdist, then the
    wheel from the sdist, as build does by default)."""
    base = tmp_path_factory.mktemp("build")
    source = source_copy(base / "src")
    out = base / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], cwd=base)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def _install(artifact: Path, extra: str, venv: Path) -> Path:
    """A fresh venv with ``artifact[extra]`` installed by the test venv's pip."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"pypitoken-core[{extra}] @ {artifact.as_uri()}",
        ],
        cwd=venv.parent,
    )
    return venv


@pytest.fixture(scope="module")
def venvs(
    built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    """The four venvs ``(kind, extra) -> path``, installed two at a time."""
    base = tmp_path_factory.mktemp("venvs")
    combos = [(kind, extra) for kind in KINDS for extra in EXTRAS]
    with ThreadPoolExecutor(2) as pool:
        made = pool.map(lambda c: _install(built[c[0]], c[1], base / f"{c[0]}-{c[1]}"), combos)
        return dict(zip(combos, made, strict=True))


def test_artifacts_carry_the_license_and_the_changelog(built: dict[str, Path]) -> None:
    license_text = (ROOT / "LICENSE").read_bytes()
    assert license_text.startswith(b"MIT License\n")
    with zipfile.ZipFile(built["wheel"]) as wheel:
        info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
        assert wheel.read(f"{info}/licenses/LICENSE") == license_text
        metadata = wheel.read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT\n" in metadata
    assert "License-File: LICENSE\n" in metadata
    with tarfile.open(built["sdist"]) as sdist:
        root = sdist.getnames()[0].split("/")[0]
        for name, source in (("LICENSE", "LICENSE"), ("CHANGELOG.md", "CHANGELOG.md")):
            member = sdist.extractfile(f"{root}/{name}")
            assert member is not None and member.read() == (ROOT / source).read_bytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("extra", EXTRAS)
def test_only_the_chosen_extra_is_installed(venvs, kind: str, extra: str, tmp_path: Path) -> None:
    python = venvs[kind, extra] / "bin" / "python"
    (other,) = set(EXTRAS) - {extra}
    probe = (
        "import importlib.util, pypitoken_core;"
        "print(pypitoken_core.__file__);"
        f"print(importlib.util.find_spec({SERVER_MODULE[extra]!r}) is not None);"
        f"print(importlib.util.find_spec({SERVER_MODULE[other]!r}) is not None)"
    )
    where, has_own, has_other = _run([str(python), "-c", probe], cwd=tmp_path).stdout.split()
    assert where.startswith(str(venvs[kind, extra])), where
    assert (has_own, has_other) == ("True", "False")


def _twine(url: str, token: str, dist: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(TEST_BIN / "twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            url,
            "-u",
            "__token__",
            "-p",
            token,
            str(dist),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_pypiserver_runs_from_the_distribution(venvs, kind: str, tmp_path: Path) -> None:
    """``examples/pypiserver/run-cli.sh`` (``pypitoken`` and ``pypitoken-pypiserver`` by
    name, from the venv) and ``pserve paste.ini``: each answers, takes an upload with its
    token and refuses the same upload without one."""
    bin_dir = venvs[kind, "pypiserver"] / "bin"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    wheel = make_wheel(tmp_path, f"dist-{kind}", "1.0")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    script = ROOT / "examples" / "pypiserver" / "run-cli.sh"
    with run_server(
        ["sh", str(script)],
        ready_url=url + "/health",
        base_url=url,
        log=tmp_path / "cli.log",
        cwd=tmp_path,
        env={**env, "DATA": str(tmp_path / "cli"), "PORT": str(port)},
    ) as server:
        token = re.search(r"^(pypi-\S+)$", server.log_text(), re.M).group(1)
        assert _twine(url + "/", token, wheel).returncode == 0, server.log_text()
        auth = basic("__token__", token)
        assert request(url, "GET", f"/simple/dist-{kind}/", auth=auth).status == 200
        assert request(url, "GET", f"/simple/dist-{kind}/").status == 401
        # The token page's templates and static files come with the distribution.
        page = request(url, "GET", "/+tokens/login")
        assert page.status == 200 and b'<button type="submit" id="login">' in page.body
        for name in ("copy.js", "style.css"):
            assert request(url, "GET", f"/+tokens/static/{name}").status == 200

    paste = tmp_path / "paste"
    paste.mkdir()
    shutil.copy(ROOT / "examples" / "pypiserver" / "paste.ini", paste / "paste.ini")
    (paste / "packages").mkdir()
    admin = [str(bin_dir / "pypitoken"), "--db", f"sqlite:///{paste / 'pypitoken.sqlite3'}"]
    _run([*admin, "user", "add", "paula"], cwd=paste)
    token = _run([*admin, "token", "create", "--user", "paula"], cwd=paste).stdout.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(bin_dir / "pserve"), str(paste / "paste.ini"), f"http_port={port}"]
    with run_server(
        argv,
        ready_url=url + "/health",
        base_url=url,
        log=tmp_path / "paste.log",
        cwd=paste,
        env=env,
    ) as server:
        refused = _twine(url + "/", token + "x", wheel)
        assert refused.returncode != 0
        assert "403" in refused.stdout + refused.stderr
        assert _twine(url + "/", token, wheel).returncode == 0, server.log_text()
    assert (paste / "packages" / wheel.name).read_bytes() == wheel.read_bytes()


@pytest.mark.parametrize("kind", KINDS)
def test_devpi_runs_from_the_distribution(venvs, kind: str, tmp_path: Path) -> None:
    """``examples/devpi/quickstart.sh`` with the venv's devpi-server, devpi-init and
    devpi-client (so the server and the client plugin both load from the distribution):
    a token minted with ``devpi api-token-create`` uploads, and is refused elsewhere."""
    bin_dir = venvs[kind, "devpi"] / "bin"
    path = os.pathsep.join([str(bin_dir), str(TEST_BIN), os.environ["PATH"]])
    proc = _run(
        ["sh", str(ROOT / "examples" / "devpi" / "quickstart.sh")],
        cwd=tmp_path,
        env={"PATH": path, "PORT": str(free_port())},
        timeout=300,
    )
    out = " ".join(proc.stdout.split())
    assert "upload with the token (twine, user __token__):" in out
    assert "the same token on another index is refused:" in out
    assert "not valid for index 'alice/other'" in " ".join(proc.stderr.split()) + out
    assert out.endswith("done")
