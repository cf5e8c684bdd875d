"""The token API and the token page on devpi-server.

The API, whose meaning is the core's (:class:`pypitoken_core.api.TokenAPI`, documented in
``docs/token-api.md``), is served at the paths both servers share and at devpi's older
per-user ones, which the devpi-client commands (``devpi api-token-*``) use:

- ``GET/POST /+api-tokens[?user=NAME]`` and ``DELETE /+api-tokens/{id}``;
- ``GET/POST /{user}/+api-tokens`` and ``DELETE /{user}/+api-tokens/{id}`` (the same as
  ``?user={user}``);
- trusted publishers: ``GET/POST /+api-publishers[?user=NAME]`` and ``DELETE
  /+api-publishers/{id}``, and per user ``/{user}/+trusted-publishers[/{id}]``. A devpi
  publisher names the index it uploads to, one the user may upload to by devpi's ACLs.

The caller is devpi's own identity (password, or a devpi login): a token (ours or another
plugin's) gets 403; a user may manage their own tokens, and devpi's administrators (root,
or the ``--restrict-modify`` principals: devpi's ``user_modify`` permission) anyone's.
On a replica, devpi forwards the POST and DELETE requests to the primary.

The token page (``/+tokens``, :mod:`pypitoken_web`) logs users in with devpi's own
password check, keeps its sessions in keyfs (:class:`~._store.KeyfsStore`), and shows
each user the indexes they own or may upload to, with their ACLs, which devpi manages.

``GET /+pypitoken/audit?limit=100&token=<id>``: this server's audit trail (mints,
revocations, refusals folded with a count), newest first, as ``pypitoken audit list
--json`` shows one: ``{"type": "pypitoken-audit", "result": {"events": [...]}}``. For
``root`` only (with its password or devpi login); each server answers with its own.
"""

from __future__ import annotations

import types
from typing import Any

from devpi_server.main import get_remote_ip
from devpi_server.view_auth import RootFactory
from devpi_server.view_auth import devpiserver_get_identity as devpi_identity
from devpi_server.views import apiresult
from pypitoken_web import IndexView, Site, TokenPages, Urls
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.response import Response

from pypitoken_core.api import (
    MAX_BODY,
    Caller,
    IndexCheck,
    Reply,
    Request,
    TokenAPI,
    token_refused,
    unauthenticated,
)
from pypitoken_core.display import event_json
from pypitoken_core.exceptions import StoreError

from ._identity import REGISTRY_KEY, TokenIdentity

__all__ = ["includeme", "index_check", "make_pages"]

#: Where the page finds the pyramid request of the environ it is called with.
_REQUEST_KEY = "pypitoken_devpi.request"
#: (route name, pattern, the core API's path it answers as).
_API_ROUTES = (
    ("pypitoken-api-tokens", "/+api-tokens", "/+api-tokens"),
    ("pypitoken-api-token", "/+api-tokens/{id}", "/+api-tokens"),
    ("pypitoken-user-api-tokens", "/{user:[^+/]+}/+api-tokens", "/+api-tokens"),
    ("pypitoken-user-api-token", "/{user:[^+/]+}/+api-tokens/{id}", "/+api-tokens"),
    ("pypitoken-api-publishers", "/+api-publishers", "/+api-publishers"),
    ("pypitoken-api-publisher", "/+api-publishers/{id}", "/+api-publishers"),
    ("pypitoken-publishers", "/{user:[^+/]+}/+trusted-publishers", "/+api-publishers"),
    ("pypitoken-publisher", "/{user:[^+/]+}/+trusted-publishers/{id}", "/+api-publishers"),
)
_API_PATHS = {name: path for name, _, path in _API_ROUTES}


