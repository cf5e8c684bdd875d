"""Trusted publishing on devpi: the OIDC exchange routes.

Exchange routes (no login; the OIDC token is the credential):

- ``GET /_/oidc/audience``, ``POST /_/oidc/mint-token`` (and ``/_/oidc/github/mint-token``),
  ``POST /_/oidc/burn-token``: the core's :class:`~pypitoken_core.oidc.Endpoints`. On a
  replica devpi forwards the POSTs to the primary, where the token is minted.
- ``GET /.well-known/pytp?discover=/<user>/<index>/`` (PEP 807): every index that takes
  uploads has the endpoints (the drafts' ``/.well-known/pytp/<sha256>`` form too).

Publishers are managed through the token API (``views``: ``/+api-publishers`` and
``/{user}/+trusted-publishers``) and the token page. A devpi publisher uploads as the
user who registered it, to one index: its tokens carry the index restriction, and devpi's
ACLs decide as for that user. These routes are added before devpi's own, whose
``/{user}/{index}`` would otherwise take them.
"""

from __future__ import annotations

from typing import Any

from devpi_server.log import threadlog
from pyramid.response import Response as PyramidResponse

from pypitoken_core.oidc import (
    MAX_BODY,
    Endpoints,
    ExchangeError,
    Response,
    check_length,
    path_hashes,
    problem,
)

from ._identity import REGISTRY_KEY

__all__ = ["includeme"]

#: Registry key of the cached (keyfs serial, discovery keys of every index path).
_HASHES_KEY = "pypitoken_devpi.upload_path_hashes"


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


def _send(answer: Response) -> PyramidResponse:
    return PyramidResponse(
        body=answer.content(), status=answer.status, content_type=answer.content_type
    )


def _endpoints(request: Any) -> Endpoints:
    endpoints: Endpoints = request.registry[REGISTRY_KEY].endpoints
    return endpoints


def _guarded(answer: Any) -> PyramidResponse:
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
    return _guarded(lambda: _endpoints(request).get_audience())


def mint(request: Any) -> PyramidResponse:
    """``POST /_/oidc/mint-token``."""
    return _guarded(lambda: _endpoints(request).mint(_body(request)))


def burn(request: Any) -> PyramidResponse:
    """``POST /_/oidc/burn-token``."""
    return _guarded(lambda: _endpoints(request).burn(_body(request)))


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
        return cached[1]
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
        lambda: _endpoints(request).discover_by_hash(
            request.matchdict["key"],
            request.headers.get("Accept"),
            request.application_url,
            _upload_hashes(request),
        ),
    )
