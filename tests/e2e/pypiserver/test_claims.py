"""Who owns a project under ``--ownership pypi``: only a stored file claims a name.

Issue 8, part 4. Requests that store nothing (``submit``, ``verify``, a ``doc_upload``, a
refused or failed ``file_upload``, an interrupted one) claim nothing, for token and
password users alike. A project whose files are already in the package directory but that
has no owner is not taken by whoever uploads first: the upload is refused with the command
the admin has to run, unless the server was started with ``--adopt-unowned USER``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from urllib.parse import urlsplit

import pytest

from tests.e2e.dists import make_sdist, make_wheel
from tests.e2e.procs import free_port, run_server

from .client import Response, basic, form_body, request
from .conftest import TOKEN_USER, Admin, Index, exe, pypiserver_running, run, write_htpasswd

pytestmark = pytest.mark.e2e

PASSWORD = "carol-secret-pw"


def unowned(name: str) -> str:
    """The reason an upload to a project with files but no owner gets."""
    return (
        f"project '{name}' has files on this index but no owner; "
        f"an admin must run: pypitoken project add {name} --owner USER"
    )


def owners(index: Index) -> dict[str, str]:
    """``pypitoken project list`` as {project: "user (Role), ..."}."""
    listing = index.admin("project", "list").stdout
    return {name: roles for name, _id, roles in (line.split("\t") for line in listing.splitlines())}


def post(index: Index, auth: str, fields: dict[str, str], files=None) -> Response:
    body, ctype = form_body(fields, files)
    return request(index.url, "POST", "/", auth=auth, body=body, content_type=ctype)


def upload(index: Index, auth: str, filename: str, data: bytes, name: str) -> Response:
    """A ``file_upload`` of ``data`` under ``filename``, the way twine sends it."""
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": "1.0",
        "filetype": "sdist",
    }
    return post(index, auth, fields, {"content": (filename, data)})


def said(proc) -> str:
    """What twine printed, on one line (it wraps long reasons)."""
    return " ".join((proc.stdout + proc.stderr).split())


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """A ``pypi``-mode server with tokens and an htpasswd password user, carol."""
    work = tmp_path_factory.mktemp("claims")
    write_htpasswd(work / "htpasswd", {"carol": PASSWORD})
    with pypiserver_running(work / "run", "-P", str(work / "htpasswd")) as idx:
        yield idx


# -- requests that store nothing claim nothing -------------------------------------------


@pytest.mark.parametrize("action", ["submit", "verify"])
def test_ignored_action_claims_nothing(claims: Index, dists, action: str) -> None:
    squatter = claims.admin.user(f"squatter-{action}")
    victim = claims.admin.user(f"victim-{action}")
    name = f"squat-{action}"

    resp = post(
        claims, basic(TOKEN_USER, claims.admin.mint(squatter)), {":action": action, "name": name}
    )

    assert resp.status == 200, resp  # pypiserver ignores the action and stores nothing
    assert name not in owners(claims)
    proc = claims.twine(TOKEN_USER, claims.admin.mint(victim), *dists(name))
    assert proc.returncode == 0, said(proc)
    assert owners(claims)[name] == f"{victim} (Owner)"


def test_broken_doc_upload_claims_nothing(claims: Index, dists) -> None:
    squatter = claims.admin.user("squatter-doc")
    victim = claims.admin.user("victim-doc")

    resp = post(
        claims,
        basic(TOKEN_USER, claims.admin.mint(squatter)),
        {":action": "doc_upload", "name": "squat-two"},
        {"content": ("docs.zip", b"not a zip file")},
    )

    assert resp.status == 400, resp
    assert "squat-two" not in owners(claims)
    assert (
        claims.twine(TOKEN_USER, claims.admin.mint(victim), dists("squat-two")[0]).returncode == 0
    )
    assert owners(claims)["squat-two"] == f"{victim} (Owner)"


def test_file_upload_pypiserver_refuses_claims_nothing(claims: Index, dists) -> None:
    squatter = claims.admin.user("squatter-sig")
    sdist = dists("squat-three")[1]
    fields = {":action": "file_upload", "name": "squat-three", "version": "0.1"}
    # Both files name project squat-three, but pypiserver wants "<file>.asc" exactly: 400.
    files = {
        "content": (sdist.name, sdist.read_bytes()),
        "gpg_signature": ("squat-three-0.1.tar.gz.asc", b"sig"),
    }

    resp = post(claims, basic(TOKEN_USER, claims.admin.mint(squatter)), fields, files)

    assert resp.status == 400, resp
    assert "squat-three" not in owners(claims)
    assert sdist.name not in claims.stored()


def test_upload_whose_write_fails_claims_nothing(claims: Index, dists) -> None:
    uma = claims.admin.user("uma-write")
    auth = basic(TOKEN_USER, claims.admin.mint(uma))
    sdist = dists("squat-four")[1]
    # A directory where the file should go: pypiserver's write raises, bottle answers 500.
    (claims.packages / sdist.name).mkdir()

    resp = upload(claims, auth, sdist.name, sdist.read_bytes(), "squat-four")

    assert resp.status == 500, resp
    assert "squat-four" not in owners(claims)
    (claims.packages / sdist.name).rmdir()
    assert upload(claims, auth, sdist.name, sdist.read_bytes(), "squat-four").status == 200
    assert owners(claims)["squat-four"] == f"{uma} (Owner)"


def test_password_user_noop_claims_nothing(claims: Index, dists) -> None:
    carol = basic("carol", PASSWORD)

    assert post(claims, carol, {":action": "submit", "name": "carol-squat"}).status == 200
    assert (
        post(
            claims,
            carol,
            {":action": "doc_upload", "name": "carol-squat"},
            {"content": ("docs.zip", b"junk")},
        ).status
        == 400
    )

    assert "carol-squat" not in owners(claims)
    proc = claims.twine("carol", PASSWORD, *dists("carol-squat"))
    assert proc.returncode == 0, said(proc)
    assert owners(claims)["carol-squat"] == "carol (Owner)"


# -- positive controls: a stored file claims, and the owner rules hold ---------------------


def test_first_stored_file_claims_and_the_rules_follow(claims: Index, dists) -> None:
    alice = claims.admin.user("claim-alice")
    bob = claims.admin.user("claim-bob")
    alice_token, bob_token = claims.admin.mint(alice), claims.admin.mint(bob)

    first = claims.twine(TOKEN_USER, alice_token, *dists("claim-ok", "0.1"))
    assert first.returncode == 0, said(first)
    assert owners(claims)["claim-ok"] == f"{alice} (Owner)"
    assert claims.twine(TOKEN_USER, alice_token, dists("claim-ok", "0.2")[0]).returncode == 0

    refused = claims.twine(TOKEN_USER, bob_token, dists("claim-ok", "0.3")[0])
    assert refused.returncode != 0
    assert f"Invalid API Token: user {bob} may not upload to project 'claim-ok'" in said(refused)
    assert dists("claim-ok", "0.3")[0].name not in claims.stored()

    claims.admin("project", "add-maintainer", "claim-ok", bob)
    assert claims.twine(TOKEN_USER, bob_token, dists("claim-ok", "0.3")[0]).returncode == 0
    assert owners(claims)["claim-ok"] == f"{alice} (Owner), {bob} (Maintainer)"


# -- files on disk without an owner --------------------------------------------------------


def test_unowned_files_on_disk_are_not_taken_over(claims: Index, dists, tmp_path: Path) -> None:
    legacy = make_sdist(tmp_path, "legacy-disk", "1.0")
    (claims.packages / legacy.name).write_bytes(legacy.read_bytes())
    alice = claims.admin.user("disk-alice")
    token = claims.admin.mint(alice)

    assert (
        post(claims, basic(TOKEN_USER, token), {":action": "submit", "name": "legacy-disk"}).status
        == 200
    )
    proc = claims.twine(TOKEN_USER, token, dists("legacy-disk", "1.1")[0])
    assert proc.returncode != 0
    assert f"Invalid API Token: {unowned('legacy-disk')}" in said(proc)

    newer = dists("legacy-disk", "1.1")[1]
    by_password = upload(
        claims, basic("carol", PASSWORD), newer.name, newer.read_bytes(), "legacy-disk"
    )
    assert (by_password.status, by_password.reason) == (403, f"Forbidden: {unowned('legacy-disk')}")
    assert "legacy-disk" not in owners(claims)
    assert claims.stored() >= {legacy.name} and newer.name not in claims.stored()

    # What the reason tells the admin to do is what lets the owner in.
    claims.admin("project", "add", "legacy-disk", "--owner", alice)
    assert claims.twine(TOKEN_USER, token, *dists("legacy-disk", "1.1")).returncode == 0


@pytest.fixture(scope="module")
def overwriting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """A ``pypi``-mode server started with ``--overwrite``, a legacy sdist already on disk."""
    work = tmp_path_factory.mktemp("overwrite")
    legacy = make_sdist(work, "legacy", "1.0")
    with pypiserver_running(
        work / "run", "--overwrite", seed={legacy.name: legacy.read_bytes()}
    ) as idx:
        yield idx


def test_unowned_file_is_not_overwritten_after_a_submit(overwriting: Index) -> None:
    original = (overwriting.packages / "legacy-1.0.tar.gz").read_bytes()
    mallory = overwriting.admin.user("mallory")
    auth = basic(TOKEN_USER, overwriting.admin.mint(mallory))

    assert post(overwriting, auth, {":action": "submit", "name": "legacy"}).status == 200
    resp = upload(overwriting, auth, "legacy-1.0.tar.gz", b"mallory was here", "legacy")

    assert (resp.status, resp.reason) == (403, f"Invalid API Token: {unowned('legacy')}")
    assert (overwriting.packages / "legacy-1.0.tar.gz").read_bytes() == original
    assert "legacy" not in owners(overwriting)

    # Positive control: once the admin names the owner, her --overwrite upload goes through.
    olivia = overwriting.admin.user("olivia")
    overwriting.admin("project", "add", "legacy", "--owner", olivia)
    olivia_auth = basic(TOKEN_USER, overwriting.admin.mint(olivia))
    assert (
        upload(overwriting, olivia_auth, "legacy-1.0.tar.gz", b"olivia's", "legacy").status == 200
    )
    assert (overwriting.packages / "legacy-1.0.tar.gz").read_bytes() == b"olivia's"
    again = upload(overwriting, auth, "legacy-1.0.tar.gz", b"mallory", "legacy")
    assert (again.status, again.reason) == (
        403,
        "Invalid API Token: user mallory may not upload to project 'legacy'",
    )


# -- --adopt-unowned -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def adopting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """A server started with ``--adopt-unowned ada`` over a directory holding ``adopted``."""
    work = tmp_path_factory.mktemp("adopt")
    seed = {
        p.name: p.read_bytes()
        for p in (make_sdist(work, "Adopted", "1.0"), make_wheel(work, "adopted", "1.0"))
    }
    with pypiserver_running(
        work / "run", "--adopt-unowned", "ada", users=["ada"], seed=seed
    ) as idx:
        yield idx


def test_adopt_unowned_takes_projects_on_disk_at_start(adopting: Index, dists) -> None:
    assert owners(adopting)["adopted"] == "ada (Owner)"
    alice = adopting.admin.user("adopt-alice")

    refused = adopting.twine(TOKEN_USER, adopting.admin.mint(alice), dists("adopted", "1.1")[0])
    assert refused.returncode != 0
    assert f"user {alice} may not upload to project 'adopted'" in said(refused)

    accepted = adopting.twine(TOKEN_USER, adopting.admin.mint("ada"), dists("adopted", "1.1")[0])
    assert accepted.returncode == 0, said(accepted)


def test_adopt_unowned_takes_files_that_appear_later(
    adopting: Index, dists, tmp_path: Path
) -> None:
    later = make_sdist(tmp_path, "later", "1.0")
    (adopting.packages / later.name).write_bytes(later.read_bytes())
    alice = adopting.admin.user("later-alice")
    token = adopting.admin.mint(alice)

    refused = adopting.twine(TOKEN_USER, token, dists("later", "1.1")[0])
    assert refused.returncode != 0
    assert f"user {alice} may not upload to project 'later'" in said(refused)
    assert owners(adopting)["later"] == "ada (Owner)"

    # A brand-new name is still the first uploader's.
    assert adopting.twine(TOKEN_USER, token, dists("later-new")[0]).returncode == 0
    assert owners(adopting)["later-new"] == f"{alice} (Owner)"


def test_adopt_unowned_needs_a_registered_user(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    argv = [
        exe("pypitoken-pypiserver"),
        "run",
        "-p",
        "0",
        "--token-db",
        f"sqlite:///{tmp_path / 'tokens.sqlite3'}",
        "--adopt-unowned",
        "nobody",
        str(packages),
    ]

    proc = run(argv, check=False, timeout=60)

    assert proc.returncode != 0
    assert "--adopt-unowned: unknown user 'nobody'" in proc.stderr
    assert "pypitoken user add nobody" in proc.stderr


# -- --ownership open ----------------------------------------------------------------------


def test_open_mode_gives_ownership_only_for_stored_files(tmp_path: Path, dists) -> None:
    legacy = make_sdist(tmp_path, "open-legacy", "1.0")
    with pypiserver_running(
        tmp_path / "run", ownership="open", seed={legacy.name: legacy.read_bytes()}
    ) as idx:
        sam, bob = idx.admin.user("open-sam"), idx.admin.user("open-bob")
        sam_auth = basic(TOKEN_USER, idx.admin.mint(sam))
        assert post(idx, sam_auth, {":action": "submit", "name": "open-squat"}).status == 200
        assert (
            post(
                idx,
                sam_auth,
                {":action": "doc_upload", "name": "open-squat"},
                {"content": ("d.zip", b"junk")},
            ).status
            == 400
        )
        assert "open-squat" not in owners(idx)

        bob_token = idx.admin.mint(bob)
        assert idx.twine(TOKEN_USER, bob_token, dists("open-squat")[0]).returncode == 0
        assert owners(idx)["open-squat"] == f"{bob} (Owner)"
        # Open mode: anyone registered uploads anywhere, without becoming an owner.
        assert (
            idx.twine(TOKEN_USER, idx.admin.mint(sam), dists("open-squat", "0.2")[0]).returncode
            == 0
        )
        assert idx.twine(TOKEN_USER, bob_token, dists("open-legacy", "1.1")[0]).returncode == 0
        assert "open-legacy" not in owners(idx)
        assert owners(idx)["open-squat"] == f"{bob} (Owner)"


# -- concurrent first uploads ---------------------------------------------------------------


def race(index: Index, rounds: int, contenders: int) -> None:
    """``contenders`` users upload the same new file name at once, ``rounds`` times.

    Each round one user's upload is stored and that user owns the project; every other
    upload is refused with the ownership reason, and the file holds the owner's bytes.
    """
    users = [index.admin.user(f"racer{n}-{index.server.pid}") for n in range(contenders)]
    auths = [basic(TOKEN_USER, index.admin.mint(u)) for u in users]
    with ThreadPoolExecutor(contenders) as pool:
        for r in range(rounds):
            name, filename = f"race-{r}", f"race_{r}-1.0.tar.gz"
            barrier = Barrier(contenders)

            def send(
                n: int, name: str = name, filename: str = filename, barrier: Barrier = barrier
            ) -> Response:
                barrier.wait(timeout=30)
                return upload(index, auths[n], filename, f"from {users[n]}".encode(), name)

            answers = list(pool.map(send, range(contenders)))
            winners = [users[n] for n, a in enumerate(answers) if a.status == 200]
            assert len(winners) == 1, answers
            for n, answer in enumerate(answers):
                if users[n] != winners[0]:
                    assert answer.status == 403, answer
                    assert f"user {users[n]} may not upload to project '{name}'" in answer.reason
            assert owners(index)[name] == f"{winners[0]} (Owner)"
            assert (index.packages / filename).read_bytes() == f"from {winners[0]}".encode()


def test_concurrent_first_uploads_have_one_owner_threads(tmp_path: Path) -> None:
    # --overwrite: every contender's upload reaches the store, none is stopped by
    # pypiserver's "already exists". `--server auto` runs waitress, with 4 threads.
    with pypiserver_running(tmp_path / "run", "--overwrite") as idx:
        race(idx, rounds=8, contenders=4)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """``make_app`` under gunicorn, three sync worker processes, ``overwrite=True``.

    Sync workers hand the app the socket itself: the body is read while the app runs.
    """
    work = tmp_path_factory.mktemp("workers")
    packages = work / "packages"
    packages.mkdir()
    db = f"sqlite:///{work / 'tokens.sqlite3'}"
    admin = Admin(db)
    admin("user", "list")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    factory = (
        f"pypitoken_pypiserver:make_app(roots=[{str(packages)!r}], token_db={db!r}, "
        "overwrite=True, disable_fallback=True)"
    )
    argv = [exe("gunicorn"), "-w", "3", "-b", f"127.0.0.1:{port}", factory]
    if "--no-control-socket" in run([exe("gunicorn"), "--help"]).stdout:
        argv.insert(1, "--no-control-socket")  # gunicorn >= 27 would share ~/.gunicorn/*.ctl
    with run_server(
        argv, ready_url=url + "/health", base_url=url, log=work / "log", cwd=work
    ) as server:
        yield Index(server, url, packages, admin)


def test_concurrent_first_uploads_have_one_owner_processes(workers: Index) -> None:
    race(workers, rounds=8, contenders=3)


def test_interrupted_upload_claims_nothing(workers: Index, dists) -> None:
    ivan = workers.admin.user("ivan-cut")
    wheel = dists("squat-cut")[0]
    body, ctype = form_body(
        {":action": "file_upload", "name": "squat-cut"},
        {"content": (wheel.name, wheel.read_bytes())},
    )
    parts = urlsplit(workers.url)
    head = (
        f"POST / HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: {basic(TOKEN_USER, workers.admin.mint(ivan))}\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)  # the client goes away mid-body
        answer = b""
        while chunk := sock.recv(65536):  # until the worker is done with the request
            answer += chunk

    # bottle would hand pypiserver the truncated file as if it were whole.
    status_line = answer.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1.1 403 Forbidden: the request ended after "), answer

    assert "squat-cut" not in owners(workers)
    assert wheel.name not in workers.stored()
    # Positive control: the same upload, whole, claims the name.
    assert (
        upload(
            workers,
            basic(TOKEN_USER, workers.admin.mint(ivan)),
            wheel.name,
            wheel.read_bytes(),
            "squat-cut",
        ).status
        == 200
    )
    assert owners(workers)["squat-cut"] == f"{ivan} (Owner)"