def includeme(config: Any) -> None:
    """Add the routes and views (``pyramid_config.include`` target)."""
    for name, pattern, _ in _API_ROUTES:
        config.add_route(name, pattern)
        config.add_view(api_view, route_name=name)
    config.add_route("pypitoken-page", "/+tokens")
    config.add_route("pypitoken-pages", "/+tokens/*rest")
    config.add_view(page_view, route_name="pypitoken-page")
    config.add_view(page_view, route_name="pypitoken-pages")
    config.add_route("pypitoken-audit", "/+pypitoken/audit")
    config.add_view(audit_events, route_name="pypitoken-audit", request_method="GET")


class _UserContext(RootFactory):
    """devpi's root ACL as it applies to ``username``'s records (None: no user's)."""

    def __init__(self, request: Any, username: str | None) -> None:
        super().__init__(request)
        self._user_name = username

    @property
    def username(self) -> str | None:
        return self._user_name

    @property
    def index(self) -> None:
        return None


def _caller(request: Any) -> Caller | Reply:
    """The caller as devpi identified them, or the reply that refuses them."""
    if isinstance(request.identity, TokenIdentity):
        return token_refused()
    name = request.authenticated_userid
    if name is None:
        return unauthenticated()
    if not request.has_permission("user_modify_password", _UserContext(request, name)):
        # Another plugin's token (devpi-tokens denies user_* to its tokens).
        return Reply(403, {"message": "these credentials cannot manage API tokens"})
    admin = bool(request.has_permission("user_modify", _UserContext(request, None)))
    return Caller(name, admin, tuple(getattr(request.identity, "groups", None) or ()))


def api_view(context: Any, request: Any) -> Response:
    """Every method of the API routes: who calls, then the core's answer."""
    caller = _caller(request)
    if isinstance(caller, Reply):
        return _response(caller)
    query = {key: request.GET.getall(key) for key in set(request.GET.keys())}
    path = _API_PATHS[request.matched_route.name] + (
        f"/{request.matchdict['id']}" if "id" in request.matchdict else ""
    )
    if "user" in request.matchdict:
        if "user" in query:
            return _response(Reply(400, {"message": "the path already names the user"}))
        query["user"] = [request.matchdict["user"]]
    method = request.method
    plugin = request.registry[REGISTRY_KEY]
    api = TokenAPI(plugin.service, indexes=True, index_check=index_check(plugin.xom))
    reply = api.handle(
        caller,
        Request(
            method=method,
            path=path,
            query=query,
            body=request.body_file.read(MAX_BODY + 1) if method in ("POST", "PUT") else b"",
            content_type=request.headers.get("Content-Type"),
        ),
    )
    return _response(reply)


def _response(reply: Reply) -> Response:
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
        *reply.headers,
    ]
    return Response(body=reply.encode(), status=reply.status, headerlist=headers)


def page_view(context: Any, request: Any) -> Response:
    """Every request under ``/+tokens``: the token page, in devpi's keyfs transaction."""
    request.environ[_REQUEST_KEY] = request
    try:
        return request.get_response(request.registry[REGISTRY_KEY].pages)
    finally:
        request.environ.pop(_REQUEST_KEY, None)


def _principals(user: str, groups: tuple[str, ...]) -> set[str]:
    """What devpi's ACLs see of a logged-in user: everyone, authenticated, the name and
    the groups (``:group``)."""
    return {Everyone, Authenticated, user, *(":" + g for g in groups)}


def _may_upload(stage: Any, user: str, groups: tuple[str, ...]) -> bool:
    acl = types.SimpleNamespace(__acl__=stage.__acl__())
    return bool(ACLHelper().permits(acl, _principals(user, groups), "upload"))


def index_check(xom: Any) -> IndexCheck:
    """Whether a trusted publisher may upload to an index (see
    :data:`pypitoken_core.api.IndexCheck`): an index that takes uploads (not a mirror),
    and one the caller may upload to by devpi's ACLs. An administrator registering a
    publisher for another user is trusted to know where that user uploads."""

    def check(caller: Caller, user: str, index: str) -> str | None:
        owner, _, name = index.partition("/")
        stage = xom.model.getstage(owner, name)
        if stage is None or stage.ixconfig.get("type") == "mirror":
            return f"no index {index!r} that takes uploads"
        if user == caller.name and not _may_upload(stage, user, caller.groups):
            return f"user {user!r} may not upload to {index!r}"
        return None

    return check


