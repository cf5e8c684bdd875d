"""What a security team checks on the token page, in-process (the same checks run against
both real servers in ``tests/e2e/test_token_page_security.py``).

Every refusal is paired with the same request done right (the control), so no check can
pass by refusing everything.
"""

from __future__ import annotations

import hashlib
import logging
import time

import pytest
from pypitoken_web._session import (
    ADDRESS_LIMIT,
    IDLE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    USER_LIMIT,
    WINDOW,
    session_key,
)

from pypitoken_core.store import PageSession
from tests.web.conftest import PASSWORDS, Client, Web, make_web

NEW_TOKEN = {"description": "ci", "scope": "all", "expires": "7d", "action": ["upload"]}


def tokens_of(web: Web, user: str) -> list[str]:
    return [t.id for t in web.service.list_tokens(user)]


# -- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/+tokens/login", "/+tokens", "/+tokens/new", "/+tokens/projects",
     "/+tokens/projects/tinypkg", "/+tokens/static/copy.js", "/+tokens/static/style.css",
     "/+tokens/nothing-here"],
)  # fmt: skip
def test_every_answer_has_the_security_headers(web: Web, path: str) -> None:
    client = web.logged_in("alice")
    answer = client.get(path)
    assert answer.header("Cache-Control") == "no-store"
    csp = answer.header("Content-Security-Policy") or ""
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert answer.header("X-Content-Type-Options") == "nosniff"
    assert answer.header("X-Frame-Options") == "DENY"
    assert answer.header("Referrer-Policy") == "no-referrer"
    if answer.header(
        "Content-Type",
    ) and "html" in (answer.header("Content-Type") or ""):
        assert "<script>" not in answer.body and " on" + "click=" not in answer.body


def test_pages_have_no_inline_script_or_style(web: Web) -> None:
    client = web.logged_in("root")
    created = client.post("/+tokens/new", {**NEW_TOKEN, "csrf": client.csrf("/+tokens/new")})
    for page in (client.get("/+tokens"), client.get("/+tokens/new"), created,
                 client.get("/+tokens/projects/tinypkg")):  # fmt: skip
        assert page.status == 200
        assert "<script>" not in page.body and "<style" not in page.body
        assert " style=" not in page.body and " onclick" not in page.body.lower()


def test_cookies_are_http_only_same_site_strict_and_scoped(web: Web) -> None:
    client = web.client()
    login_page = client.get("/+tokens/login")
    (login_cookie,) = login_page.cookies()
    assert login_cookie.startswith(LOGIN_COOKIE + "=")
    answer = client.post(
        "/+tokens/login", {"csrf": login_page.csrf(), "user": "alice", "password": "alice-pw"}
    )
    session = next(c for c in answer.cookies() if c.startswith(SESSION_COOKIE + "="))
    for cookie in (login_cookie, session):
        assert "; HttpOnly" in cookie and "; SameSite=Strict" in cookie
        assert "; Path=/+tokens" in cookie
        assert "Secure" not in cookie  # plain http here: see the https test


@pytest.mark.parametrize(
    ("trust", "environ", "headers", "secure"),
    [
        (False, {"wsgi.url_scheme": "https"}, {}, True),
        (False, {}, {"X-Forwarded-Proto": "https"}, False),  # not trusted: ignored
        (True, {}, {"X-Forwarded-Proto": "https"}, True),
        (True, {}, {"X-Forwarded-Proto": "http"}, False),
        (False, {}, {}, False),
    ],
)
def test_secure_cookies_over_https(
    store, trust: bool, environ: dict[str, str], headers: dict[str, str], secure: bool
) -> None:
    web = make_web(store, trust_proxy_headers=trust)
    client = web.client(**environ)
    page = client.get("/+tokens/login", headers=headers)
    answer = client.post(
        "/+tokens/login",
        {"csrf": page.csrf(), "user": "alice", "password": "alice-pw"},
        headers=headers,
    )
    assert answer.status == 303
    for cookie in (*page.cookies(), *answer.cookies()):
        assert ("; Secure" in cookie) is secure, cookie


