"""The token API: what each request means and what it answers, for both index servers.

Both adapters (pypiserver, devpi) and the token page call this module with plain values:
who calls (a :class:`Caller`, authenticated by the index with a password or a login,
never a token), the method, the path below the index's root, the ``user`` query
parameter and the body's bytes. It answers a :class:`Reply`: a status, a JSON object in
devpi's shape (``{"type": ..., "result": ...}`` for data, ``{"message": ...}`` for
everything else) and headers. Whatever the body holds, the answer is a 4xx with a
message, never an exception: the body is bounded (:data:`MAX_BODY`), must be UTF-8 JSON
sent as ``application/json`` (which a web page of another site cannot make a browser
send without asking first), and every field is checked before the service sees it.

The schema, one for both servers (documented for users in ``docs/token-api.md``)::

    GET    /+api-tokens[?user=NAME]           the tokens of the caller (or of NAME)
    POST   /+api-tokens[?user=NAME]           create one: {"description", "projects",
                                              "indexes", "actions", "expires"}
    DELETE /+api-tokens/{id}[?user=NAME]      revoke one
    GET    /+api-projects[?user=NAME]         projects and roles (pypiserver)
    GET    /+api-projects/{name}              one project and its roles
    POST   /+api-projects/{name}/maintainers  {"user": NAME}: add a maintainer (owners)
    DELETE /+api-projects/{name}/maintainers/{user}   remove one (owners; a maintainer
                                              may remove themselves)
    POST   /+api-projects/{name}/transfer     {"user": NAME}: make NAME the owner (owners)
    DELETE /+api-projects/{name}              forget the project (administrators)
    GET    /+api-publishers[?user=NAME]       the trusted publishers of the caller (or NAME)
    POST   /+api-publishers[?user=NAME]       register one: {"kind", "projects", "index"
                                              (devpi), and the kind's fields}
    DELETE /+api-publishers/{id}[?user=NAME]  remove one (its tokens are revoked)

Only administrators may name another user. ``expires`` is seconds from now (a number)
or a string in one of :data:`times.FORMS`, as the CLI's ``--expires``; the server's
maximum token lifetime applies to everyone but administrators, and a token created
without ``expires`` gets that maximum.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import names, times
from .display import publisher_json, token_json
from .exceptions import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    PyPITokenException,
    StoreError,
    ValidationError,
)
from .oidc import describe_record, gitlab_token_variable
from .restrictions import ACTIONS
from .service import TokenService
from .store import Project, PublisherRecord, TokenRecord, User

__all__ = [
    "MAX_BODY",
    "MAX_DESCRIPTION",
    "MAX_NAMES",
    "PUBLISHER_FIELDS",
    "Caller",
    "IndexCheck",
    "Reply",
    "Request",
    "TokenAPI",
    "token_refused",
    "unauthenticated",
]

log = logging.getLogger("pypitoken_core.api")

#: Largest request body read; a longer one is refused (413) unread. A token's body is a
#: few hundred bytes.
MAX_BODY = 64 * 1024
#: Longest token description.
MAX_DESCRIPTION = 200
#: Most projects or indexes one token may name.
MAX_NAMES = 100

_TOKEN_FIELDS = frozenset({"projects", "indexes", "expires", "actions", "description"})
_TOKEN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EXPIRES_HINT = (
    "'expires' must be seconds from now (a positive integer), or a string: a duration"
    " (30s, 15m, 1h, 1d, 2w), an ISO 8601 datetime with an offset such as"
    " 2030-01-31T12:00:00Z, or @<epoch seconds>"
)
_INDEX = re.compile(r"[^/\s]+/[^/\s]+")
#: The fields a publisher of each kind is registered with (besides kind, projects, index);
#: the kind checks their values (:meth:`pypitoken_core.oidc.Publisher.from_fields`).
PUBLISHER_FIELDS: dict[str, frozenset[str]] = {
    "github": frozenset({"repository", "workflow", "environment", "owner_id", "issuer"}),
    "gitlab": frozenset({"project_path", "ci_config", "environment", "issuer"}),
    "oidc": frozenset({"issuer", "claims"}),
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: a user the index authenticated (password or login, never a token).

    ``admin``: one of the index's token administrators (pypiserver ``--token-admins``;
    devpi's root or ``--restrict-modify`` principals), who may act for other users.
    """

    name: str
    admin: bool = False
    #: The groups the index put the caller in at log-in (devpi's ACLs name them).
    groups: tuple[str, ...] = ()


