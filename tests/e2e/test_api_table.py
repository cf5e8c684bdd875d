"""The token API on both servers, from one table: the same requests, the same answers.

Each row is sent to a real pypiserver and a real devpi-server (``tests/e2e/servers.py``:
same users, passwords and maximum token lifetime), over HTTP, with the credentials
named in the row; each must answer the row's status and message. ``{mine}`` and
``{bobs}`` in a path or a message are a fresh token id of alice's and of bob's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.servers import MAX_LIFETIME, Answer, Served, serve

pytestmark = pytest.mark.e2e

LOG_IN = "log in with your password to manage API tokens"
NO_TOKENS = "API tokens cannot manage API tokens; use your password"
HINT = (
    "'expires' must be seconds from now (a positive integer), or a string: a duration"
    " (30s, 15m, 1h, 1d, 2w), an ISO 8601 datetime with an offset such as"
    " 2030-01-31T12:00:00Z, or @<epoch seconds>"
)
FORMS = "a duration (30s, 15m, 1h, 1d, 2w), an ISO 8601 datetime with an offset, or @<epoch>"
NOT_JSON = "the body must be a JSON object (UTF-8, no repeated keys)"


@dataclass(frozen=True)
class Row:
    """One request and the answer both servers must give."""

    name: str
    method: str
    path: str
    who: str | None  # a user (with their password), "token", "wrong password" or None
    status: int
    message: str | None = None  # for 4xx: the exact message
    data: Any = None
    body: bytes | None = None
    content_type: str | None = None
    check: Callable[[Answer], None] | None = None


def listed(answer: Answer) -> None:
    assert answer.body["type"] == "api-tokens"
    assert isinstance(answer.body["result"]["tokens"], list)


def created(answer: Answer) -> None:
    result = answer.body["result"]
    assert answer.body["type"] == "api-token"
    assert result["token"].startswith("pypi-") and result["user"] == "alice"
    assert set(result) == {
        "id", "user", "user_id", "description", "projects", "indexes", "actions", "created",
        "not_before", "expires", "last_used", "revoked", "publisher_id", "token",
    }  # fmt: skip
    assert result["publisher_id"] is None  # made through the API, not by trusted publishing
    # No expiry asked for: the longest a token may live on this server.
    assert result["expires"] == result["created"] + MAX_LIFETIME


def unlimited(answer: Answer) -> None:
    result = answer.body["result"]
    assert result["user"] == "alice" and result["expires"] == result["created"] + 2 * MAX_LIFETIME


TABLE = [
    Row("no credentials", "GET", "/+api-tokens", None, 401, LOG_IN),
    Row("wrong password", "GET", "/+api-tokens", "wrong password", 401, LOG_IN),
    Row("a token lists", "GET", "/+api-tokens", "token", 403, NO_TOKENS),
    Row("a token creates", "POST", "/+api-tokens", "token", 403, NO_TOKENS, data={}),
    Row("a token revokes", "DELETE", "/+api-tokens/{mine}", "token", 403, NO_TOKENS),
    Row("a token as the password", "GET", "/+api-tokens", "alice with her token", 403,
        NO_TOKENS),
    Row("list own", "GET", "/+api-tokens", "alice", 200, check=listed),
    Row("list as admin", "GET", "/+api-tokens?user=alice", "root", 200, check=listed),
    Row("list another's", "GET", "/+api-tokens?user=alice", "bob", 403,
        "no permission to manage the API tokens of user 'alice'"),
    Row("list an unknown user", "GET", "/+api-tokens?user=nobody", "root", 404,
        "no user 'nobody'"),
    Row("user given twice", "GET", "/+api-tokens?user=alice&user=bob", "root", 400,
        "give the 'user' parameter once"),
    Row("create", "POST", "/+api-tokens", "alice", 201, data={}, check=created),
    Row("create for another", "POST", "/+api-tokens?user=alice", "bob", 403,
        "no permission to manage the API tokens of user 'alice'", data={}),
    Row("create too long", "POST", "/+api-tokens", "alice", 400,
        f"tokens on this server must expire within {MAX_LIFETIME} seconds"
        " (1w, its maximum token lifetime)",
        data={"expires": 2 * MAX_LIFETIME}),
    Row("admin creates longer", "POST", "/+api-tokens?user=alice", "root", 201,
        data={"expires": 2 * MAX_LIFETIME}, check=unlimited),
    Row("not JSON", "POST", "/+api-tokens", "alice", 400, NOT_JSON, body=b"{nope",
        content_type="application/json"),
    Row("repeated key", "POST", "/+api-tokens", "alice", 400, NOT_JSON,
        body=b'{"description": "a", "description": "b"}', content_type="application/json"),
    Row("deep", "POST", "/+api-tokens", "alice", 400, NOT_JSON, body=b"[" * 30_000,
        content_type="application/json"),
    Row("too large", "POST", "/+api-tokens", "alice", 413, "the body is over 65536 bytes",
        body=b" " * 70_000, content_type="application/json"),
    Row("a form", "POST", "/+api-tokens", "alice", 415,
        "send the body as Content-Type: application/json", body=b"description=x",
        content_type="application/x-www-form-urlencoded"),
    Row("not an object", "POST", "/+api-tokens", "alice", 400,
        "the body must be a JSON object", data=["projects"]),
    Row("unknown field", "POST", "/+api-tokens", "alice", 400,
        "unknown field(s): 'owner'; expected actions, description, expires, indexes,"
        " projects", data={"owner": "bob"}),
    Row("expires naive", "POST", "/+api-tokens", "alice", 400,
        "'expires' '2030-01-01T00:00:00' has no UTC offset (add Z or +00:00)",
        data={"expires": "2030-01-01T00:00:00"}),
    Row("expires words", "POST", "/+api-tokens", "alice", 400,
        f"'expires' 'soon' is not {FORMS}", data={"expires": "soon"}),
    Row("expires digits", "POST", "/+api-tokens", "alice", 400,
        "'expires' '3600' is a bare number: say 3600s for a duration from now, or @3600 for"
        " seconds since the epoch", data={"expires": "3600"}),
    Row("expires bool", "POST", "/+api-tokens", "alice", 400, HINT, data={"expires": True}),
    Row("expires past", "POST", "/+api-tokens", "alice", 400, "expires must be in the future",
        data={"expires": "2001-01-01T00:00:00Z"}),
    Row("bad action", "POST", "/+api-tokens", "alice", 400,
        "unknown action 'admin'; expected upload, download, delete",
        data={"actions": ["admin"]}),
    Row("bad project", "POST", "/+api-tokens", "alice", 400,
        "'not a name!' is not a project name", data={"projects": ["not a name!"]}),
    Row("bad description", "POST", "/+api-tokens", "alice", 400,
        "'description' must be a string of up to 200 printable characters",
        data={"description": "a\nb"}),
    Row("revoke another's", "DELETE", "/+api-tokens/{bobs}", "alice", 404,
        "user 'alice' has no API token '{bobs}'"),
    Row("revoke nothing", "DELETE", "/+api-tokens/not-a-token", "alice", 404,
        "user 'alice' has no API token 'not-a-token'"),
    Row("revoke own", "DELETE", "/+api-tokens/{mine}", "alice", 200, "API token {mine} revoked"),
    Row("admin revokes any", "DELETE", "/+api-tokens/{bobs}", "root", 200,
        "API token {bobs} revoked"),
    Row("wrong method", "PUT", "/+api-tokens", "alice", 405,
        "method not allowed here; use GET, POST", data={}),
]  # fmt: skip


@pytest.fixture(scope="module", params=["pypiserver", "devpi"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve(request.param, tmp_path_factory.mktemp(f"api-{request.param}")) as index:
        yield index


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.name)
def test_both_servers_answer_alike(served: Served, row: Row) -> None:
    mine, mine_raw = served.mint("alice")
    bobs, _ = served.mint("bob")
    auth: tuple[str, str] | None = None
    user = None
    if row.who == "token":
        auth = ("__token__", mine_raw)
    elif row.who == "alice with her token":
        auth = ("alice", mine_raw)
    elif row.who == "wrong password":
        auth = ("alice", "not-her-password")
    elif row.who is not None:
        user = row.who
    answer = served.call(
        row.method,
        row.path.format(mine=mine, bobs=bobs),
        user=user,
        auth=auth,
        data=row.data,
        body=row.body,
        content_type=row.content_type,
    )
    assert answer.status == row.status, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    if row.message is not None:
        assert answer.message == row.message.format(mine=mine, bobs=bobs)
    if row.check is not None:
        row.check(answer)
    if row.status == 401:
        assert answer.headers["www-authenticate"] == 'Basic realm="pypi"'
    # What was refused changed nothing: alice's token still works, unless it was revoked.
    still = served.call("GET", "/+api-tokens", user="alice").body["result"]["tokens"]
    revoked = {t["id"]: t["revoked"] for t in still}
    assert revoked[mine] is (row.name == "revoke own")
    assert mine_raw not in served.log_text()


def test_the_answers_are_byte_for_byte_the_same(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Not just the same status and message: the same body bytes, key by key, in the same
    order, with the same layout. Bob's list is left empty: a listed token carries ids and
    times that differ between the two servers."""
    bodies = []
    for kind in ("pypiserver", "devpi"):
        with serve(kind, tmp_path_factory.mktemp(f"bytes-{kind}")) as index:
            refused = index.call("POST", "/+api-tokens", user="alice", data={"expires": "x"})
            listing = index.call("GET", "/+api-tokens", user="bob")
            assert (refused.status, listing.status) == (400, 200)
            bodies.append((refused.raw, listing.raw))
    assert bodies[0] == bodies[1]


