"""Differential test over FILES: a token scoped to ``mine`` changes no other project's file.

``test_request_corpus`` compares projects, versions and metadata; this one looks at the
files devpi keeps (red team round 2, H1: devpi keys a file by index, content hash and
name, so a file of ``minecraft`` can be re-marked or deleted through ``mine``). Every
generated shape runs on an index seeded with the same files (a fresh one, or one the
previous shape left untouched) on two servers:

- a devpi-server without the plugin, with alice's own login: what devpi does to the files
  for this shape (the oracle);
- the server with the plugin, with a token scoped to ``mine`` (upload, download, delete).

The seed: files of projects whose names extend ``mine`` (``minecraft``; ``mine-tools``
uploaded as ``mine_tools``, its sdist as ``mine.tools`` and its documentation; ``mine-1.0``
whose sdist ``mine-1.0-2.0.tar.gz`` devpi splits as mine ``1.0-2.0``) and ``mine`` 1.0.
The "hijacked" seed adds what a login can do (and the reviewer's token did): the victims'
exact bytes uploaded as ``mine``, which re-marks their files as mine's. Shapes: upload
forms (file names of every victim, the victim's version or the version that makes the name
fit, other bytes, or the victim's bytes then other bytes), documentation for versions that
spell another project's name, tox results on every file, deletions of every file, of
mine's versions and of mine, and internal pushes of mine's versions.

After each request the files of the index (and of the push target) are read back: for
every link of every project, the project devpi recorded for the file and the sha256 of
what it serves (or the status). Per shape: the token changes no file linked from another
project; when the token gets through, devpi (the oracle) changed no other project's file
either; refusals carry a reason.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import http.client
import io
import json
import secrets
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.dists import make_wheel

from .conftest import PASSWORDS, Devpi, basic, devpi_init, devpi_server, make_secret

pytestmark = pytest.mark.e2e

ME = "mine"


@dataclass(frozen=True)
class Dist:
    """A file a seed uploads: the form's name and version, the file name, its bytes."""

    name: str
    version: str
    filename: str
    data: bytes
    action: str = "file_upload"


def docs(text: str) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("index.html", f"<p>{text}</p>")
    return data.getvalue()


def seed_dists(tmp: Path) -> dict[str, Dist]:
    def wheel(name: str, version: str) -> Dist:
        path = make_wheel(tmp, name, version)
        return Dist(name, version, path.name, path.read_bytes())

    return {
        "minecraft": wheel("minecraft", "1.0"),
        "mine_tools": wheel("mine_tools", "1.0"),
        "mine.tools": Dist("mine.tools", "2.0", "mine.tools-2.0.tar.gz", b"sdist mine.tools 2.0"),
        "mine-1.0": Dist("mine-1.0", "2.0", "mine-1.0-2.0.tar.gz", b"sdist mine-1.0 2.0"),
        "docs": Dist("mine-tools", "1.0", "docs.zip", docs("mine-tools"), "doc_upload"),
        ME: wheel(ME, "1.0"),
    }


#: The victims' files, with the version under which ``mine`` would make the name fit.
VICTIM_FILES = {"minecraft": "craft-1.0", "mine_tools": "tools-1.0", "mine-1.0": "1.0-2.0",
                "mine.tools": "tools-2.0"}  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """One request (or two in a row) of the token, on a fresh index with ``seed``."""

    label: str
    seed: str  # plain | hijacked
    requests: tuple[tuple[str, str, object], ...]  # (method, path template, body)
    push: bool = False  # the shape needs a seeded push target

    def __str__(self) -> str:
        return f"{self.label} [{self.seed}]"


