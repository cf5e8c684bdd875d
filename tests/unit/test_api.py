"""The token API's semantics (``pypitoken_core.api``), on a real service over a memory store.

Both servers answer through this code (``tests/e2e/test_api_table.py`` proves they answer
alike); here: what a body may hold (every refusal names its reason, and no body, whatever
its bytes, makes it raise), who may act for whom, the maximum lifetime, and projects.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pypitoken_core import Token
from pypitoken_core.api import MAX_BODY, Caller, Reply, Request, TokenAPI
from pypitoken_core.service import TokenService
from pypitoken_core.store.memory import MemoryStore

ALICE, BOB, ROOT = Caller("alice"), Caller("bob"), Caller("root", admin=True)
DAY = 86400


def make_api(*, indexes: bool = False, max_lifetime: int | None = None) -> TokenAPI:
    service = TokenService(MemoryStore(), secrets.token_bytes(32), max_lifetime=max_lifetime)
    for user in ("alice", "bob", "root"):
        service.add_user(user)
    service.add_project("tinypkg", "alice")
    return TokenAPI(service, indexes=indexes)


@pytest.fixture
def api() -> TokenAPI:
    return make_api()


def post(api: TokenAPI, caller: Caller, body: Any, path: str = "/+api-tokens", **kw: Any) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    content_type = kw.pop("content_type", "application/json")
    return api.handle(caller, Request("POST", path, body=raw, content_type=content_type, **kw))


def answer(reply: Reply) -> tuple[int, str | None]:
    return reply.status, reply.message


HINT = (
    "'expires' must be seconds from now (a positive integer), or a string: a duration"
    " (30s, 15m, 1h, 1d, 2w), an ISO 8601 datetime with an offset such as"
    " 2030-01-31T12:00:00Z, or @<epoch seconds>"
)


# -- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"[" * 100_000, "application/json", 413, f"the body is over {MAX_BODY} bytes"),
        (b"[" * 50_000, "application/json", 400, "the body must be a JSON object (UTF-8, no"
         " repeated keys)"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json", 400,
         "the body must be a JSON object (UTF-8, no repeated keys)"),
        (b"", "application/json", 400, "the body must be a JSON object (UTF-8, no repeated keys)"),
        (b'{"description": "\xff"}', "application/json", 400,
         "the body must be a JSON object (UTF-8, no repeated keys)"),
        (b'{"description": "a", "description": "b"}', "application/json", 400,
         "the body must be a JSON object (UTF-8, no repeated keys)"),
        (b"1" * 5000, "application/json", 400,
         "the body must be a JSON object (UTF-8, no repeated keys)"),
        (b"[]", "application/json", 400, "the body must be a JSON object"),
        (b"null", "application/json", 400, "the body must be a JSON object"),
        (b"{}", "text/plain", 415, "send the body as Content-Type: application/json"),
        (b"{}", None, 415, "send the body as Content-Type: application/json"),
        (b"{}", "application/x-www-form-urlencoded", 415,
         "send the body as Content-Type: application/json"),
        (b"{}", "application/json; charset=utf-7", 415, "a JSON body must be UTF-8"),
        (b'{"owner": "bob"}', "application/json", 400,
         "unknown field(s): 'owner'; expected actions, description, expires, indexes, projects"),
        (b'{"projects": "tinypkg"}', "application/json", 400,
         "'projects' must be a list of at most 100 names"),
        (b'{"projects": [["tinypkg"]]}', "application/json", 400,
         "'projects' must be a list of at most 100 names"),
        (json.dumps({"projects": ["p"] * 101}).encode(), "application/json", 400,
         "'projects' must be a list of at most 100 names"),
        (b'{"projects": ["not a name!"]}', "application/json", 400,
         "'not a name!' is not a project name"),
        (b'{"projects": ["nothere"]}', "application/json", 400, "unknown project 'nothere'"),
        (b'{"indexes": ["alice/dev"]}', "application/json", 400,
         "this server has no indexes: leave 'indexes' out"),
        (b'{"actions": []}', "application/json", 400, "'actions' must name at least one action"),
        (b'{"actions": ["admin"]}', "application/json", 400,
         "unknown action 'admin'; expected upload, download, delete"),
        (b'{"actions": ["delete"]}', "application/json", 400,
         "the delete action is not enabled on this server"),
        (b'{"description": ["x"]}', "application/json", 400,
         "'description' must be a string of up to 200 printable characters"),
        (b'{"description": "a\\u0000b"}', "application/json", 400,
         "'description' must be a string of up to 200 printable characters"),
        (b'{"description": "line\\nbreak"}', "application/json", 400,
         "'description' must be a string of up to 200 printable characters"),
        (json.dumps({"description": "x" * 201}).encode(), "application/json", 400,
         "'description' must be a string of up to 200 printable characters"),
        (b'{"expires": true}', "application/json", 400, HINT),
        (b'{"expires": 1.5}', "application/json", 400, HINT),
        (b'{"expires": 0}', "application/json", 400, HINT),
        (b'{"expires": -5}', "application/json", 400, HINT),
        (b'{"expires": "soon"}', "application/json", 400, "'expires' 'soon' is not a duration"),
        (b'{"expires": "3600"}', "application/json", 400,
         "'expires' '3600' is a bare number: say 3600s for a duration from now, or @3600"),
        (b'{"expires": ["2030-01-01T00:00:00Z"]}', "application/json", 400, HINT),
        (b'{"expires": "2030-01-01T00:00:00"}', "application/json", 400,
         "'expires' '2030-01-01T00:00:00' has no UTC offset (add Z or +00:00)"),
        (b'{"expires": "2001-01-01T00:00:00Z"}', "application/json", 400,
         "expires must be in the future"),
        (b'{"expires": 100000000000000}', "application/json", 400,
         "`expires` is out of range: a time must lie between years 1 and 9999 UTC"),
    ],
    ids=lambda v: v[:30].decode(errors="replace") if isinstance(v, bytes) else None,
)  # fmt: skip
def test_bad_bodies_are_refused_with_the_reason(
    api: TokenAPI, body: bytes, content_type: str | None, status: int, message: str
) -> None:
    reply = post(api, ALICE, body, content_type=content_type)
    assert reply.status == status, reply.body
    assert reply.message is not None and reply.message.startswith(message), reply.message
    assert api.service.list_tokens() == []


def test_a_good_body_is_read() -> None:
    """The positive control for the table above: every field, as the service stores it."""
    api = make_api(indexes=True)
    body = {"projects": ["TinyPkg", "tinypkg"], "indexes": ["alice/dev"], "expires": 600,
            "actions": ["upload"], "description": "ci ünïcode"}  # fmt: skip
    reply = post(api, ALICE, body, content_type="application/json; charset=UTF-8")
    assert reply.status == 201, reply.body
    result = reply.result
    assert result["projects"] == ["tinypkg"] and result["indexes"] == ["alice/dev"]
    assert result["actions"] == ["upload"] and result["description"] == "ci ünïcode"
    assert result["expires"] == result["created"] + 600
    assert result["user"] == "alice"
    assert Token.load(result["token"]).identifier == result["id"]
    iso = post(api, ALICE, {"expires": "2099-01-01T01:00:00+01:00"})
    assert iso.status == 201 and iso.result["expires"] == 4070908800
    epoch = post(api, ALICE, {"expires": "@4070908800"})
    assert epoch.status == 201 and epoch.result["expires"] == 4070908800
    duration = post(api, ALICE, {"expires": "2h"}).result
    assert duration["expires"] == duration["created"] + 7200


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
        st.sampled_from(["tinypkg", "alice/dev", "upload", "download", "delete", "x/y/z", ""]),
        max_size=3,
    ),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from(["2030-01-01T00:00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z",
                     "2030-01-01T00:00:00+14:00", "2030-01-01T00:00:00Z"]),
)  # fmt: skip
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(
        st.sampled_from(["projects", "indexes", "expires", "actions", "description", "x"]),
        FIELD_VALUES,
        max_size=5,
    ),
)


@given(body=BODIES, indexes=st.booleans(), lifetime=st.sampled_from([None, DAY]),
       caller=st.sampled_from([ALICE, BOB, ROOT]))  # fmt: skip
def test_any_json_body_is_minted_or_refused_with_a_4xx(
    body: object, indexes: bool, lifetime: int | None, caller: Caller
) -> None:
    api = make_api(indexes=indexes, max_lifetime=lifetime)
    reply = post(api, caller, body)
    assert reply.status in (201, 400, 403), reply.body
    assert (reply.status == 201) == bool(api.service.list_tokens())
    assert isinstance(reply.message if reply.status != 201 else reply.result["token"], str)


@given(st.binary(max_size=300), st.sampled_from(["application/json", "text/plain", None, ""]))
def test_any_bytes_are_answered_never_raised(body: bytes, content_type: str | None) -> None:
    api = make_api()
    for method, path in (("POST", "/+api-tokens"), ("POST", "/+api-projects/tinypkg/transfer"),
                         ("POST", "/+api-projects/tinypkg/maintainers")):  # fmt: skip
        reply = api.handle(ALICE, Request(method, path, body=body, content_type=content_type))
        assert 200 <= reply.status < 500, reply.body
        json.dumps(reply.body)  # always answerable


# -- who may act for whom ---------------------------------------------------------------


def test_a_user_manages_only_their_own_tokens(api: TokenAPI) -> None:
    alice_id = post(api, ALICE, {}).result["id"]
    bob_id = post(api, BOB, {}).result["id"]
    for method, path, query in (
        ("GET", "/+api-tokens", {"user": ["alice"]}),
        ("POST", "/+api-tokens", {"user": ["alice"]}),
        ("DELETE", f"/+api-tokens/{alice_id}", {"user": ["alice"]}),
    ):
        reply = api.handle(BOB, Request(method, path, query, b"{}", "application/json"))
        assert answer(reply) == (403, "no permission to manage the API tokens of user 'alice'")
    reply = api.handle(BOB, Request("DELETE", f"/+api-tokens/{alice_id}"))
    assert answer(reply) == (404, f"user 'bob' has no API token '{alice_id}'")
    assert not api.service.get_token(alice_id).revoked
    mine = api.handle(BOB, Request("GET", "/+api-tokens"))
    assert [t["id"] for t in mine.result["tokens"]] == [bob_id]
    assert answer(api.handle(BOB, Request("DELETE", f"/+api-tokens/{bob_id}"))) == (
        200, f"API token {bob_id} revoked")  # fmt: skip


def test_an_administrator_acts_for_anyone(api: TokenAPI) -> None:
    created = post(api, ROOT, {"projects": ["tinypkg"]}, query={"user": ["alice"]})
    assert created.status == 201 and created.result["user"] == "alice"
    listed = api.handle(ROOT, Request("GET", "/+api-tokens", {"user": ["alice"]}))
    assert [t["id"] for t in listed.result["tokens"]] == [created.result["id"]]
    assert api.list_all_tokens(ROOT).status == 200
    assert answer(api.list_all_tokens(ALICE)) == (
        403, "only administrators see every user's API tokens")  # fmt: skip
    # Without a user, any token; with one, only that user's.
    bob_id = post(api, BOB, {}).result["id"]
    wrong = api.handle(ROOT, Request("DELETE", f"/+api-tokens/{bob_id}", {"user": ["alice"]}))
    assert answer(wrong) == (404, f"user 'alice' has no API token '{bob_id}'")
    assert api.handle(ROOT, Request("DELETE", f"/+api-tokens/{bob_id}")).status == 200
    unknown = api.handle(ROOT, Request("GET", "/+api-tokens", {"user": ["nobody"]}))
    assert answer(unknown) == (404, "no user 'nobody'")


def test_the_caller_is_registered_on_first_use(api: TokenAPI) -> None:
    """A password user of the index (pypiserver's htpasswd) is the store's user of the
    same name from their first request on."""
    assert api.service.store.get_user("carol") is None
    assert api.handle(Caller("carol"), Request("GET", "/+api-tokens")).status == 200
    assert api.service.store.get_user("carol") is not None
    bad = api.handle(Caller("__token__"), Request("GET", "/+api-tokens"))
    assert answer(bad) == (404, "no user '__token__'")


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("PUT", "/+api-tokens", 405, "method not allowed here; use GET, POST"),
        ("GET", "/+api-tokens/abc", 405, "method not allowed here; use DELETE"),
        ("DELETE", "/+api-tokens/not-an-id", 404, "user 'alice' has no API token 'not-an-id'"),
        ("GET", "/+api-tokens/a/b", 404, "no API at '/+api-tokens/a/b'"),
        ("GET", "/+api-elsewhere", 404, "no API at '/+api-elsewhere'"),
        ("PATCH", "/+api-projects", 405, "method not allowed here; use GET"),
        ("GET", "/+api-projects/tinypkg/nope", 404, "no API at '/+api-projects/tinypkg/nope'"),
    ],
)
def test_routes(api: TokenAPI, method: str, path: str, status: int, message: str) -> None:
    reply = api.handle(ALICE, Request(method, path))
    assert answer(reply) == (status, message)
    if status == 405:
        assert dict(reply.headers)["Allow"] in message


def test_the_user_parameter_is_given_once(api: TokenAPI) -> None:
    reply = api.handle(ROOT, Request("GET", "/+api-tokens", {"user": ["alice", "bob"]}))
    assert answer(reply) == (400, "give the 'user' parameter once")


# -- the maximum lifetime -----------------------------------------------------------------


def test_the_maximum_lifetime_binds_everyone_but_administrators() -> None:
    api = make_api(max_lifetime=DAY)
    assert answer(post(api, ALICE, {"expires": 2 * DAY})) == (
        400, f"tokens on this server must expire within {DAY} seconds (1d, its maximum"
        " token lifetime)")  # fmt: skip
    default = post(api, ALICE, {}).result
    assert default["expires"] == default["created"] + DAY  # the longest, not a refusal
    root = post(api, ROOT, {"expires": 2 * DAY}).result
    assert root["expires"] == root["created"] + 2 * DAY
    forever = post(api, ROOT, {}).result
    assert forever["expires"] is None


# -- projects -----------------------------------------------------------------------------


def test_owners_manage_maintainers_and_transfer(api: TokenAPI) -> None:
    path = "/+api-projects/tinypkg"
    assert answer(post(api, BOB, {"user": "bob"}, f"{path}/maintainers")) == (
        403, "user bob does not own project 'tinypkg'")  # fmt: skip
    assert answer(post(api, ALICE, {"user": "bob"}, f"{path}/maintainers")) == (
        200, "bob now maintains tinypkg")  # fmt: skip
    # A maintainer tries what owners do.
    assert answer(post(api, BOB, {"user": "bob"}, f"{path}/transfer")) == (
        403, "user bob does not own project 'tinypkg'")  # fmt: skip
    remove_alice = api.handle(BOB, Request("DELETE", f"{path}/maintainers/alice"))
    assert answer(remove_alice) == (403, "user bob does not own project 'tinypkg'")
    assert answer(api.handle(BOB, Request("DELETE", path))) == (
        403, "only administrators remove projects")  # fmt: skip
    listed = api.handle(BOB, Request("GET", "/+api-projects")).result
    assert listed["projects"][0]["role"] == "Maintainer"
    assert listed["projects"][0]["roles"] == [
        {"user": "alice", "role": "Owner"}, {"user": "bob", "role": "Maintainer"}]  # fmt: skip
    # The owner hands it over; the new owner removes the old one.
    assert answer(post(api, ALICE, {"user": "bob"}, f"{path}/transfer")) == (
        200, "tinypkg now belongs to bob")  # fmt: skip
    assert answer(api.handle(BOB, Request("DELETE", f"{path}/maintainers/alice"))) == (
        200, "alice no longer maintains tinypkg")  # fmt: skip
    assert api.handle(ALICE, Request("GET", path)).status == 403
    assert answer(api.handle(ROOT, Request("DELETE", path))) == (200, "removed project tinypkg")
    assert answer(api.handle(ROOT, Request("GET", path))) == (404, "no project 'tinypkg'")


@pytest.mark.parametrize(
    "body",
    [{}, {"user": 1}, {"user": "bob", "x": 1}, ["bob"], "bob"],
)
def test_role_bodies_must_name_one_user(api: TokenAPI, body: object) -> None:
    reply = post(api, ALICE, body, "/+api-projects/tinypkg/maintainers")
    assert answer(reply) == (400, 'the body must be {"user": NAME}')


def test_an_index_without_projects_says_so() -> None:
    service = TokenService(MemoryStore(), secrets.token_bytes(32), ownership="external")
    api = TokenAPI(service, indexes=True)
    assert answer(api.handle(ALICE, Request("GET", "/+api-projects"))) == (
        404, "no API at '/+api-projects'")  # fmt: skip
    assert answer(api.get_project(ROOT, "tinypkg")) == (
        404, "this server keeps no projects: its indexes' ACLs decide")  # fmt: skip