# -- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "", "wrong", "x" * 43])
def test_a_form_without_its_csrf_token_changes_nothing(web: Web, csrf: str | None) -> None:
    client = web.logged_in("alice")
    form = dict(NEW_TOKEN) if csrf is None else {**NEW_TOKEN, "csrf": csrf}
    answer = client.post("/+tokens/new", form)
    assert answer.status == 403
    assert "This form has expired. Go back, reload the page and try again." in answer.body
    assert tokens_of(web, "alice") == []
    # The control: the same form with the session's token.
    assert client.post("/+tokens/new", {**NEW_TOKEN, "csrf": client.csrf()}).status == 200
    assert len(tokens_of(web, "alice")) == 1


def test_every_form_of_the_page_carries_the_csrf_token(web: Web) -> None:
    client = web.logged_in("root")
    csrf = client.csrf()
    pages = [client.get(p).body for p in ("/+tokens", "/+tokens/new",
                                          "/+tokens/projects/tinypkg")]  # fmt: skip
    for body in pages:
        forms = body.split("<form")[1:]
        posts = [f for f in forms if 'method="post"' in f.split(">")[0]]
        assert posts
        for form in posts:
            assert f'name="csrf" value="{csrf}"' in form.split("</form>")[0]


def test_a_token_revoked_without_csrf_stays_valid(web: Web) -> None:
    client = web.logged_in("alice")
    _, record = web.service.mint("alice")
    assert client.post(f"/+tokens/revoke/{record.id}", {"csrf": "nope"}).status == 403
    assert not web.service.get_token(record.id).revoked
    done = client.post(f"/+tokens/revoke/{record.id}", {"csrf": client.csrf()})
    assert (done.status, done.location) == (303, f"/+tokens?revoked={record.id}")
    assert web.service.get_token(record.id).revoked


@pytest.mark.parametrize("sent", [None, "", "forged"])
def test_the_login_form_has_its_own_csrf(web: Web, sent: str | None) -> None:
    client = web.client()
    client.get("/+tokens/login")
    form = {"user": "alice", "password": "alice-pw"} | ({} if sent is None else {"csrf": sent})
    answer = client.post("/+tokens/login", form)
    assert answer.status == 403
    assert "This form has expired; please log in again." in answer.body
    assert SESSION_COOKIE not in client.jar
    # Another site's page cannot read the cookie: without it, even the right value fails.
    stranger = web.client()
    page = client.get("/+tokens/login")
    assert stranger.post("/+tokens/login", {**form, "csrf": page.csrf()}).status == 403
    assert web.checked == []  # no password was even checked
    assert client.post("/+tokens/login", {**form, "csrf": page.csrf()}).status == 303


# -- sessions -----------------------------------------------------------------------------


def plant(web: Web, user: str, *, created: int, last_seen: int, expires: int) -> Client:
    """A browser holding a session with these times, written straight into the store."""
    session_id = f"planted-{user}-{created}-{last_seen}-{expires}-session-id"
    web.store.add_session(
        PageSession(session_key(session_id), user, (), "csrf-planted", created, last_seen, expires),
        keep=10,
    )
    client = web.client()
    client.jar[SESSION_COOKIE] = session_id
    return client


@pytest.mark.parametrize("kind", ["ended", "idle", "unknown", "logged out"])
def test_a_stale_session_does_nothing(web: Web, kind: str) -> None:
    now = int(time.time())
    if kind == "ended":
        client = plant(web, "alice", created=now - 30_000, last_seen=now - 5, expires=now - 1)
    elif kind == "idle":
        client = plant(web, "alice", created=now - 3000, last_seen=now - IDLE - 1,
                       expires=now + 3600)  # fmt: skip
    elif kind == "unknown":
        client = web.client()
        client.jar[SESSION_COOKIE] = "this-session-id-was-never-given-out-by-the-page"
    else:
        client = web.logged_in("alice")
        old_cookie = client.jar[SESSION_COOKIE]
        assert client.post("/+tokens/logout", {"csrf": client.csrf()}).status == 303
        assert SESSION_COOKIE not in client.jar  # cleared in the browser...
        client.jar[SESSION_COOKIE] = old_cookie  # ...and a copy of it is worthless
    for answer in (
        client.get("/+tokens"),
        client.post("/+tokens/new", {**NEW_TOKEN, "csrf": "csrf-planted"}),
    ):
        assert (answer.status, answer.location) == (303, "/+tokens/login")
    assert tokens_of(web, "alice") == []
    # The control: a live planted session works.
    live = plant(web, "alice", created=now - 60, last_seen=now - 60, expires=now + 3600)
    assert live.get("/+tokens").status == 200
    assert live.post("/+tokens/new", {**NEW_TOKEN, "csrf": "csrf-planted"}).status == 200


