"""Request -> token / project / action extraction for the devpi hooks.

Nothing here checks a token: these functions only find the raw token a client sent and
describe what the request asks devpi to do, so that the service can decide. They read a
request with devpi's own accessors and in devpi's own order (``PyPIView.pushrelease`` and
``PyPIView.submit`` in ``devpi_server/views.py``), so the project a token is checked
against is the project devpi then acts on; a request on the upload/push route that
cannot be read unambiguously that way raises :class:`Unreadable`, and the caller refuses
it for tokens.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

from devpi_common.validation import normalize_name
from webob import Request

from pypitoken_core.token import TOKEN_USERNAME

__all__ = [
    "ALWAYS_DENIED",
    "AUTHCHECK_ROUTE",
    "FILE_ACTIONS",
    "INDEX_ROUTES",
    "PERMISSIONS",
    "IndexWrite",
    "Unreadable",
    "extract_token",
    "is_index_write",
    "method_action",
    "read_authcheck",
    "read_index_write",
    "request_project",
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

#: devpi's routes whose POST and PUSH are ``pushrelease``: an upload form or a JSON push.
INDEX_ROUTES = frozenset({"/{user}/{index}", "/{user}/{index}/"})
#: devpi's route that answers whether a request to another URL would be allowed.
AUTHCHECK_ROUTE = "/+authcheck"
#: The content types webob parses into ``request.POST``, compared as webob compares them
#: (the raw type before ``;``, case and spaces included).
_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
#: ``devpi push`` sends a few hundred bytes; a token's push needs no more than this.
MAX_PUSH_BODY = 64 * 1024
#: The first byte of any JSON text (after whitespace): a cheap test before a full parse.
_JSON_START = frozenset(b'{["-0123456789tfn')
_ENVIRON_KEY = "pypitoken_devpi.index_write"
#: The form fields devpi reads as files: the distribution or documentation zip, and the
#: signature twine sends beside it (devpi ignores it). devpi reads every other field as
#: text, and answers a file there with a 500 (views.py: an AssertionError).
_FILE_FIELDS = frozenset({"content", "gpg_signature"})
#: The ``:action`` values that make devpi store the form's ``content``.
FILE_ACTIONS = frozenset({"file_upload", "doc_upload"})


class Unreadable(Exception):
    """A request on the upload/push route whose meaning is not certain; ``str`` says why."""


@dataclass(frozen=True, slots=True)
class IndexWrite:
    """What a POST or PUSH to ``/{user}/{index}/`` asks devpi to do, read as devpi reads it.

    ``kind`` is devpi's dispatch: ``"submit"`` (a form with ``:action``: upload, register,
    documentation) or ``"push"`` (a JSON body). ``project`` is normalised as devpi
    normalises it, ``version`` is the form's or the push's (None if the form has none).
    For a submit, ``action`` is the ``:action`` and ``filename`` the name the uploaded
    file was sent under (None without one). For a push, ``target`` is the ``user/index``
    of an internal push and ``posturl`` the server an external push (``target`` is None)
    sends the files to.
    """

    kind: Literal["submit", "push"]
    project: str
    target: str | None = None
    posturl: str | None = None
    version: str | None = None
    action: str | None = None
    filename: str | None = None

    @property
    def external(self) -> bool:
        """Whether devpi would send the release to another server (``posturl``)."""
        return self.kind == "push" and self.target is None


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


def is_index_write(request: Any) -> bool:
    """Tell whether ``request`` goes to devpi's ``pushrelease`` (POST/PUSH on an index)."""
    route = getattr(request.matched_route, "name", None)
    return route in INDEX_ROUTES and request.method in ("POST", "PUSH")


def read_index_write(request: Any) -> IndexWrite:
    """Read a POST/PUSH to an index as devpi's ``pushrelease`` will; raise Unreadable.

    devpi dispatches on ``request.POST.get(':action')`` (truthy: ``submit`` reads
    ``request.POST['name']``; else a push reads ``request.json_body``). This function
    does the same with the same accessors, and refuses what could be read two ways: no
    Content-Type, a charset other than UTF-8, a body that is a form and JSON at once,
    identifying fields given twice with different values, a push that is not a small
    JSON object naming a project and version. The answer is kept on the request, so
    every stage check of one request sees the same reading.
    """
    cached = request.environ.get(_ENVIRON_KEY)
    if cached is None:
        try:
            cached = _read(request)
        except Unreadable as exc:
            cached = str(exc)
        request.environ[_ENVIRON_KEY] = cached
    if isinstance(cached, str):
        raise Unreadable(cached)
    return cached


