"""Trusted publishers on the token page, in a real browser (headless Chromium), on both
index servers; then a real OIDC exchange through the publisher the page added.

alice logs in with her password, opens "Trusted publishers", adds a GitHub Actions
publisher for ``tinypkg`` (a mistyped repository is refused first, with the reason, and
the form keeps what she typed), and sees it listed (and in the JSON API). A CI job's OIDC
token, signed by the local issuer (:class:`tests.oidc_issuer.Issuer`, real RSA keys,
discovery and JWKS on 127.0.0.1), is exchanged at the index's ``/_/oidc/mint-token`` for
an upload token, which real twine uploads ``tinypkg`` with (and which is refused for
another project). alice then removes the publisher on the page: the minted token is
revoked, and the next exchange is refused. Screenshots go to
``tests/artifacts/<server>-publishers/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pypitoken_core import Token
from tests.e2e.browser import browser
from tests.e2e.dists import make_wheel
from tests.e2e.servers import PASSWORDS, Served, serve
from tests.e2e.test_token_page_browser import log_in
from tests.e2e.trusted.conftest import ci_token, exchange
from tests.e2e.twine_output import twine_refusal
from tests.oidc_issuer import Issuer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["pypiserver", "devpi"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve(request.param, tmp_path_factory.mktemp(f"{request.param}-publishers")) as index:
        yield index


def test_add_a_publisher_on_the_page_then_publish_through_it(
    served: Served, issuer: Issuer, tmp_path: Path
) -> None:
    with browser(f"{served.kind}-publishers") as b:
        log_in(b, served, "alice")
        b.go("nav a[href$='/+tokens/publishers']")
        assert b.url == served.url + "/+tokens/publishers"
        assert b.find("h1").text == "Trusted publishers"
        audience = b.find("#audience").text
        assert audience == served.call("GET", "/_/oidc/audience").body["audience"]
        assert f"{served.url}/_/oidc/mint-token" in b.text
        assert "No trusted publishers yet." in b.text
        b.shot("publishers-empty")

        b.go("#new-github-publisher")
        assert b.url == served.url + "/+tokens/publishers/new/github"
        b.fill("#projects", "tinypkg")
        if served.kind == "devpi":
            options = [o.get_attribute("value") for o in b.all("#index option")]
            assert options == ["alice/dev"]  # the indexes alice may upload to
        b.fill("#repository", "octo-org")  # no repository name: refused with the reason
        b.fill("#workflow", "release.yml")
        b.fill("#environment", "release")
        b.fill("#owner_id", "123456")
        b.fill("#issuer", issuer.url)
        b.go("#add-publisher")
        assert b.find("#error").text == "repository 'octo-org' must be given as OWNER/REPO"
        assert b.find("#workflow").get_attribute("value") == "release.yml"  # kept
        b.shot("publisher-refused")
        b.fill("#repository", "octo-org/octo-repo")
        b.shot("publisher-form")
        b.go("#add-publisher")

        (publisher,) = served.call("GET", "/+api-publishers", user="alice").body["result"][
            "publishers"
        ]
        assert b.url == served.url + f"/+tokens/publishers?added={publisher['id']}", b.text
        assert f"Trusted publisher {publisher['id']} saved." in b.text
        row = b.find(f"#publisher-{publisher['id']}").text
        assert "GitHub octo-org/octo-repo, workflow release.yml, environment release" in row
        assert "tinypkg" in row
        assert (publisher["projects"], publisher["added_by"]) == (["tinypkg"], "alice")
        assert publisher["index"] == ("alice/dev" if served.kind == "devpi" else None)
        b.shot("publisher-added")

        # The CI job: its OIDC token for this index's audience, exchanged for a token.
        minted = exchange(served.url, ci_token(issuer, served.url))
        assert minted.status == 200, minted.body
        raw = minted.body["token"]
        restrictions = [r.dump() for r in Token.load(raw).restrictions]
        assert [4, publisher["id"], None] in restrictions
        ok = served.twine(raw, make_wheel(tmp_path, "tinypkg", "3.0"))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        other = served.twine(raw, make_wheel(tmp_path, "otherpkg", "3.0"))
        assert twine_refusal(other) == "Invalid API Token: not valid for project 'otherpkg'"

        b.follow(b.find(f"#publisher-{publisher['id']} a.remove"))
        assert b.url == served.url + f"/+tokens/publishers/remove/{publisher['id']}"
        b.shot("publisher-remove-confirm")
        b.go("#confirm-remove-publisher")
        assert b.url == served.url + f"/+tokens/publishers?removed={publisher['id']}"
        assert f"Trusted publisher {publisher['id']} removed; its tokens are revoked." in b.text
        assert "No trusted publishers yet." in b.text
        b.shot("publisher-removed")

    refused = served.twine(raw, make_wheel(tmp_path, "tinypkg", "3.1"))
    assert twine_refusal(refused) == "Invalid API Token: token revoked"
    again = exchange(served.url, ci_token(issuer, served.url))
    assert (again.status, again.code) == (422, "invalid-payload")
    assert served.call("GET", "/+api-publishers", user="alice").body["result"]["publishers"] == []
    log = served.log_text()
    assert raw[5:] not in log and PASSWORDS["alice"] not in log


def test_another_users_project_is_refused_on_the_page(served: Served, issuer: Issuer) -> None:
    """bob may not have a publisher upload to alice's project (pypiserver: he has no role
    on it; devpi: he may upload to no index, so the form offers none)."""
    with browser(f"{served.kind}-publishers-bob") as b:
        log_in(b, served, "bob")
        b.get(served.url + "/+tokens/publishers/new/github")
        if served.kind == "devpi":
            assert b.all("#index option") == []
            assert "You may upload to no index" in b.text
        b.fill("#projects", "tinypkg")
        b.fill("#repository", "octo-org/octo-repo")
        b.fill("#workflow", "bob.yml")
        b.fill("#issuer", issuer.url)
        if served.kind == "devpi":
            # The browser will not submit an empty required select: send it by hand.
            b.driver.execute_script("document.getElementById('index').removeAttribute('required')")
        b.go("#add-publisher")
        expected = {
            "pypiserver": "user bob may not upload to project 'tinypkg'",
            "devpi": "'index' must name the index it uploads to, as user/index",
        }[served.kind]
        assert b.find("#error").text == expected
        b.shot("publisher-refused-for-bob")
    assert served.call("GET", "/+api-publishers", user="bob").body["result"]["publishers"] == []


def test_a_generic_oidc_publisher_on_the_page(
    served: Served, issuer: Issuer, tmp_path: Path
) -> None:
    """Any OIDC issuer (Forgejo, Gitea, Buildkite, ...): alice types the issuer and the
    claims a job's token must carry, one KEY=VALUE a line; a line that is not one is
    refused with its number and the form keeps what she typed."""
    with browser(f"{served.kind}-publishers-oidc") as b:
        log_in(b, served, "alice")
        b.get(served.url + "/+tokens/publishers")
        b.go("#new-oidc-publisher")
        assert b.url == served.url + "/+tokens/publishers/new/oidc"
        assert b.find("h1").text == "New trusted publisher: generic OIDC"
        b.fill("#projects", "tinypkg")
        b.fill("#issuer", issuer.url)
        b.fill("#claims", "repository=octo-org/octo-repo\nenvironment release")
        b.go("#add-publisher")
        assert b.find("#error").text == "claims: line 2 is not KEY=VALUE"
        assert b.find("#claims").get_attribute("value") == (
            "repository=octo-org/octo-repo\nenvironment release"
        )
        assert b.find("#issuer").get_attribute("value") == issuer.url
        b.shot("oidc-publisher-refused")
        b.fill("#claims", "repository=octo-org/octo-repo\n\nenvironment = release\n")
        b.go("#add-publisher")
        (publisher,) = served.call("GET", "/+api-publishers", user="alice").body["result"][
            "publishers"
        ]
        assert b.url == served.url + f"/+tokens/publishers?added={publisher['id']}", b.text
        assert (publisher["kind"], publisher["issuer"], publisher["claims"]) == (
            "oidc",
            issuer.url,
            {"environment": "release", "repository": "octo-org/octo-repo"},
        )
        row = b.find(f"#publisher-{publisher['id']}").text
        assert (
            f"OIDC issuer {issuer.url} with environment=release, repository=octo-org/octo-repo"
            in row
        )
        b.shot("oidc-publisher-added")

    minted = exchange(served.url, ci_token(issuer, served.url))
    assert minted.status == 200, minted.body
    ok = served.twine(minted.body["token"], make_wheel(tmp_path, "tinypkg", "4.0"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    staging = exchange(served.url, ci_token(issuer, served.url, environment="staging"))
    assert (staging.status, staging.code) == (422, "invalid-publisher"), staging.body
    removed = served.call("DELETE", f"/+api-publishers/{publisher['id']}", user="alice")
    assert removed.status == 200, removed.body