def test_the_store_keeps_only_the_hash_of_the_session_id(web: Web) -> None:
    client = web.logged_in("alice")
    session_id = client.jar[SESSION_COOKIE]
    assert web.store.get_session(session_id) is None
    stored = web.store.get_session(hashlib.sha256(session_id.encode()).hexdigest())
    assert stored is not None and stored.user == "alice"
    assert stored.expires - stored.created == 8 * 3600


def test_a_session_is_used_only_as_its_user(web: Web) -> None:
    """A cookie of bob's acts as bob, never as alice: alice's tokens stay hers."""
    _, alice_token = web.service.mint("alice", description="alice's")
    bob = web.logged_in("bob")
    page = bob.get("/+tokens")
    assert "alice&#39;s" not in page.body and alice_token.id not in page.body
    assert bob.get(f"/+tokens/revoke/{alice_token.id}").status == 404
    refused = bob.post(f"/+tokens/revoke/{alice_token.id}", {"csrf": bob.csrf()})
    assert refused.status == 404
    assert f"user &#39;bob&#39; has no API token &#39;{alice_token.id}&#39;" in refused.body
    assert not web.service.get_token(alice_token.id).revoked
    # The control: alice can.
    alice = web.logged_in("alice")
    assert alice.post(f"/+tokens/revoke/{alice_token.id}", {"csrf": alice.csrf()}).status == 303


def test_a_new_login_gets_a_new_session(web: Web) -> None:
    first = web.logged_in("alice")
    assert first.get("/+tokens/login").location == "/+tokens"  # already logged in
    second = web.logged_in("alice")
    assert second.jar[SESSION_COOKIE] != first.jar[SESSION_COOKIE]
    assert first.get("/+tokens").status == second.get("/+tokens").status == 200
    # A session id set before log-in (fixation) is never adopted.
    fixed = web.client()
    fixed.jar[SESSION_COOKIE] = "attacker-chosen-session-id-of-good-length"
    fixed.log_in("alice")
    assert fixed.jar[SESSION_COOKIE] != "attacker-chosen-session-id-of-good-length"


# -- logging in ---------------------------------------------------------------------------


def test_an_api_token_never_logs_in(web: Web) -> None:
    raw, _ = web.service.mint("alice")
    client = web.client()
    for user in ("alice", "__token__", ""):
        answer = client.log_in(user or "x", raw)
        assert answer.status in (400, 401), answer.body
        assert SESSION_COOKIE not in client.jar
    assert "API tokens cannot log in here; use your password." in client.log_in("alice", raw).body
    assert all(not password.startswith("pypi-") for _, password in web.checked)
    assert client.log_in("alice").status == 303  # the control


