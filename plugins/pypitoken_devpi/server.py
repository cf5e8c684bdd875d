"""devpi-server hooks: PyPI-style API tokens, checked by pypitoken-core's TokenService.

Installed with ``pypitoken-core[devpi]``, found through the ``devpi_server`` entry point.

- ``devpiserver_get_identity`` (tryfirst) recognises our tokens (``__token__:<token>``,
  ``:<token>``, ``<token>:``, ``<owner>:<token>``, ``Authorization: Bearer <token>``,
  ``X-Devpi-Auth``) and makes the token's owner the identity, once the service has
  verified that the token is genuine, unrevoked and current. Anything else is left to
  devpi's password/login check and to other plugins (devpi-tokens keeps working).
- ``devpiserver_auth_denials`` runs for every stage devpi checks a permission on, push
  targets included, and asks the service whether the token allows each action there
  (index, project, project id, time), all actions in one ``evaluate``. Denied actions
  become devpi ``Deny`` ACL entries; ``user_*`` and ``index_*`` permissions are always
  denied to tokens.
- A view deriver wraps devpi's upload/push view (``pushrelease``) and ``/+authcheck``: a
  token request it cannot read exactly as devpi will (no Content-Type, a charset other
  than UTF-8, a body that is a form and JSON at once, repeated identifying fields, the
  shapes devpi answers with a 500) is refused before devpi reads it. An external push
  (``posturl``) also needs the token to allow ``upload``.
- Every file devpi would store or delete for a token's request (upload, documentation,
  tox result, push, deletion) must be the checked project's by its name and by devpi's
  record of it (``_files``): devpi keys files by hash and name only.
- Trusted publishing (``_oidc``): CI jobs exchange an OIDC token at ``/_/oidc/mint-token``
  for a short-lived upload token of the publisher's registrant, scoped to its index.
- A response subscriber turns a refusal into ``403 Invalid API Token: <reason>``, the
  reason phrase twine and devpi-client print, and devpi's bare ``401 Unauthorized`` for
  credentials it did not accept into the reason pypiserver gives (a wrong password).
  Nothing here ever answers 500.
"""

from __future__ import annotations

import hmac
import time
import urllib.parse
from typing import Any

from devpi_server.log import threadlog
from pluggy import HookimplMarker
from pyramid.authorization import Everyone
from pyramid.events import NewResponse
from pyramid.httpexceptions import HTTPException, HTTPForbidden

from pypitoken_core import Context, ValidationError
from pypitoken_core.display import reason_phrase
from pypitoken_core.oidc import TrustedPublishingSettings
from pypitoken_core.service import TokenService, wrong_password
from pypitoken_core.store import open_store
from pypitoken_core.token import TOKEN_USERNAME

from . import _oidc, views
from ._files import foreign_file
from ._identity import REGISTRY_KEY, TokenIdentity
from ._request import (
    ALWAYS_DENIED,
    AUTHCHECK_ROUTE,
    INDEX_ROUTES,
    PERMISSIONS,
    Unreadable,
    extract_token,
    is_index_write,
    method_action,
    read_authcheck,
    read_index_write,
    request_project,
)
from ._store import KeyfsStore, LastUseWriter, project_id

__all__ = ["AUDIT_FILE", "TokenIdentity"]

hookimpl = HookimplMarker("devpiserver")

#: request.environ key of the last stage evaluation that denied something:
#: (token id, index, project, {action: reason}).
_DENIAL_KEY = "pypitoken_devpi.denial"
#: The audit trail's file in devpi's server directory (see pypitoken_devpi._store).
AUDIT_FILE = "pypitoken-audit.sqlite3"
#: request.environ key of :func:`foreign_file`'s answers for the request, by stage name.
_FILES_KEY = "pypitoken_devpi.files"
#: Label of the service secret, derived from devpi's argon2-stretched auth secret.
_SECRET_LABEL = b"pypitoken-core devpi token secret v1"
_ALL_STAGE_PERMISSIONS = frozenset(p for perms in PERMISSIONS.values() for p in perms)