#: Decides whether a trusted publisher may upload to ``index`` (``user/index``) on an index
#: server that keeps indexes (devpi): None, or the reason it may not. Called with the
#: caller, the user the publisher uploads as, and the index.
IndexCheck = Callable[[Caller, str, str], str | None]


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: ``status``, the JSON object ``body`` and extra ``headers``."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> str | None:
        """The human-readable message of the reply, if it has one."""
        message = self.body.get("message")
        return message if isinstance(message, str) else None

    @property
    def result(self) -> Any:
        """The data of a successful reply (``body["result"]``), or None."""
        return self.body.get("result")

    def encode(self) -> bytes:
        """The body as the servers send it (``Content-Type: application/json``)."""
        return (json.dumps(self.body, indent=2) + "\n").encode()


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request to the API, as plain values.

    ``path`` is below the index's root (``/+api-tokens/ID``); ``query`` maps each query
    parameter to its values; ``body`` holds at most :data:`MAX_BODY` + 1 bytes (the
    adapter reads no more) and ``content_type`` the ``Content-Type`` header as sent.
    """

    method: str
    path: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    body: bytes = b""
    content_type: str | None = None


def _reply(status: int, message: str, *headers: tuple[str, str]) -> Reply:
    return Reply(status, {"message": message}, headers)


def _data(status: int, kind: str, result: Any) -> Reply:
    return Reply(status, {"type": kind, "result": result})


class _Refused(Exception):
    """Ends a request early with ``reply``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.message)
        self.reply = reply


def _bad(message: str) -> _Refused:
    return _Refused(_reply(400, message))


def unauthenticated() -> Reply:
    """The answer to a request without credentials (or with wrong ones): 401 and a
    Basic challenge, as the index answers its own."""
    return _reply(
        401,
        "log in with your password to manage API tokens",
        ("WWW-Authenticate", 'Basic realm="pypi"'),
    )


def token_refused() -> Reply:
    """The answer to a request authenticated with an API token: tokens never manage
    tokens (a leaked token must not be able to make more)."""
    return _reply(403, "API tokens cannot manage API tokens; use your password")