def make_pages(xom: Any, plugin: Any) -> TokenPages:
    """The token page of this devpi-server (``plugin`` holds the service and store)."""

    def check_password(environ: Any, user: str, password: str) -> tuple[str, ...] | None:
        # devpi's own identity for a user name and password (or a devpi login), exactly
        # as its trylast identity hook finds it: never a token, whoever else is installed.
        identity = devpi_identity(environ[_REQUEST_KEY], (user, password))
        return None if identity is None else tuple(identity.groups)

    def is_admin(user: str, groups: tuple[str, ...]) -> bool:
        # The user_modify entries of devpi's root ACL (RootFactory.__acl__ without a user):
        # root, or the --restrict-modify principals.
        restrict = xom.config.restrict_modify
        admins = {"root"} if restrict is None else set(restrict)
        return bool(admins & {user, *(":" + g for g in groups)})

    def urls(base: str, index: str | None) -> Urls:
        where = index or "USER/INDEX"
        return Urls(upload=f"{base}/{where}/", simple=f"{base}/{where}/+simple/")

    def indexes(user: str, groups: tuple[str, ...]) -> list[IndexView]:
        views = []
        for devpi_user in xom.model.get_userlist():
            for name, ixconfig in sorted((devpi_user.get().get("indexes") or {}).items()):
                stage = xom.model.getstage(devpi_user.name, name)
                if stage is None or ixconfig.get("type") == "mirror":
                    continue
                may_upload = _may_upload(stage, user, groups)
                if devpi_user.name != user and not may_upload:
                    continue
                views.append(
                    IndexView(
                        name=f"{devpi_user.name}/{name}",
                        owner=devpi_user.name,
                        kind=str(ixconfig.get("type", "")),
                        acl_upload=tuple(ixconfig.get("acl_upload", ())),
                        bases=tuple(ixconfig.get("bases", ())),
                        projects=tuple(sorted(stage.list_projects_perstage())),
                        may_upload=may_upload,
                    )
                )
        return views

    site = Site(
        name="devpi",
        api=lambda: TokenAPI(plugin.service, indexes=True, index_check=index_check(xom)),
        sessions=lambda: plugin.store,
        check_password=check_password,
        is_admin=is_admin,
        urls=urls,
        indexes=indexes,
        # As devpi reads it (X-Real-IP, set by the nginx devpi-gen-config writes): behind
        # that proxy every client would otherwise be the proxy, one throttle for all.
        client_address=lambda environ: str(get_remote_ip(environ[_REQUEST_KEY])),
    )
    return TokenPages(site)


def audit_events(request: Any) -> Any:
    """``GET /+pypitoken/audit``: the newest lines of this server's audit trail, for root."""
    if isinstance(request.identity, TokenIdentity):
        return apiresult(403, "API tokens cannot read the audit trail; log in with a password")
    if request.authenticated_userid != "root":
        response = apiresult(401 if request.authenticated_userid is None else 403,
                             "only root reads the audit trail")  # fmt: skip
        if request.authenticated_userid is None:
            response.headers["WWW-Authenticate"] = 'Basic realm="pypi"'
        return response
    limit_text = request.params.get("limit", "100")
    if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 6):
        return apiresult(400, "'limit' must be a number of lines (at most 999999)")
    token_id = request.params.get("token") or None
    try:
        events = request.registry[REGISTRY_KEY].service.list_events(
            limit=int(limit_text), token_id=token_id
        )
    except StoreError as exc:
        return apiresult(503, f"the audit trail could not be read: {exc}")
    return apiresult(
        200, type="pypitoken-audit", result={"events": [event_json(e) for e in events]}
    )
