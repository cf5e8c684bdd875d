"""The token page's security checks against both real servers (the full set runs
in-process in ``tests/web/test_security.py``): headers, CSRF, stale and foreign sessions,
tokens as a login, a maintainer's limits, throttling, and no secret in a URL or the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.page_client import Reply, call, csrf_of, log_in
from tests.e2e.servers import PASSWORDS, Served, serve

pytestmark = pytest.mark.e2e

NEW = {"description": "sec", "scope": "all", "expires": "1d", "action": "upload"}


@pytest.fixture(scope="module", params=["pypiserver", "devpi"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve(request.param, tmp_path_factory.mktemp(f"sec-{request.param}")) as index:
        yield index


def session(served: Served, user: str) -> dict[str, str]:
    reply, cookies = log_in(served.url, user, PASSWORDS[user])
    assert reply.status == 303 and cookies, reply.body
    return cookies


def token_ids(served: Served, user: str) -> list[str]:
    answer = served.call("GET", "/+api-tokens", user=user)
    return [t["id"] for t in answer.body["result"]["tokens"] if not t["revoked"]]


def test_headers_and_cookies(served: Served) -> None:
    login_page = call(served.url, "GET", "/+tokens/login", {})
    reply, cookies = log_in(served.url, "alice", PASSWORDS["alice"])
    pages: list[Reply] = [login_page, reply]
    for path in ("/+tokens", "/+tokens/new", "/+tokens/projects", "/+tokens/static/copy.js"):
        pages.append(call(served.url, "GET", path, cookies))
    for page in pages:
        assert page.header("Cache-Control") == "no-store"
        csp = page.header("Content-Security-Policy") or ""
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert page.header("X-Frame-Options") == "DENY"
        assert page.header("X-Content-Type-Options") == "nosniff"
    for cookie in (*login_page.set_cookies(), *reply.set_cookies()):
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/+tokens" in cookie


def test_csrf_missing_or_wrong(served: Served) -> None:
    cookies = session(served, "bob")
    before = token_ids(served, "bob")
    for form in (NEW, {**NEW, "csrf": "wrong"}):
        assert call(served.url, "POST", "/+tokens/new", cookies, form).status == 403
    assert token_ids(served, "bob") == before
    csrf = csrf_of(call(served.url, "GET", "/+tokens", cookies))
    assert call(served.url, "POST", "/+tokens/new", cookies, {**NEW, "csrf": csrf}).status == 200
    assert len(token_ids(served, "bob")) == len(before) + 1


def test_a_stale_session_and_a_logged_out_one(served: Served) -> None:
    stale = {"pypitoken_session": "a-session-id-this-server-never-gave-anyone"}
    assert call(served.url, "GET", "/+tokens", stale).header("Location").endswith("/+tokens/login")
    cookies = session(served, "alice")
    csrf = csrf_of(call(served.url, "GET", "/+tokens", cookies))
    assert call(served.url, "POST", "/+tokens/logout", cookies, {"csrf": csrf}).status == 303
    after = call(served.url, "POST", "/+tokens/new", cookies, {**NEW, "csrf": csrf})
    assert after.status == 303 and after.header("Location").endswith("/+tokens/login")


def test_another_users_cookie_acts_as_that_user_only(served: Served) -> None:
    alice_id, _ = served.mint("alice")
    bob = session(served, "bob")
    csrf = csrf_of(call(served.url, "GET", "/+tokens", bob))
    refused = call(served.url, "POST", f"/+tokens/revoke/{alice_id}", bob, {"csrf": csrf})
    assert refused.status == 404
    assert alice_id in token_ids(served, "alice")


def test_a_token_is_no_login(served: Served) -> None:
    _, raw = served.mint("alice")
    for user in ("alice", "__token__"):
        reply, cookies = log_in(served.url, user, raw)
        assert reply.status == 401 and not cookies
        assert "API tokens cannot log in here; use your password." in reply.body


def test_a_maintainer_tries_owner_actions(served: Served) -> None:
    """pypiserver: bob maintains tinypkg and may not manage it. devpi keeps no projects
    of its own here: the page has no such forms (its indexes' ACLs are devpi's)."""
    if served.kind == "pypiserver":
        served.call("POST", "/+api-projects/tinypkg/maintainers", user="alice",
                    data={"user": "bob"})  # fmt: skip
    bob = session(served, "bob")
    csrf = csrf_of(call(served.url, "GET", "/+tokens", bob))
    for path, form in (
        ("/+tokens/projects/tinypkg/transfer", {"user": "bob", "confirm": "yes"}),
        ("/+tokens/projects/tinypkg/maintainers", {"user": "root"}),
    ):
        reply = call(served.url, "POST", path, bob, {**form, "csrf": csrf})
        assert reply.status == (403 if served.kind == "pypiserver" else 404), reply.body
    if served.kind == "pypiserver":
        roles = served.call("GET", "/+api-projects/tinypkg", user="alice").body["result"]["roles"]
        assert {r["user"]: r["role"] for r in roles} == {"alice": "Owner", "bob": "Maintainer"}


def test_login_throttle(served: Served) -> None:
    for _ in range(5):
        assert log_in(served.url, "root", "guess")[0].status == 401
    locked, cookies = log_in(served.url, "root", PASSWORDS["root"])
    assert locked.status == 429 and not cookies
    assert re.search(
        r"Too many failed log-ins for this user; try again in \d+ minutes", locked.body
    )
    assert int(locked.header("Retry-After") or 0) > 0


def test_nothing_secret_in_a_url_or_the_log(served: Served, tmp_path: Path) -> None:
    reply, cookies = log_in(served.url, "alice", PASSWORDS["alice"])
    csrf = csrf_of(call(served.url, "GET", "/+tokens", cookies))
    created = call(served.url, "POST", "/+tokens/new", cookies, {**NEW, "csrf": csrf})
    raw = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', created.body)
    assert raw is not None and created.header("Location") is None
    urls = [reply.header("Location") or ""]
    urls += re.findall(r'(?:href|action)="([^"]+)"', created.body)
    log = served.log_text()
    for secret in (raw.group(1), raw.group(1)[5:45], PASSWORDS["alice"],
                   cookies["pypitoken_session"]):  # fmt: skip
        assert all(secret not in url for url in urls)
        assert secret not in log