def corpus() -> list[Shape]:
    """Every shape: see the module docstring."""
    shapes: list[Shape] = []
    # The victim's bytes alone re-mark its file; other bytes alone are a file of their
    # own; the two in a row also delete the victim's file. "Mine": devpi normalises the
    # form's name, and so must the check.
    uploads = [
        (name, version, content)
        for name, content in ((ME, "other"), (ME, "same+other"), ("Mine", "same+other"))
        for version in ("victim", "fitting")
    ]
    for victim, fitting in VICTIM_FILES.items():
        for name, version, content in uploads:
            version = fitting if version == "fitting" else version
            requests = tuple(
                ("POST", "{index}/", ("upload", name, version, victim, part))
                for part in content.split("+")
            )
            label = f"file_upload name={name} version={version} {victim} bytes={content}"
            shapes.append(Shape(label, "plain", requests))
    for version in ("tools-1.0", "craft-1.0", "1.0-2.0", "1.0"):
        for content in ("same", "other"):
            body = ("docs", ME, version, "docs", content)
            label = f"doc_upload name={ME} version={version} bytes={content}"
            shapes.append(Shape(label, "plain", (("POST", "{index}/", body),)))
    for seed in ("plain", "hijacked"):
        for victim in (*VICTIM_FILES, "docs", ME):
            shapes.append(
                Shape(f"tox result on {victim}", seed, (("POST", f"{{file:{victim}}}", {}),))
            )
            shapes.append(
                Shape(f"delete {victim}", seed, (("DELETE", f"{{file:{victim}}}?force", None),))
            )
        for path in (f"{{index}}/{ME}/1.0", f"{{index}}/{ME}/1.0-2.0", f"{{index}}/{ME}"):
            shapes.append(Shape(f"DELETE {path}", seed, (("DELETE", f"{path}?force", None),)))
        for version in ("1.0", "1.0-2.0"):
            body = {"name": ME, "version": version, "targetindex": "{target}"}
            shapes.append(
                Shape(f"push mine {version}", seed, (("POST", "{index}/", body),), push=True)
            )
    return shapes


# -- talking to a server ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    reason: str
    body: bytes
    serial: str | None


