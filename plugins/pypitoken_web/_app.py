"""The token page: one WSGI application that pypiserver and devpi both mount at ``/+tokens``.

An adapter describes its index with a :class:`Site` (how to check a password, who is an
administrator, where uploads go) and passes every request under ``/+tokens`` to
:class:`TokenPages`. Everything a page changes goes through the core's token API
(:class:`pypitoken_core.api.TokenAPI`), the same code that answers the JSON API, so the
page and the API can never disagree. Each page is a handler in :data:`ROUTES` and a
template; a new section (say, trusted publishers) is one more handler, template and entry
in :data:`SECTIONS`.

Every answer carries ``Cache-Control: no-store`` and a Content-Security-Policy that
allows only this site's own script and style sheet (no inline script); nothing secret is
ever in a URL (a new token is shown in the answer to the POST that created it, never
stored, never redirected to); every form carries a CSRF token; pages work without
JavaScript (the copy buttons appear only with it).
"""

from __future__ import annotations

import datetime
import hmac
import importlib.metadata
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jinja2

from pypitoken_core.api import Caller, Reply, TokenAPI
from pypitoken_core.display import iso
from pypitoken_core.store import PageSession, PageSessions

from ._http import BadRequest, PageRequest, Response, redirect
from ._session import LOGIN_COOKIE, SESSION_COOKIE, Gate, cookie, new_login_token

__all__ = ["ROUTES", "SECTIONS", "IndexView", "Site", "TokenPages", "Urls"]

log = logging.getLogger("pypitoken_web")

#: The headers of every answer of the page.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)

_MAX_USER = 200
_MAX_PASSWORD = 1024
_STATIC = {"copy.js": "text/javascript", "style.css": "text/css"}
_DAY = 86400
#: Expiry presets of the token form: (value, label, seconds).
PRESETS: tuple[tuple[str, str, int], ...] = (
    ("1d", "1 day", _DAY),
    ("7d", "7 days", 7 * _DAY),
    ("30d", "30 days", 30 * _DAY),
    ("90d", "90 days", 90 * _DAY),
    ("365d", "1 year", 365 * _DAY),
)
_SPLIT = re.compile(r"[\s,]+")
_TOKEN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class Urls:
    """Where a token is used: the upload URL (twine, uv) and the simple index (pip)."""

    upload: str
    simple: str


@dataclass(frozen=True, slots=True)
class IndexView:
    """An index as the page shows it (devpi): who may upload, what it holds."""

    name: str
    owner: str
    kind: str
    acl_upload: tuple[str, ...]
    bases: tuple[str, ...]
    projects: tuple[str, ...]
    may_upload: bool


@dataclass(frozen=True)
class Site:
    """What an index tells the page.

    ``api`` gives this process's token API; ``sessions`` the store of page sessions.
    ``check_password(environ, user, password)`` returns the user's groups when the index
    accepts the password (never for an API token), else None. ``is_admin(user, groups)``
    decides, on every request, whether the user is a token administrator. ``urls(base,
    index)`` says where a token is used (``index`` is a ``user/index`` or None).
    ``indexes(user, groups)`` lists the indexes the page shows (devpi; None where
    projects are managed here). ``passwords`` is False when the index has no password users at all.
    ``trust_proxy_headers``: read https and the client address from the proxy's
    X-Forwarded-Proto and X-Forwarded-For. ``client_address(environ)``: the client's
    address as the index itself reads it (devpi: X-Real-IP from its proxy), for the log-in
    throttle and the log; it wins over ``trust_proxy_headers``.
    """

    name: str
    api: Callable[[], TokenAPI]
    sessions: Callable[[], PageSessions]
    check_password: Callable[[Mapping[str, Any], str, str], tuple[str, ...] | None]
    is_admin: Callable[[str, tuple[str, ...]], bool]
    urls: Callable[[str, str | None], Urls]
    indexes: Callable[[str, tuple[str, ...]], Sequence[IndexView]] | None = None
    passwords: bool = True
    trust_proxy_headers: bool = False
    client_address: Callable[[Mapping[str, Any]], str] | None = None
    login_hint: str = ""


@dataclass
class Page:
    """One request to the page, with the site and (once logged in) the session."""

    site: Site
    request: PageRequest
    session: PageSession | None = None
    _gate: Gate | None = field(default=None, repr=False)
    _api: TokenAPI | None = field(default=None, repr=False)

    @property
    def gate(self) -> Gate:
        """Sessions and the log-in throttle, over the site's store (opened on first use)."""
        if self._gate is None:
            self._gate = Gate(self.site.sessions())
        return self._gate

    @property
    def api(self) -> TokenAPI:
        """This process's token API."""
        if self._api is None:
            self._api = self.site.api()
        return self._api

    @property
    def caller(self) -> Caller:
        """The logged-in user, as the API sees them; only handlers behind a log-in ask."""
        if self.session is None:
            raise RuntimeError("this page needs a logged-in user")
        user, groups = self.session.user, self.session.groups
        return Caller(user, self.site.is_admin(user, groups), groups)


