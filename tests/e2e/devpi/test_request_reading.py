"""A token is checked against the project devpi acts on (issue 8, part 1), on a real server.

The issue's reproductions A, B, C (a project-scoped token made devpi push or register
another project) and D (a download-only token made devpi send another project's wheel to
an outside server) are each refused with a reason; the same requests with the owner's
password still do what stock devpi does, and well-formed token requests still work. Every
test builds its own indexes, so none depends on another's leftovers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .conftest import (
    PASSWORDS,
    Devpi,
    Listener,
    devpi_init,
    devpi_server,
    make_secret,
    raw_request,
)

pytestmark = pytest.mark.e2e

ALICE = ("alice", PASSWORDS["alice"])
JSON_HEADERS = {"Accept": "application/json"}
_suffix = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devpi]:
    """devpi-server with the plugin and the test read-ACL option; user alice."""
    base = tmp_path_factory.mktemp("devpi-reading")
    secret = make_secret(base / "secret")
    devpi_init(base / "server", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    with devpi_server(base / "server", secret, readacl=True) as srv:
        d = Devpi(srv, base)
        d.create_user("alice")
        yield d


@pytest.fixture(scope="module")
def login(server: Devpi) -> dict[str, str]:
    """alice's devpi login, to set up each test's indexes quickly."""
    return server.login("alice")


@dataclass
class Scene:
    """Fresh indexes ``dev`` (mine and victim 1.0, 2.0) and ``prod`` (empty), and a token
    for project ``mine`` on both, as in the issue."""

    devpi: Devpi
    dev: str
    prod: str
    token: str

    def post(
        self, body: bytes, content_type: str | None, *, password: bool = False, method: str = "POST"
    ):
        headers = dict(JSON_HEADERS)
        if content_type is not None:
            headers["Content-Type"] = content_type
        auth = ALICE if password else ("__token__", self.token)
        return raw_request(f"{self.devpi.url}/{self.dev}/", method, body, headers, auth)

    def projects(self, index: str) -> list[str]:
        return self.devpi.api("GET", f"/{index}").body["result"]["projects"]

    def versions(self, index: str, project: str) -> dict:
        reply = self.devpi.api("GET", f"/{index}/{project}")
        return reply.body["result"] if reply.status == 200 else {}


@pytest.fixture
def scene(server: Devpi, login: dict[str, str]) -> Scene:
    n = next(_suffix)
    dev, prod = f"alice/r-dev{n}", f"alice/r-prod{n}"
    server.create_index(dev, headers=login)
    server.create_index(prod, headers=login)
    for project, version in itertools.product(("mine", "victim"), ("1.0", "2.0")):
        assert server.upload(dev, server.wheel(project, version), headers=login).status == 200
    _, token = server.mint(projects=["mine"], indexes=[dev, prod], headers=login)
    return Scene(server, dev, prod, token)


def issue_requests(scene: Scene) -> dict[str, tuple[bytes, str | None]]:
    """The reviewer's three requests (their index names swapped for this scene's)."""
    return {
        "A": (
            json.dumps(
                {
                    "name": "victim",
                    "version": "1.0",
                    "targetindex": scene.prod,
                    "no_docs": "&:action=&name=mine&",
                }
            ).encode(),
            "application/x-www-form-urlencoded",
        ),
        "B": (
            b'{"name":"mine","x":"&:action=submit&name=victim&version=1.0&summary=PWNED&"}',
            None,
        ),
        "C": (
            json.dumps(
                {
                    "name": "mine",
                    "version": "2.0",
                    "targetindex": scene.prod,
                    "no_docs": "+ACIALAAiAG4AYQBtAGUAIgA6ACIAdgBpAGMAdABpAG0-",
                }
            ).encode(),
            "application/json; charset=utf-7",
        ),
    }


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("A", "Invalid API Token: the body is both a form and JSON"),
        ("B", "Invalid API Token: a request to an index needs a Content-Type"),
        ("C", "Invalid API Token: a token request must be UTF-8, not charset 'utf-7'"),
    ],
)
def test_issue_reproductions_are_refused(scene: Scene, case: str, reason: str) -> None:
    body, content_type = issue_requests(scene)[case]
    before = (scene.projects(scene.prod), scene.versions(scene.dev, "victim"))
    reply = scene.post(body, content_type)
    assert (reply.status, reply.reason) == (403, reason)
    assert (scene.projects(scene.prod), scene.versions(scene.dev, "victim")) == before


def test_issue_requests_with_the_password_act_on_victim(scene: Scene) -> None:
    """Positive control: with alice's password devpi does what the reviewer observed (the
    plugin leaves password requests alone), so the refusals above are what stops them."""
    requests = issue_requests(scene)
    assert scene.post(*requests["A"], password=True).status == 200
    assert scene.projects(scene.prod) == ["victim"]
    assert set(scene.versions(scene.prod, "victim")) == {"1.0"}
    assert scene.post(*requests["B"], password=True).status == 200
    assert scene.versions(scene.dev, "victim")["1.0"]["summary"] == "PWNED"
    assert scene.post(*requests["C"], password=True).status == 200
    assert set(scene.versions(scene.prod, "victim")) == {"1.0", "2.0"}
    assert "mine" not in scene.projects(scene.prod)


def test_well_formed_token_requests_still_work(scene: Scene) -> None:
    """Positive control: twine's upload, the JSON push and devpi-client's PUSH method."""
    devpi = scene.devpi
    reply = devpi.upload(scene.dev, devpi.wheel("mine", "3.0"), auth=("__token__", scene.token))
    assert reply.status == 200, reply
    body = json.dumps({"name": "mine", "version": "1.0", "targetindex": scene.prod}).encode()
    assert scene.post(body, "application/json").status == 200
    body = json.dumps({"name": "mine", "version": "3.0", "targetindex": scene.prod}).encode()
    assert scene.post(body, "application/json; charset=utf-8", method="PUSH").status == 200
    assert set(scene.versions(scene.prod, "mine")) == {"1.0", "3.0"}
    assert scene.projects(scene.prod) == ["mine"]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b":action=submit&name=mine&name=victim&version=9.0",
            "application/x-www-form-urlencoded",
            "the form gives 'name' more than once, with different values",
        ),
        (
            b":action=&:action=submit&name=victim&version=9.0",
            "application/x-www-form-urlencoded",
            "the form gives ':action' more than once, with different values",
        ),
        (
            b'{"name":"mine","name":"victim","version":"1.0","targetindex":"%s"}',
            "application/json",
            "the push body gives 'name' more than once",
        ),
        (
            b'{"name":"mine","version":"1.0","targetindex":"%s"}',
            "text/plain",
            "a push must be sent as application/json",
        ),
        (
            b'{"name":"mine","version":"1.0","targetindex":"%s"}',
            "application/json; charset=latin-1",
            "a token request must be UTF-8, not charset 'latin-1'",
        ),
        (b"[" * 100_000, "application/json", "a push body must not exceed 65536 bytes"),
        (b"[" * 20_000, "application/json", "the push body is not valid JSON"),
    ],
    ids=["name-twice", "action-twice", "json-name-twice", "text-plain", "latin-1", "huge", "deep"],
)
def test_other_ambiguous_token_requests_are_refused(
    scene: Scene, body, content_type, reason
) -> None:
    if b"%s" in body:
        body = body.replace(b"%s", scene.prod.encode())
    reply = scene.post(body, content_type)
    assert (reply.status, reply.reason) == (403, f"Invalid API Token: {reason}")
    assert scene.projects(scene.prod) == []
    assert set(scene.versions(scene.dev, "victim")) == {"1.0", "2.0"}


# -- D: an external push must not send out what the token may not upload -----------------


@pytest.fixture
def private(server: Devpi, login: dict[str, str]) -> str:
    """A fresh read-protected index with ``secretpkg`` and ``proja``."""
    index = f"alice/private{next(_suffix)}"
    server.create_index(index, acl_pkg_read=["alice"], headers=login)
    for project in ("secretpkg", "proja"):
        assert server.upload(index, server.wheel(project, "1.0"), headers=login).status == 200
    return index


def external_push(
    devpi: Devpi,
    index: str,
    auth: tuple[str, str],
    body: dict,
    content_type: str = "application/json",
):
    headers = {**JSON_HEADERS, "Content-Type": content_type}
    return raw_request(f"{devpi.url}/{index}/", "POST", json.dumps(body).encode(), headers, auth)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("polyglot-secretpkg", "the body is both a form and JSON"),
        ("json-secretpkg", "not valid for project 'secretpkg', not valid for action 'upload'"),
        ("json-proja", "an external push (posturl) needs upload: not valid for action 'upload'"),
    ],
)
def test_download_only_token_cannot_push_out(
    server: Devpi, login: dict[str, str], private: str, listener: Listener, case: str, reason: str
) -> None:
    _, token = server.mint(
        projects=["proja"], indexes=[private], actions=["download"], headers=login
    )
    target = {"posturl": listener.url, "username": "x", "password": "y", "version": "1.0"}
    if case == "polyglot-secretpkg":
        body = {"name": "secretpkg", **target, "no_docs": "&:action=&name=proja&"}
        content_type = "application/x-www-form-urlencoded"
    else:
        body = {"name": case.split("-")[1], **target}
        content_type = "application/json"
    reply = external_push(server, private, ("__token__", token), body, content_type)
    assert (reply.status, reply.reason) == (403, f"Invalid API Token: {reason}")
    assert listener.bodies == []


def test_external_push_needs_download_and_upload(
    server: Devpi, login: dict[str, str], private: str, listener: Listener
) -> None:
    """Positive controls: a token allowed to upload and download ``proja`` may push it
    out (and only it); alice's password may push anything, as in stock devpi."""
    _, token = server.mint(projects=["proja"], indexes=[private], headers=login)
    target = {"posturl": listener.url, "username": "x", "password": "y", "version": "1.0"}
    reply = external_push(server, private, ("__token__", token), {"name": "proja", **target})
    assert reply.status == 200, reply
    assert listener.projects() == ["proja"]
    reply = external_push(server, private, ("__token__", token), {"name": "secretpkg", **target})
    assert (reply.status, reply.reason) == (
        403,
        "Invalid API Token: not valid for project 'secretpkg'",
    )
    assert listener.projects() == ["proja"]
    reply = external_push(server, private, ALICE, {"name": "secretpkg", **target})
    assert reply.status == 200, reply
    assert listener.projects() == ["proja", "secretpkg"]


