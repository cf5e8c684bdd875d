"""What a token may do on a stage: restrictions a holder adds offline, external pushes, prefix.

A holder may narrow a devpi token to project ids (``Token.restrict(project_ids=...)``, as
pypi.org's tokens carry them): the plugin gives every project on every index its own id, so
such a token works for that project on that index only. An external push hands files to a
server no token restricts: a token that may not even read the project is told that first.
"""

from __future__ import annotations

from typing import Any

from pypitoken_devpi._store import project_id

from pypitoken_core import Token
from tests.e2e.devpi.conftest import Listener

from .conftest import App


def refusal(reason: str) -> str:
    return f"403 Invalid API Token: {reason}"


def test_a_token_narrowed_to_a_project_id_works_for_that_project_on_that_index(app: App) -> None:
    _, token = app.mint()
    pid = project_id("alice/dev", "tinypkg")
    narrowed = Token.load(token).restrict(project_ids=[pid]).dump()
    auth = ("__token__", narrowed)

    assert app.upload("alice/dev", "tinypkg", "1.0", auth=auth).status_int == 200
    response = app.upload("alice/dev", "otherpkg", "1.0", auth=auth)
    other = project_id("alice/dev", "otherpkg")
    assert response.status == refusal(
        f"This token can only be used for project(s): {pid}. Received: {other}"
    )
    response = app.upload("alice/other", "tinypkg", "1.0", auth=auth)
    elsewhere = project_id("alice/other", "tinypkg")
    assert response.status == refusal(
        f"This token can only be used for project(s): {pid}. Received: {elsewhere}"
    )


def push(app: App, token: str, **body: Any) -> Any:
    body = {"name": "tinypkg", "version": "1.0", **body}
    return app.request("POST", "/alice/dev", json_body=body, auth=("__token__", token))


def test_an_external_push_the_token_may_not_read_is_refused_for_reading(app: App) -> None:
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, other_project = app.mint(projects=["otherpkg"])
    _, full = app.mint()
    target = Listener()
    try:
        body = {"posturl": target.url, "username": "x", "password": "y"}
        response = push(app, other_project, **body)
        assert response.status == refusal("not valid for project 'tinypkg'")
        assert target.bodies == []
        response = push(app, full, **body)  # the positive control
        assert response.status_int == 200, response.status
        assert target.projects() == ["tinypkg"]
    finally:
        target.close()


def test_a_push_by_a_token_that_may_not_read_the_source_says_so(app: App) -> None:
    # A push reads the source stage first: devpi asks for pkg_read there, with a POST.
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    _, upload_only = app.mint(actions=["upload"])
    response = push(app, upload_only, targetindex="alice/other")
    assert response.status == refusal("not valid for action 'download'")
    _, both = app.mint(actions=["upload", "download"])
    assert push(app, both, targetindex="alice/other").status_int == 200


def test_an_empty_prefix_option_means_the_default(make_app: Any) -> None:
    app = make_app("--pypitoken-prefix", "")
    _, token = app.mint()
    assert token.startswith("pypi-")
    assert app.authstatus(auth=("__token__", token))[:2] == ["ok", "alice"]