Handler = Callable[[Page, "TokenPages", re.Match[str]], Response]


class TokenPages:
    """The token page's WSGI application (see the module docstring)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._templates = jinja2.Environment(
            loader=jinja2.PackageLoader("pypitoken_web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.filters["when"] = _when
        self._templates.filters["duration"] = _duration
        # Shown in every page's footer, so a user can tell an operator what runs.
        self._version = importlib.metadata.version("pypitoken-core")

    def __repr__(self) -> str:
        return f"<TokenPages {self.site.name}>"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = PageRequest(
            environ,
            trust_proxy_headers=self.site.trust_proxy_headers,
            client_address=self.site.client_address,
        )
        try:
            response = self._answer(request)
        except Exception as exc:  # never a traceback, never a credential in the log
            log.error(
                "pypitoken: the token page failed on %s: %s", request.method, type(exc).__name__
            )
            response = self._error(
                Page(self.site, request), 500, "Something went wrong; try again later."
            )
        for name, value in SECURITY_HEADERS:
            response.headers.append((name, value))
        return response(start_response)

    def _answer(self, request: PageRequest) -> Response:
        page = Page(self.site, request)
        gate = page.gate
        path = request.path.rstrip("/") or "/"
        for method, pattern, handler, login in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if request.method not in (method, "HEAD" if method == "GET" else method):
                continue
            try:
                if login:
                    page.session = gate.current(request)
                    if page.session is None:
                        return self._to_login(page)
                    if request.method == "POST" and not gate.csrf_ok(
                        page.session, _csrf_field(request)
                    ):
                        return self._error(
                            page,
                            403,
                            "This form has expired. Go back, reload the page and try again.",
                        )
                return handler(page, self, match)
            except BadRequest as exc:
                return self._error(page, exc.status, str(exc))
        if any(pattern.fullmatch(path) for _, pattern, _, _ in ROUTES):
            return self._error(page, 405, "This page does not take that method.")
        return self._error(page, 404, "There is no such page.")

    # -- rendering ---------------------------------------------------------------------

    def render(self, page: Page, template: str, status: int = 200, **context: Any) -> Response:
        session = page.session
        caller = page.caller if session is not None else None
        html = self._templates.get_template(template).render(
            site=self.site,
            request=page.request,
            url=page.request.url,
            user=None if caller is None else caller.name,
            admin=caller is not None and caller.admin,
            csrf=None if session is None else session.csrf,
            sections=[(s.key, s.path, s.label(page)) for s in SECTIONS if s.shown(page)],
            section=context.pop("section", None),
            version=self._version,
            **context,
        )
        return Response(status, html.encode(), [("Content-Type", "text/html; charset=utf-8")])

    def _error(self, page: Page, status: int, message: str) -> Response:
        return self.render(page, "message.html", status, title="Sorry", message=message)

    def _to_login(self, page: Page) -> Response:
        response = redirect(page.request.url("/+tokens/login"))
        if page.request.cookies.get(SESSION_COOKIE):
            response.header("Set-Cookie", cookie(SESSION_COOKIE, "", page.request, clear=True))
        return response

    def reply_error(self, page: Page, reply: Reply) -> Response:
        """An API refusal as a page."""
        return self._error(page, reply.status, reply.message or "The request was refused.")


# -- sections of the page ---------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """An entry of the page's navigation."""

    key: str
    path: str
    label: Callable[[Page], str]
    shown: Callable[[Page], bool] = lambda page: page.session is not None


#: The navigation, in order. A new section is an entry here plus its handlers in ROUTES.
SECTIONS: list[Section] = [
    Section("tokens", "/+tokens", lambda page: "API tokens"),
    Section(
        "projects",
        "/+tokens/projects",
        lambda page: "Projects" if page.site.indexes is None else "Indexes",
    ),
]


# -- handlers ---------------------------------------------------------------------------


def _csrf_field(request: PageRequest) -> str:
    return request.field("csrf")


