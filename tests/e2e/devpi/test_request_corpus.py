"""Differential test: the project a token is checked against is the project devpi changes.

A generated corpus of request shapes for ``POST``/``PUSH /alice/dev/`` (content types with
and without parameters, charsets, missing/empty/repeated ``:action`` and ``name``, form
bodies that are also JSON, UTF-7 smuggling, multipart and urlencoded, internal pushes
with ``targetindex`` and external ones with ``posturl``) goes, shape by shape, to

- a devpi-server without the plugin, with alice's own login: what stock devpi changes
  for this shape (the oracle);
- the server with the plugin, with the same login: it must behave exactly as stock;
- the server with the plugin, with a token scoped to project ``mine``.

What changed is observed from the servers' state (projects, versions and metadata of
both indexes, and what reached the external push's listener), read whenever a server's
serial moves. Per shape: the token changes nothing outside ``mine``; when the plugin
refuses the token for a project, that is the project devpi would have changed; when it
lets the token through, devpi would change nothing but ``mine``.
"""

from __future__ import annotations

import base64
import collections
import http.client
import itertools
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.e2e.dists import make_wheel

from .conftest import (
    PASSWORDS,
    Devpi,
    Listener,
    Reply,
    basic,
    devpi_init,
    devpi_server,
    make_secret,
    raw_request,
)

pytestmark = pytest.mark.e2e

ME, VICTIM, NEW = "mine", "victim", "<new>"  # NEW: a project nobody has created yet
DEV, PROD = "alice/dev", "alice/prod"
BOUNDARY = "c0rpus"
FORM = "application/x-www-form-urlencoded"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
JSON = "application/json"
NO_HEADER = None

# -- the corpus ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """What a body says; rendered per shape (index names, listener, a fresh version)."""

    kind: str  # form | json | polyglot (JSON carrying a form) | utf7 (UTF-7 hides a key)
    encoding: str = "urlencoded"  # form: urlencoded | multipart
    actions: tuple[str, ...] = ()  # form: the :action values, in order
    names: tuple[str, ...] = ()  # form/json: the name values (JSON: repeated keys)
    dest: str = "target"  # push: target | posturl | target-twice | null-target
    inner_action: str = ""  # polyglot: the :action the form reading sees
    inner_name: str = ""  # polyglot/utf7: the name the other reading sees


@dataclass(frozen=True)
class Shape:
    method: str
    content_type: str | None  # None: no Content-Type header at all
    charset: str | None
    body: Body

    def __str__(self) -> str:
        return f"{self.method} {self.content_type!r} charset={self.charset!r} {self.body}"


METHODS = ("POST", "PUSH")
CONTENT_TYPES = (NO_HEADER, "", FORM, MULTIPART, JSON, "text/plain")
CHARSETS = (None, "utf-8", "utf-7", "latin-1", "utf-16")
#: Bodies that tell one project to one reading and another to the next, plus plain ones.
CARRIERS = (
    Body("form", actions=("submit",), names=(VICTIM,)),
    Body("json", names=(ME,)),
    Body("polyglot", names=(VICTIM,), inner_action="", inner_name=ME),  # issue: A
    Body("polyglot", names=(ME,), inner_action="submit", inner_name=VICTIM),  # issue: B
    Body("utf7", names=(ME,), inner_name=VICTIM),  # issue: C
    Body("polyglot", names=(VICTIM,), inner_name=ME, dest="posturl"),  # issue: D
)
FORM_ACTIONS = ((), ("",), ("submit",), ("", "submit"), ("submit", ""))
NAME_SETS = ((ME,), (VICTIM,), (NEW,), (ME, VICTIM), (VICTIM, ME))
DESTS = ("target", "posturl", "target-twice", "null-target")