def _read(request: Any) -> IndexWrite:
    content_type = request.content_type
    if not content_type.strip():
        # With no type webob parses a POST body as a form, but not a PUSH body; the body
        # also may be JSON. Clients always say which they send.
        raise Unreadable("a request to an index needs a Content-Type")
    charset = request.charset
    if charset != "UTF-8":
        raise Unreadable(f"a token request must be UTF-8, not charset {charset[:40]!r}")
    form = _form(request)
    action = _single(form, ":action")
    if action:
        if _may_be_json(request):
            raise Unreadable("the body is both a form and JSON")
        name = _single(form, "name")
        if not name:
            raise Unreadable("the upload form names no project")
        return _submit(form, action, normalize_name(name))
    if len(form) and _may_be_json(request):
        raise Unreadable("the body is both a form and JSON")
    if content_type.strip().lower() != "application/json":
        raise Unreadable(
            "a push must be sent as application/json"
            if not len(form)
            else "an upload form needs ':action'"
        )
    return _push(request)


def _form(request: Any) -> Any:
    try:
        return request.POST
    except Exception as exc:  # webob's multipart parser raises what it likes on bad input
        raise Unreadable(f"the form could not be read ({type(exc).__name__})") from None


def _single(form: Any, field: str) -> str | None:
    """devpi's ``form[field]`` (the last value), once sure that every value agrees."""
    values = form.getall(field)
    if not all(isinstance(v, str) for v in values):
        raise Unreadable(f"the form field {field!r} must be text, not a file")
    if len(set(values)) > 1:
        raise Unreadable(f"the form gives {field!r} more than once, with different values")
    return form.get(field)


def _submit(form: Any, action: str, project: str) -> IndexWrite:
    """An upload form with ``:action``, as devpi's ``submit`` reads it, or Unreadable for
    the shapes devpi itself answers with a 500."""
    for field, value in form.items():
        if field not in _FILE_FIELDS and not isinstance(value, str):
            raise Unreadable(f"the form field {field[:40]!r} must be text, not a file")
    version = _single(form, "version") or None
    filename = None
    if action in FILE_ACTIONS:
        contents = form.getall("content")
        if len(contents) > 1:
            raise Unreadable("the form gives 'content' more than once")
        if contents:
            # webob hands a file part without a file name over as bytes, and devpi asks
            # it for its file name (an AttributeError)
            filename = getattr(contents[0], "filename", None)
            if not isinstance(filename, str) or not filename:
                raise Unreadable("the form field 'content' must be a file with a name")
        if version is None:
            # devpi: a 500 for a file (KeyError), a guessed version for documentation
            raise Unreadable(f"{action} needs the form field 'version'")
    return IndexWrite("submit", project, version=version, action=action, filename=filename)


def _may_be_json(request: Any) -> bool:
    """Whether the body would parse as JSON (what a push reads), in devpi's decoding.

    Costs at most one parse of :data:`MAX_PUSH_BODY` bytes: a larger body that starts
    like JSON counts as JSON (form clients never send one).
    """
    head = _head(request, MAX_PUSH_BODY + 1)
    start = head[:64].lstrip(b" \t\r\n")
    if (
        start
        and (
            start[0] not in _JSON_START
            or start.startswith(b"--")  # every multipart body ends here
            or (start[:1] in b"tfn" and not start.startswith((b"true", b"false", b"null")))
        )
    ):
        return False
    if len(head) > MAX_PUSH_BODY:
        return True
    try:
        json.loads(head.decode(request.charset))
    except RecursionError:
        return True  # nested too deep to tell: not something a form client sends
    except ValueError:
        return False
    return True