def login_form(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    if page.gate.current(page.request) is not None:
        return redirect(page.request.url("/+tokens"))
    return _login_page(page, app, 200)


def _login_page(
    page: Page, app: TokenPages, status: int, error: str = "", user: str = ""
) -> Response:
    token = new_login_token()
    response = app.render(
        page, "login.html", status, title="Log in", error=error, login_csrf=token, name=user
    )
    return response.header("Set-Cookie", cookie(LOGIN_COOKIE, token, page.request))


def login(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    request = page.request
    sent = request.field("csrf")
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not _same(expected, sent):
        return _login_page(page, app, 403, "This form has expired; please log in again.")
    user, password = request.field("user").strip(), request.field("password")
    if not user or not password:
        return _login_page(page, app, 400, "Enter your user name and password.", user)
    if len(user) > _MAX_USER or not user.isprintable() or len(password) > _MAX_PASSWORD:
        return _login_page(page, app, 400, "That is not a user name and password.")
    locked = page.gate.locked(user, request.address)
    if locked is not None:
        minutes = max(1, -(-locked.retry_after // 60))
        log.warning(
            "pypitoken: page log-in of %r from %s refused: too many failures (%s)",
            user,
            request.address,
            locked.who,
        )
        response = _login_page(
            page,
            app,
            429,
            f"Too many failed log-ins for this {locked.who}; try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            user,
        )
        return response.header("Retry-After", str(locked.retry_after))
    # A token has our tokens' shape (nothing is looked up to tell): the same test the
    # adapters make, so a password that merely starts like one still logs in.
    is_token = page.api.service.recognizes(password)
    groups = None if is_token else page.site.check_password(request.environ, user, password)
    if groups is None:
        page.gate.failed(user, request.address)
        if is_token:
            log.info(
                "pypitoken: page log-in of %r from %s refused: an API token", user, request.address
            )
            message = "API tokens cannot log in here; use your password."
        else:
            log.info(
                "pypitoken: page log-in of %r from %s refused: wrong password",
                user,
                request.address,
            )
            message = "Wrong user name or password."
        return _login_page(page, app, 401, message, user)
    page.gate.succeeded(user)
    session_id, _ = page.gate.start(user, groups)
    log.info("pypitoken: %s logged in to the token page from %s", user, request.address)
    response = redirect(request.url("/+tokens"))
    response.header("Set-Cookie", cookie(SESSION_COOKIE, session_id, request))
    return response.header("Set-Cookie", cookie(LOGIN_COOKIE, "", request, clear=True))


def logout(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    session = page.session
    if session is None:
        return redirect(page.request.url("/+tokens/login"))
    page.gate.end(session)
    log.info("pypitoken: %s logged out of the token page", session.user)
    response = redirect(page.request.url("/+tokens/login", done="logged-out"))
    return response.header("Set-Cookie", cookie(SESSION_COOKIE, "", page.request, clear=True))


def tokens(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    caller = page.caller
    mine = page.api.list_tokens(caller)
    if mine.status != 200:
        return app.reply_error(page, mine)
    everyone: list[dict[str, Any]] | None = None
    shown_user = page.request.query_value("user") or ""
    if caller.admin:
        reply = (
            page.api.list_tokens(caller, user=shown_user)
            if shown_user
            else page.api.list_all_tokens(caller)
        )
        if reply.status != 200:
            return app.reply_error(page, reply)
        everyone = reply.result["tokens"]
    revoked = page.request.query_value("revoked")
    return app.render(
        page,
        "tokens.html",
        section="tokens",
        title="API tokens",
        tokens=mine.result["tokens"],
        everyone=everyone,
        shown_user=shown_user,
        notice=f"API token {revoked} revoked." if revoked and _TOKEN_ID.fullmatch(revoked) else "",
    )


def new_token_form(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    return _token_form(page, app, 200)


def _token_form(
    page: Page, app: TokenPages, status: int, error: str = "", form: Mapping[str, Any] | None = None
) -> Response:
    caller = page.caller
    limit = None if caller.admin else page.api.service.max_lifetime
    presets = [(v, label) for v, label, seconds in PRESETS if limit is None or seconds <= limit]
    projects: list[tuple[str, str]] = []
    indexes: list[IndexView] = []
    if page.site.indexes is None:
        reply = page.api.list_projects(caller)
        if reply.status == 200:
            projects = [(p["name"], p["role"]) for p in reply.result["projects"]]
    else:
        indexes = [i for i in _indexes(page) if i.may_upload]
    tomorrow = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
    default = (
        "30d" if any(v == "30d" for v, _ in presets) else (presets[-1][0] if presets else "date")
    )
    return app.render(
        page,
        "new.html",
        status,
        section="tokens",
        title="New API token",
        error=error,
        presets=presets,
        never=limit is None,
        limit=limit,
        projects=projects,
        indexes=indexes,
        free_projects=page.site.indexes is not None,
        tomorrow=tomorrow.isoformat(),
        allow_delete=page.api.service.allow_delete,
        form=form or {"expires": default, "scope": "all", "actions": ["upload", "download"]},
    )


def create_token(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    request = page.request
    description, scope = request.field("description").strip(), request.field("scope") or "all"
    picked, projects_text = request.fields("project"), request.field("projects_text")
    picked_indexes, actions = request.fields("index"), request.fields("action")
    expires_choice, expires_date = request.field("expires"), request.field("expires_date")
    # The form as sent, shown again with a refusal.
    form = {
        "description": description,
        "scope": scope,
        "projects": picked,
        "projects_text": projects_text,
        "indexes": picked_indexes,
        "actions": actions,
        "expires": expires_choice,
        "expires_date": expires_date,
    }
    body: dict[str, Any] = {"description": description, "actions": actions}
    if scope == "projects":
        projects = picked + [p for p in _SPLIT.split(projects_text) if p]
        if not projects:
            return _token_form(page, app, 400, "Pick at least one project, or all projects.", form)
        body["projects"] = projects
    if picked_indexes:
        body["indexes"] = picked_indexes
    expires = _form_expiry(expires_choice, expires_date)
    if isinstance(expires, str) and expires.startswith("!"):
        return _token_form(page, app, 400, expires[1:], form)
    if expires is not None:
        body["expires"] = expires
    reply = page.api.create_token(page.caller, body)
    if reply.status != 201:
        return _token_form(page, app, reply.status, reply.message or "Refused.", form)
    token = reply.result
    indexes = token["indexes"] or [i.name for i in _indexes(page) if i.may_upload][:1]
    urls = page.site.urls(request.base_url, indexes[0] if indexes else None)
    log.info("pypitoken: %s created API token %s on the token page", page.caller.name, token["id"])
    return app.render(
        page,
        "created.html",
        200,
        section="tokens",
        title="Your new API token",
        token=token,
        raw=token["token"],
        urls=urls,
        pip_url=_with_token(urls.simple, token["token"]),
        pypirc_name=_pypirc_name(page.site.name),
    )


def _indexes(page: Page) -> Sequence[IndexView]:
    """The indexes the site shows the logged-in user (none where it has none)."""
    if page.site.indexes is None or page.session is None:
        return []
    return page.site.indexes(page.session.user, page.session.groups)


def _form_expiry(choice: str, date: str) -> int | str | None:
    """The API's ``expires`` for the form's choice; a string starting with ``!`` is an
    error to show."""
    for value, _, seconds in PRESETS:
        if choice == value:
            return seconds
    if choice == "never":
        return None
    if choice == "date":
        try:
            day = datetime.date.fromisoformat(date)
        except ValueError:
            return "!Pick the date the token expires on."
        # The token works until the end of that day, UTC.
        end = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
        return (end + datetime.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    return "!Pick when the token expires."


def _with_token(url: str, raw: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"__token__:{raw}@{parts.netloc}"))


def _pypirc_name(site: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", site.lower()).strip("-") or "private"


def revoke_form(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    token = _find_token(page, match["id"])
    if token is None:
        return app._error(page, 404, "There is no such API token of yours.")
    return app.render(page, "revoke.html", section="tokens", title="Revoke API token", token=token)


def revoke(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    caller = page.caller
    reply = page.api.revoke_token(caller, match["id"])
    if reply.status != 200:
        return app.reply_error(page, reply)
    log.info("pypitoken: %s revoked API token %s on the token page", caller.name, match["id"])
    return redirect(page.request.url("/+tokens", revoked=match["id"]))


def _find_token(page: Page, token_id: str) -> dict[str, Any] | None:
    caller = page.caller
    reply = page.api.list_all_tokens(caller) if caller.admin else page.api.list_tokens(caller)
    if reply.status != 200:
        return None
    return next((t for t in reply.result["tokens"] if t["id"] == token_id), None)


def projects(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    caller = page.caller
    if page.site.indexes is not None:
        return app.render(
            page,
            "indexes.html",
            section="projects",
            title="Indexes",
            indexes=_indexes(page),
        )
    reply = page.api.list_all_projects(caller) if caller.admin else page.api.list_projects(caller)
    if reply.status != 200:
        return app.reply_error(page, reply)
    return app.render(
        page,
        "projects.html",
        section="projects",
        title="Projects",
        projects=reply.result["projects"],
    )


_NOTICES = {
    "added": "{who} now maintains this project.",
    "removed": "{who} no longer maintains this project.",
    "transferred": "This project now belongs to {who}.",
}


def project(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    if page.site.indexes is not None:
        return app._error(page, 404, "Projects live in indexes here; see Indexes.")
    reply = page.api.get_project(page.caller, match["name"])
    if reply.status != 200:
        return app.reply_error(page, reply)
    data = reply.result
    done, who = page.request.query_value("done"), page.request.query_value("who") or ""
    notice = _NOTICES[done].format(who=who[:_MAX_USER]) if done in _NOTICES else ""
    return app.render(
        page,
        "project.html",
        section="projects",
        title=data["name"],
        project=data,
        owner=data["role"] == "Owner" or page.caller.admin,
        notice=notice,
    )


def _project_change(
    page: Page,
    app: TokenPages,
    name: str,
    reply: Reply,
    done: str,
    who: str,
) -> Response:
    if reply.status != 200:
        return app.reply_error(page, reply)
    log.info("pypitoken: %s on the token page: %s", page.caller.name, reply.message)
    if done == "project-removed":
        return redirect(page.request.url("/+tokens/projects"))
    return redirect(page.request.url(f"/+tokens/projects/{name}", done=done, who=who))


def add_maintainer(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    who = page.request.field("user").strip()
    reply = page.api.add_maintainer(page.caller, match["name"], {"user": who})
    return _project_change(page, app, match["name"], reply, "added", who)


def remove_maintainer(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    who = page.request.field("user")
    reply = page.api.remove_maintainer(page.caller, match["name"], who)
    if reply.status == 200 and who == page.caller.name and not page.caller.admin:
        return redirect(page.request.url("/+tokens/projects"))  # left it: nothing to show
    return _project_change(page, app, match["name"], reply, "removed", who)


def transfer(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    who = page.request.field("user").strip()
    if page.request.field("confirm") != "yes":
        return app._error(page, 400, "Tick the box to confirm the transfer.")
    reply = page.api.transfer_project(page.caller, match["name"], {"user": who})
    return _project_change(page, app, match["name"], reply, "transferred", who)


def remove_project(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    if page.request.field("confirm") != "yes":
        return app._error(page, 400, "Tick the box to confirm the removal.")
    reply = page.api.remove_project(page.caller, match["name"])
    return _project_change(page, app, match["name"], reply, "project-removed", "")


def static(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    name = match["file"]
    if name not in _STATIC:
        return app._error(page, 404, "There is no such file.")
    data = resources.files("pypitoken_web").joinpath("static", name).read_bytes()
    return Response(200, data, [("Content-Type", f"{_STATIC[name]}; charset=utf-8")])


def _route(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_ID = r"(?P<id>[0-9a-f-]{36})"
_NAME = r"(?P<name>[A-Za-z0-9._-]{1,200})"

#: (method, path pattern, handler, needs a login). POSTs that need a login also need
#: the session's CSRF token; the log-in form checks its own.
ROUTES: list[tuple[str, re.Pattern[str], Handler, bool]] = [
    ("GET", _route(r"/\+tokens"), tokens, True),
    ("GET", _route(r"/\+tokens/login"), login_form, False),
    ("POST", _route(r"/\+tokens/login"), login, False),
    ("POST", _route(r"/\+tokens/logout"), logout, True),
    ("GET", _route(r"/\+tokens/new"), new_token_form, True),
    ("POST", _route(r"/\+tokens/new"), create_token, True),
    ("GET", _route(rf"/\+tokens/revoke/{_ID}"), revoke_form, True),
    ("POST", _route(rf"/\+tokens/revoke/{_ID}"), revoke, True),
    ("GET", _route(r"/\+tokens/projects"), projects, True),
    ("GET", _route(rf"/\+tokens/projects/{_NAME}"), project, True),
    ("POST", _route(rf"/\+tokens/projects/{_NAME}/maintainers"), add_maintainer, True),
    ("POST", _route(rf"/\+tokens/projects/{_NAME}/maintainers/remove"), remove_maintainer, True),
    ("POST", _route(rf"/\+tokens/projects/{_NAME}/transfer"), transfer, True),
    ("POST", _route(rf"/\+tokens/projects/{_NAME}/remove"), remove_project, True),
    ("GET", _route(r"/\+tokens/static/(?P<file>[a-z.]{1,20})"), static, False),
]


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _duration(seconds: int) -> str:
    """``seconds`` for people: the largest whole unit (``7 days``, ``1 hour``)."""
    for unit, size in (("day", _DAY), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _when(value: int | None, never: str = "never") -> str:
    return never if value is None else iso(value, spaced=True)
