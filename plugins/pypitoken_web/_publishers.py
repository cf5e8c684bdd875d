"""The page's trusted-publisher section: list, add (GitHub Actions, GitLab CI, any OIDC
issuer), remove.

A trusted publisher lets a CI workflow upload without a stored secret: the job's OIDC
token is exchanged at the index's ``/_/oidc/mint-token`` for a short-lived upload token
of the user who registered the publisher. Every change goes through the core's token
API (:meth:`pypitoken_core.api.TokenAPI.add_publisher` and friends), exactly as the JSON
API and the ``pypitoken publisher`` command do, so the same checks apply: the user must
be able to upload to the projects that exist (the others are pending, created by the
first publish), and on devpi to the index the publisher names. Importing this module
adds its section and routes to :data:`~pypitoken_web._app.SECTIONS` and
:data:`~pypitoken_web._app.ROUTES`.
"""

from __future__ import annotations

import re
from typing import Any

from ._app import _ID, _SPLIT, ROUTES, SECTIONS, Page, Section, TokenPages, _indexes, _route, log
from ._http import Response, redirect

__all__ = ["KINDS", "MULTILINE", "claims_from_text"]

#: The kinds the page registers, with the form's fields: (name, label, required, hint).
KINDS: dict[str, tuple[str, tuple[tuple[str, str, bool, str], ...]]] = {
    "github": (
        "GitHub Actions",
        (
            ("repository", "Repository", True, "OWNER/REPO"),
            ("workflow", "Workflow file", True, "release.yml, in .github/workflows/"),
            ("environment", "Environment", False, "optional: only jobs in this environment"),
            ("owner_id", "Owner id", False, "optional: GitHub's numeric id of the owner"),
            ("issuer", "Issuer", False, "optional: GitHub Enterprise Server's issuer URL"),
        ),
    ),
    "gitlab": (
        "GitLab CI",
        (
            ("project_path", "Project path", True, "NAMESPACE/PROJECT (subgroups allowed)"),
            ("ci_config", "CI file", True, ".gitlab-ci.yml"),
            ("environment", "Environment", False, "optional: only jobs in this environment"),
            ("issuer", "Issuer", False, "optional: a self-managed GitLab's URL"),
        ),
    ),
    "oidc": (
        "generic OIDC",
        (
            ("issuer", "Issuer", True, "its URL: Forgejo, Gitea, Buildkite, Keycloak, ..."),
            (
                "claims",
                "Claims",
                True,
                "one KEY=VALUE per line, each matched exactly, such as sub=...",
            ),
        ),
    ),
}
#: Fields typed as several lines (a textarea), read as KEY=VALUE pairs.
MULTILINE = frozenset({"claims"})
_NOTICES = {
    "added": "Trusted publisher {id} saved.",
    "removed": "Trusted publisher {id} removed; its tokens are revoked.",
}