class TokenAPI:
    """The token API over ``service``.

    ``indexes``: whether the index has indexes a token may be scoped to (devpi; on
    pypiserver a token naming one could never be used, so it is refused). The caller is
    the store's user of the same name, registered at their first request if the index
    lets the service keep users (pypiserver); an administrator may act for users the
    store knows. ``index_check`` decides, where there are indexes, whether a trusted
    publisher may upload to the one it names (see :data:`IndexCheck`); without it, no
    publisher may name an index.
    """

    def __init__(
        self, service: TokenService, *, indexes: bool, index_check: IndexCheck | None = None
    ) -> None:
        self.service = service
        self.indexes = indexes
        self.index_check = index_check

    def __repr__(self) -> str:
        return f"<TokenAPI {self.service!r}>"

    @property
    def keeps_projects(self) -> bool:
        """Whether projects and roles are managed here (pypiserver), not by the index's
        own ACLs (devpi)."""
        return self.service.directory is not None and self.service.ownership != "external"

    # -- HTTP ------------------------------------------------------------------------

    def handle(self, caller: Caller, request: Request) -> Reply:
        """Answer one HTTP request of an authenticated caller (see the module docstring)."""
        try:
            return self._route(caller, request)
        except _Refused as refused:
            return refused.reply

    def _route(self, caller: Caller, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        method, user = request.method, _user_parameter(request)
        if parts[0] == "+api-tokens" and len(parts) == 1:
            if method == "GET":
                return self.list_tokens(caller, user)
            if method == "POST":
                return self.create_token(caller, self.read_json(request), user)
            raise _Refused(_not_allowed("GET, POST"))
        if parts[0] == "+api-tokens" and len(parts) == 2:
            if method == "DELETE":
                return self.revoke_token(caller, parts[1], user)
            raise _Refused(_not_allowed("DELETE"))
        if parts[0] == "+api-projects" and self.keeps_projects:
            return self._route_projects(caller, request, parts[1:])
        if parts[0] == "+api-publishers" and len(parts) == 1:
            if method == "GET":
                return self.list_publishers(caller, user)
            if method == "POST":
                return self.add_publisher(caller, self.read_json(request), user)
            raise _Refused(_not_allowed("GET, POST"))
        if parts[0] == "+api-publishers" and len(parts) == 2:
            if method == "DELETE":
                return self.remove_publisher(caller, parts[1], user)
            raise _Refused(_not_allowed("DELETE"))
        return _reply(404, f"no API at {request.path!r}")

    def _route_projects(self, caller: Caller, request: Request, rest: list[str]) -> Reply:
        method = request.method
        if not rest:
            if method == "GET":
                return self.list_projects(caller, _user_parameter(request))
            raise _Refused(_not_allowed("GET"))
        project, what = rest[0], rest[1:]
        if not what:
            if method == "GET":
                return self.get_project(caller, project)
            if method == "DELETE":
                return self.remove_project(caller, project)
            raise _Refused(_not_allowed("GET, DELETE"))
        if what == ["maintainers"]:
            if method == "POST":
                return self.add_maintainer(caller, project, self.read_json(request))
            raise _Refused(_not_allowed("POST"))
        if len(what) == 2 and what[0] == "maintainers":
            if method == "DELETE":
                return self.remove_maintainer(caller, project, what[1])
            raise _Refused(_not_allowed("DELETE"))
        if what == ["transfer"]:
            if method == "POST":
                return self.transfer_project(caller, project, self.read_json(request))
            raise _Refused(_not_allowed("POST"))
        return _reply(404, f"no API at {request.path!r}")

    @staticmethod
    def read_json(request: Request) -> object:
        """The request's body as a JSON value; refused unless it is UTF-8 JSON of at most
        :data:`MAX_BODY` bytes, sent as ``application/json``, without repeated keys."""
        media, _, params = (request.content_type or "").partition(";")
        if media.strip().lower() != "application/json":
            raise _Refused(_reply(415, "send the body as Content-Type: application/json"))
        charset = params.strip().lower().replace(" ", "")
        if charset not in ("", "charset=utf-8", 'charset="utf-8"'):
            raise _Refused(_reply(415, "a JSON body must be UTF-8"))
        if len(request.body) > MAX_BODY:
            raise _Refused(_reply(413, f"the body is over {MAX_BODY} bytes"))
        try:
            return json.loads(request.body.decode("utf-8"), object_pairs_hook=_no_repeats)
        except (ValueError, RecursionError):
            # ValueError: not UTF-8, not JSON, a repeated key, or a number too long to
            # convert; RecursionError: nested deeper than the parser goes.
            raise _bad("the body must be a JSON object (UTF-8, no repeated keys)") from None

    # -- who may act for whom ----------------------------------------------------------

    def _target(self, caller: Caller, user: str | None, what: str) -> User:
        """The user whose ``what`` the caller manages: themselves, or (administrators
        only) ``user``. Refused with 403 before anything about ``user`` is looked up."""
        name = caller.name if user is None else user
        if name != caller.name and not caller.admin:
            raise _Refused(_reply(403, f"no permission to manage the {what} of user {name!r}"))
        try:
            if name == caller.name:
                return self.service.register_user(name)
            found = self.service.store.get_user(name) if 0 < len(name) <= 200 else None
        except (NotFound, InvalidInput):
            found = None
        except StoreError as exc:
            raise _Refused(_store_failed(exc)) from None
        if found is None:
            raise _Refused(_reply(404, f"no user {_short(name)}"))
        return found

    # -- tokens ------------------------------------------------------------------------

    def list_tokens(self, caller: Caller, user: str | None = None) -> Reply:
        """The token records of the caller (or, for an administrator, of ``user``)."""
        try:
            owner = self._target(caller, user, "API tokens")
            records = self.service.store.list_tokens(owner.id)
        except _Refused as refused:
            return refused.reply
        except StoreError as exc:
            return _store_failed(exc)
        tokens = [token_json(r, owner=owner.name, epoch=True) for r in records]
        return _data(200, "api-tokens", {"tokens": tokens})

    def list_all_tokens(self, caller: Caller) -> Reply:
        """Every user's token records (administrators only), oldest first."""
        if not caller.admin:
            return _reply(403, "only administrators see every user's API tokens")
        try:
            records = self.service.store.list_tokens()
            owners = {r.user_id: self.service.user_name(r.user_id) for r in records}
        except StoreError as exc:
            return _store_failed(exc)
        tokens = [token_json(r, owner=owners[r.user_id], epoch=True) for r in records]
        return _data(200, "api-tokens", {"tokens": tokens})

    def create_token(self, caller: Caller, body: object, user: str | None = None) -> Reply:
        """Create a token from the JSON object ``body``; 201 with its record and the token
        (the only time it is shown)."""
        try:
            owner = self._target(caller, user, "API tokens")
            arguments = self._mint_arguments(caller, body)
            raw, record = self.service.mint(owner.name, unlimited=caller.admin, **arguments)
        except _Refused as refused:
            return refused.reply
        except (InvalidInput, ValidationError) as exc:
            return _reply(400 if isinstance(exc, InvalidInput) else 403, str(exc))
        except NotFound as exc:  # a project the body names
            return _reply(400, str(exc))
        except StoreError as exc:
            return _store_failed(exc)
        result = token_json(record, owner=owner.name, epoch=True)
        return _data(201, "api-token", {**result, "token": raw})

    def _mint_arguments(self, caller: Caller, body: object) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        unknown = sorted(str(key) for key in body if key not in _TOKEN_FIELDS)
        if unknown:
            shown = ", ".join(repr(k[:40]) for k in unknown[:5])
            raise _bad(f"unknown field(s): {shown}; expected {', '.join(sorted(_TOKEN_FIELDS))}")
        projects = [names.normalize(p) for p in _names(body, "projects")]
        for project in projects:
            if not names.is_valid(project):
                raise _bad(f"{_short(project)} is not a project name")
        indexes = _names(body, "indexes")
        if indexes and not self.indexes:
            raise _bad("this server has no indexes: leave 'indexes' out")
        for index in indexes:
            if not _INDEX.fullmatch(index):
                raise _bad(f"index {_short(index)} is not in the form user/index")
        actions = _names(body, "actions") if "actions" in body else None
        if actions is not None:
            if not actions:
                raise _bad("'actions' must name at least one action")
            for action in actions:
                if action not in ACTIONS:
                    raise _bad(f"unknown action {_short(action)}; expected {', '.join(ACTIONS)}")
        description = body.get("description", "")
        if (
            not isinstance(description, str)
            or len(description) > MAX_DESCRIPTION
            or not description.isprintable()
        ):
            raise _bad(
                f"'description' must be a string of up to {MAX_DESCRIPTION} printable characters"
            )
        expires = _expires(body.get("expires"))
        if expires is None and not caller.admin and self.service.max_lifetime:
            # The longest a token may live here: a default, not a refusal.
            expires = self.service.max_lifetime
        return {
            "projects": list(dict.fromkeys(projects)),
            "indexes": list(dict.fromkeys(indexes)),
            "actions": actions,
            "expires": expires,
            "description": description,
        }

    def revoke_token(self, caller: Caller, token_id: str, user: str | None = None) -> Reply:
        """Revoke a token of the caller (or of ``user``); an administrator who names no
        user may revoke anyone's."""
        try:
            owner = self._target(caller, user, "API tokens")
            record = self._token(token_id)
            anyone = caller.admin and user is None
            if record is None or (record.user_id != owner.id and not anyone):
                return _reply(404, f"user {owner.name!r} has no API token {_short(token_id)}")
            self.service.revoke(record.id)
        except _Refused as refused:
            return refused.reply
        except NotFound:
            return _reply(404, f"no API token {_short(token_id)}")
        except StoreError as exc:
            return _store_failed(exc)
        return _reply(200, f"API token {record.id} revoked")

    def _token(self, token_id: str) -> TokenRecord | None:
        if type(token_id) is not str or not _TOKEN_ID.fullmatch(token_id):
            return None  # never a store query for what cannot be an id
        return self.service.store.get_token(token_id)

    # -- projects (indexes that keep them: pypiserver) ---------------------------------

    def list_projects(self, caller: Caller, user: str | None = None) -> Reply:
        """The projects the caller (or ``user``) owns or maintains, with everyone's roles."""
        try:
            owner = self._target(caller, user, "projects")
            projects = [
                _project_json(project, role, self.service.list_roles(project))
                for project, role in self.service.list_user_projects(owner.name)
            ]
        except _Refused as refused:
            return refused.reply
        except StoreError as exc:
            return _store_failed(exc)
        return _data(200, "projects", {"user": owner.name, "projects": projects})

    def list_all_projects(self, caller: Caller) -> Reply:
        """Every project with its roles (administrators only)."""
        if not caller.admin:
            return _reply(403, "only administrators see every project")
        if not self.keeps_projects:
            return _reply(404, "this server keeps no projects: its indexes' ACLs decide")
        try:
            projects = [
                _project_json(p, None, self.service.list_roles(p))
                for p in self.service.list_projects()
            ]
        except StoreError as exc:
            return _store_failed(exc)
        return _data(200, "projects", {"user": None, "projects": projects})

    def get_project(self, caller: Caller, project: str) -> Reply:
        """One project and everyone's roles, for a user who has a role on it (or an
        administrator)."""
        if not self.keeps_projects:
            return _reply(404, "this server keeps no projects: its indexes' ACLs decide")
        try:
            record = self.service.get_project(project)
            roles = self.service.list_roles(record)
        except (NotFound, InvalidInput):
            return _reply(404, f"no project {_short(project)}")
        except StoreError as exc:
            return _store_failed(exc)
        role = dict(roles).get(caller.name)
        if role is None and not caller.admin:
            # Only who may see it learns more than that it is not theirs.
            return _reply(403, f"user {caller.name} has no role on project {record.name!r}")
        return _data(200, "project", _project_json(record, role, roles))

    def add_maintainer(self, caller: Caller, project: str, body: object) -> Reply:
        """Let the user the body names (``{"user": NAME}``) upload to ``project``."""
        return self._role_change(
            caller,
            project,
            lambda name, by: self.service.add_maintainer(project, _user_field(body), by=by),
            lambda name: f"{_user_field(body)} now maintains {name}",
        )

    def remove_maintainer(self, caller: Caller, project: str, user: str) -> Reply:
        """Stop ``user`` maintaining ``project``."""
        return self._role_change(
            caller,
            project,
            lambda name, by: self.service.remove_maintainer(project, user, by=by),
            lambda name: f"{user} no longer maintains {name}",
        )

    def transfer_project(self, caller: Caller, project: str, body: object) -> Reply:
        """Make the user the body names (``{"user": NAME}``) the owner of ``project``."""
        return self._role_change(
            caller,
            project,
            lambda name, by: self.service.transfer_project(project, _user_field(body), by=by),
            lambda name: f"{name} now belongs to {_user_field(body)}",
        )

    def remove_project(self, caller: Caller, project: str) -> Reply:
        """Forget ``project`` and its roles (administrators only)."""
        if not caller.admin:
            return _reply(403, "only administrators remove projects")
        return self._role_change(
            caller,
            project,
            lambda name, by: self.service.remove_project(project),
            lambda name: f"removed project {name}",
        )

    def _role_change(
        self,
        caller: Caller,
        project: str,
        change: Callable[[str, str | None], None],
        done: Callable[[str], str],
    ) -> Reply:
        if not self.keeps_projects:
            return _reply(404, "this server keeps no projects: its indexes' ACLs decide")
        try:
            name = self.service.get_project(project).name
            change(name, None if caller.admin else caller.name)
        except _Refused as refused:
            return refused.reply
        except NotFound as exc:
            return _reply(404, str(exc))
        except InvalidInput as exc:
            return _reply(400, str(exc))
        except ValidationError as exc:
            return _reply(403, str(exc))
        except StoreError as exc:
            return _store_failed(exc)
        except PyPITokenException as exc:  # pragma: no cover - every family is named above
            return _reply(400, str(exc))
        return _reply(200, done(name))

    # -- trusted publishers ----------------------------------------------------------

    def list_publishers(self, caller: Caller, user: str | None = None) -> Reply:
        """The trusted publishers the caller (or, for an administrator, ``user``)
        registered, oldest first."""
        try:
            owner = self._target(caller, user, "trusted publishers")
            records = self.service.list_publishers(owner.name)
        except _Refused as refused:
            return refused.reply
        except StoreError as exc:
            return _store_failed(exc)
        publishers = [self._publisher_json(r, owner.name) for r in records]
        return _data(200, "trusted-publishers", {"user": owner.name, "publishers": publishers})

    def list_all_publishers(self, caller: Caller) -> Reply:
        """Every user's trusted publishers (administrators only), oldest first."""
        if not caller.admin:
            return _reply(403, "only administrators see every user's trusted publishers")
        try:
            records = self.service.list_publishers()
            owners = {r.added_by: self.service.user_name(r.added_by) for r in records}
        except StoreError as exc:
            return _store_failed(exc)
        publishers = [self._publisher_json(r, owners[r.added_by]) for r in records]
        return _data(200, "trusted-publishers", {"user": None, "publishers": publishers})

    def _publisher_json(self, record: PublisherRecord, added_by: str | None) -> dict[str, Any]:
        shown = publisher_json(record, added_by=added_by, epoch=True)
        shown["description"] = describe_record(record)
        if record.kind == "gitlab":
            # A GitLab job declares its OIDC token itself: the variable and its audience.
            audience = self.service.publisher_audience()
            shown["audience"] = audience
            shown["id_token_variable"] = gitlab_token_variable(audience)
        return shown

    def add_publisher(self, caller: Caller, body: object, user: str | None = None) -> Reply:
        """Register a trusted publisher from the JSON object ``body``, uploading as the
        caller (or ``user``): 201 with it. The caller must be able to mint tokens for the
        projects it names that exist (the others are pending: its first publish creates
        them); the same workflow registered again gains the projects."""
        try:
            owner = self._target(caller, user, "trusted publishers")
            kind, fields, projects, index = self._publisher_arguments(body)
            if index is not None:
                refused = self.index_check(caller, owner.name, index) if self.index_check else None
                if refused is not None:
                    return _reply(403, refused)
            record = self.service.add_publisher(
                kind, fields, projects=projects, user=owner.name, index=index
            )
        except _Refused as refused:
            return refused.reply
        except InvalidInput as exc:
            return _reply(400, str(exc))
        except ValidationError as exc:
            return _reply(403, str(exc))
        except AlreadyExists as exc:
            return _reply(409, str(exc))
        except NotFound as exc:
            return _reply(404, str(exc))
        except StoreError as exc:
            return _store_failed(exc)
        return _data(201, "trusted-publisher", self._publisher_json(record, owner.name))

    def _publisher_arguments(
        self, body: object
    ) -> tuple[str, dict[str, Any], list[str], str | None]:
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        kind = body.get("kind")
        if not isinstance(kind, str) or kind not in PUBLISHER_FIELDS:
            raise _bad(f"'kind' must be one of {', '.join(PUBLISHER_FIELDS)}")
        allowed = PUBLISHER_FIELDS[kind] | {"kind", "projects", "index"}
        unknown = sorted(str(key) for key in body if key not in allowed)
        if unknown:
            shown = ", ".join(repr(k[:40]) for k in unknown[:5])
            raise _bad(f"unknown field(s) for a {kind} publisher: {shown}")
        projects = _names(body, "projects")
        if not projects:
            raise _bad("'projects' must name at least one project")
        index = body.get("index")
        if not self.indexes:
            if index is not None:
                raise _bad("this server has no indexes: leave 'index' out")
        elif not isinstance(index, str) or not _INDEX.fullmatch(index):
            raise _bad("'index' must name the index it uploads to, as user/index")
        elif self.index_check is None:
            raise _bad("trusted publishers cannot name an index here")
        fields = {k: v for k, v in body.items() if k in PUBLISHER_FIELDS[kind]}
        return kind, fields, projects, index

    def remove_publisher(self, caller: Caller, publisher_id: str, user: str | None = None) -> Reply:
        """Remove a trusted publisher the caller (or ``user``) registered, revoking the
        tokens minted for it; an administrator who names no user may remove anyone's."""
        try:
            owner = self._target(caller, user, "trusted publishers")
            record = self._publisher(publisher_id)
            anyone = caller.admin and user is None
            if record is None or (record.added_by != owner.id and not anyone):
                return _reply(
                    404, f"user {owner.name!r} has no trusted publisher {_short(publisher_id)}"
                )
            self.service.remove_publisher(record.id, by=caller.name)
        except _Refused as refused:
            return refused.reply
        except NotFound:
            return _reply(404, f"no trusted publisher {_short(publisher_id)}")
        except StoreError as exc:
            return _store_failed(exc)
        return _reply(200, f"trusted publisher {record.id} removed; its tokens are revoked")

    def _publisher(self, publisher_id: str) -> PublisherRecord | None:
        if type(publisher_id) is not str or not _TOKEN_ID.fullmatch(publisher_id):
            return None  # publisher ids are UUIDs too: no store query for anything else
        try:
            return self.service.get_publisher(publisher_id)
        except NotFound:
            return None


def _project_json(
    project: Project, role: str | None, roles: list[tuple[str, str]]
) -> dict[str, Any]:
    """A project with the caller's ``role`` and everyone's ``roles`` (as read)."""
    return {
        "name": project.name,
        "id": project.id,
        "role": role,
        "roles": [{"user": name, "role": r} for name, r in roles],
    }


def _user_parameter(request: Request) -> str | None:
    """The ``user`` query parameter; refused when given twice (servers differ on which
    one counts)."""
    values = list(request.query.get("user", ()))
    if len(values) > 1:
        raise _bad("give the 'user' parameter once")
    return values[0] if values else None


def _not_allowed(allowed: str) -> Reply:
    return _reply(405, f"method not allowed here; use {allowed}", ("Allow", allowed))


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a repeated key")
    return result


def _short(value: object) -> str:
    """A value from a request, for a message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(body: Mapping[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if (
        not isinstance(value, list)
        or len(value) > MAX_NAMES
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise _bad(f"{key!r} must be a list of at most {MAX_NAMES} names")
    return value


def _user_field(body: object) -> str:
    if not isinstance(body, dict) or set(body) != {"user"} or not isinstance(body["user"], str):
        raise _bad('the body must be {"user": NAME}')
    name: str = body["user"]
    return name


def _expires(value: object) -> int | datetime.datetime | None:
    """``expires`` as the service takes it: seconds from now, or a moment.

    A JSON number is a lifetime in seconds; a string is read by :func:`times.parse_time`,
    as the CLI reads ``--expires`` (so "30" as a string is refused, as it is there).
    """
    if value is None:
        return None
    if type(value) is int:
        if value <= 0:
            raise _bad(_EXPIRES_HINT)
        return value  # the service refuses a moment past year 9999, and says so
    if not isinstance(value, str):
        raise _bad(_EXPIRES_HINT)
    try:
        when = times.parse_time(value)
    except InvalidInput as exc:
        raise _bad(f"'expires' {exc}") from None  # it names the forms, or the fix
    return int(when.total_seconds()) if isinstance(when, datetime.timedelta) else when


def _store_failed(exc: StoreError) -> Reply:
    log.error("pypitoken: the token store failed: %s", exc)
    return _reply(503, "the token store is unavailable; try again later")
