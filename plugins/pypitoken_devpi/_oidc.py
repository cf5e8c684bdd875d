"""Trusted publishing on devpi: the OIDC exchange routes, and managing publishers.

Exchange routes (no login; the OIDC token is the credential):

- ``GET /_/oidc/audience``, ``POST /_/oidc/mint-token`` (and ``/_/oidc/github/mint-token``),
  ``POST /_/oidc/burn-token``: the core's :class:`~pypitoken_core.oidc.Endpoints`. On a
  replica devpi forwards the POSTs to the primary, where the token is minted.
- ``GET /.well-known/pytp?discover=/<user>/<index>/`` (PEP 807): every index that takes
  uploads has the endpoints (the drafts' ``/.well-known/pytp/<sha256>`` form too).

Publishers, in devpi's JSON style (the owner's own login, or an administrator):

- ``POST /{user}/+trusted-publishers`` with ``{"kind": "github", "index": "user/index",
  "projects": [...], ...the kind's fields}``: ``201`` with the publisher;
- ``GET /{user}/+trusted-publishers``: those the user registered;
- ``DELETE /{user}/+trusted-publishers/{id}``: removes it and revokes its tokens.

A devpi publisher uploads as the user who registered it, to one index: its tokens carry
the index restriction, and devpi's ACLs decide as for that user. These routes are added
before devpi's own, whose ``/{user}/{index}`` would otherwise take them.
"""

from __future__ import annotations

from typing import Any

from devpi_server.log import threadlog
from devpi_server.views import apiresult
from pyramid.response import Response as PyramidResponse

from pypitoken_core.display import publisher_json
from pypitoken_core.exceptions import NotFound, PyPITokenException, StoreError
from pypitoken_core.oidc import (
    MAX_BODY,
    Endpoints,
    ExchangeError,
    Response,
    check_length,
    path_hashes,
    problem,
)

from ._identity import REGISTRY_KEY, TokenIdentity
from ._store import user_id

__all__ = ["includeme"]

#: Registry key of the cached (keyfs serial, discovery keys of every index path).
_HASHES_KEY = "pypitoken_devpi.upload_path_hashes"
_PUBLISHER_FIELDS = frozenset(
    {
        "kind", "index", "projects", "issuer", "repository", "workflow", "environment",
        "owner_id", "project_path", "ci_config", "claims",
    }
)  # fmt: skip


def includeme(config: Any) -> None:
    """Add the routes and views (``pyramid_config.include`` target)."""
    routes = {
        "pypitoken-oidc-audience": ("/_/oidc/audience", "GET", audience),
        "pypitoken-oidc-mint": ("/_/oidc/mint-token", "POST", mint),
        "pypitoken-oidc-mint-github": ("/_/oidc/github/mint-token", "POST", mint),
        "pypitoken-oidc-burn": ("/_/oidc/burn-token", "POST", burn),
        "pypitoken-pytp": ("/.well-known/pytp", "GET", discover),
        "pypitoken-pytp-hash": ("/.well-known/pytp/{key}", "GET", discover_by_hash),
    }
    for name, (pattern, method, view) in routes.items():
        config.add_route(name, pattern)
        config.add_view(view, route_name=name, request_method=method)
    config.add_route("pypitoken-publishers", "/{user:[^+/]+}/+trusted-publishers")
    config.add_route("pypitoken-publisher", "/{user:[^+/]+}/+trusted-publishers/{id}")
    config.add_view(add_publisher, route_name="pypitoken-publishers", request_method="POST")
    config.add_view(list_publishers, route_name="pypitoken-publishers", request_method="GET")
    config.add_view(remove_publisher, route_name="pypitoken-publisher", request_method="DELETE")


def _send(answer: Response) -> PyramidResponse:
    return PyramidResponse(
        body=answer.content(), status=answer.status, content_type=answer.content_type
    )


def _endpoints(request: Any) -> Endpoints:
    endpoints: Endpoints = request.registry[REGISTRY_KEY].endpoints
    return endpoints


def _guarded(request: Any, answer: Any) -> PyramidResponse:
    """Run ``answer()``; a failure of the adapter is a 503 problem document, never a 500."""
    try:
        return _send(answer())
    except ExchangeError as exc:
        return _send(problem(exc))
    except Exception as exc:
        threadlog.error("pypitoken: trusted publishing failed: %s", type(exc).__name__)
        return _send(problem(ExchangeError("server-error", "the index could not answer; retry")))


def _body(request: Any) -> bytes:
    check_length(request.content_length)
    data: bytes = request.body_file.read(MAX_BODY + 1)
    return data


def audience(request: Any) -> PyramidResponse:
    """``GET /_/oidc/audience``."""
    return _guarded(request, lambda: _endpoints(request).get_audience())


def mint(request: Any) -> PyramidResponse:
    """``POST /_/oidc/mint-token``."""
    return _guarded(request, lambda: _endpoints(request).mint(_body(request)))


def burn(request: Any) -> PyramidResponse:
    """``POST /_/oidc/burn-token``."""
    return _guarded(request, lambda: _endpoints(request).burn(_body(request)))