class _Plugin:
    """Per-application state: the service over a keyfs-backed store, and the options."""

    def __init__(self, xom: Any) -> None:
        args = xom.config.args
        self.prefix: str = getattr(args, "pypitoken_prefix", None) or "pypi"
        self.max_expiry: int = int(getattr(args, "pypitoken_max_expiry", 0) or 0)
        domain = getattr(args, "pypitoken_domain", None) or _default_domain(args)
        # devpi derives its own secrets with argon2 at start-up; one HMAC with our label
        # gives an independent key at no extra cost, so the first token use after a
        # restart is as fast as any other.
        secret = hmac.digest(xom.config.get_auth_secret(), _SECRET_LABEL, "sha256")
        self.xom = xom
        trail = open_store(f"sqlite:///{xom.config.server_path.absolute() / AUDIT_FILE}")
        self.store = KeyfsStore(xom, log=threadlog, trail=trail)
        if not xom.is_replica():
            xom.thread_pool.register(LastUseWriter(self.store, threadlog))
        self.service = TokenService(
            self.store,
            secret,
            domain=domain,
            prefix=self.prefix,
            ownership="external",
            allow_delete=True,
            # The token API exempts devpi's administrators (root, --restrict-modify).
            max_lifetime=self.max_expiry or None,
        )
        settings = TrustedPublishingSettings(
            enabled=not getattr(args, "pypitoken_no_trusted_publishing", False),
            audience=getattr(args, "pypitoken_oidc_audience", None),
            lifetime=int(getattr(args, "pypitoken_oidc_token_lifetime", 900)),
            jwks_file=getattr(args, "pypitoken_oidc_jwks_file", None),
        )
        #: The trusted-publishing endpoints (their issuer keys are cached for the process).
        self.endpoints = self.service.trusted_publishing(settings)
        self.pages = views.make_pages(xom, self)

    def identify(
        self, request: Any, raw: str, claimed: str | None, explicit: bool
    ) -> TokenIdentity | None:
        """Verify that ``raw`` is a genuine, current token; return its owner's identity.

        Returns None when the credentials are not ours after all: ``<owner>:<password>``
        where the password merely starts with our prefix. Whether it is ours is a question
        of its shape only (the service's ``recognizes``), never of the store: a token of
        ours whose id is unknown is refused like one whose id exists, so the answer tells
        nothing about which ids exist. Raises ValidationError.
        """
        if not explicit and not self.service.recognizes(raw):
            return None
        # The use is known only per stage (a push reads one index and writes another):
        # here the service checks that the token is genuine and current (and, for a token
        # sent as <owner>:<token>, the owner's), and devpiserver_auth_denials asks it about
        # each stage devpi checks. A token that is not one is refused by the service too,
        # in the words pypiserver uses.
        ident = self.service.identify(raw, user=claimed)
        return TokenIdentity(ident.user_name, ident.token_id or "", raw)

    def denials(self, request: Any, identity: TokenIdentity, stage: Any) -> set[str]:
        """The devpi permissions the token does not grant on ``stage`` for this request."""
        index = stage.name
        try:
            project = request_project(request, self.xom)
        except Unreadable as exc:
            # _guard_token_requests refuses these before devpi's view runs; fail closed
            # wherever else one reaches a permission check.
            request.environ[_DENIAL_KEY] = (
                identity.token_id,
                index,
                None,
                dict.fromkeys(PERMISSIONS, str(exc)),
            )
            return set(_ALL_STAGE_PERMISSIONS)
        pid = project_id(index, project) if project else None
        now = int(time.time())
        contexts = [
            Context(project_name=project, project_id=pid, now=now, action=action, index=index)
            for action in PERMISSIONS
        ]
        # One answer per action, from one check of the token (one read, one signature).
        answers = self.service.evaluate(identity._raw, contexts)
        denied: set[str] = set()
        reasons: dict[str, str] = {}
        for (action, permissions), reason in zip(PERMISSIONS.items(), answers, strict=True):
            if reason is not None:
                denied.update(permissions)
                reasons[action] = reason
        if (
            "upload" in reasons
            and "download" not in reasons
            and is_index_write(request)
            and read_index_write(request).external
        ):
            # An external push hands the files to a server no token can restrict, and devpi
            # asks only for pkg_read on the source: reading is not enough, the token must
            # also be one that could upload this project here.
            reason = f"an external push (posturl) needs upload: {reasons['upload']}"
            denied.update(PERMISSIONS["download"])
            reasons.update(upload=reason, download=reason)
        action = method_action(request.method)
        if project is not None and action != "download" and action not in reasons:
            # The token may act on the project here: the files devpi would store or
            # delete for it must be the project's too.
            reason = self._foreign_file(request, stage, project)
            if reason is not None:
                denied.update(PERMISSIONS[action])
                reasons[action] = reason
        request.environ[_DENIAL_KEY] = (identity.token_id, index, project, reasons)
        return denied

    def _foreign_file(self, request: Any, stage: Any, project: str) -> str | None:
        """:func:`foreign_file` for this request and stage, worked out once per request."""
        found = request.environ.setdefault(_FILES_KEY, {})
        if stage.name not in found:
            found[stage.name] = foreign_file(request, self.xom, stage, project)
        reason: str | None = found[stage.name]
        return reason


