"""pypiserver request -> :class:`~pypitoken_core.Context` -> :class:`TokenService`.

pypiserver calls ``config.auther(username, password)`` for every route whose action is
listed in ``-a``; the request itself is bottle's thread-local ``request``. This module
turns that request into an action and a project, hands the token to the service and
turns a refusal into ``403 <reason>``, the reason phrase twine prints. An allowed upload
leaves its :class:`Uploader` in the request, for :mod:`._storage` to claim the project
if pypiserver does store a file.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pypiserver.bottle_wrapper import HTTPError, request
from pypiserver.pkg_helpers import guess_pkgname_and_version

from pypitoken_core import Context
from pypitoken_core.display import reason_phrase
from pypitoken_core.exceptions import ValidationError
from pypitoken_core.names import is_valid, normalize
from pypitoken_core.service import Identity, TokenService, wrong_password
from pypitoken_core.token import TOKEN_USERNAME

from ._redact import redact

if TYPE_CHECKING:
    from ._oidc import TrustedPublishingRoutes

__all__ = [
    "TOKEN_USERNAME",
    "UPLOADER_KEY",
    "Refused",
    "Target",
    "TokenAuther",
    "Uploader",
    "extract_token",
    "refusals_logged",
]

log = logging.getLogger("pypitoken_pypiserver")


def extract_token(username: str, password: str | None, prefix: str) -> str | None:
    """Return the API token carried by Basic credentials, or None if they are a password.

    ``__token__`` always means a token. An empty username with a password that starts with
    ``<prefix>-`` is a token too (some clients send only a password).
    """
    if password is None:
        return None
    if username == TOKEN_USERNAME:
        return password
    if username == "" and password.startswith(prefix + "-"):
        return password
    return None


class Refused(Exception):
    """The request cannot be mapped to one action and one project; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a request tries to do: ``action`` ("upload", "download", "delete") on ``project``
    (PEP 503-normalised, or None for index-wide pages)."""

    action: str
    project: str | None


@dataclass(frozen=True, slots=True)
class Uploader:
    """Who the auther let upload to which (normalised) project, for the storage to claim."""

    identity: Identity
    project: str


#: The WSGI environ key under which the auther leaves the request's :class:`Uploader`.
UPLOADER_KEY = "pypitoken.uploader"


def project_of_file(filename: str) -> str | None:
    """Return the normalised project a distribution file name belongs to, the way
    pypiserver will file it, or None if pypiserver cannot tell."""
    guessed = guess_pkgname_and_version(filename)
    return normalize(guessed[0]) if guessed and guessed[0] else None


def target_from_url(method: str, path: str, url_args: Mapping[str, str]) -> Target | None:
    """Map a routed request to a :class:`Target`; None means "POST /, read the form"."""
    if "project" in url_args:  # /simple/<p>, /simple/<p>/, /<p>/json
        return Target("download", normalize(url_args["project"]))
    if "filename" in url_args:  # /packages/<file>
        return Target("download", project_of_file(url_args["filename"]))
    if method == "POST" and path.strip("/") == "":
        return None
    return Target("download", None)  # /simple/, /packages/, /RPC2 search


def _name_field(forms: Any) -> str:
    name = forms.get("name")
    if not name:
        raise Refused("missing form field 'name'")
    return normalize(name)


def target_from_form(forms: Any, files: Any) -> Target:
    """Map the form of a ``POST /`` (bottle FormsDicts) to a :class:`Target`.

    pypiserver stores an upload under its file name and never reads ``name``; so the
    project is taken from the file name (and the signature's), and must equal ``name``.
    """
    action = forms.get(":action")
    if action == "file_upload":
        content = files.get("content")
        if content is None:
            raise Refused("missing file field 'content'")
        uploads = [f for f in (content, files.get("gpg_signature")) if f is not None]
        projects = {project_of_file(f.raw_filename) for f in uploads}
        if None in projects or len(projects) != 1:
            raise Refused(f"cannot tell the project of file {content.raw_filename!r}")
        project = projects.pop()
        if _name_field(forms) != project:
            raise Refused(
                f"file {content.raw_filename!r} does not belong to project {forms.get('name')!r}"
            )
        return Target("upload", project)
    if action == "remove_pkg":
        return Target("delete", _name_field(forms))
    if action in ("doc_upload", "verify", "submit"):
        return Target("upload", _name_field(forms))
    raise Refused(f"unsupported ':action' {action!r}")


def _where() -> str:
    try:
        return f"{request.method} {request.path}"
    except Exception:  # no request bound: a caller outside pypiserver
        return "(no request)"


def forbidden(label: str, reason: object) -> HTTPError:
    """A 403 whose reason phrase is ``label: reason`` (``reason`` alone without a label),
    made safe for a status line."""
    text = reason_phrase(f"{label}: {reason}" if label else str(reason))
    return HTTPError(f"403 {text}", text)


class TokenAuther:
    """pypiserver's ``auther(username, password) -> bool``, for tokens and password users.

    Tokens go to ``service().authenticate``: as ``__token__`` (or no user name), or as
    ``<owner>:<token>``, which the service refuses unless the token is the owner's. Other
    credentials go to ``fallback`` (the htpasswd check pypiserver built from ``-P``, or
    always-False), then to ``service().authorize_user`` for the ownership rules. A refusal
    raises a 403 with the reason (a wrong password's too, never pypiserver's bare
    "Forbidden"); anything unexpected is logged without credentials and answered 403,
    never 500. ``routes`` are the trusted-publishing routes built with the same service,
    for the app to install.
    """

    def __init__(
        self,
        service: Callable[[], TokenService],
        fallback: Callable[[str, str], bool],
        prefix: str = "pypi",
        routes: TrustedPublishingRoutes | None = None,
    ) -> None:
        self._service = service
        self._fallback = fallback
        self._prefix = prefix
        self.routes = routes

    def __repr__(self) -> str:
        return f"<TokenAuther prefix={self._prefix!r}>"

    @property
    def service(self) -> Callable[[], TokenService]:
        """The function that gives this process's service."""
        return self._service

    @property
    def fallback(self) -> Callable[[str, str], bool]:
        """pypiserver's own password check (htpasswd from ``-P``, or always False)."""
        return self._fallback

    def __call__(self, username: str, password: str) -> bool:
        try:
            return self._check(username, password)
        except HTTPError:
            raise
        except Refused as exc:
            _log_refusal(username, None, None, exc)
            raise forbidden("Forbidden", exc) from None
        except Exception as exc:
            # Only the type, a masked message and the route: never the credentials.
            log.error(
                "pypitoken: %s while checking %s: %s",
                type(exc).__name__,
                _where(),
                redact(str(exc)),
            )
            raise forbidden("Forbidden", "the server could not check these credentials") from None

    def _check(self, username: str, password: str) -> bool:
        token = extract_token(username, password, self._prefix)
        claimed = None
        if token is None and password.startswith(self._prefix + "-"):
            # <owner>:<token>, as devpi takes it: a token when it has our tokens' shape
            # (nothing is looked up to decide), else a password that merely starts so.
            if self._service().recognizes(password):
                token, claimed = password, username
        if token is None:
            if not self._fallback(username, password):
                _log_refusal(username, None, None, "wrong password")
                raise forbidden("", wrong_password(username))
            requested = _request_target()
            try:
                identity = self._service().authorize_user(username, _to_context(requested))
            except ValidationError as exc:
                _log_refusal(username, None, requested, exc)
                raise forbidden("Forbidden", exc) from None
            _remember(identity, requested)
            return True
        target = target_from_url(request.method, request.path, request.url_args)
        read: list[Target] = []

        def context() -> Context:
            read.append(_request_target() if target is None else target)
            return _to_context(read[0])

        # A POST's use is in its form: pass a function, which the service calls only once
        # the signature is verified, so a forged token's form is never parsed. So is a URL
        # naming what cannot be a project (250 000 letters): the token is looked up and
        # verified first, and the refusal recorded under it (the name itself never is).
        # Any other request names its use in the URL: a ready Context lets the service
        # answer with a single store read.
        ready = None
        if target is not None and (target.project is None or is_valid(target.project)):
            ready = target
        try:
            identity = self._service().authenticate(
                token, context if ready is None else _to_context(ready), user=claimed
            )
        except ValidationError as exc:
            _log_refusal(exc.user, exc.token_id, ready or (read[0] if read else None), exc)
            raise forbidden("Invalid API Token", exc) from None
        _remember(identity, read[0] if ready is None else ready)
        return True


#: Refusals, one INFO line each: who, which token (its id, never the token), what, why.
#: On by default (pypiserver's own logging starts at WARNING); an operator's logging
#: configuration of this logger wins (see :func:`refusals_logged`).
refusal_log = logging.getLogger("pypitoken_pypiserver.refusals")


def refusals_logged() -> None:
    """Let the refusal lines through at INFO, unless logging set this logger's level."""
    if refusal_log.level == logging.NOTSET:
        refusal_log.setLevel(logging.INFO)


def _log_refusal(
    user: str | None, token_id: str | None, target: Target | None, reason: object
) -> None:
    # Every value may come from the request: one line of printable ASCII, each cut short,
    # credential-shaped text masked (a token typed as the user name, say).
    def shown(value: object) -> str:
        return "-" if value is None else reason_phrase(redact(str(value)), 120)

    refusal_log.info(
        "pypitoken: refused user=%s token=%s project=%s action=%s: %s",
        shown(user),
        shown(token_id),
        shown(target.project if target else None),
        shown(target.action if target else None),
        shown(reason),
    )


def _request_target() -> Target:
    """The Target of the current request (reads the form of a ``POST /``)."""
    target = target_from_url(request.method, request.path, request.url_args)
    if target is None:
        _require_whole_body()
        target = target_from_form(request.forms, request.files)
    return target


def _require_whole_body() -> None:
    # bottle reads a body up to its Content-Length *or the end of the stream*, and the
    # multipart parser accepts a last part cut short: under a server that lets the app
    # read the socket (gunicorn sync, wsgiref), a client gone mid-upload would have
    # pypiserver store the truncated file. Chunked bodies are checked by bottle itself.
    expected = request.content_length
    if expected < 0:
        return
    body = request.body
    received = body.seek(0, io.SEEK_END)
    body.seek(0)
    if received < expected:
        raise Refused(f"the request ended after {received} of its {expected} bytes")


def _remember(identity: Identity, target: Target) -> None:
    # The auther cannot tell whether pypiserver will store anything; the storage wrapper
    # (_storage.OwnedStorage) claims the project if it does, as this user.
    if target.action == "upload" and target.project is not None:
        request.environ[UPLOADER_KEY] = Uploader(identity, target.project)


def _to_context(target: Target) -> Context:
    return Context(project_name=target.project, action=target.action)
