"""HTTP API to manage a user's API tokens, in devpi's JSON style.

- ``POST /{user}/+api-tokens`` with a JSON object (all keys optional): ``projects`` and
  ``indexes`` (lists of names; ``user/index`` for indexes), ``expires`` (seconds from now,
  or an ISO 8601 datetime), ``actions`` (subset of ``upload``, ``download``, ``delete``;
  default upload and download), ``description``. Answers 201 with
  ``{"type": "api-token", "result": {"id": ..., "token": ...}}``; the token is shown
  only here.
- ``GET /{user}/+api-tokens``: ``{"type": "api-tokens", "result": {"tokens": [...]}}``,
  the records without secrets.
- ``DELETE /{user}/+api-tokens/{id}``: revokes the token.

Only the user's own login (password or devpi login) or an administrator (``root``, or a
``--restrict-modify`` principal) may call them; a token never can. On a replica devpi
forwards the POST and DELETE requests to the primary.

- ``GET /+pypitoken/audit?limit=100&token=<id>``: this server's audit trail (mints,
  revocations, refusals folded with a count), newest first, as ``pypitoken audit list
  --json`` shows one: ``{"type": "pypitoken-audit", "result": {"events": [...]}}``. For
  ``root`` only (with its password or devpi login); each server answers with its own.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from devpi_server.views import apiresult

from pypitoken_core.display import event_json, token_json
from pypitoken_core.exceptions import NotFound, PyPITokenException, StoreError

from ._identity import REGISTRY_KEY, TokenIdentity
from ._store import user_id

__all__ = ["includeme"]

_FIELDS = frozenset({"projects", "indexes", "expires", "actions", "description"})
_MAX_DESCRIPTION = 200


class _BadRequest(Exception):
    """The request body cannot describe a token."""


def includeme(config: Any) -> None:
    """Add the routes and views (``pyramid_config.include`` target)."""
    config.add_route("pypitoken-api-tokens", "/{user:[^+/]+}/+api-tokens")
    config.add_route("pypitoken-api-token", "/{user:[^+/]+}/+api-tokens/{id}")
    config.add_view(create_token, route_name="pypitoken-api-tokens", request_method="POST")
    config.add_view(list_tokens, route_name="pypitoken-api-tokens", request_method="GET")
    config.add_view(revoke_token, route_name="pypitoken-api-token", request_method="DELETE")
    config.add_route("pypitoken-audit", "/+pypitoken/audit")
    config.add_view(audit_events, route_name="pypitoken-audit", request_method="GET")


def _refusal(request: Any, username: str) -> Any:
    """Return an error response unless the caller may manage ``username``'s tokens."""
    if isinstance(request.identity, TokenIdentity):
        return apiresult(403, "API tokens cannot manage API tokens; log in with a password")
    if request.authenticated_userid is None:
        response = apiresult(401, "log in to manage API tokens")
        response.headers["WWW-Authenticate"] = 'Basic realm="pypi"'
        return response
    own = request.authenticated_userid == username
    if not (
        request.has_permission("user_modify")
        or (own and request.has_permission("user_modify_password"))
    ):
        return apiresult(403, f"no permission to manage the API tokens of user {username!r}")
    if request.registry["xom"].model.get_user(username) is None:
        return apiresult(404, f"no user {username!r}")
    return None


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _BadRequest(f"{key!r} must be a list of names")
    return value


def _expires(value: object) -> int | datetime.datetime | None:
    if value is None:
        return None
    if type(value) is int:
        if value <= 0:
            raise _BadRequest("'expires' in seconds must be positive")
        return value
    if isinstance(value, str):
        try:
            when = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise _BadRequest("'expires' must be seconds or an ISO 8601 datetime") from None
        return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)
    raise _BadRequest("'expires' must be seconds or an ISO 8601 datetime")


def _mint_arguments(request: Any, max_expiry: int) -> dict[str, Any]:
    try:
        body = request.json_body
    except (ValueError, RecursionError, LookupError):
        # ValueError: not JSON or not in its charset; RecursionError: nested deeper than
        # the parser goes; LookupError: a charset Python does not know.
        raise _BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _BadRequest(f"unknown field(s): {', '.join(unknown)}")
    indexes = _names(body, "indexes")
    for index in indexes:
        user, _, name = index.partition("/")
        if not user or not name or "/" in name:
            raise _BadRequest(f"index {index!r} is not in the form user/index")
    actions = _names(body, "actions") if "actions" in body else None
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > _MAX_DESCRIPTION:
        raise _BadRequest(f"'description' must be a string of up to {_MAX_DESCRIPTION} characters")
    if "\x00" in description:  # no store keeps one (PostgreSQL cannot)
        raise _BadRequest("'description' cannot contain NUL characters")
    expires = _expires(body.get("expires"))
    if max_expiry and request.authenticated_userid != "root":
        if expires is None:
            expires = max_expiry
        seconds = expires if isinstance(expires, int) else expires.timestamp() - time.time()
        if seconds > max_expiry:
            raise _BadRequest(f"tokens on this server must expire within {max_expiry} seconds")
    return {
        "projects": _names(body, "projects"),
        "indexes": indexes,
        "expires": expires,
        "actions": actions,
        "description": description,
    }


def create_token(context: Any, request: Any) -> Any:
    """``POST /{user}/+api-tokens``: mint a token for the user."""
    username = context.username
    refusal = _refusal(request, username)
    if refusal is not None:
        return refusal
    plugin = request.registry[REGISTRY_KEY]
    try:
        raw, record = plugin.service.mint(username, **_mint_arguments(request, plugin.max_expiry))
    except _BadRequest as exc:
        return apiresult(400, str(exc))
    except NotFound as exc:
        return apiresult(404, str(exc))
    except StoreError as exc:
        return apiresult(503, f"the token could not be stored: {exc}")
    except PyPITokenException as exc:
        return apiresult(400, str(exc))
    return apiresult(201, type="api-token", result={"id": record.id, "token": raw})


def list_tokens(context: Any, request: Any) -> Any:
    """``GET /{user}/+api-tokens``: the user's token records, without secrets."""
    username = context.username
    refusal = _refusal(request, username)
    if refusal is not None:
        return refusal
    records = request.registry[REGISTRY_KEY].store.list_tokens(user_id(username))
    tokens = [token_json(r, owner=username, epoch=True) for r in records]
    return apiresult(200, type="api-tokens", result={"tokens": tokens})


def revoke_token(context: Any, request: Any) -> Any:
    """``DELETE /{user}/+api-tokens/{id}``: revoke one of the user's tokens."""
    username = context.username
    refusal = _refusal(request, username)
    if refusal is not None:
        return refusal
    token_id = request.matchdict["id"]
    plugin = request.registry[REGISTRY_KEY]
    record = plugin.store.get_token(token_id)
    if record is None or record.user_id != user_id(username):
        return apiresult(404, f"user {username!r} has no API token {token_id!r}")
    try:
        plugin.service.revoke(token_id)
    except StoreError as exc:
        return apiresult(503, f"the token could not be revoked: {exc}")
    return apiresult(200, f"API token {token_id} revoked")


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