def corpus() -> list[Shape]:
    """Every header (method x content type x charset) with every carrier body, and every
    field combination POSTed with the content type a client would send for it."""
    headers = [
        (method, content_type, charset)
        for method, content_type, charset in itertools.product(METHODS, CONTENT_TYPES, CHARSETS)
        if content_type is not NO_HEADER or charset is None
    ]
    shapes = [Shape(*header, body) for header, body in itertools.product(headers, CARRIERS)]
    bodies = [
        *(Body("form", actions=a, names=n) for a, n in itertools.product(FORM_ACTIONS, NAME_SETS)),
        *(
            Body("form", "multipart", actions=a, names=n)
            for a, n in itertools.product((*FORM_ACTIONS, ("file_upload",)), NAME_SETS)
        ),
        *(Body("json", names=n, dest=d) for n, d in itertools.product(NAME_SETS, DESTS)),
        *(
            Body("polyglot", names=(j,), inner_action=a, inner_name=f, dest=d)
            for j, a, f, d in itertools.product(
                (ME, VICTIM), ("", "submit"), (ME, VICTIM), ("target", "posturl")
            )
        ),
        *(
            Body("utf7", names=(j,), inner_name=h, dest=d)
            for j, h, d in itertools.product((ME, VICTIM), (ME, VICTIM), ("target", "posturl"))
        ),
    ]
    natural = {"urlencoded": FORM, "multipart": MULTIPART}
    for body in bodies:
        content_type = natural[body.encoding] if body.kind == "form" else JSON
        charset = "utf-7" if body.kind == "utf7" else None
        shapes.append(Shape("POST", content_type, charset, body))
    return shapes


# -- rendering a shape into bytes ---------------------------------------------------------


@dataclass
class World:
    """What a rendered request may refer to."""

    listener: str
    wheels: Path
    number: int = 0  # of the shape being rendered: a fresh version and NEW project

    @property
    def version(self) -> str:
        return f"5.{self.number}"

    def name(self, name: str) -> str:
        return f"fresh{self.number}" if name == NEW else name


def json_text(pairs: list[tuple[str, object]]) -> str:
    """A JSON object that may repeat keys (``json.dumps`` of a dict cannot)."""
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


def push_pairs(body: Body, world: World) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [("name", world.name(n)) for n in body.names]
    pairs.append(("version", "1.0"))
    if body.dest in ("target", "target-twice"):
        pairs.append(("targetindex", PROD))
    if body.dest == "target-twice":
        pairs.append(("targetindex", DEV))
    if body.dest in ("posturl", "null-target"):
        pairs += [("posturl", world.listener), ("username", "u"), ("password", "p")]
    if body.dest == "null-target":
        pairs.append(("targetindex", None))
    return pairs


def form_fields(body: Body, world: World) -> list[tuple[str, str]]:
    return [
        *((":action", a) for a in body.actions),
        *(("name", world.name(n)) for n in body.names),
        ("version", world.version),
        ("summary", "PWNED"),
    ]


def multipart_body(fields: list[tuple[str, str]], wheel: Path | None) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    ]
    if wheel is not None:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="{wheel.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + wheel.read_bytes()
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def utf7_hidden(text: str) -> str:
    """``text`` as one UTF-7 base64 run: ASCII letters to a UTF-8 reader."""
    return "+" + base64.b64encode(text.encode("utf-16-be")).decode().rstrip("=") + "-"


def render(shape: Shape, world: World) -> tuple[dict[str, str], bytes]:
    body = shape.body
    if body.kind == "form":
        fields = form_fields(body, world)
        if body.encoding == "urlencoded":
            data = urlencode(fields).encode()
        else:
            # devpi takes the last name; a file named after it passes devpi's own checks
            wheel = None
            if "file_upload" in body.actions:
                wheel = make_wheel(world.wheels, world.name(body.names[-1]), world.version)
            data = multipart_body(fields, wheel)
    elif body.kind == "json":
        data = json_text(push_pairs(body, world)).encode()
    elif body.kind == "polyglot":
        inner = urlencode(
            [
                (":action", body.inner_action),
                ("name", world.name(body.inner_name)),
                ("version", world.version),
                ("summary", "PWNED"),
            ]
        )
        data = json_text([*push_pairs(body, world), ("no_docs", f"&{inner}&")]).encode()
    else:
        hidden = utf7_hidden(f'","name":"{world.name(body.inner_name)}')
        data = json_text([*push_pairs(body, world), ("no_docs", hidden)]).encode()
    headers = {"Accept": "application/json"}
    if shape.content_type is not NO_HEADER:
        charset = f"; charset={shape.charset}" if shape.charset else ""
        headers["Content-Type"] = f"{shape.content_type}{charset}"
    return headers, data