def _push(request: Any) -> IndexWrite:
    if len(_head(request, MAX_PUSH_BODY + 1)) > MAX_PUSH_BODY:
        raise Unreadable(f"a push body must not exceed {MAX_PUSH_BODY} bytes")
    try:
        # The same text json_body decodes, parsed once more only to find repeated keys
        # (json keeps the last one silently).
        json.loads(request.body.decode(request.charset), object_pairs_hook=_unique_keys)
        body = request.json_body
    except (ValueError, RecursionError):
        raise Unreadable("the push body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Unreadable("the push body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise Unreadable("the push names no project")
    version = body.get("version")
    if not isinstance(version, str) or not version:
        # devpi answers a push without one with a 500 (views.py: UnboundLocalError)
        raise Unreadable("the push names no version")
    target = body.get("targetindex")
    posturl = body.get("posturl")
    if target is not None and not isinstance(target, str):
        raise Unreadable("'targetindex' must be a string")
    if target is None:
        if not isinstance(posturl, str):
            raise Unreadable("a push needs 'targetindex' or 'posturl'")
        _external(body, posturl)
    return IndexWrite(
        "push", normalize_name(name), target, posturl if target is None else None, version
    )


def _external(body: dict[str, Any], posturl: str) -> None:
    """Refuse an external push devpi would answer with a 500 (views.py
    ``_push_external``: a missing credential is a KeyError, a ``posturl`` that is not an
    http(s) URL fails in its HTTP client)."""
    try:
        parts = urllib.parse.urlsplit(posturl)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise Unreadable("an external push needs an http(s) URL in 'posturl'")
    if not all(isinstance(body.get(key), str) for key in ("username", "password")):
        raise Unreadable("an external push needs 'username' and 'password'")


def read_authcheck(request: Any) -> None:
    """Raise Unreadable if devpi's ``/+authcheck`` cannot read the URL it is asked about.

    devpi builds a request from ``X-Original-URI`` (``Request.blank``) and routes its
    path (views.py ``authcheck_view``): a URL webob cannot split (``http://[::1``) or a
    path that is not UTF-8 once unquoted (``%ff%fe``) is a 500 there.
    """
    url = request.headers.get("x-original-uri", request.url)
    try:
        Request.blank(url).path_info  # noqa: B018 (decoding it is the check)
    except ValueError:  # UnicodeDecodeError included
        raise Unreadable("the X-Original-URI header is not a URL devpi can read") from None


def _head(request: Any, size: int) -> bytes:
    """The first ``size`` bytes of the body, leaving it for devpi to read from the start."""
    stream = request.body_file_seekable  # seekable, but not rewound if it already was
    stream.seek(0)
    head = stream.read(size)
    stream.seek(0)
    return head


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key in body:
            raise Unreadable(f"the push body gives {key[:40]!r} more than once")
        body[key] = value
    return body


def request_project(request: Any, xom: Any) -> str | None:
    """Return the project a request acts on, normalised as devpi does, or None.

    Sources, as devpi's views read them: for POST/PUSH on an index, the upload form's
    ``name`` or the push's ``name`` (:func:`read_index_write`, which may raise
    :class:`Unreadable`); elsewhere the route's ``project``, and for file routes
    (``+f``/``+e``: downloads, tox results, deletions) the project devpi recorded for
    the file.
    """
    if is_index_write(request):
        return read_index_write(request).project
    matchdict = request.matchdict or {}
    project = matchdict.get("project")
    if isinstance(project, str) and project.rstrip("/"):
        return normalize_name(project.rstrip("/"))
    if "relpath" in matchdict:
        entry = xom.filestore.get_file_entry(_relpath(request))
        project = None if entry is None else entry.project
        if isinstance(project, str) and project:
            return normalize_name(project)
    return None


def _relpath(request: Any) -> str:
    """The file a ``+f``/``+e`` request names, as the view for its route and method does."""
    relpath = request.path_info.strip("/")
    route = getattr(request.matched_route, "name", "")
    if request.method == "DELETE" or (request.method == "POST" and "/+f/" in route):
        return relpath  # del_pkg, post_toxresult
    # stage_pkgserv / mirror_pkgserv: _relpath_from_request, then core metadata
    return relpath.split("#", 1)[0].removesuffix(".metadata")
