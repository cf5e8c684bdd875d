"""The token API (``/+api-tokens``, ``/{user}/+api-tokens``) and the token page, in-process.

What the API's bodies and fields mean is the core's (``tests/unit/test_api.py``, and the
table both servers share in ``tests/e2e/test_api_table.py``); here, through a real
devpi-server app (``conftest.App``): who devpi says calls (a password, a devpi login, a
token, another user, root), with which answer, on devpi's paths.
"""

from __future__ import annotations

import json

import pytest

from pypitoken_core import Token

from .conftest import App, MakeApp

# -- through devpi's app ----------------------------------------------------------------------

RECORD_FIELDS = {
    "id", "user", "user_id", "description", "projects", "indexes", "actions",
    "created", "expires", "not_before", "last_used", "revoked", "publisher_id",
}  # fmt: skip


LOG_IN = "log in with your password to manage API tokens"
NO_TOKENS = "API tokens cannot manage API tokens; use your password"


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
    assert set(result) == RECORD_FIELDS | {"token"}
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
        ("POST", "/alice/+api-tokens", None, 401, LOG_IN),
        ("GET", "/alice/+api-tokens", None, 401, LOG_IN),
        ("DELETE", "/alice/+api-tokens/{id}", None, 401, LOG_IN),
        ("POST", "/alice/+api-tokens", "token", 403, NO_TOKENS),
        ("GET", "/alice/+api-tokens", "token", 403, NO_TOKENS),
        ("DELETE", "/alice/+api-tokens/{id}", "token", 403, NO_TOKENS),
        ("GET", "/+api-tokens", "token", 403, NO_TOKENS),
        ("POST", "/+api-tokens?user=alice", "bob", 403,
         "no permission to manage the API tokens of user 'alice'"),
        ("GET", "/+api-tokens?user=alice&user=bob", "root", 400,
         "give the 'user' parameter once"),
        ("GET", "/alice/+api-tokens?user=alice", "alice", 400, "the path already names the user"),
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
        (b'{"color": "red"}', "unknown field(s): 'color'"),
        (b"not json", "the body must be a JSON object"),
        (b'{"actions": ["admin"]}', "unknown action 'admin'; expected upload, download, delete"),
        (b'{"actions": []}', "'actions' must name at least one action"),
        (b'{"projects": ["not a name!"]}', "'not a name!' is not a project name"),
        (b'{"expires": "2001-01-01T00:00:00+00:00"}', "expires must be in the future"),
        (b'{"expires": 100000000000000}', "`expires` is out of range"),
        (b'{"description": "a\\u0000b"}', "'description' must be a string of up to 200"),
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
    """One implementation: the service's max_lifetime (fed --pypitoken-max-expiry), with
    the API exempting devpi's administrators and defaulting a missing expiry to it."""
    app = make_app("--pypitoken-max-expiry", "3600")
    response = app.request("POST", "/alice/+api-tokens", json_body={"expires": 7200}, user="alice")
    assert (response.status_int, response.json["message"]) == (
        400,
        "tokens on this server must expire within 3600 seconds (1h, its maximum token lifetime)",
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