# -- what differs, by design ----------------------------------------------------------------


def test_indexes_exist_only_on_devpi(served: Served) -> None:
    answer = served.call("POST", "/+api-tokens", user="alice", data={"indexes": ["alice/dev"]})
    if served.kind == "devpi":
        assert answer.status == 201 and answer.body["result"]["indexes"] == ["alice/dev"]
    else:
        assert (answer.status, answer.message) == (
            400,
            "this server has no indexes: leave 'indexes' out",
        )


def test_project_scopes_follow_each_servers_owners(served: Served) -> None:
    """pypiserver keeps owners itself: bob may not scope a token to alice's project. devpi's
    ACLs decide at upload time: the token is made, and refused there."""
    answer = served.call("POST", "/+api-tokens", user="bob", data={"projects": ["tinypkg"]})
    if served.kind == "pypiserver":
        assert (answer.status, answer.message) == (
            403,
            "user bob may not upload to project 'tinypkg'",
        )
    else:
        assert answer.status == 201


def test_devpis_own_paths_still_answer(served: Served) -> None:
    """devpi-client's ``api-token-*`` commands use /{user}/+api-tokens (devpi only)."""
    token_id, _ = served.mint("alice")
    if served.kind != "devpi":
        assert served.call("GET", "/alice/+api-tokens", user="alice").status == 404
        return
    answer = served.call("GET", "/alice/+api-tokens", user="alice")
    assert token_id in [t["id"] for t in answer.body["result"]["tokens"]]
    refused = served.call("GET", "/alice/+api-tokens", user="bob")
    assert (refused.status, refused.message) == (
        403,
        "no permission to manage the API tokens of user 'alice'",
    )


def test_projects_api_on_pypiserver(served: Served) -> None:
    if served.kind != "pypiserver":
        assert served.call("GET", "/+api-projects", user="alice").status == 404
        return
    path = "/+api-projects/tinypkg"
    answer = served.call("POST", f"{path}/maintainers", user="bob", data={"user": "bob"})
    assert (answer.status, answer.message) == (403, "user bob does not own project 'tinypkg'")
    answer = served.call("POST", f"{path}/maintainers", user="alice", data={"user": "bob"})
    assert (answer.status, answer.message) == (200, "bob now maintains tinypkg")
    projects = served.call("GET", "/+api-projects", user="bob").body["result"]["projects"]
    assert [(p["name"], p["role"]) for p in projects] == [("tinypkg", "Maintainer")]
    answer = served.call("DELETE", f"{path}/maintainers/bob", user="bob")  # bob leaves
    assert (answer.status, answer.message) == (200, "bob no longer maintains tinypkg")
    token = served.mint("alice")[1]
    for auth in (("__token__", token), ("alice", token)):
        refused = served.call("GET", "/+api-projects", auth=auth)
        assert (refused.status, refused.message) == (403, NO_TOKENS)