class Conn:
    """One kept-alive connection to a server, with the credentials of one party."""

    def __init__(self, devpi: Devpi, auth: dict[str, str]) -> None:
        self.devpi = devpi
        self.auth = auth
        self._conn: http.client.HTTPConnection | None = None

    def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        for attempt in (1, 2):
            if self._conn is None:
                parts = urllib.parse.urlsplit(self.devpi.url)
                self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            try:
                all_headers = {"Accept": "application/json", **self.auth, **(headers or {})}
                self._conn.request(method, path, body=body, headers=all_headers)
                resp = self._conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2 or method not in ("GET", "PUT"):
                    raise
                continue
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return Answer(resp.status, resp.reason, data, resp.getheader("X-Devpi-Serial"))
        raise AssertionError("unreachable")

    def json(self, path: str) -> tuple[int, object]:
        answer = self.send("GET", path)
        return answer.status, json.loads(answer.body) if answer.body else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def form(dist: Dist, name: str, version: str | None, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = secrets.token_hex(8)
    fields = [(":action", dist.action), ("name", name)]
    if version is not None:
        fields.append(("version", version))
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{dist.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


#: A file as devpi keeps it: (project, version, rel, path in the index) -> (project
#: recorded for the file, sha256 of what devpi serves or the status).
Files = dict[tuple[str, str, str, str], tuple[object, str]]


def files_of(conn: Conn, index: str) -> Files:
    found: Files = {}
    _, listing = conn.json(f"/{index}")
    for project in listing["result"]["projects"]:  # type: ignore[index]
        _, versions = conn.json(f"/{index}/{project}")
        for version, data in versions["result"].items():  # type: ignore[index]
            for link in data.get("+links", []):
                path = "/" + link["href"].split("/", 3)[3]
                _, meta = conn.json(path)
                served = conn.send("GET", path, headers={"Accept": "*/*"})
                content = (
                    hashlib.sha256(served.body).hexdigest()
                    if served.status == 200
                    else str(served.status)
                )
                recorded = meta.get("result", {}).get("project") if isinstance(meta, dict) else None
                where = path.removeprefix(f"/{index}/")
                found[(project, version, link["rel"], where)] = (recorded, content)
    return found


def theirs(files: Files) -> Files:
    """The files linked from projects other than mine."""
    return {key: value for key, value in files.items() if key[0] != ME}


def theirs_everywhere(files: dict[str, Files]) -> dict[str, Files]:
    return {index: theirs(found) for index, found in files.items()}


@dataclass
class Party:
    """A server and who speaks to it: alice's login (the seeds; the oracle's requests) and
    the party's own credentials for the shape's requests."""

    login: Conn
    actor: Conn
    dists: dict[str, Dist]
    #: the files of a freshly seeded index, by (seed, push): every seed has the same bytes
    seeded: dict[tuple[str, bool], dict[str, Files]] = field(default_factory=dict)
    serial: str | None = None  # the server's serial once the shape's index is seeded
    unchanged: dict[tuple[str, bool], dict[str, str]] = field(default_factory=dict)

    def play(
        self, shape: Shape, number: int
    ) -> tuple[list[Answer], dict[str, Files], dict[str, Files]]:
        """Seed a fresh index, send the shape's requests; the answers and the files before
        and after (read again only if the server committed something)."""
        key = (shape.seed, shape.push)
        # an index the last shape left as seeded (nothing committed) is as good as new
        names = self.unchanged.pop(key, None) or self.fresh(shape, number)
        if key not in self.seeded:
            self.seeded[key] = self.observe(names, shape)
        before = self.seeded[key]
        answers = self.run(shape, names, before["index"])
        if any(a.serial is None or a.serial != self.serial for a in answers):
            return answers, before, self.observe(names, shape)
        self.unchanged[key] = names
        return answers, before, before

    def fresh(self, shape: Shape, number: int) -> dict[str, str]:
        """Make and seed this shape's index (and push target); their names."""
        names = {"index": f"alice/f{number}", "target": f"alice/f{number}t"}
        for key in ("index", "target") if shape.push else ("index",):
            body = json.dumps({"bases": [], "volatile": True}).encode()
            answer = self.login.send(
                "PUT", f"/{names[key]}", body, {"Content-Type": "application/json"}
            )
            assert answer.status == 200, answer
            for dist in self.dists.values():
                self.seed(names[key], dist, dist.name, dist.version)
        if shape.seed == "hijacked":
            for victim, version in (("minecraft", "1.0"), ("mine-1.0", "1.0-2.0")):
                self.seed(names["index"], self.dists[victim], ME, version)
        return names

    def seed(self, index: str, dist: Dist, name: str, version: str) -> None:
        """Upload ``dist`` with alice's login: devpi must store it."""
        body, headers = form(dist, name, version, dist.data)
        answer = self.login.send("POST", f"/{index}/", body, headers)
        assert answer.status == 200, (answer, dist)
        self.serial = answer.serial

    def run(self, shape: Shape, names: dict[str, str], seeded: Files) -> list[Answer]:
        answers = []
        for method, template, body in shape.requests:
            path = self._path(template, names, seeded)
            if isinstance(body, tuple):
                _, name, version, victim, content = body
                dist = self.dists[victim]
                data = dist.data if content == "same" else dist.data + b" other"
                vers = dist.version if version == "victim" else version
                payload, headers = form(dist, name, vers, data)
                answers.append(self.actor.send(method, path, payload, headers))
            else:
                payload = (
                    b""
                    if body is None
                    else json.dumps(body).replace("{target}", names["target"]).encode()
                )
                headers = {} if body is None else {"Content-Type": "application/json"}
                answers.append(self.actor.send(method, path, payload, headers))
        return answers

    def _path(self, template: str, names: dict[str, str], seeded: Files) -> str:
        """The request's path: ``{file:<seed>}`` is where the index keeps that seed's file."""
        if template.startswith("{file:"):
            victim, _, rest = template.removeprefix("{file:").partition("}")
            dist = self.dists[victim]
            rel = "doczip" if dist.action == "doc_upload" else "releasefile"
            where = next(
                key[3]
                for key in seeded
                if key[2] == rel and (rel == "doczip" or key[3].endswith("/" + dist.filename))
            )
            return f"/{names['index']}/{where}{rest}"
        return "/" + template.format(**names)

    def observe(self, names: dict[str, str], shape: Shape) -> dict[str, Files]:
        keys = ("index", "target") if shape.push else ("index",)
        return {key: files_of(self.login, names[key]) for key in keys}


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Party, Party]]:
    """(the server with the plugin and the token, stock devpi and alice's login)."""
    base = tmp_path_factory.mktemp("devpi-files")
    secret = make_secret(base / "secret")
    dists = seed_dists(base)
    devpi_init(base / "plugin", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    devpi_init(base / "stock", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with (
        devpi_server(base / "plugin", secret) as with_plugin,
        devpi_server(base / "stock", secret, stock=True) as without,
    ):
        plugin, stock = Devpi(with_plugin, base), Devpi(without, base)
        for devpi in (plugin, stock):
            devpi.create_user("alice")
        _, token = plugin.mint(actions=["upload", "download", "delete"], projects=[ME])
        stock_login = stock.login("alice")
        made = (
            Party(
                Conn(plugin, plugin.login("alice")), Conn(plugin, basic("__token__", token)), dists
            ),
            Party(Conn(stock, stock_login), Conn(stock, stock_login), dists),
        )
        try:
            yield made
        finally:
            for party in made:
                party.login.close()
                party.actor.close()


def changed(before: dict[str, Files], after: dict[str, Files]) -> set[str]:
    """The projects whose files changed (by key: project, version, rel, path)."""
    out = set()
    for index in before:
        old, new = before[index], after[index]
        for key in old.keys() | new.keys():
            if old.get(key) != new.get(key):
                out.add(key[0])
                recorded = [v[0] for v in (old.get(key), new.get(key)) if v is not None]
                out.update(str(r) for r in recorded if r is not None)
    return out


def test_a_token_changes_no_file_of_another_project(parties: tuple[Party, Party]) -> None:
    plugin, stock = parties
    shapes = corpus()
    problems: list[str] = []
    tally: collections.Counter[str] = collections.Counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for number, shape in enumerate(shapes):
            # the oracle (stock devpi, alice's login) and the token for mine, side by side
            oracle = pool.submit(stock.play, shape, number)
            answers, seeded, after = plugin.play(shape, number)
            expected, stock_seeded, stock_after = oracle.result()
            assert theirs_everywhere(seeded) == theirs_everywhere(stock_seeded), shape
            devpi_changes = changed(stock_seeded, stock_after) - {ME}
            token_changes = changed(seeded, after)
            tally["oracle changed another project's files"] += bool(devpi_changes)
            refused = [a for a in answers if a.status == 403]
            if token_changes - {ME}:
                problems.append(f"token changed {token_changes - {ME}}: {shape}")
            elif any(a.status >= 500 for a in answers):
                problems.append(f"token request got {[a.status for a in answers]}: {shape}")
            elif refused:
                if not all(a.reason.startswith("Invalid API Token: ") for a in refused):
                    problems.append(f"refused without a reason ({refused[0].reason}): {shape}")
                tally["token refused"] += 1
                tally["token refused: a file of another project"] += any(
                    a.reason.startswith("Invalid API Token: file ") for a in refused
                )
            else:
                tally["token changed mine's files"] += ME in token_changes
                if devpi_changes:
                    problems.append(
                        f"let through what changes {devpi_changes} in devpi "
                        f"({[a.status for a in expected]}): {shape}"
                    )
    print(f"\n{len(shapes)} file shapes: {dict(tally)}")
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:30])
    # The corpus can fail: devpi changes other projects' files for many shapes, the token
    # is refused for them, and mine's own files change where they should.
    assert tally["oracle changed another project's files"] > 10, tally
    assert tally["token refused: a file of another project"] > 10, tally
    assert tally["token changed mine's files"] > 5, tally
    assert len(shapes) == 4 * 6 + 8 + 2 * (6 * 2 + 3 + 2) == 66
