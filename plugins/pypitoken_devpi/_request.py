"""Pure request -> token / project / action extraction for the devpi hooks.

Nothing here checks a token: these functions only find the raw token a client sent and
describe what the request is doing, so that the service can decide.
"""

from __future__ import annotations

import json
from typing import Any

from pypitoken_core.names import normalize

__all__ = [
    "ALWAYS_DENIED",
    "PERMISSIONS",
    "extract_token",
    "method_action",
    "request_project",
    "sanitize_reason",
]

#: devpi permissions per token action. ``pypi_submit`` is devpi's old name for ``upload``
#: and still granted alongside it, so it must be denied alongside it too.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "upload": ("upload", "pypi_submit", "toxresult_upload"),
    "download": ("pkg_read",),
    "delete": ("del_entry", "del_project", "del_verdata"),
}

#: Permissions a token identity never has, whatever the token says: user management and
#: index configuration need the owner's own login.
ALWAYS_DENIED: tuple[str, ...] = (
    "user_login",
    "user_create",
    "user_modify",
    "user_modify_password",
    "user_delete",
    "index_create",
    "index_modify",
    "index_delete",
)

#: Basic-auth user name that marks the password as an API token, as on pypi.org.
TOKEN_USERNAME = "__token__"  # noqa: S105 (a user name, not a password)


def extract_token(
    request: Any, credentials: tuple[str, str] | None, prefix: str
) -> tuple[str, str | None] | None:
    """Return ``(raw token, claimed owner or None)`` if the client sent one of our tokens.

    Accepted forms: ``Authorization: Bearer <token>``, and as Basic or ``X-Devpi-Auth``
    credentials ``__token__:<token>``, ``:<token>``, ``<token>:`` and ``<owner>:<token>``.
    Only strings starting with ``<prefix>-`` qualify; anything else returns None so that
    passwords, devpi logins and other token plugins keep working.
    """
    marker = f"{prefix}-"
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer":
        value = value.strip()
        return (value, None) if value.startswith(marker) else None
    if not credentials or len(credentials) != 2:
        return None
    user, password = (c if isinstance(c, str) else "" for c in credentials)
    if password.startswith(marker):
        return (password, None if user in ("", TOKEN_USERNAME) else user)
    if password == "" and user.startswith(marker):
        return (user, None)
    return None


def method_action(method: str) -> str:
    """Return the token action a request method implies, for choosing a denial reason."""
    if method == "DELETE":
        return "delete"
    if method in ("POST", "PUT", "PATCH", "PUSH"):
        return "upload"
    return "download"


#: devpi's routes for uploads (multipart with ``:action``) and pushes (a JSON body).
_SUBMIT_ROUTES = frozenset({"/{user}/{index}", "/{user}/{index}/"})


def request_project(request: Any, xom: Any) -> str | None:
    """Return the normalised project a request acts on, or None if it names none.

    Sources: on the index routes, the upload form's ``name`` (twine, ``:action``
    requests) or the JSON body's ``name`` (``devpi push``); elsewhere the route's
    ``project``, and for file routes (``+f``/``+e``: downloads, tox results, deletions)
    the project devpi recorded for the file.
    """
    route = getattr(request.matched_route, "name", None)
    if route in _SUBMIT_ROUTES and request.method in ("POST", "PUSH"):
        content_type = (request.content_type or "").lower()
        if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            name = request.POST.get("name") if ":action" in request.POST else None
        else:
            name = _json_name(request)
        return normalize(name) if isinstance(name, str) and name else None
    matchdict = request.matchdict or {}
    project = matchdict.get("project")
    if isinstance(project, str) and project.strip("/"):
        return normalize(project.strip("/"))
    if "relpath" in matchdict:
        entry = xom.filestore.get_file_entry(request.path_info.strip("/"))
        project = None if entry is None else entry.project
        if isinstance(project, str) and project:
            return normalize(project)
    return None


def _json_name(request: Any) -> str | None:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    name = body.get("name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def sanitize_reason(reason: str, limit: int = 400) -> str:
    """Make ``reason`` safe for an HTTP reason phrase: printable ASCII, one line, bounded."""
    text = "".join(ch if " " <= ch <= "~" else " " for ch in reason)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
