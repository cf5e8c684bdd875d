"""The token page in a real browser (headless Chromium), on both index servers.

The story of issue 9: log in with the index's password, create a project-scoped token
that expires tomorrow, copy it from the page (with the copy button, read back from the
clipboard), upload with real twine (200), upload another project (403 with the reason),
revoke it on the page, upload again (403 ``token revoked``), log out. Every page is
saved as a screenshot under ``tests/artifacts/<server>-*/`` to be looked at.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import Browser, browser
from tests.e2e.dists import make_wheel
from tests.e2e.servers import PASSWORDS, Served, serve
from tests.e2e.twine_output import twine_refusal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["pypiserver", "devpi"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve(request.param, tmp_path_factory.mktemp(request.param)) as index:
        yield index


def log_in(b: Browser, served: Served, user: str, password: str | None = None) -> None:
    b.get(served.url + "/+tokens")
    assert b.url == served.url + "/+tokens/login"
    b.fill("#user", user)
    b.fill("#password", PASSWORDS[user] if password is None else password)
    b.go("#login")


def wait_for(predicate, what: str, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def clipboard(b: Browser) -> str:
    """What the page's copy button put on the clipboard, read back by the page itself."""
    return str(
        b.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.clipboard.readText().then(done, e => done('ERROR ' + e));"
        )
    )


def test_create_copy_use_revoke_log_out(served: Served, tmp_path: Path) -> None:
    with browser(f"{served.kind}-story") as b:
        b.driver.execute_cdp_cmd(
            "Browser.grantPermissions",
            {
                "origin": served.url,
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
            },
        )
        b.get(served.url + "/+tokens")
        assert b.url == served.url + "/+tokens/login"
        b.shot("login")
        b.fill("#user", "alice")
        b.fill("#password", PASSWORDS["alice"])
        b.go("#login")
        assert b.url == served.url + "/+tokens", b.text
        assert "No API tokens yet." in b.text
        b.shot("tokens-empty")

        b.go("#new-token-link")
        assert b.url == served.url + "/+tokens/new"
        b.shot("new-token-form")
        b.fill("#description", "CI for tinypkg")
        b.click("#scope-projects")
        if served.kind == "pypiserver":
            b.click("#project-tinypkg")
        else:
            b.fill("#projects-text", "tinypkg")
            b.click("input[name=index][value='alice/dev']")
        b.click("#expires-date")
        tomorrow = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
        assert b.find("#expires-on").get_attribute("value") == tomorrow.isoformat()
        b.go("#create")

        assert b.find("h1").text == "Your new API token", b.text
        raw = b.find("#new-token").get_attribute("value")
        assert raw.startswith("pypi-")
        b.click("#copy-token")
        wait_for(lambda: b.find("#copy-status").text == "Copied.", "the copy button")
        assert clipboard(b) == raw
        assert f"twine upload --repository-url {served.upload_url} -u __token__ -p {raw}" in (
            b.find("#snippet-twine").text
        )
        assert f"uv publish --publish-url {served.upload_url} --token {raw}" in (
            b.find("#snippet-uv").text
        )
        simple = served.simple_url.replace("http://", f"http://__token__:{raw}@")
        assert f"pip install --index-url {simple} PROJECT" in b.find("#snippet-pip").text
        assert f"repository = {served.upload_url}" in b.find("#snippet-pypirc").text
        assert raw not in b.url
        b.shot("token-created")

        (record,) = served.call("GET", "/+api-tokens", user="alice").body["result"]["tokens"]
        end_of_tomorrow = datetime.datetime.combine(
            tomorrow + datetime.timedelta(days=1), datetime.time(), datetime.UTC
        )
        assert record["expires"] == int(end_of_tomorrow.timestamp())
        assert record["projects"] == ["tinypkg"]
        assert record["description"] == "CI for tinypkg"

        ok = served.twine(raw, make_wheel(tmp_path, "tinypkg", "1.0"))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        other = served.twine(raw, make_wheel(tmp_path, "otherpkg", "1.0"))
        assert twine_refusal(other) == "Invalid API Token: not valid for project 'otherpkg'"

        b.go("#done")
        assert b.url == served.url + "/+tokens"
        row = b.find(f"#token-{record['id']}")
        assert "CI for tinypkg" in row.text and "active" in row.text
        assert "projects: tinypkg" in row.text
        b.shot("tokens-one-token")

        b.follow(row.find_element("css selector", "a.revoke"))
        assert b.url == served.url + f"/+tokens/revoke/{record['id']}"
        b.shot("revoke-confirm")
        b.go("#confirm-revoke")
        assert b.url == served.url + f"/+tokens?revoked={record['id']}"
        assert f"API token {record['id']} revoked." in b.text
        assert "revoked" in b.find(f"#token-{record['id']}").text
        b.shot("tokens-revoked")

        refused = served.twine(raw, make_wheel(tmp_path, "tinypkg", "1.1"))
        assert twine_refusal(refused) == "Invalid API Token: token revoked"

        b.go("#logout")
        assert b.url == served.url + "/+tokens/login?done=logged-out"
        assert "You have logged out." in b.text
        b.shot("logged-out")
        b.get(served.url + "/+tokens")
        assert b.url == served.url + "/+tokens/login"

    log = served.log_text()
    assert raw[5:] not in log and PASSWORDS["alice"] not in log


def test_projects_and_indexes_pages(served: Served) -> None:
    with browser(f"{served.kind}-projects") as b:
        log_in(b, served, "alice")
        b.go("nav a[href$='/+tokens/projects']")
        if served.kind == "devpi":
            assert b.find("h1").text == "Indexes"
            assert "alice/dev" in b.text and "tinypkg" in b.text
            b.shot("indexes")
            return
        assert b.find("h1").text == "Projects"
        b.shot("projects")
        b.go("a[href$='/+tokens/projects/tinypkg']")
        b.fill("#maintainer", "bob")
        b.go("#add-maintainer")
        assert "bob now maintains this project." in b.text, b.text
        assert "bob" in b.find("table.roles").text
        b.shot("project-with-maintainer")


def test_it_works_without_javascript(served: Served) -> None:
    """Scripts off: the page still logs in and makes a token; the copy button stays hidden
    (the token is in a field to select by hand)."""
    with browser(f"{served.kind}-nojs") as b:
        b.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        log_in(b, served, "bob")
        b.go("#new-token-link")
        b.fill("#description", "no script")
        b.go("#create")
        raw = b.find("#new-token").get_attribute("value")
        assert raw.startswith("pypi-")
        assert not b.find("#copy-token").is_displayed()
        b.shot("token-created-without-js")


def test_keyboard_only(served: Served) -> None:
    """The log-in form is usable with the keyboard alone: labelled fields, focus on the
    user name, Tab to the password, Enter to send."""
    from selenium.webdriver.common.keys import Keys

    with browser(f"{served.kind}-keyboard") as b:
        b.get(served.url + "/+tokens/login")
        for field in ("user", "password"):
            assert b.find(f"label[for={field}]").text in ("User name", "Password")
        active = b.driver.switch_to.active_element
        assert active.get_attribute("id") == "user"  # autofocus
        active.send_keys("bob", Keys.TAB)
        assert b.driver.switch_to.active_element.get_attribute("id") == "password"
        b.driver.switch_to.active_element.send_keys(PASSWORDS["bob"], Keys.ENTER)
        wait_for(lambda: b.url == served.url + "/+tokens", "the log-in")
        assert b.find("#who").text == "bob"
