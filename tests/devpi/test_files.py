"""A token scoped to one project never touches another project's files (issue 8, H1).

devpi keys a stored file by index, content hash and file name only, and accepts an upload
whose file name merely *starts with* the form's ``name``. Projects whose names extend
``mine`` (``minecraft``, ``mine-tools``, spelled ``mine_tools`` and ``mine.tools`` too,
and ``mine-1.0``, whose legacy sdist name devpi itself splits as ``mine`` ``1.0-2.0``)
each have files on ``alice/dev`` (and ``alice/other``); a token scoped to ``mine`` (every
action) tries every path that stores or deletes a file by name: ``file_upload``,
``doc_upload``, tox results, internal pushes, and deletions of a file, a version and a
project. After each, every file of every other project is still there, with the same
content and recorded for the same project. Each refusal names why; each is paired with
the same path used on ``mine``'s own files, which works.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest
from webob import Response

from tests.e2e.dists import make_wheel

from .conftest import App

DEV, OTHER = "alice/dev", "alice/other"
ME = "mine"
#: File, stored by each victim project's maintainer (alice's password), on both indexes.
VICTIMS = {
    "minecraft": ("1.0", "wheel"),
    "mine-tools": ("1.0", "wheel"),  # mine_tools-1.0-py3-none-any.whl
    "mine.tools": ("2.0", "wheel"),  # the same project, spelled with a dot
    "mine-1.0": ("2.0", "sdist"),  # mine-1.0-2.0.tar.gz: devpi splits it as mine 1.0-2.0
}

#: What a file is: (project devpi recorded, sha256 of what it serves); a snapshot maps the
#: path of every file linked from every project of an index to it.
Snapshot = dict[str, tuple[str | None, str]]


def refusal(reason: str) -> str:
    return f"403 Invalid API Token: {reason}"


def multipart(fields: list[tuple[str, str]], file: tuple[str, bytes] | None) -> tuple[bytes, str]:
    boundary = secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    ]
    if file is not None:
        name, data = file
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(
    app: App,
    index: str,
    name: str,
    version: str | None,
    file: tuple[str, bytes] | None,
    action: str = "file_upload",
    **auth: Any,
) -> Response:
    """An upload form (``file_upload`` or ``doc_upload``) with these exact values."""
    fields = [(":action", action), ("name", name)]
    if version is not None:
        fields.append(("version", version))
    body, content_type = multipart(fields, file)
    return app.request("POST", f"/{index}/", body=body, content_type=content_type, **auth)


def sdist(name: str, version: str) -> tuple[str, bytes]:
    """A legacy sdist's name (the project name as written) and some bytes of its own."""
    return f"{name}-{version}.tar.gz", f"sdist of {name} {version}".encode()


def doczip(text: str) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("index.html", f"<p>{text}</p>")
    return data.getvalue()


def path_of(href: str) -> str:
    return "/" + href.split("/", 3)[3]


def snapshot(app: App, index: str) -> Snapshot:
    """Every file linked from every project of ``index``: its record's project and the
    sha256 of what devpi serves for it (or the status, if it serves none)."""
    files: Snapshot = {}
    for project in app.request("GET", f"/{index}").json["result"]["projects"]:
        versions = app.request("GET", f"/{index}/{project}").json["result"]
        for version in versions.values():
            for link in version.get("+links", []):
                path = path_of(link["href"])
                meta = app.request("GET", path)
                served = app.request("GET", path, headers={"Accept": "*/*"})
                content = (
                    hashlib.sha256(served.body).hexdigest()
                    if served.status_int == 200
                    else served.status
                )
                recorded = meta.json["result"].get("project") if meta.status_int == 200 else None
                files[path] = (recorded, content)
    return files


def others(files: Snapshot, app: App, index: str) -> Snapshot:
    """The files linked from projects other than ``mine``."""
    theirs = {
        path_of(link["href"])
        for project in app.request("GET", f"/{index}").json["result"]["projects"]
        if project != ME
        for version in app.request("GET", f"/{index}/{project}").json["result"].values()
        for link in version.get("+links", [])
    }
    return {path: files[path] for path in theirs}