def _default_domain(args: Any) -> str:
    outside = getattr(args, "outside_url", None)
    host = urllib.parse.urlsplit(outside).hostname if outside else None
    return host or "devpi"


def _forbidden(reason: str) -> HTTPForbidden:
    text = reason_phrase(f"Invalid API Token: {reason}")
    exc = HTTPForbidden(explanation=text)
    exc.status = f"403 {text}"
    return exc


def _plugin(request: Any) -> _Plugin | None:
    return request.registry.get(REGISTRY_KEY)


# -- hooks ------------------------------------------------------------------------------


@hookimpl
def devpiserver_add_parser_options(parser: Any) -> None:
    group = parser.addgroup("pypitoken-core API tokens")
    group.addoption(
        "--pypitoken-domain",
        type=str,
        default=None,
        help="location written into new API tokens (default: the host of --outside-url, "
        "else 'devpi'); informational, tokens are checked by id and signature",
    )
    group.addoption(
        "--pypitoken-prefix",
        type=str,
        default="pypi",
        help="prefix of API tokens issued and accepted by this server; changing it makes "
        "earlier tokens unrecognised",
    )
    group.addoption(
        "--pypitoken-max-expiry",
        type=int,
        default=0,
        metavar="SECONDS",
        help="longest lifetime (seconds) a user other than devpi's administrators (root, "
        "--restrict-modify) may give a new API token, and the lifetime of one created "
        "without an expiry; 0 means no limit",
    )
    group.addoption(
        "--pypitoken-no-trusted-publishing",
        action="store_true",
        default=False,
        help="do not mint tokens for trusted publishers (/_/oidc/* answer not-enabled)",
    )
    group.addoption(
        "--pypitoken-oidc-audience",
        type=str,
        default=None,
        help="the 'aud' CI tokens must carry (default: the token domain, prefixed with"
        " 'pypitoken-' unless it starts with a letter)",
    )
    group.addoption(
        "--pypitoken-oidc-token-lifetime",
        type=int,
        default=900,
        metavar="SECONDS",
        help="how long a token minted for a trusted publisher lives, 900 to 21600",
    )
    group.addoption(
        "--pypitoken-oidc-jwks-file",
        type=str,
        default=None,
        metavar="FILE",
        help='pinned signing keys of OIDC issuers, {"<issuer>": <JWKS>}, for a server that'
        " cannot reach them",
    )


@hookimpl
def devpiserver_get_features() -> set[str]:
    return {"pypitoken-api-tokens"}


@hookimpl
def devpiserver_pyramid_configure(config: Any, pyramid_config: Any) -> None:
    xom = pyramid_config.registry["xom"]
    pyramid_config.registry[REGISTRY_KEY] = _Plugin(xom)
    pyramid_config.add_subscriber(_explain_refusal, NewResponse)
    pyramid_config.add_view_deriver(_guard_token_requests)
    # Before devpi's own routes, whose /{user}/{index} would take /_/oidc/... and
    # /.well-known/pytp.
    pyramid_config.include(_oidc.includeme)
    pyramid_config.include(views.includeme)


@hookimpl(tryfirst=True)
def devpiserver_get_identity(request: Any, credentials: Any) -> TokenIdentity | None:
    plugin = _plugin(request)
    if plugin is None:
        return None
    try:
        found = extract_token(request, credentials, plugin.prefix)
        if found is None:
            return None
        raw, claimed = found
        return plugin.identify(request, raw, claimed, explicit=claimed is None)
    except ValidationError as exc:
        threadlog.info("pypitoken: token refused: %s", reason_phrase(str(exc)))
        raise _forbidden(str(exc)) from None
    except HTTPException:
        raise
    except Exception as exc:  # never a 500: any failure is a refusal
        threadlog.error("pypitoken: error while checking a token: %s", type(exc).__name__)
        raise _forbidden("the token could not be checked") from None


@hookimpl
def devpiserver_auth_denials(request: Any, acl: Any, user: Any, stage: Any) -> Any:
    identity = getattr(request, "identity", None)
    if not isinstance(identity, TokenIdentity):
        return None
    denied = set(ALWAYS_DENIED)
    plugin = _plugin(request)
    if stage is not None:
        try:
            denied |= plugin.denials(request, identity, stage) if plugin else _ALL_STAGE_PERMISSIONS
        except Exception as exc:  # fail closed, never a 500
            threadlog.error("pypitoken: error while checking a token: %s", type(exc).__name__)
            request.environ[_DENIAL_KEY] = (
                identity.token_id,
                getattr(stage, "name", None),
                None,
                dict.fromkeys(PERMISSIONS, "the token could not be checked"),
            )
            denied |= _ALL_STAGE_PERMISSIONS
    return [(Everyone, permission) for permission in sorted(denied)]