def publishers(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    caller = page.caller
    mine = page.api.list_publishers(caller)
    if mine.status != 200:
        return app.reply_error(page, mine)
    everyone: list[dict[str, Any]] | None = None
    if caller.admin:
        reply = page.api.list_all_publishers(caller)
        if reply.status != 200:
            return app.reply_error(page, reply)
        everyone = reply.result["publishers"]
    notice = ""
    for done, text in _NOTICES.items():
        shown = page.request.query_value(done)
        if shown and re.fullmatch(_ID, shown):
            notice = text.format(id=shown)
    return app.render(
        page,
        "publishers.html",
        section="publishers",
        title="Trusted publishers",
        publishers=mine.result["publishers"],
        everyone=everyone,
        kinds=[(kind, label) for kind, (label, _) in KINDS.items()],
        audience=page.api.service.publisher_audience(),
        exchange=page.request.base_url + "/_/oidc/mint-token",
        notice=notice,
    )


def new_publisher_form(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    kind = match["kind"]
    defaults = {"ci_config": ".gitlab-ci.yml"} if kind == "gitlab" else {}
    return _form(page, app, kind, 200, "", defaults)


def _form(
    page: Page, app: TokenPages, kind: str, status: int, error: str, form: dict[str, str]
) -> Response:
    label, fields = KINDS[kind]
    indexes = [i.name for i in _indexes(page) if i.may_upload]
    return app.render(
        page,
        "publisher_new.html",
        status,
        section="publishers",
        title=f"New trusted publisher: {label}",
        kind=kind,
        fields=fields,
        multiline=MULTILINE,
        indexes=indexes,
        has_indexes=page.site.indexes is not None,
        error=error,
        form=form,
    )


def add_publisher(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    kind = match["kind"]
    request = page.request
    _, fields = KINDS[kind]
    form = {name: request.field(name).strip() for name, _, _, _ in fields}
    form["projects"] = request.field("projects")
    form["index"] = request.field("index")
    body: dict[str, Any] = {
        name: form[name] for name, _, _, _ in fields if form[name] and name not in MULTILINE
    }
    if "claims" in form:
        claims = claims_from_text(form["claims"])
        if isinstance(claims, str):
            return _form(page, app, kind, 400, claims, form)
        body["claims"] = claims
    body["kind"] = kind
    body["projects"] = [p for p in _SPLIT.split(form["projects"]) if p]
    if page.site.indexes is not None:
        body["index"] = form["index"]
    reply = page.api.add_publisher(page.caller, body)
    if reply.status != 201:
        return _form(page, app, kind, reply.status, reply.message or "Refused.", form)
    log.info(
        "pypitoken: %s saved trusted publisher %s on the token page",
        page.caller.name,
        reply.result["id"],
    )
    return redirect(request.url("/+tokens/publishers", added=reply.result["id"]))


def claims_from_text(text: str) -> dict[str, str] | str:
    """The claims typed on the form, one ``KEY=VALUE`` per line (blank lines skipped), or
    why they cannot be read. The values are the core's to check (names, lengths, claims
    every token is checked for)."""
    claims: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or not key:
            return f"claims: line {number} is not KEY=VALUE"
        if key in claims:
            return f"claims: {key[:100]!r} is given twice"
        claims[key] = value.strip()
    return claims


def _find(page: Page, publisher_id: str) -> dict[str, Any] | None:
    caller = page.caller
    api = page.api
    reply = api.list_all_publishers(caller) if caller.admin else api.list_publishers(caller)
    if reply.status != 200:
        return None
    return next((p for p in reply.result["publishers"] if p["id"] == publisher_id), None)


def remove_publisher_form(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    publisher = _find(page, match["id"])
    if publisher is None:
        return app._error(page, 404, "There is no such trusted publisher of yours.")
    return app.render(
        page,
        "publisher_remove.html",
        section="publishers",
        title="Remove trusted publisher",
        publisher=publisher,
    )


def remove_publisher(page: Page, app: TokenPages, match: re.Match[str]) -> Response:
    reply = page.api.remove_publisher(page.caller, match["id"])
    if reply.status != 200:
        return app.reply_error(page, reply)
    log.info("pypitoken: %s on the token page: %s", page.caller.name, reply.message)
    return redirect(page.request.url("/+tokens/publishers", removed=match["id"]))


_KIND = r"(?P<kind>github|gitlab|oidc)"

SECTIONS.append(Section("publishers", "/+tokens/publishers", lambda page: "Trusted publishers"))
ROUTES.extend(
    [
        ("GET", _route(r"/\+tokens/publishers"), publishers, True),
        ("GET", _route(rf"/\+tokens/publishers/new/{_KIND}"), new_publisher_form, True),
        ("POST", _route(rf"/\+tokens/publishers/new/{_KIND}"), add_publisher, True),
        ("GET", _route(rf"/\+tokens/publishers/remove/{_ID}"), remove_publisher_form, True),
        ("POST", _route(rf"/\+tokens/publishers/remove/{_ID}"), remove_publisher, True),
    ]
)