# -- the token API: any body is a 4xx with a reason, never a 500 --------------------------

NOT_JSON = "the body must be a JSON object (UTF-8, no repeated keys)"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"[" * 60_000, "application/json", 400, NOT_JSON),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json", 400, NOT_JSON),
        (b"[" * 100_000, "application/json", 413, "the body is over 65536 bytes"),
        (b"{}", "application/json; charset=no-such-codec", 415, "a JSON body must be UTF-8"),
        (b'{"description": "\xff"}', "application/json", 400, NOT_JSON),
        (b"[]", "application/json", 400, "the body must be a JSON object"),
    ],
    ids=["deep-list", "deep-object", "too-large", "unknown-charset", "not-utf8", "list"],
)
def test_api_tokens_bad_json_is_refused(
    server: Devpi, body: bytes, content_type: str, status: int, message: str
) -> None:
    headers = {**JSON_HEADERS, "Content-Type": content_type}
    reply = raw_request(f"{server.url}/alice/+api-tokens", "POST", body, headers, ALICE)
    assert (reply.status, reply.body["message"]) == (status, message), reply
    good = raw_request(
        f"{server.url}/alice/+api-tokens",
        "POST",
        b'{"description": "ok"}',
        headers | {"Content-Type": "application/json"},
        ALICE,
    )
    assert good.status == 201, good