class World:
    """``alice/dev`` and ``alice/other`` with the victims' files, ``mine`` 1.0, and a token
    for ``mine`` that may do everything."""

    def __init__(self, app: App, tmp: Path) -> None:
        self.app = app
        # the same bytes on both indexes, as a push would copy them
        self.files = {
            (project, version): self._dist(tmp, project, version, kind)
            for project, (version, kind) in {**VICTIMS, ME: ("1.0", "wheel")}.items()
        }
        for index in (DEV, OTHER):
            for (project, version), file in self.files.items():
                assert upload(app, index, project, version, file, user="alice").status_int == 200
        docs = doczip("mine-tools documentation")
        response = upload(
            app, DEV, "mine-tools", "1.0", ("docs.zip", docs), "doc_upload", user="alice"
        )
        assert response.status_int == 200, response.status
        _, self.token = app.mint(projects=[ME], actions=["upload", "download", "delete"])

    @staticmethod
    def _dist(tmp: Path, project: str, version: str, kind: str) -> tuple[str, bytes]:
        if kind == "sdist":
            return sdist(project, version)
        wheel = make_wheel(tmp, project, version)
        return wheel.name, wheel.read_bytes()

    def as_token(self) -> dict[str, Any]:
        return {"auth": ("__token__", self.token)}

    def others(self) -> dict[str, Snapshot]:
        return {index: others(snapshot(self.app, index), self.app, index) for index in (DEV, OTHER)}

    def link(self, index: str, project: str, version: str, rel: str = "releasefile") -> str:
        links = self.app.request("GET", f"/{index}/{project}/{version}").json["result"]["+links"]
        (href,) = [link["href"] for link in links if link["rel"] == rel]
        return path_of(href)


@pytest.fixture
def world(app: App, tmp_path: Path) -> World:
    return World(app, tmp_path)


# -- uploads: a file name or documentation that is another project's -------------------------

VICTIM_BYTES, OTHER_BYTES = "victim's bytes", "other bytes"

UPLOADS = [
    # (form name, form version, file: (victim project, version) or a name, bytes, reason)
    pytest.param(
        ME,
        "1.0",
        ("minecraft", "1.0"),
        VICTIM_BYTES,
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="reviewer-minecraft-same-bytes",
    ),
    pytest.param(
        ME,
        "1.0",
        ("minecraft", "1.0"),
        OTHER_BYTES,
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="reviewer-minecraft-other-bytes",
    ),
    pytest.param(
        "Mine",
        "1.0",
        ("minecraft", "1.0"),
        VICTIM_BYTES,
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="name-spelled-otherwise",
    ),
    pytest.param(
        ME,
        "tools-1.0",
        ("mine-tools", "1.0"),
        VICTIM_BYTES,
        "file 'mine_tools-1.0-py3-none-any.whl' is a file of project 'mine-tools', not 'mine'",
        id="mine_tools-wheel",
    ),
    pytest.param(
        ME,
        "tools-2.0",
        ("mine.tools", "2.0"),
        OTHER_BYTES,
        "file 'mine_tools-2.0-py3-none-any.whl' is a file of project 'mine-tools', not 'mine'",
        id="mine.tools-wheel",
    ),
    pytest.param(
        ME,
        "1.0-2.0",
        ("mine-1.0", "2.0"),
        VICTIM_BYTES,
        "file 'mine-1.0-2.0.tar.gz' is stored for project 'mine-1-0'",
        id="a-name-devpi-splits-as-mine",
    ),
    pytest.param(
        ME,
        "1.0",
        "mine-1.0.1.tar.gz",
        OTHER_BYTES,
        "file 'mine-1.0.1.tar.gz' is version '1.0.1', not '1.0'",
        id="another-version-of-mine",
    ),
    pytest.param(
        ME,
        "1.0",
        "minecraft-1.0.tar.gz",
        OTHER_BYTES,
        "file 'minecraft-1.0.tar.gz' is a file of project 'minecraft', not 'mine'",
        id="sdist-of-a-longer-name",
    ),
    pytest.param(
        ME,
        "1.0",
        "mine.tar.gz",
        OTHER_BYTES,
        "file 'mine.tar.gz' is version '', not '1.0'",
        id="no-version-in-the-name",
    ),
]


@pytest.mark.parametrize(("name", "version", "file", "data", "reason"), UPLOADS)
def test_a_token_never_stores_a_file_named_for_another_project(
    world: World, name: str, version: str, file: Any, data: str, reason: str
) -> None:
    app = world.app
    if isinstance(file, tuple):
        filename, victim_bytes = world.files[file]
    else:
        filename, victim_bytes = file, b""
    content = victim_bytes if data == VICTIM_BYTES else victim_bytes + b"other"
    before = world.others()
    response = upload(app, DEV, name, version, (filename, content), **world.as_token())
    assert response.status == refusal(reason)
    assert world.others() == before