def test_a_password_that_merely_starts_like_a_token_logs_in(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is a token is told by its shape (``recognizes``), as the adapters tell it, not
    by its first five letters."""
    monkeypatch.setitem(PASSWORDS, "alice", "pypi-is-what-alice-chose")
    client = web.client()
    assert client.log_in("alice").status == 303
    assert SESSION_COOKIE in client.jar


def test_wrong_passwords_say_nothing_about_the_user(web: Web) -> None:
    client = web.client()
    known = client.log_in("alice", "wrong")
    unknown = client.log_in("nobody", "wrong")
    assert known.status == unknown.status == 401
    assert "Wrong user name or password." in known.body
    assert "Wrong user name or password." in unknown.body


def test_login_is_throttled_per_user(web: Web) -> None:
    client = web.client()
    for _ in range(USER_LIMIT):
        assert client.log_in("alice", "guess").status == 401
    checked = len(web.checked)
    locked = client.log_in("alice")  # even the right password: refused unchecked
    assert locked.status == 429
    assert "Too many failed log-ins for this user; try again in 15 minutes." in locked.body
    assert 0 < int(locked.header("Retry-After") or 0) <= WINDOW
    assert len(web.checked) == checked
    # Another user, from the same address, is not locked out.
    assert client.log_in("bob").status == 303


def test_login_is_throttled_per_address(web: Web) -> None:
    for n in range(ADDRESS_LIMIT):
        assert web.client().log_in(f"user{n}", "guess").status == 401
    locked = web.client().log_in("alice")
    assert locked.status == 429
    assert "Too many failed log-ins for this address" in locked.body
    elsewhere = web.client(REMOTE_ADDR="10.0.0.2")
    assert elsewhere.log_in("alice").status == 303


def test_the_throttle_ends_with_its_window(web: Web) -> None:
    long_ago = int(time.time()) - WINDOW - 1
    for _ in range(USER_LIMIT + 3):
        web.store.note_login_failure(["user:alice", "addr:10.0.0.1"], long_ago, WINDOW, 100)
    assert web.client().log_in("alice").status == 303


def test_a_successful_login_clears_the_users_count_not_the_addresss(web: Web) -> None:
    client = web.client()
    for _ in range(USER_LIMIT - 1):
        client.log_in("alice", "guess")
    assert client.log_in("alice").status == 303
    assert web.store.login_failures("user:alice") is None
    failures = web.store.login_failures("addr:10.0.0.1")
    assert failures is not None and failures.count == USER_LIMIT - 1


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"user": "alice"}, 400, "Enter your user name and password."),
        ({"user": "a" * 201, "password": "x"}, 400, "That is not a user name and password."),
        ({"user": "alice", "password": "x" * 1025}, 400, "That is not a user name and password."),
    ],
)
def test_odd_login_forms(web: Web, form: dict[str, str], status: int, message: str) -> None:
    client = web.client()
    answer = client.post("/+tokens/login", {**form, "csrf": client.get("/+tokens/login").csrf()})
    assert (answer.status, message in answer.body) == (status, True)
    assert web.checked == []


# -- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/+tokens/projects/tinypkg/maintainers", {"user": "root"},
         "user bob does not own project &#39;tinypkg&#39;"),
        ("/+tokens/projects/tinypkg/maintainers/remove", {"user": "carol"},
         "user bob does not own project &#39;tinypkg&#39;"),
        ("/+tokens/projects/tinypkg/transfer", {"user": "bob", "confirm": "yes"},
         "user bob does not own project &#39;tinypkg&#39;"),
        ("/+tokens/projects/tinypkg/remove", {"confirm": "yes"},
         "only administrators remove projects"),
    ],
)  # fmt: skip
def test_a_maintainer_cannot_do_what_owners_do(
    web: Web, path: str, form: dict[str, str], message: str
) -> None:
    bob = web.logged_in("bob")
    page = bob.get("/+tokens/projects/tinypkg")
    assert "Add a maintainer" not in page.body and "Transfer ownership" not in page.body
    answer = bob.post(path, {**form, "csrf": bob.csrf()})
    assert answer.status == 403 and message in answer.body
    roles = web.service.list_roles(web.service.get_project("tinypkg"))
    assert roles == [("alice", "Owner"), ("bob", "Maintainer"), ("carol", "Maintainer")]
    # The control: the owner may (the administrator for the removal).
    owner = web.logged_in("root" if path.endswith("/remove") else "alice")
    assert owner.post(path, {**form, "csrf": owner.csrf()}).status == 303


def test_a_transfer_needs_its_confirmation(web: Web) -> None:
    alice = web.logged_in("alice")
    form = {"user": "bob", "csrf": alice.csrf()}
    answer = alice.post("/+tokens/projects/tinypkg/transfer", form)
    assert answer.status == 400 and "Tick the box to confirm the transfer." in answer.body
    done = alice.post("/+tokens/projects/tinypkg/transfer", {**form, "confirm": "yes"})
    assert done.location == "/+tokens/projects/tinypkg?done=transferred&who=bob"
    assert "This project now belongs to bob." in alice.get(done.location).body


def test_an_administrator_sees_and_revokes_every_token(web: Web) -> None:
    _, alice_token = web.service.mint("alice", description="alice ci")
    root = web.logged_in("root")
    page = root.get("/+tokens")
    assert "Every user's API tokens" in page.body and alice_token.id in page.body
    assert root.post(f"/+tokens/revoke/{alice_token.id}", {"csrf": root.csrf()}).status == 303
    assert web.service.get_token(alice_token.id).revoked
    assert "Every user" not in web.logged_in("alice").get("/+tokens").body


# -- nothing secret in a URL or a log line --------------------------------------------------


def test_nothing_secret_in_any_url_or_log_line(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = web.client()
    urls: list[str] = []
    login = client.log_in("alice")
    urls.append(login.location or "")
    created = client.post("/+tokens/new", {**NEW_TOKEN, "csrf": client.csrf()})
    raw = created.body.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert raw.startswith("pypi-")
    assert created.location is None  # shown in the answer to the POST, not redirected to
    token_id = web.service.list_tokens("alice")[0].id
    revoked = client.post(f"/+tokens/revoke/{token_id}", {"csrf": client.csrf()})
    urls.append(revoked.location or "")
    page = client.get(revoked.location or "")
    urls += [h.split('"')[0] for h in page.body.split('href="')[1:]]
    urls += [a.split('"')[0] for a in page.body.split('action="')[1:]]
    logout = client.post("/+tokens/logout", {"csrf": client.csrf()})
    urls.append(logout.location or "")
    session_ids = [v for c in login.cookies() if (v := c.split("=")[1].split(";")[0])]
    secrets_seen = [raw, raw[5:40], PASSWORDS["alice"], *session_ids]
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "alice logged in to the token page" in logs  # the log is there, and clean
    for secret in secrets_seen:
        for url in urls:
            assert secret not in url
        assert secret not in logs
    assert raw not in page.body  # the token list never shows the token


# -- reading requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"csrf=x&csrf=y&description=a", "application/x-www-form-urlencoded", 400,
         "the form gives &#39;csrf&#39; more than once"),
        (b"x" * 20_000, "application/x-www-form-urlencoded", 413, "the form is too large"),
        (b'{"description": "a"}', "application/json", 415,
         "this form must be sent as a web form"),
        (b"description=%FF", "application/x-www-form-urlencoded", 400,
         "the form cannot be read"),
        (b"description=\xff", "application/x-www-form-urlencoded", 400,
         "the form cannot be read"),
        (b"&".join(b"f%d=1" % n for n in range(600)), "application/x-www-form-urlencoded", 400,
         "the form cannot be read"),
    ],
)  # fmt: skip
def test_forms_that_cannot_be_read(
    web: Web, body: bytes, content_type: str, status: int, message: str
) -> None:
    client = web.logged_in("alice")
    answer = client.post("/+tokens/new", body=body, content_type=content_type)
    assert (answer.status, message in answer.body) == (status, True), answer.body
    assert tokens_of(web, "alice") == []


def test_methods_and_unknown_pages(web: Web) -> None:
    client = web.logged_in("alice")
    spoof = client.get("/+tokens?revoked=All%20your%20tokens%20were")
    assert spoof.status == 200 and "All your tokens were" not in spoof.body
    token_id = "0b1f7f0e-4c9e-4a53-9a53-1f2b4f0c9d11"
    assert f"API token {token_id} revoked." in client.get(f"/+tokens?revoked={token_id}").body
    assert client.request("DELETE", "/+tokens").status == 405
    assert client.get("/+tokens/nothing").status == 404
    assert client.get("/+tokens/static/../../etc/passwd").status == 404
    assert client.get("/+tokens/static/copy.js").header("Content-Type") == (
        "text/javascript; charset=utf-8")  # fmt: skip
