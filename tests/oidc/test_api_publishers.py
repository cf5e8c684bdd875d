"""Trusted publishers through the token API (``/+api-publishers``), on a real service.

The API calls the same service methods as ``pypitoken publisher``; here: who may register,
list and remove whose publishers, what a body may hold (every refusal with its reason,
and no body makes it raise), and that a publisher registered through the API mints a
token in a real exchange (the local issuer) which its removal revokes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypitoken_core import Token
from pypitoken_core.api import Caller, Reply, Request, TokenAPI
from pypitoken_core.exceptions import ValidationError
from pypitoken_core.oidc import Endpoints
from pypitoken_core.restrictions import Context
from pypitoken_core.service import TokenService
from tests.oidc.conftest import AUDIENCE, error, mint
from tests.oidc_issuer import Issuer

ALICE, BOB, ROOT = Caller("alice"), Caller("bob"), Caller("root", admin=True)


@pytest.fixture
def api(service: TokenService) -> TokenAPI:
    service.add_user("root")
    return TokenAPI(service, indexes=False)


def call(
    api: TokenAPI, caller: Caller, method: str, path: str, body: Any = None, **query: str
) -> Reply:
    raw = b"" if body is None else json.dumps(body).encode()
    return api.handle(
        caller,
        Request(
            method,
            path,
            query={k: [v] for k, v in query.items()},
            body=raw,
            content_type="application/json" if body is not None else None,
        ),
    )


def github(issuer: Issuer, /, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "github", "projects": ["foo"], "repository": "octo-org/octo-repo",
        "workflow": "release.yml", "environment": "release", "owner_id": "123456",
        "issuer": issuer.url, **changes,
    }  # fmt: skip


def answer(reply: Reply) -> tuple[int, str | None]:
    return reply.status, reply.message


def test_register_list_exchange_remove(
    api: TokenAPI, service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    added = call(api, ALICE, "POST", "/+api-publishers", github(issuer))
    assert added.status == 201, added.body
    assert added.body["type"] == "trusted-publisher"
    shown = added.result
    assert (shown["kind"], shown["projects"], shown["pending"], shown["added_by"]) == (
        "github", ["foo"], [], "alice",
    )  # fmt: skip
    assert shown["description"] == (
        "GitHub octo-org/octo-repo, workflow release.yml, environment release, owner id 123456,"
        f" issuer {issuer.url}"
    )
    assert service.get_publisher(shown["id"]).added_by == service.store.get_user("alice").id

    listed = call(api, ALICE, "GET", "/+api-publishers")
    assert listed.body == {
        "type": "trusted-publishers", "result": {"user": "alice", "publishers": [shown]},
    }  # fmt: skip
    assert call(api, BOB, "GET", "/+api-publishers").result == {"user": "bob", "publishers": []}

    # A real exchange mints through the publisher the API registered.
    response = mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE)))
    assert response.status == 200, response.body
    raw = response.body["token"]
    assert [4, shown["id"], None] in [r.dump() for r in Token.load(raw).restrictions]
    service.authenticate(raw, Context(project_name="foo", action="upload"))

    removed = call(api, ALICE, "DELETE", f"/+api-publishers/{shown['id']}")
    assert answer(removed) == (
        200,
        f"trusted publisher {shown['id']} removed; its tokens are revoked",
    )
    with pytest.raises(ValidationError, match="revoked"):
        service.authenticate(raw, Context(project_name="foo", action="upload"))
    assert call(api, ALICE, "GET", "/+api-publishers").result["publishers"] == []
    again = mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE)))
    # No publisher trusts the issuer any more: refused before any key is fetched.
    assert error(again) == (
        422, "invalid-payload", f"unknown trusted publishing issuer '{issuer.url}'",
    )  # fmt: skip


def test_pending_projects_and_joining(api: TokenAPI, issuer: Issuer) -> None:
    first = call(api, ALICE, "POST", "/+api-publishers", github(issuer, projects=["New.Pkg"]))
    assert first.status == 201, first.body
    assert (first.result["projects"], first.result["pending"]) == (["new-pkg"], ["new-pkg"])
    joined = call(api, ALICE, "POST", "/+api-publishers", github(issuer, projects=["foo"]))
    assert joined.status == 201, joined.body
    assert (joined.result["id"], joined.result["projects"]) == (
        first.result["id"], ["new-pkg", "foo"],
    )  # fmt: skip
    # The same workflow by another user: one publisher uploads as one user.
    bobs = call(api, BOB, "POST", "/+api-publishers", github(issuer, projects=["baz"]))
    assert bobs.status == 409
    assert bobs.message == (
        f"publisher {first.result['id']} is the same workflow, registered by alice: a"
        " publisher uploads on behalf of one user, who adds the projects to it"
    )
    other = call(api, BOB, "POST", "/+api-publishers", github(issuer, projects=["baz"],
                 workflow="bob.yml"))  # fmt: skip
    assert other.status == 201, other.body


def test_only_who_may_upload_registers(
    api: TokenAPI, service: TokenService, issuer: Issuer
) -> None:
    refused = call(api, BOB, "POST", "/+api-publishers", github(issuer))
    assert answer(refused) == (403, "user bob may not upload to project 'foo'")
    service.add_maintainer("foo", "bob")
    allowed = call(api, BOB, "POST", "/+api-publishers", github(issuer, workflow="b.yml"))
    assert allowed.status == 201, allowed.body


def test_who_acts_for_whom(api: TokenAPI, issuer: Issuer) -> None:
    added = call(api, ALICE, "POST", "/+api-publishers", github(issuer)).result
    assert answer(call(api, BOB, "GET", "/+api-publishers", user="alice")) == (
        403, "no permission to manage the trusted publishers of user 'alice'",
    )  # fmt: skip
    assert answer(call(api, BOB, "POST", "/+api-publishers", github(issuer), user="alice")) == (
        403, "no permission to manage the trusted publishers of user 'alice'",
    )  # fmt: skip
    assert answer(call(api, BOB, "DELETE", f"/+api-publishers/{added['id']}")) == (
        404, f"user 'bob' has no trusted publisher '{added['id']}'",
    )  # fmt: skip
    assert answer(api.list_all_publishers(BOB)) == (
        403, "only administrators see every user's trusted publishers",
    )  # fmt: skip
    # The administrator sees, registers for and removes anyone's.
    assert call(api, ROOT, "GET", "/+api-publishers", user="alice").result["publishers"] == [added]
    assert [p["id"] for p in api.list_all_publishers(ROOT).result["publishers"]] == [added["id"]]
    for_bob = call(api, ROOT, "POST", "/+api-publishers",
                   github(issuer, projects=["baz"], workflow="b.yml"), user="bob")  # fmt: skip
    assert for_bob.status == 201 and for_bob.result["added_by"] == "bob"
    assert call(api, ROOT, "DELETE", f"/+api-publishers/{added['id']}").status == 200
    assert answer(call(api, ROOT, "DELETE", f"/+api-publishers/{added['id']}")) == (
        404, f"user 'root' has no trusted publisher '{added['id']}'",
    )  # fmt: skip
    assert answer(call(api, ALICE, "DELETE", "/+api-publishers/not-an-id")) == (
        404, "user 'alice' has no trusted publisher 'not-an-id'",
    )  # fmt: skip


def test_gitlab_publishers_say_what_the_job_declares(api: TokenAPI) -> None:
    body = {
        "kind": "gitlab", "projects": ["foo"], "project_path": "my-group/my-project",
        "ci_config": ".gitlab-ci.yml",
    }  # fmt: skip
    added = call(api, ALICE, "POST", "/+api-publishers", body)
    assert added.status == 201, added.body
    assert (added.result["audience"], added.result["id_token_variable"]) == (
        AUDIENCE, "PYPI_EXAMPLE_COM_ID_TOKEN",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"kind": "svn"}, 400, "'kind' must be one of github, gitlab, oidc"),
        ({"kind": None}, 400, "'kind' must be one of github, gitlab, oidc"),
        ({"project_path": "x/y"}, 400, "unknown field(s) for a github publisher: 'project_path'"),
        ({"projects": []}, 400, "'projects' must name at least one project"),
        ({"projects": "foo"}, 400, "'projects' must be a list of at most 100 names"),
        ({"projects": ["a/b"]}, 400, "invalid project name 'a/b'"),
        ({"index": "alice/dev"}, 400, "this server has no indexes: leave 'index' out"),
        ({"repository": "octo-org"}, 400, "repository 'octo-org' must be given as OWNER/REPO"),
        ({"workflow": 5}, 400, "workflow must be a string"),
        ({"owner_id": "x"}, 400, "owner_id 'x' must be GitHub's numeric account id"),
        ({"issuer": "http://ci.example.com"}, 400, "issuer"),
    ],
)
def test_bodies_refused_with_their_reason(
    api: TokenAPI, issuer: Issuer, changes: dict[str, Any], status: int, message: str
) -> None:
    reply = call(api, ALICE, "POST", "/+api-publishers", github(issuer, **changes))
    assert reply.status == status, reply.body
    assert message in (reply.message or "")
    assert call(api, ALICE, "GET", "/+api-publishers").result["publishers"] == []
    assert call(api, ALICE, "POST", "/+api-publishers", github(issuer)).status == 201  # control


def test_methods_and_non_objects(api: TokenAPI) -> None:
    assert answer(call(api, ALICE, "PUT", "/+api-publishers", {})) == (
        405, "method not allowed here; use GET, POST",
    )  # fmt: skip
    assert answer(call(api, ALICE, "GET", "/+api-publishers/x")) == (
        405, "method not allowed here; use DELETE",
    )  # fmt: skip
    assert answer(call(api, ALICE, "POST", "/+api-publishers", [1])) == (
        400, "the body must be a JSON object",
    )  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "kind",
                        "projects",
                        "index",
                        "repository",
                        "workflow",
                        "environment",
                        "owner_id",
                        "issuer",
                        "claims",
                        "project_path",
                        "ci_config",
                        "x",
                    ]
                ),
                inner,
                max_size=6,
            )
        ),
        max_leaves=12,
    )
)
def test_no_body_makes_it_raise(api: TokenAPI, body: Any) -> None:
    reply = call(api, ALICE, "POST", "/+api-publishers", body)
    assert 200 <= reply.status < 500 and reply.status not in (404, 405), reply.body
    if reply.status != 201:
        assert reply.message