def test_a_file_devpi_splits_as_mine_is_mine_unless_another_project_has_it(
    world: World,
) -> None:
    """``mine-1.0-2.0.tar.gz`` is mine 1.0-2.0 to devpi: with the victim's bytes it would
    re-mark the victim's file (refused above); with bytes of its own it is a new file."""
    app = world.app
    before = world.others()
    filename, victim_bytes = world.files[("mine-1.0", "2.0")]
    file = (filename, victim_bytes + b" mine")
    assert upload(app, DEV, ME, "1.0-2.0", file, **world.as_token()).status_int == 200
    assert world.others() == before
    assert "1.0-2.0" in app.request("GET", f"/{DEV}/{ME}").json["result"]


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (
            "tools-1.0",
            "file 'mine-tools-1.0.doc.zip' is a file of project 'mine-tools', not 'mine'",
        ),
        (
            "craft-1.0",
            "file 'mine-craft-1.0.doc.zip' is a file of project 'mine-craft', not 'mine'",
        ),
        (None, "doc_upload needs the form field 'version'"),
    ],
    ids=["reviewer-mine-tools-docs", "a-project-that-does-not-exist-yet", "no-version"],
)
def test_a_token_never_stores_documentation_named_for_another_project(
    world: World, version: str | None, reason: str
) -> None:
    app = world.app
    before = world.others()
    docs = ("docs.zip", doczip("PWNED"))
    response = upload(app, DEV, ME, version, docs, "doc_upload", **world.as_token())
    assert response.status == refusal(reason)
    assert world.others() == before
    assert app.request("GET", f"/{DEV}/{ME}").json["result"].keys() == {"1.0"}


def test_mine_uploads_its_own_files(world: World, tmp_path: Path) -> None:
    """The positive control: files and documentation of mine, new and replaced."""
    app = world.app
    before = world.others()
    wheel = make_wheel(tmp_path, ME, "2.0")
    file = (wheel.name, wheel.read_bytes())
    assert upload(app, DEV, ME, "2.0", file, **world.as_token()).status_int == 200
    docs = ("docs.zip", doczip("mine documentation"))
    assert upload(app, DEV, ME, "2.0", docs, "doc_upload", **world.as_token()).status_int == 200
    # on a volatile index, the same name again replaces mine's own file
    again = (wheel.name, wheel.read_bytes() + b"\0")
    assert upload(app, DEV, ME, "2.0", again, **world.as_token()).status_int == 200
    assert world.others() == before
    links = app.request("GET", f"/{DEV}/{ME}/2.0").json["result"]["+links"]
    assert sorted(link["rel"] for link in links) == ["doczip", "releasefile"]


# -- files already recorded for mine, named for another project ----------------------------


@pytest.fixture
def hijacked(world: World) -> World:
    """What the reviewer's token did, done by alice's password (devpi allows it): the
    victim's exact bytes uploaded as ``mine`` 1.0 re-mark ``minecraft``'s file as mine's,
    on both indexes; and mine ``1.0-2.0`` holds ``mine-1.0``'s sdist on alice/dev."""
    app = world.app
    for index in (DEV, OTHER):
        file = world.files[("minecraft", "1.0")]
        assert upload(app, index, ME, "1.0", file, user="alice").status_int == 200
        path = world.link(index, "minecraft", "1.0")
        assert app.request("GET", path).json["result"]["project"] == ME
    file = world.files[("mine-1.0", "2.0")]
    assert upload(app, DEV, ME, "1.0-2.0", file, user="alice").status_int == 200
    return world


def minecraft_file(world: World) -> str:
    return world.link(DEV, "minecraft", "1.0")


PATHS = [
    # (method, path, body, reason): each a way devpi deletes or stores by the name
    pytest.param(
        "DELETE",
        minecraft_file,
        None,
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="reviewer-delete-the-file",
    ),
    pytest.param(
        "DELETE",
        lambda w: f"/{DEV}/{ME}/1.0",
        None,
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="delete-the-version",
    ),
    pytest.param(
        "DELETE",
        lambda w: f"/{DEV}/{ME}",
        None,
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="delete-the-project",
    ),
    pytest.param(
        "POST",
        minecraft_file,
        {"testenvs": {}},
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="tox-result-on-the-file",
    ),
    pytest.param(
        "POST",
        lambda w: f"/{DEV}/",
        {"name": ME, "version": "1.0", "targetindex": OTHER},
        "file 'minecraft-1.0-py3-none-any.whl' is a file of project 'minecraft', not 'mine'",
        id="push-the-version",
    ),
    pytest.param(
        "POST",
        lambda w: f"/{DEV}/",
        {"name": ME, "version": "1.0-2.0", "targetindex": OTHER},
        "file 'mine-1.0-2.0.tar.gz' is stored for project 'mine-1-0'",
        id="push-a-name-devpi-splits-as-mine",
    ),
    # mine-1.0's file, recorded as mine's and named as mine's: linked from mine-1.0 too
    pytest.param(
        "DELETE",
        lambda w: w.link(DEV, "mine-1-0", "2.0"),
        None,
        "file 'mine-1.0-2.0.tar.gz' is also a file of project 'mine-1-0'",
        id="delete-a-file-shared-with-another-project",
    ),
    pytest.param(
        "DELETE",
        lambda w: f"/{DEV}/{ME}/1.0-2.0",
        None,
        "file 'mine-1.0-2.0.tar.gz' is also a file of project 'mine-1-0'",
        id="delete-the-version-that-shares-it",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "reason"), PATHS)