# -- observing what a server changed ------------------------------------------------------


def normalized(value: object, url: str) -> object:
    """A project's JSON without what differs between two servers doing the same thing:
    their address in links and the time in log entries."""
    if isinstance(value, dict):
        return {k: normalized(v, url) for k, v in value.items() if k != "when"}
    if isinstance(value, list):
        return [normalized(v, url) for v in value]
    return value.replace(url, "") if isinstance(value, str) else value


@dataclass
class Outcome:
    reply: Reply
    moved: bool  # the server's serial moved: it committed a change
    sent: list[str]  # the projects it sent to the listener

    def summary(self) -> tuple[object, ...]:
        return (self.reply.status, self.reply.reason, self.reply.body, self.moved, self.sent)


class Observed:
    """One server seen from outside: its serial, and its projects when last read."""

    def __init__(self, devpi: Devpi, listener: Listener) -> None:
        self.devpi = devpi
        self.listener = listener
        self.serial = -1
        self.state: dict[tuple[str, str], object] = {}
        self._conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, object]:
        """A read over one kept-alive connection (reads are safe to retry)."""
        for attempt in (1, 2):
            if self._conn is None:
                parts = urllib.parse.urlsplit(self.devpi.url)
                self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            try:
                self._conn.request("GET", path, headers={"Accept": "application/json"})
                resp = self._conn.getresponse()
                body = resp.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
                continue
            self.note(resp.headers.get("X-Devpi-Serial"))
            return resp.status, json.loads(body) if body else None
        raise AssertionError("unreachable")

    def read_state(self) -> dict[tuple[str, str], object]:
        """Every project of both indexes; mine's and victim's versions, metadata, files."""
        state: dict[tuple[str, str], object] = {}
        for index in (DEV, PROD):
            _, listing = self.get(f"/{index}")
            for project in listing["result"]["projects"]:
                state[(index, project)] = None
            for project in (ME, VICTIM):
                status, versions = self.get(f"/{index}/{project}")
                if status == 200:
                    state[(index, project)] = normalized(versions, self.devpi.url)
        return state

    def note(self, serial: str | None) -> None:
        if serial is not None:
            self.serial = max(self.serial, int(serial))

    def send(
        self, headers: dict[str, str], data: bytes, method: str, auth: dict[str, str]
    ) -> Outcome:
        before, sent = self.serial, len(self.listener.projects())
        reply = raw_request(f"{self.devpi.url}/{DEV}/", method, data, {**headers, **auth})
        serial = reply.headers.get("X-Devpi-Serial")
        self.note(serial)
        # A 500 from waitress has no serial header: treat it as a possible change.
        return Outcome(
            reply, serial is None or self.serial != before, self.listener.projects()[sent:]
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def outside_mine(state: dict[tuple[str, str], object]) -> dict[tuple[str, str], object]:
    return {key: value for key, value in state.items() if key[1] != ME}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Devpi, Devpi]]:
    """(devpi-server with the plugin, stock devpi-server), seeded with the same files."""
    base = tmp_path_factory.mktemp("devpi-corpus")
    secret = make_secret(base / "secret")
    seeds = [make_wheel(base, project, "1.0") for project in (ME, VICTIM)]
    devpi_init(base / "plugin", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    devpi_init(base / "stock", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with (
        devpi_server(base / "plugin", secret, readacl=True) as with_plugin,
        devpi_server(base / "stock", secret, stock=True) as without,
    ):
        pair = (Devpi(with_plugin, base), Devpi(without, base))
        for devpi in pair:
            devpi.create_user("alice")
            devpi.create_index(DEV)
            devpi.create_index(PROD)
            for wheel in seeds:
                assert devpi.upload(DEV, wheel, user="alice").status == 200
        yield pair


REFUSED_FOR = re.compile(r"^Invalid API Token: not valid for project '([^']*)'")


def test_token_checks_the_project_devpi_changes(
    servers, listener: Listener, tmp_path: Path
) -> None:
    with_plugin, stock = servers
    assert "pypitoken-api-tokens" in with_plugin.api("GET", "/+api").body["result"]["features"]
    assert "pypitoken-api-tokens" not in stock.api("GET", "/+api").body["result"]["features"]
    _, token = with_plugin.mint(projects=[ME], indexes=[DEV, PROD])
    token_auth = basic("__token__", token)
    plugin_login, stock_login = with_plugin.login("alice"), stock.login("alice")
    plugin, oracle = Observed(with_plugin, listener), Observed(stock, listener)
    oracle.state = oracle.read_state()
    assert outside_mine(plugin.read_state()) == outside_mine(oracle.state)

    shapes = corpus()
    world = World(listener.url, tmp_path)
    disagreements: list[tuple[str, str]] = []  # (kind, detail)
    tally = {
        "oracle changed another project": 0,
        "token refused for that project": 0,
        "token refused as ambiguous": 0,
        "token changed mine": 0,
    }
    try:
        for number, shape in enumerate(shapes):
            world.number = number
            headers, data = render(shape, world)
            # stock devpi, alice's login: what devpi changes for this shape
            expected = oracle.send(headers, data, shape.method, stock_login)
            devpi_changes = {f"sent:{p}" for p in expected.sent}
            if expected.moved:
                state = oracle.read_state()
                devpi_changes |= {
                    key[1]
                    for key in state.keys() | oracle.state.keys()
                    if state.get(key) != oracle.state.get(key)
                }
                oracle.state = state
            # the plugin's server, alice's login: exactly as stock
            got = plugin.send(headers, data, shape.method, plugin_login)
            if got.summary() != expected.summary():
                disagreements.append(
                    (
                        "login differs from stock",
                        f"{got.summary()} vs {expected.summary()}: {shape}",
                    )
                )
            # the plugin's server, the token for mine
            token_run = plugin.send(headers, data, shape.method, token_auth)
            reply = token_run.reply
            changed_outside = {f"sent:{p}" for p in token_run.sent if p != ME}
            if token_run.moved:
                # Both servers have had the same login requests: outside mine they match
                # unless the token changed something there.
                state = outside_mine(plugin.read_state())
                changed_outside |= {
                    key[1]
                    for key in state.keys() | oracle.state.keys()
                    if key[1] != ME and state.get(key) != oracle.state.get(key)
                }
            checked = REFUSED_FOR.match(reply.reason) if reply.status == 403 else None
            outside = devpi_changes - {ME, f"sent:{ME}"}
            tally["oracle changed another project"] += bool(outside)
            if changed_outside:
                disagreements.append(
                    (
                        "token changed another project",
                        f"{changed_outside} ({reply.status}): {shape}",
                    )
                )
            elif reply.status == 500:
                disagreements.append(("token request got a 500", str(shape)))
            elif checked:
                tally["token refused for that project"] += 1
                if {p.removeprefix("sent:") for p in devpi_changes} - {checked[1]}:
                    disagreements.append(
                        (
                            "checked another project than devpi changes",
                            f"{checked[1]!r} vs {devpi_changes}: {shape}",
                        )
                    )
            elif reply.status == 403:
                assert reply.reason.startswith("Invalid API Token: "), (reply, shape)
                tally["token refused as ambiguous"] += 1
            else:
                tally["token changed mine"] += token_run.moved or bool(token_run.sent)
                if outside:
                    disagreements.append(
                        (
                            "let through what devpi applies elsewhere",
                            f"{reply.status}, {devpi_changes}: {shape}",
                        )
                    )
        final = (outside_mine(plugin.read_state()), outside_mine(oracle.read_state()))
    finally:
        plugin.close()
        oracle.close()
    print(f"\n{len(shapes)} request shapes: {tally}")
    kinds = collections.Counter(kind for kind, _ in disagreements)
    assert disagreements == [], f"{len(disagreements)} disagreements {dict(kinds)}:\n" + "\n".join(
        f"{kind}: {detail}" for kind, detail in disagreements[:20]
    )
    assert final[0] == final[1]
    # The corpus must be able to fail: devpi acts on other projects for many shapes, the
    # plugin refuses both ways, and well-formed requests get through.
    assert all(count > 10 for count in tally.values()), tally
    assert len(shapes) == 2 * 26 * len(CARRIERS) + 99 == 411
