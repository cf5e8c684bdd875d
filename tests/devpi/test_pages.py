"""The token page on devpi, in-process: devpi's own identity logs in (password or devpi
login, never a token of any plugin), devpi's administrators are the page's, sessions live
in keyfs, and the page shows the indexes a user owns or may upload to."""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import Any

import pytest
from pypitoken_web._session import ADDRESS_LIMIT

from tests.e2e.devpi.conftest import PASSWORDS

from .conftest import App, MakeApp


class Browser:
    """Cookies kept by name, requests through devpi's WSGI app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.jar: dict[str, str] = {}

    def send(
        self, method: str, path: str, form: dict[str, str] | None = None, **extra: str
    ) -> Any:
        headers = {"Accept": "text/html", **extra}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None if form is None else urllib.parse.urlencode(form).encode()
        response = self.app.request(
            method, path, body=body, headers=headers,
            content_type="application/x-www-form-urlencoded" if form is not None else None,
        )  # fmt: skip
        for cookie in response.headers.getall("Set-Cookie"):
            name, _, rest = cookie.partition("=")
            if "Max-Age=0" in cookie:
                self.jar.pop(name, None)
            else:
                self.jar[name] = rest.split(";")[0]
        return response

    def csrf(self, path: str = "/+tokens") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.send("GET", path).text)
        assert found is not None
        return found.group(1)

    def log_in(self, user: str, password: str, **extra: str) -> Any:
        csrf = self.csrf("/+tokens/login")
        return self.send(
            "POST", "/+tokens/login", {"csrf": csrf, "user": user, "password": password}, **extra
        )


def test_devpis_password_and_devpi_login_log_in(app: App) -> None:
    browser = Browser(app)
    answer = browser.log_in("alice", PASSWORDS["alice"])
    assert answer.status_int == 303 and "pypitoken_session" in browser.jar
    assert '<span id="who">alice</span>' in browser.send("GET", "/+tokens").text
    # A devpi login (what `devpi login` keeps) is devpi's own identity too.
    login = app.request("POST", "/+login", json_body={"user": "bob", "password": "bobpw"})
    pseudo = login.json["result"]["password"]
    assert Browser(app).log_in("bob", pseudo).status_int == 303
    assert Browser(app).log_in("alice", "wrong").status_int == 401


def test_no_token_logs_in(app: App) -> None:
    """Ours (which devpi accepts as ``alice:<token>``) and devpi-tokens' alike."""
    _, ours = app.mint()
    created = app.request(
        "POST", "/alice/+token-create", json_body={"expires": int(time.time()) + 86400},
        auth=("alice", PASSWORDS["alice"]),
    )  # fmt: skip
    assert created.status_int == 200, created.text
    theirs = created.json["result"]["token"]
    for token in (ours, theirs):
        browser = Browser(app)
        answer = browser.log_in("alice", token)
        assert answer.status_int == 401 and "pypitoken_session" not in browser.jar
    assert "API tokens cannot log in here" in Browser(app).log_in("alice", ours).text
    assert Browser(app).log_in("alice", PASSWORDS["alice"]).status_int == 303  # the control


def test_the_throttle_counts_the_client_devpi_sees(app: App) -> None:
    """Behind devpi's nginx every request comes from the proxy: the page reads the client
    as devpi does (X-Real-IP), or one client's failures would lock everyone out."""
    browser = Browser(app)
    for n in range(ADDRESS_LIMIT):
        answer = browser.log_in(f"nobody{n % 4}", "wrong", **{"X-Real-IP": "192.0.2.1"})
        assert answer.status_int == 401
    locked = browser.log_in("alice", PASSWORDS["alice"], **{"X-Real-IP": "192.0.2.1"})
    assert locked.status_int == 429
    other = Browser(app).log_in("alice", PASSWORDS["alice"], **{"X-Real-IP": "192.0.2.2"})
    assert other.status_int == 303


def test_sessions_live_in_keyfs(app: App) -> None:
    browser = Browser(app)
    browser.log_in("alice", PASSWORDS["alice"])
    with app.xom.keyfs.read_transaction():
        config = app.xom.model.get_user("alice").key.get()
    (stored,) = config["pypitoken_sessions"].values()
    assert stored["csrf"] and browser.jar["pypitoken_session"] not in str(config)
    browser.send("POST", "/+tokens/logout", {"csrf": browser.csrf()})
    with app.xom.keyfs.read_transaction():
        assert app.xom.model.get_user("alice").key.get()["pypitoken_sessions"] == {}


@pytest.mark.parametrize(
    ("options", "admins"),
    [((), {"root"}), (("--restrict-modify", "alice"), {"alice"})],
    ids=["root", "restrict-modify"],
)
def test_devpis_administrators_are_the_pages(
    make_app: MakeApp, options: tuple[str, ...], admins: set[str]
) -> None:
    app = make_app(*options)
    _, _ = app.mint("bob")
    for user in ("root", "alice", "bob"):
        browser = Browser(app)
        assert browser.log_in(user, PASSWORDS[user]).status_int == 303
        page = browser.send("GET", "/+tokens").text
        assert ("Every user's API tokens" in page) is (user in admins), user
        # The API agrees: devpi's user_modify permission.
        api = app.request("GET", "/+api-tokens?user=bob", user=user)
        assert (api.status_int == 200) is (user in admins or user == "bob"), (user, api.status)


def test_the_indexes_page(app: App) -> None:
    body = {"bases": [], "volatile": True, "acl_upload": ["alice", "bob"]}
    assert app.request("PATCH", "/alice/other", json_body=body, user="alice").status_int == 200
    bob = Browser(app)
    bob.log_in("bob", PASSWORDS["bob"])
    page = bob.send("GET", "/+tokens/projects").text
    assert "<h1>Indexes</h1>" in page
    assert "alice/other" in page and "bob/dev" in page and "alice/dev" not in page
    form = bob.send("GET", "/+tokens/new").text
    assert 'value="alice/other"' in form and 'value="bob/dev"' in form
    assert bob.send("GET", "/+tokens/projects/tinypkg").status_int == 404


def test_the_maximum_lifetime_on_the_page(make_app: MakeApp) -> None:
    app = make_app("--pypitoken-max-expiry", "86400")
    alice, root = Browser(app), Browser(app)
    alice.log_in("alice", PASSWORDS["alice"])
    root.log_in("root", PASSWORDS["root"])
    alice_form = alice.send("GET", "/+tokens/new").text
    assert "Tokens on this server live at most 1 day." in alice_form
    assert 'value="7d"' not in alice_form and 'value="never"' not in alice_form
    assert 'value="never"' in root.send("GET", "/+tokens/new").text
    made = alice.send("POST", "/+tokens/new", {
        "csrf": alice.csrf(), "scope": "all", "expires": "1d", "action": "upload"})  # fmt: skip
    assert made.status_int == 200 and 'id="new-token"' in made.text
    refused = alice.send("POST", "/+tokens/new", {
        "csrf": alice.csrf(), "scope": "all", "expires": "365d", "action": "upload"})  # fmt: skip
    assert refused.status_int == 400
    assert "must expire within 86400 seconds" in refused.text
    # "never", which the form does not offer her, is the longest allowed, not forever.
    crafted = alice.send("POST", "/+tokens/new", {
        "csrf": alice.csrf(), "scope": "all", "expires": "never", "action": "upload"})  # fmt: skip
    assert crafted.status_int == 200 and "Expires: never" not in crafted.text