def test_a_token_never_deletes_or_copies_a_file_of_another_project(
    hijacked: World, method: str, path: Any, body: Any, reason: str
) -> None:
    app = hijacked.app
    before = hijacked.others()
    response = app.request(method, f"{path(hijacked)}?force", json_body=body, **hijacked.as_token())
    assert response.status == refusal(reason)
    assert hijacked.others() == before


def test_a_token_never_replaces_a_file_shared_with_another_project(hijacked: World) -> None:
    """On a volatile index an upload of the same name replaces the version's file: here
    mine 1.0-2.0's file is mine-1.0's too (the same bytes, stored by both)."""
    app = hijacked.app
    before = hijacked.others()
    filename, victim_bytes = hijacked.files[("mine-1.0", "2.0")]
    file = (filename, victim_bytes + b" mine")
    response = upload(app, DEV, ME, "1.0-2.0", file, **hijacked.as_token())
    assert response.status == refusal(
        "file 'mine-1.0-2.0.tar.gz' is also a file of project 'mine-1-0'"
    )
    assert hijacked.others() == before
    # Positive control: on alice/other, where mine has no such file, the same upload works.
    assert upload(app, OTHER, ME, "1.0-2.0", file, **hijacked.as_token()).status_int == 200
    assert hijacked.others() == before


def test_mine_deletes_and_pushes_its_own_files(world: World, tmp_path: Path) -> None:
    """The positive controls of every path above, on mine's own files."""
    app, token = world.app, world.as_token()
    before = world.others()
    own = world.link(DEV, ME, "1.0")
    response = app.request("POST", own, json_body={"testenvs": {}}, **token)
    assert response.status_int == 200, response.status
    push = {"name": ME, "version": "1.0", "targetindex": OTHER}
    assert app.request("POST", f"/{DEV}/", json_body=push, **token).status_int == 200
    # the pushed file, then (with the last file of its only version) mine, leave alice/other
    assert app.request("DELETE", world.link(OTHER, ME, "1.0"), **token).status_int == 200
    assert app.request("GET", f"/{OTHER}/{ME}").status_int == 404
    wheel = make_wheel(tmp_path, ME, "2.0")
    file = (wheel.name, wheel.read_bytes())
    assert upload(app, DEV, ME, "2.0", file, **token).status_int == 200
    assert app.request("DELETE", f"/{DEV}/{ME}/1.0", **token).status_int == 200
    assert app.request("GET", f"/{DEV}/{ME}").json["result"].keys() == {"2.0"}
    assert app.request("DELETE", f"/{DEV}/{ME}", **token).status_int == 200
    assert app.request("GET", f"/{DEV}/{ME}").status_int == 404
    assert world.others() == before


def test_another_projects_file_is_refused_for_that_project(world: World) -> None:
    """Not re-marked: the file is minecraft's, and the token is refused for minecraft."""
    app = world.app
    before = world.others()
    response = app.request("DELETE", minecraft_file(world), **world.as_token())
    assert response.status == refusal("not valid for project 'minecraft'")
    response = app.request(
        "POST", minecraft_file(world), json_body={"testenvs": {}}, **world.as_token()
    )
    assert response.status == refusal("not valid for project 'minecraft'")
    assert world.others() == before


def test_the_reviewers_reproduction(world: World) -> None:
    """repro_collision.sh: the victim's public bytes, then other bytes, under name=mine,
    then DELETE of the victim's file with ?force; the victim's file stays, unchanged."""
    app = world.app
    path = minecraft_file(world)
    victim = app.request("GET", path, headers={"Accept": "*/*"}).body
    filename = world.files[("minecraft", "1.0")][0]
    for content in (victim, victim + b"x"):
        response = upload(app, DEV, ME, "1.0", (filename, content), **world.as_token())
        assert response.status.startswith("403 Invalid API Token: file 'minecraft-1.0-py3")
    response = app.request("DELETE", f"{path}?force", **world.as_token())
    assert response.status == refusal("not valid for project 'minecraft'")
    served = app.request("GET", path, headers={"Accept": "*/*"})
    assert (served.status_int, served.body) == (200, victim)
    assert app.request("GET", path).json["result"]["project"] == "minecraft"
    simple = app.request("GET", f"/{DEV}/+simple/minecraft/", headers={"Accept": "text/html"})
    assert filename in simple.text
