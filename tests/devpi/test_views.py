"""The token API (``/{user}/+api-tokens``), in-process.

First its body reading: whatever JSON (or not JSON) a client sends, the view answers 201
or 400: ``_mint_arguments`` raises only its ``_BadRequest`` (400), and what it accepts the
service either mints or refuses with a ``PyPITokenException`` (400/404/503 in the view),
never anything else. Then the views themselves, through a real devpi-server app
(``conftest.App``): who may create, list and revoke whose tokens, with which answer.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypitoken_devpi.views import _BadRequest, _mint_arguments
from webob import Request

from pypitoken_core import Token
from pypitoken_core.exceptions import PyPITokenException
from pypitoken_core.service import TokenService
from pypitoken_core.store.memory import MemoryStore

from .conftest import App, MakeApp

ONE_DAY = 86400


def api_request(body: bytes, content_type: str = "application/json") -> Request:
    request = Request.blank(
        "/alice/+api-tokens", method="POST", headers={"Content-Type": content_type}
    )
    request.body = body
    request.authenticated_userid = "alice"
    return request


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"[" * 100_000, "application/json", "the body must be a JSON object"),
        (
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            "application/json",
            "the body must be a JSON object",
        ),
        (b"[]", "application/json", "the body must be a JSON object"),
        (b'"text"', "application/json", "the body must be a JSON object"),
        (b"null", "application/json", "the body must be a JSON object"),
        (b"", "application/json", "the body must be a JSON object"),
        (b'{"description": "\xff"}', "application/json", "the body must be a JSON object"),
        (b"{}", "application/json; charset=no-such-codec", "the body must be a JSON object"),
        (b"{}", "application/json; charset=rot13", "the body must be a JSON object"),
        (b'{"owner": "bob"}', "application/json", "unknown field(s): owner"),
        (b'{"projects": "mine"}', "application/json", "'projects' must be a list of names"),
        (b'{"projects": [["mine"]]}', "application/json", "'projects' must be a list of names"),
        (b'{"indexes": ["dev"]}', "application/json", "is not in the form user/index"),
        (b'{"expires": true}', "application/json", "'expires' must be seconds or an ISO"),
        (b'{"expires": 1.5}', "application/json", "'expires' must be seconds or an ISO"),
        (b'{"expires": -1}', "application/json", "'expires' in seconds must be positive"),
        (b'{"expires": "soon"}', "application/json", "'expires' must be seconds or an ISO"),
        (b'{"description": ["x"]}', "application/json", "'description' must be a string"),
        (b'{"description": "a\\u0000b"}', "application/json", "cannot contain NUL characters"),
        (
            json.dumps({"expires": 2 * ONE_DAY}).encode(),
            "application/json",
            "tokens on this server must expire within 86400 seconds",
        ),
    ],
    ids=lambda v: v[:30] if isinstance(v, (bytes, str)) else None,
)
def test_bad_bodies_are_400_with_a_reason(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(_BadRequest) as info:
        _mint_arguments(api_request(body, content_type), max_expiry=ONE_DAY)
    assert reason in str(info.value)


def test_a_good_body_is_read() -> None:
    """The positive control for the table above."""
    body = {
        "projects": ["mine"],
        "indexes": ["alice/dev"],
        "expires": 600,
        "actions": ["upload"],
        "description": "ci",
    }
    args = _mint_arguments(api_request(json.dumps(body).encode()), max_expiry=ONE_DAY)
    assert args == {**body, "expires": 600}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.lists(
        st.sampled_from(["mine", "alice/dev", "upload", "download", "delete", "x/y/z", ""]),
        max_size=3,
    ),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from(
        [
            "2030-01-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31",
            "2030-01-01T00:00:00+14:00",
        ]
    ),
)
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(
        st.sampled_from(["projects", "indexes", "expires", "actions", "description", "x"]),
        FIELD_VALUES,
        max_size=5,
    ),
)


@given(BODIES, st.sampled_from([0, ONE_DAY]))
def test_any_json_body_is_minted_or_refused_as_a_bad_request(body, max_expiry) -> None:
    try:
        args = _mint_arguments(api_request(json.dumps(body).encode()), max_expiry)
    except _BadRequest:
        return
    store = MemoryStore()
    store.add_user("alice")
    service = TokenService(store, b"s" * 32, ownership="external", allow_delete=True)
    try:
        service.mint("alice", **args)
    except PyPITokenException:
        pass


# -- through devpi's app ----------------------------------------------------------------------

RECORD_FIELDS = {
    "id", "user", "user_id", "description", "projects", "indexes", "actions",
    "created", "expires", "not_before", "last_used", "revoked", "publisher_id",
}  # fmt: skip


def token_ids(app: App, user: str = "alice") -> list[str]:
    response = app.request("GET", f"/{user}/+api-tokens", user=user)
    assert response.status_int == 200, response
    return [t["id"] for t in response.json["result"]["tokens"]]


def test_create_answers_201_with_a_token_of_this_server(app: App) -> None:
    body = {"projects": ["tinypkg"], "description": "ci"}
    response = app.request("POST", "/alice/+api-tokens", json_body=body, user="alice")
    assert response.status_int == 201, response
    assert response.json["type"] == "api-token"
    result = response.json["result"]
    assert set(result) == {"id", "token"}
    assert result["token"].startswith("pypi-")
    assert Token.load(result["token"]).identifier == result["id"]
    assert token_ids(app) == [result["id"]]
    assert app.authstatus(auth=("__token__", result["token"])) == ["ok", "alice", []]


@pytest.mark.parametrize(
    ("options", "domain"),
    [
        ((), "devpi"),
        (("--outside-url", "https://pkgs.example.org:8443/devpi"), "pkgs.example.org"),
        (("--outside-url", "https://pkgs.example.org:8443/devpi", "--pypitoken-domain",
          "idx.test"), "idx.test"),
    ],
    ids=["default", "outside-url", "pypitoken-domain"],
)  # fmt: skip
def test_the_token_location_is_the_configured_domain(
    make_app: MakeApp, options: tuple[str, ...], domain: str
) -> None:
    _, raw = make_app(*options).mint()
    assert Token.load(raw).domain == domain


@pytest.mark.parametrize(
    ("method", "path", "who", "status", "message"),
    [
        ("POST", "/alice/+api-tokens", None, 401, "log in to manage API tokens"),
        ("GET", "/alice/+api-tokens", None, 401, "log in to manage API tokens"),
        ("DELETE", "/alice/+api-tokens/{id}", None, 401, "log in to manage API tokens"),
        ("POST", "/alice/+api-tokens", "token", 403,
         "API tokens cannot manage API tokens; log in with a password"),
        ("GET", "/alice/+api-tokens", "token", 403,
         "API tokens cannot manage API tokens; log in with a password"),
        ("DELETE", "/alice/+api-tokens/{id}", "token", 403,
         "API tokens cannot manage API tokens; log in with a password"),
        ("POST", "/alice/+api-tokens", "bob", 403,
         "no permission to manage the API tokens of user 'alice'"),
        ("GET", "/alice/+api-tokens", "bob", 403,
         "no permission to manage the API tokens of user 'alice'"),
        ("DELETE", "/alice/+api-tokens/{id}", "bob", 403,
         "no permission to manage the API tokens of user 'alice'"),
        ("POST", "/nobody/+api-tokens", "root", 404, "no user 'nobody'"),
        ("GET", "/nobody/+api-tokens", "root", 404, "no user 'nobody'"),
        ("DELETE", "/bob/+api-tokens/{id}", "bob", 404, "user 'bob' has no API token '{id}'"),
    ],
)  # fmt: skip
def test_who_may_manage_whose_tokens(
    app: App, method: str, path: str, who: str | None, status: int, message: str
) -> None:
    token_id, token = app.mint()
    kwargs: dict[str, object] = {"json_body": {}} if method == "POST" else {}
    if who == "token":
        kwargs["auth"] = ("__token__", token)
    elif who is not None:
        kwargs["user"] = who
    response = app.request(method, path.format(id=token_id), **kwargs)  # type: ignore[arg-type]
    assert (response.status_int, response.json["message"]) == (status, message.format(id=token_id))
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="pypi"'
    assert token_ids(app) == [token_id]  # nothing was created or revoked
    assert app.authstatus(auth=("__token__", token)) == ["ok", "alice", []]


def test_the_owner_and_root_may_manage_them(app: App) -> None:
    """The positive control for the table above."""
    own, _ = app.mint()
    by_root, raw = app.mint(by="root", projects=["tinypkg"])
    assert app.authstatus(auth=("__token__", raw)) == ["ok", "alice", []]  # alice's token
    assert sorted(token_ids(app)) == sorted([own, by_root])
    response = app.request("GET", "/alice/+api-tokens", user="root")
    assert sorted(t["id"] for t in response.json["result"]["tokens"]) == sorted([own, by_root])
    response = app.request("DELETE", f"/alice/+api-tokens/{by_root}", user="root")
    assert (response.status_int, response.json["message"]) == (200, f"API token {by_root} revoked")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"color": "red"}', "unknown field(s): color"),
        (b"not json", "the body must be a JSON object"),
        (b'{"actions": ["admin"]}', "unknown action 'admin'; expected upload, download, delete"),
        (b'{"actions": []}', "a token needs at least one action"),
        (b'{"projects": ["not a name!"]}', "invalid project name 'not a name!'"),
        (b'{"expires": "2001-01-01T00:00:00+00:00"}', "expires must be in the future"),
        (b'{"expires": 100000000000000}', "`expires` is out of range"),
        (b'{"description": "a\\u0000b"}', "'description' cannot contain NUL characters"),
    ],
)
def test_create_refuses_what_cannot_be_a_token(app: App, body: bytes, message: str) -> None:
    response = app.request(
        "POST", "/alice/+api-tokens", body=body, content_type="application/json", user="alice"
    )
    assert response.status_int == 400, response
    assert response.json["message"].startswith(message), response.json
    assert token_ids(app) == []


def test_create_reads_every_field(app: App) -> None:
    """The positive control for the table above."""
    body = {"projects": ["TinyPkg"], "indexes": ["alice/dev"], "expires": 600,
            "actions": ["upload", "delete"], "description": "ci \u00e9"}  # fmt: skip
    token_id, raw = app.mint(**body)
    (listed,) = app.request("GET", "/alice/+api-tokens", user="alice").json["result"]["tokens"]
    assert set(listed) == RECORD_FIELDS
    assert listed["id"] == token_id
    assert listed["projects"] == ["tinypkg"] and listed["indexes"] == ["alice/dev"]
    assert listed["actions"] == ["upload", "delete"] and listed["description"] == "ci \u00e9"
    assert listed["expires"] == listed["created"] + 600
    assert listed["not_before"] is None and listed["last_used"] is None
    assert listed["revoked"] is False
    assert raw[5:] not in json.dumps(listed)


def test_the_maximum_expiry_binds_everyone_but_root(make_app: MakeApp) -> None:
    app = make_app("--pypitoken-max-expiry", "3600")
    response = app.request("POST", "/alice/+api-tokens", json_body={"expires": 7200}, user="alice")
    assert (response.status_int, response.json["message"]) == (
        400,
        "tokens on this server must expire within 3600 seconds",
    )
    default_id, _ = app.mint()
    root_id, _ = app.mint(by="root", expires=7200)
    listed = {
        t["id"]: t
        for t in app.request("GET", "/alice/+api-tokens", user="alice").json["result"]["tokens"]
    }
    assert set(listed) == {default_id, root_id}
    assert listed[default_id]["expires"] == listed[default_id]["created"] + 3600
    assert listed[root_id]["expires"] == listed[root_id]["created"] + 7200


def test_list_shows_only_the_users_own_records_without_secrets(app: App) -> None:
    alice_id, alice_raw = app.mint(description="mine")
    bob_id, _ = app.mint("bob")
    response = app.request("GET", "/alice/+api-tokens", user="alice")
    assert response.json["type"] == "api-tokens"
    (record,) = response.json["result"]["tokens"]
    assert record["id"] == alice_id and record["description"] == "mine"
    assert "salt" not in response.text and alice_raw[5:40] not in response.text
    assert token_ids(app, "bob") == [bob_id]


def test_revoke_refuses_the_token_from_the_next_request_on(app: App) -> None:
    token_id, token = app.mint()
    other_id, other = app.mint()
    response = app.request("DELETE", f"/alice/+api-tokens/{token_id}", user="alice")
    assert (response.status_int, response.json["message"]) == (200, f"API token {token_id} revoked")
    refused = app.request("GET", "/+api", auth=("__token__", token))
    assert refused.status == "403 Invalid API Token: token revoked"
    assert app.authstatus(auth=("__token__", other)) == ["ok", "alice", []]
    revoked = {
        t["id"]: t["revoked"]
        for t in app.request("GET", "/alice/+api-tokens", user="alice").json["result"]["tokens"]
    }
    assert revoked == {token_id: True, other_id: False}


@pytest.mark.parametrize("token_id", ["nope", "00000000-0000-4000-8000-000000000000", "{bob}"])
def test_revoke_answers_404_for_a_token_that_is_not_the_users(app: App, token_id: str) -> None:
    bob_id, bob_token = app.mint("bob")
    token_id = token_id.format(bob=bob_id)
    response = app.request("DELETE", f"/alice/+api-tokens/{token_id}", user="alice")
    assert (response.status_int, response.json["message"]) == (
        404,
        f"user 'alice' has no API token '{token_id}'",
    )
    assert app.authstatus(auth=("__token__", bob_token)) == ["ok", "bob", []]
