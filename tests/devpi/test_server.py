"""The devpi-server hooks, in-process, through a real devpi-server app (``conftest.App``).

Tables of requests and the answer each gets: which credentials are ours
(``devpiserver_get_identity``), what a token may do on each stage devpi checks
(``devpiserver_auth_denials``), the reason a refusal carries (the response subscriber),
the requests refused before devpi reads them (the view deriver), and the options. Every
refusal is paired with the same request made with a token (or a password) that may.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pypitoken
import pytest
from pypitoken_devpi._identity import TokenIdentity

from pypitoken_core import Token
from tests.e2e.devpi.conftest import Listener

from .conftest import App, MakeApp

OK_ALICE = ["ok", "alice", []]
NOAUTH = ["noauth", "", []]


def refusal(reason: str) -> str:
    """The status line of a token refusal, the line twine and devpi-client print."""
    return f"403 Invalid API Token: {reason}"


def forms(token: str) -> dict[str, dict[str, Any]]:
    """Every way a client can present a token, as ``App.request`` keyword arguments."""
    return {
        "__token__": {"auth": ("__token__", token)},
        "empty-user": {"auth": ("", token)},
        "token-as-user": {"auth": (token, "")},
        "owner": {"auth": ("alice", token)},
        "bearer": {"headers": {"Authorization": f"Bearer {token}"}},
        "x-devpi-auth": {
            "headers": {"X-Devpi-Auth": base64.b64encode(f"alice:{token}".encode()).decode()}
        },
    }


def foreign_token(prefix: str = "pypi") -> str:
    """A well-formed token no server here minted (unknown id, unknown key)."""
    return Token.create("devpi", str(uuid.uuid4()), b"k" * 32, prefix).dump()


# -- identity: which credentials are ours -------------------------------------------------


@pytest.mark.parametrize("form", list(forms("x")))
def test_every_token_form_is_the_owner(app: App, form: str) -> None:
    _, token = app.mint()
    assert app.authstatus(**forms(token)[form]) == OK_ALICE


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (("__token__", "pypi-"), "malformed token"),
        (("__token__", "pypi-AAAA"), "malformed token"),
        (("__token__", "pypi-" + "A" * 6000), "malformed token"),
        (("", "pypi-AgEFZGV2cGkCJDBh!!"), "malformed token"),
        (("__token__", "{foreign}"), "invalid or unknown token"),
        (("__token__", "{forged}"), "invalid or unknown token"),
        (("bob", "{token}"), "this token does not belong to user 'bob'"),
        (("__token__", "{expired}"), "This token can only be used between timestamps"),
    ],
    ids=["empty", "short", "huge", "not-base64", "unknown-id", "forged", "other-user", "expired"],
)
def test_a_token_that_is_not_good_is_refused_with_the_reason(
    app: App, credentials: tuple[str, str], reason: str
) -> None:
    _, token = app.mint()
    body = base64.urlsafe_b64decode(token[5:] + "=" * (-len(token[5:]) % 4))
    forged = "pypi-" + base64.urlsafe_b64encode(body[:-1] + bytes([body[-1] ^ 1])).decode()
    expired = Token.load(token)
    now = int(time.time())
    expired.restrict(not_before=now - 600, not_after=now - 10)
    user, password = credentials
    password = password.format(
        foreign=foreign_token(), forged=forged.rstrip("="), token=token, expired=expired.dump()
    )
    response = app.request("GET", "/+api", auth=(user, password))
    assert response.status.startswith(refusal(reason)), response.status
    upload = app.upload("alice/dev", "tinypkg", "1.0", auth=(user, password))
    assert upload.status.startswith(refusal(reason)), upload.status
    assert app.authstatus(auth=("__token__", token)) == OK_ALICE  # the genuine one works


def test_credentials_that_are_not_ours_are_left_to_devpi(app: App) -> None:
    assert app.authstatus(user="alice") == OK_ALICE  # a devpi login
    assert app.authstatus(auth=("alice", "alicepw")) == OK_ALICE
    # An owner's password that merely starts like a token (not a macaroon, or not one
    # with an id of ours): devpi checks it as a password, and refuses it.
    not_ours = ["pypi-notatoken", Token.create("devpi", "alice-x", b"k" * 32, "pypi").dump()]
    for password in not_ours:
        assert app.authstatus(auth=("alice", password)) == NOAUTH
    # An upload with such a password is devpi's to refuse, in devpi's words.
    response = app.upload("alice/dev", "tinypkg", "1.0", auth=("alice", "pypi-notatoken"))
    assert response.status == "401 Unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="pypi"'


@pytest.mark.parametrize("form", ["owner", "x-devpi-auth", "__token__"])
def test_a_forged_token_reads_the_same_whatever_its_id(app: App, form: str) -> None:
    """An id oracle (red team round 2, H2): with ``<owner>:<token>``, a forged token whose
    id exists was refused while one whose id is unknown fell through to devpi's password
    check (``noauth`` on /+api, 401 on an upload). Any token of our shape is ours."""
    token_id, token = app.mint()
    revoked_id, _ = app.mint()
    assert app.request("DELETE", f"/alice/+api-tokens/{revoked_id}", user="alice").status_int == 200
    ids = [str(uuid.uuid4()), token_id, revoked_id]
    forged = [Token.create("devpi", i, b"not the server's key", "pypi").dump() for i in ids]
    answers = set()
    for raw in forged:
        api = app.request("GET", "/+api", **forms(raw)[form])
        upload = app.upload("alice/dev", "tinypkg", "1.0", **forms(raw)[form])
        answers.add((api.status, upload.status))
    assert answers == {(refusal("invalid or unknown token"),) * 2}
    # Positive control: the genuine token, in the same form.
    assert app.authstatus(**forms(token)[form]) == OK_ALICE


def test_a_token_identity_never_shows_the_token(app: App) -> None:
    token_id, token = app.mint()
    identity = TokenIdentity("alice", token_id, token)
    assert repr(identity) == f"<TokenIdentity user='alice' token_id='{token_id}'>"
    assert (identity.username, identity.groups) == ("alice", [])


def test_a_damaged_record_is_a_refusal_not_a_500(app: App, xom: Any) -> None:
    token_id, token = app.mint()
    with xom.keyfs.write_transaction():
        with xom.model.get_user("alice").key.update() as config:
            tokens = dict(config["pypitoken_tokens"])
            tokens[token_id] = {"salt": "not base64 !"}
            config["pypitoken_tokens"] = tokens
    response = app.request("GET", "/+api", auth=("__token__", token))
    assert response.status == refusal("the token could not be checked")
    _, fresh = app.mint()  # the store still works for every other token
    assert app.authstatus(auth=("__token__", fresh)) == OK_ALICE


# -- what a token may do on each stage ----------------------------------------------------


@pytest.mark.parametrize(
    ("mint", "index", "project", "reason"),
    [
        ({"projects": ["tinypkg"]}, "alice/dev", "tinypkg", None),
        ({"projects": ["tinypkg"]}, "alice/dev", "otherpkg", "not valid for project 'otherpkg'"),
        ({"indexes": ["alice/dev"]}, "alice/dev", "tinypkg", None),
        ({"indexes": ["alice/dev"]}, "alice/other", "tinypkg", "not valid for index 'alice/other'"),
        ({"actions": ["upload"]}, "alice/dev", "tinypkg", None),
        ({"actions": ["download"]}, "alice/dev", "tinypkg", "not valid for action 'upload'"),
    ],
)
def test_upload_is_checked_against_the_token(
    app: App, mint: dict[str, Any], index: str, project: str, reason: str | None
) -> None:
    _, token = app.mint(**mint)
    response = app.upload(index, project, "1.0", auth=("__token__", token))
    if reason is None:
        assert response.status_int == 200, response.status
        assert app.request("GET", f"/{index}/{project}").json["result"].keys() == {"1.0"}
    else:
        assert response.status == refusal(reason)
        assert "WWW-Authenticate" not in response.headers
        assert app.request("GET", f"/{index}/{project}").status_int == 404


@pytest.mark.parametrize(
    ("restrictions", "project", "reason"),
    [
        ({"project_names": ["tinypkg"]}, "tinypkg", None),
        ({"project_names": ["tinypkg"]}, "otherpkg", "project(s): tinypkg"),
        ({"user_id": "{alice}"}, "tinypkg", None),
        ({"user_id": "{bob}"}, "tinypkg", "user with id"),
    ],
)
def test_restrictions_added_offline_by_pypitoken_are_checked(
    app: App, restrictions: dict[str, Any], project: str, reason: str | None
) -> None:
    _, token = app.mint()
    ids = {"alice": str(uuid.uuid5(_USER_NS, "alice")), "bob": str(uuid.uuid5(_USER_NS, "bob"))}
    narrowed = pypitoken.Token.load(token)
    narrowed.restrict(**{k: v.format(**ids) if isinstance(v, str) else v
                         for k, v in restrictions.items()})  # fmt: skip
    response = app.upload("alice/dev", project, "1.0", auth=("__token__", narrowed.dump()))
    if reason is None:
        assert response.status_int == 200, response.status
    else:
        assert response.status.startswith(refusal("")) and reason in response.status, response


_USER_NS = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:user")


def test_a_token_never_exceeds_its_owner(app: App) -> None:
    _, token = app.mint()  # alice's, unrestricted
    response = app.upload("bob/dev", "tinypkg", "1.0", auth=("__token__", token))
    assert response.status == "403 no permission to submit"  # devpi's own ACL, unchanged
    assert app.upload("bob/dev", "tinypkg", "1.0", user="bob").status_int == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PUT", "/alice/fromtoken", {"bases": []}, "403 Forbidden"),
        ("PATCH", "/alice/dev", {"volatile": False}, "403 Forbidden"),
        ("PATCH", "/alice", {"password": "x"}, "403 Forbidden"),
        ("DELETE", "/alice/other", None, "403 Forbidden"),
    ],
)
def test_tokens_never_manage_users_or_indexes(
    app: App, method: str, path: str, body: Any, status: str
) -> None:
    _, token = app.mint(actions=["upload", "download", "delete"])
    response = app.request(method, path, json_body=body, auth=("__token__", token))
    assert response.status == status
    assert app.request("GET", "/alice/fromtoken").status_int == 404
    assert app.request("GET", "/alice/dev").json["result"]["volatile"] is True
    assert app.request("GET", "/alice/other").status_int == 200
    assert app.authstatus(auth=("alice", "alicepw")) == OK_ALICE  # password unchanged
    # The owner's own login may (the positive control).
    assert app.request(method, path, json_body=body, user="alice").status_int in (200, 201)


def test_delete_needs_the_delete_action(app: App) -> None:
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, plain = app.mint(projects=["tinypkg"])
    response = app.request("DELETE", "/alice/dev/tinypkg/1.0", auth=("__token__", plain))
    assert response.status == refusal("not valid for action 'delete'")
    _, deleter = app.mint(projects=["tinypkg"], actions=["delete"])
    response = app.request("DELETE", "/alice/dev/tinypkg/1.0", auth=("__token__", deleter))
    assert response.status_int == 200, response.status
    assert app.request("GET", "/alice/dev/tinypkg").status_int == 404


def test_a_file_download_needs_the_download_action(app: App) -> None:
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    links = app.request("GET", "/alice/dev/tinypkg/1.0").json["result"]["+links"]
    path = "/" + links[0]["href"].split("/", 3)[3]
    _, upload_only = app.mint(actions=["upload"])
    _, other_project = app.mint(projects=["otherpkg"], actions=["download"])
    _, reader = app.mint(projects=["tinypkg"], actions=["download"])
    headers = {"Accept": "*/*"}
    response = app.request("GET", path, headers=headers, auth=("__token__", upload_only))
    assert response.status == refusal("not valid for action 'download'")
    response = app.request("GET", path, headers=headers, auth=("__token__", other_project))
    assert response.status == refusal("not valid for project 'tinypkg'")
    response = app.request("GET", path, headers=headers, auth=("__token__", reader))
    assert response.status_int == 200 and response.body.startswith(b"PK")


# -- pushes: the source and the target stage ---------------------------------------------------


def push(app: App, token: str, **body: Any) -> Any:
    body = {"name": "tinypkg", "version": "1.0", **body}
    return app.request("POST", "/alice/dev", json_body=body, auth=("__token__", token))


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        ({"indexes": ["alice/dev", "alice/other"]}, None),
        ({"indexes": ["alice/dev"]}, "not valid for index 'alice/other'"),
        ({"indexes": ["alice/other"]}, "not valid for index 'alice/dev'"),
        ({"projects": ["otherpkg"]}, "not valid for project 'tinypkg'"),
        ({"actions": ["download"]}, "not valid for action 'upload'"),
    ],
)
def test_a_push_is_checked_on_both_stages(
    app: App, mint: dict[str, Any], reason: str | None
) -> None:
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, token = app.mint(**mint)
    response = push(app, token, targetindex="alice/other")
    if reason is None:
        assert response.status_int == 200, response.status
        assert app.request("GET", "/alice/other/tinypkg").status_int == 200
    else:
        # devpi answers 401 for a denied target; the token's holder gets the reason.
        assert response.status == refusal(reason)
        assert "WWW-Authenticate" not in response.headers
        assert app.request("GET", "/alice/other/tinypkg").status_int == 404


def test_an_external_push_needs_upload_too(app: App) -> None:
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, reader = app.mint(actions=["download"])
    _, full = app.mint()
    target = Listener()
    try:
        body = {"posturl": target.url, "username": "x", "password": "y"}
        response = push(app, reader, **body)
        assert response.status == refusal(
            "an external push (posturl) needs upload: not valid for action 'upload'"
        )
        assert target.bodies == []
        response = push(app, full, **body)
        assert response.status_int == 200, response.status
        assert target.projects() == ["tinypkg"]
    finally:
        target.close()


# -- requests refused before devpi reads them --------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        (None, "a request to an index needs a Content-Type"),
        ("application/json; charset=latin-1", "a token request must be UTF-8"),
        ("text/plain", "a push must be sent as application/json"),
    ],
)
def test_an_index_write_devpi_could_read_two_ways_is_refused(
    app: App, content_type: str | None, reason: str
) -> None:
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, token = app.mint()
    body = json.dumps({"name": "tinypkg", "version": "1.0", "targetindex": "alice/other"})
    response = app.request(
        "POST", "/alice/dev/", body=body.encode(), content_type=content_type,
        auth=("__token__", token),
    )  # fmt: skip
    assert response.status.startswith(refusal(reason)), response.status
    assert app.request("GET", "/alice/other/tinypkg").status_int == 404
    # The same bytes with the owner's login are devpi's to read (it pushes them).
    if content_type is None:
        response = app.request("POST", "/alice/dev/", body=body.encode(), user="alice")
        assert response.status_int == 200, response.status
        assert app.request("GET", "/alice/other/tinypkg").status_int == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"posturl": "http://127.0.0.1:9/", "username": "u"},
            "an external push needs 'username' and 'password'",
        ),
        (
            {"posturl": "", "username": "u", "password": "p"},
            "an external push needs an http(s) URL in 'posturl'",
        ),
        (
            {"posturl": "file:///etc/passwd", "username": "u", "password": "p"},
            "an external push needs an http(s) URL in 'posturl'",
        ),
    ],
    ids=["no-password", "empty-posturl", "file-posturl"],
)
def test_an_external_push_devpi_cannot_send_is_refused(
    app: App, body: dict[str, str], reason: str
) -> None:
    """devpi answers these with a 500 (red team round 2, H4); a token hears why."""
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, token = app.mint()
    assert push(app, token, **body).status == refusal(reason)
    target = Listener()
    try:  # the positive control: a push devpi can send
        body = {"posturl": target.url, "username": "u", "password": "p"}
        assert push(app, token, **body).status_int == 200
        assert target.projects() == ["tinypkg"]
    finally:
        target.close()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"version": None}, "file_upload needs the form field 'version'"),
        ({"filename": ""}, "the form field 'content' must be a file with a name"),
        ({"summary": ("summary.txt", b"x")}, "the form field 'summary' must be text, not a file"),
    ],
    ids=["no-version", "empty-file-name", "metadata-as-a-file"],
)
def test_an_upload_form_devpi_cannot_read_is_refused(
    app: App, fields: dict[str, Any], reason: str
) -> None:
    """devpi answers these with a 500 (red team round 2, H4); a token hears why."""
    _, token = app.mint()
    body, content_type = _form(**fields)
    response = app.request(
        "POST", "/alice/dev/", body=body, content_type=content_type, auth=("__token__", token)
    )
    assert response.status == refusal(reason)
    assert app.request("GET", "/alice/dev/tinypkg").status_int == 404
    body, content_type = _form()  # the positive control: the same form, whole
    response = app.request(
        "POST", "/alice/dev/", body=body, content_type=content_type, auth=("__token__", token)
    )
    assert response.status_int == 200, response.status


def _form(
    version: str | None = "1.0",
    filename: str = "tinypkg-1.0.tar.gz",
    summary: str | tuple[str, bytes] = "a summary",
) -> tuple[bytes, str]:
    """A ``file_upload`` of tinypkg 1.0; a tuple ``summary`` is sent as a file part."""
    fields = [(":action", "file_upload"), ("name", "tinypkg"), ("version", version)]
    parts = [
        f'--b0\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
        if v is not None
    ]
    for name, value in [("summary", summary), ("content", (filename, b"sdist bytes"))]:
        if isinstance(value, str):
            parts.append(
                f'--b0\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        else:
            parts.append(
                f'--b0\r\nContent-Disposition: form-data; name="{name}"; filename="{value[0]}"'
                f"\r\n\r\n".encode()
                + value[1]
                + b"\r\n"
            )
    return b"".join(parts) + b"--b0--\r\n", "multipart/form-data; boundary=b0"


@pytest.mark.parametrize("uri", ["http://[::1", "/alice/dev/+f/%ff%fe"])
def test_an_authcheck_devpi_cannot_read_is_refused(app: App, uri: str) -> None:
    """devpi's /+authcheck answers these X-Original-URI with a 500 (H4)."""
    _, token = app.mint()
    headers = {"X-Original-URI": uri}
    response = app.request("GET", "/+authcheck", headers=headers, auth=("__token__", token))
    assert response.status == refusal("the X-Original-URI header is not a URL devpi can read")
    # The positive control: a URL devpi reads, and the token may read.
    headers = {"X-Original-URI": "/alice/dev/+simple/tinypkg/"}
    response = app.request("GET", "/+authcheck", headers=headers, auth=("__token__", token))
    assert response.status_int == 200, response.status


# -- options ----------------------------------------------------------------------------------


def test_the_prefix_option_decides_which_tokens_are_ours(make_app: MakeApp) -> None:
    app = make_app("--pypitoken-prefix", "corp")
    _, token = app.mint()
    assert token.startswith("corp-")
    assert app.authstatus(auth=("__token__", token)) == OK_ALICE
    # A pypi- token is not this server's: left to devpi, which knows no user __token__.
    assert app.authstatus(auth=("__token__", "pypi-" + token[5:])) == NOAUTH


def test_the_plugin_announces_its_feature(app: App) -> None:
    assert "pypitoken-api-tokens" in app.request("GET", "/+api").json["result"]["features"]