def _uploads_to(request: Any, path: str) -> bool:
    """Whether ``path`` is ``/<user>/<index>`` (trailing ``/`` or not) of an index that
    takes uploads (not a mirror)."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not all(parts) or not path.startswith("/"):
        return False
    stage = request.registry["xom"].model.getstage(*parts)
    return stage is not None and stage.ixconfig.get("type") != "mirror"


def _upload_hashes(request: Any) -> dict[str, str]:
    """The drafts' discovery keys of every index path, rebuilt only when keyfs changed:
    a GET of them costs one lookup, however many indexes there are."""
    xom = request.registry["xom"]
    serial = xom.keyfs.tx.at_serial
    cached = request.registry.get(_HASHES_KEY)
    if cached is not None and cached[0] == serial:
        return cached[1]  # type: ignore[no-any-return]
    paths = []
    for user in xom.model.get_userlist():
        for name, ixconfig in (user.get().get("indexes") or {}).items():
            if ixconfig.get("type") != "mirror":
                paths += [f"/{user.name}/{name}/", f"/{user.name}/{name}"]
    hashes = path_hashes(paths)
    request.registry[_HASHES_KEY] = (serial, hashes)
    return hashes


def discover(request: Any) -> PyramidResponse:
    """``GET /.well-known/pytp?discover=<upload path>``."""
    return _guarded(
        request,
        lambda: _endpoints(request).discover(
            request.query_string,
            request.headers.get("Accept"),
            request.application_url,
            lambda path: _uploads_to(request, path),
        ),
    )


def discover_by_hash(request: Any) -> PyramidResponse:
    """``GET /.well-known/pytp/<sha256 of the upload path>`` (the drafts' form)."""
    return _guarded(
        request,
        lambda: _endpoints(request).discover_by_hash(
            request.matchdict["key"],
            request.headers.get("Accept"),
            request.application_url,
            _upload_hashes(request),
        ),
    )


# -- managing publishers -------------------------------------------------------------


def _refusal(request: Any, username: str) -> Any:
    """An error response unless the caller may manage ``username``'s trusted publishers:
    their own password login, or an administrator's; never a token."""
    what = "trusted publishers"
    if isinstance(request.identity, TokenIdentity):
        return apiresult(403, f"API tokens cannot manage {what}; log in with a password")
    if request.authenticated_userid is None:
        response = apiresult(401, f"log in to manage {what}")
        response.headers["WWW-Authenticate"] = 'Basic realm="pypi"'
        return response
    own = request.authenticated_userid == username
    if not (
        request.has_permission("user_modify")
        or (own and request.has_permission("user_modify_password"))
    ):
        return apiresult(403, f"no permission to manage the {what} of user {username!r}")
    if request.registry["xom"].model.get_user(username) is None:
        return apiresult(404, f"no user {username!r}")
    return None


def add_publisher(context: Any, request: Any) -> Any:
    """``POST /{user}/+trusted-publishers``: register a publisher uploading as the user."""
    username = context.username
    refusal = _refusal(request, username)
    if refusal is not None:
        return refusal
    try:
        body = request.json_body
    except (ValueError, RecursionError, LookupError):
        return apiresult(400, "the body must be a JSON object")
    if not isinstance(body, dict):
        return apiresult(400, "the body must be a JSON object")
    unknown = sorted(set(body) - _PUBLISHER_FIELDS)
    if unknown:
        return apiresult(400, f"unknown field(s): {', '.join(unknown)}")
    index, projects = body.get("index"), body.get("projects")
    if not isinstance(index, str) or not _uploads_to(request, f"/{index}"):
        return apiresult(400, f"'index' must name an existing index as user/index: {index!r}")
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        return apiresult(400, "'projects' must be a list of project names")
    stage = request.registry["xom"].model.getstage(*index.split("/"))
    if request.authenticated_userid == username and not request.has_permission(
        "upload", context=stage
    ):
        # devpi's own answer for the user's login: the publisher would upload as them.
        # (An administrator registering for a user is trusted to know the index.)
        return apiresult(403, f"user {username!r} may not upload to {index!r}")
    service = request.registry[REGISTRY_KEY].service
    fields = {k: v for k, v in body.items() if k not in ("kind", "index", "projects")}
    try:
        record = service.add_publisher(
            body.get("kind"), fields, projects=projects, user=username, index=index
        )
    except NotFound as exc:
        return apiresult(404, str(exc))
    except StoreError as exc:
        return apiresult(503, f"the publisher could not be stored: {exc}")
    except PyPITokenException as exc:
        return apiresult(400, str(exc))
    return apiresult(
        201, type="trusted-publisher", result=publisher_json(record, added_by=username, epoch=True)
    )


def list_publishers(context: Any, request: Any) -> Any:
    """``GET /{user}/+trusted-publishers``: the publishers the user registered."""
    username = context.username
    refusal = _refusal(request, username)
    if refusal is not None:
        return refusal
    records = request.registry[REGISTRY_KEY].store.list_publishers()
    mine = [
        publisher_json(r, added_by=username, epoch=True)
        for r in records
        if r.added_by == user_id(username)
    ]
    return apiresult(200, type="trusted-publishers", result={"publishers": mine})


def remove_publisher(context: Any, request: Any) -> Any:
    """``DELETE /{user}/+trusted-publishers/{id}``: remove it; its tokens are revoked."""
    username = context.username
    refusal = _refusal(request, username)
    if refusal is not None:
        return refusal
    publisher_id = request.matchdict["id"]
    plugin = request.registry[REGISTRY_KEY]
    record = plugin.store.get_publisher(publisher_id)
    if record is None or record.added_by != user_id(username):
        return apiresult(404, f"user {username!r} has no trusted publisher {publisher_id!r}")
    try:
        plugin.service.remove_publisher(publisher_id, by=request.authenticated_userid)
    except StoreError as exc:
        return apiresult(503, f"the publisher could not be removed: {exc}")
    return apiresult(200, f"trusted publisher {publisher_id} removed; its tokens are revoked")