def _guard_token_requests(view: Any, info: Any) -> Any:
    """View deriver: a token request devpi cannot read one way only is refused.

    Wraps devpi's views on the index routes (``pushrelease``, ``submit``: an upload or
    push) and on ``/+authcheck`` (which reads the ``X-Original-URI`` it is asked about),
    so the refusal comes before devpi reads the request, whatever devpi would answer on
    its own (a 400, or a 500 for what it cannot decode). Requests without one of our
    tokens pass untouched: only their credentials are looked at, as devpi itself will.
    """
    if info.options.get("route_name") not in (*INDEX_ROUTES, AUTHCHECK_ROUTE):
        return view

    def guarded(context: Any, request: Any) -> Any:
        refusal = _unreadable_token_request(request)
        return view(context, request) if refusal is None else refusal

    return guarded


def _unreadable_token_request(request: Any) -> HTTPForbidden | None:
    """The refusal of a token request devpi's view could not read, or None."""
    plugin = _plugin(request)
    if plugin is None:
        return None
    if is_index_write(request):
        read: Any = read_index_write
    elif getattr(request.matched_route, "name", None) == AUTHCHECK_ROUTE:
        read = read_authcheck
    else:
        return None
    credentials = plugin.xom.config.hook.devpiserver_get_credentials(request=request)
    if extract_token(request, credentials, plugin.prefix) is None:
        return None
    identity = request.identity  # a forged or expired token raises its own 403 here
    if not isinstance(identity, TokenIdentity):
        return None
    try:
        read(request)
    except Unreadable as exc:
        reason = str(exc)
    except Exception as exc:  # never a 500: what cannot be read is refused
        threadlog.error("pypitoken: error while reading a request: %s", type(exc).__name__)
        reason = "the request could not be read"
    else:
        return None
    threadlog.warn("pypitoken: refused token %s: %s", identity.token_id, reason_phrase(reason))
    return _forbidden(reason)


def _explain_unauthorized(request: Any, response: Any) -> None:
    """Give devpi's bare ``401 Unauthorized`` for credentials it did not accept the reason
    pypiserver gives: a wrong password, or a ``__token__`` password that is no token."""
    plugin = _plugin(request)
    if plugin is None or request.identity is not None:
        return
    credentials = plugin.xom.config.hook.devpiserver_get_credentials(request=request)
    if not credentials or len(credentials) != 2 or not all(credentials):
        return  # no credentials: devpi's 401 asks for them
    user, password = credentials
    if user == TOKEN_USERNAME:
        try:
            plugin.service.identify(password)
        except ValidationError as exc:
            reason = f"Invalid API Token: {exc}"
        else:  # a token of ours that devpi did not take: leave devpi's answer
            return
    else:
        reason = wrong_password(user)
    response.status = f"401 {reason_phrase(reason)}"


def _explain_refusal(event: Any) -> None:
    """Give a refused token request the reason: ``403 Invalid API Token: <reason>``.

    devpi answers a denied permission with its own words ("no permission to submit", or
    401 for a push target); the service's reason is what the token's holder needs.
    """
    try:
        request, response = event.request, event.response
        denial = request.environ.get(_DENIAL_KEY)
        if denial is None and response.status_code == 401:
            _explain_unauthorized(request, response)
            return
        if denial is None or response.status_code not in (401, 403):
            return
        token_id, index, project, reasons = denial
        if not reasons:
            return
        action = method_action(request.method)
        reason = reasons.get(action)
        if reason is None and action == "upload":
            # A push first checks that the token may read the source index.
            reason = reasons.get("download")
        if reason is None:
            return
        threadlog.warn(
            "pypitoken: refused token %s on %s project %s: %s",
            token_id,
            index,
            project,
            reason_phrase(reason),
        )
        response.status = f"403 {reason_phrase('Invalid API Token: ' + reason)}"
        if "WWW-Authenticate" in response.headers:
            del response.headers["WWW-Authenticate"]
    except Exception as exc:  # an explanation must never turn a refusal into a 500
        threadlog.error("pypitoken: could not explain a refusal: %s", type(exc).__name__)
