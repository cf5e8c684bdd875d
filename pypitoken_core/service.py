"""TokenService: mint, authenticate and revoke tokens against a store.

This is the one entry point the index adapters call. It knows users, projects, ownership
and tokens; it knows nothing about HTTP. ``authenticate`` reads top to bottom: find the
token (size limit, prefix, format, one store read), verify it (signature, then revoked?
and the owner), collect the reasons (the restrictions kept on the record, then the caveats
in the token, including those the holder added offline), apply the ownership policy (a
token never does what its owner cannot), touch ``last_used``. ``evaluate`` answers several
uses of one token the same way, at the cost of one.

Until the signature is verified, every refusal reads the same (:data:`INVALID_TOKEN`)
and costs the same (an unknown id is checked against a stand-in key): whoever holds only
an id learns neither whether it exists nor whether it was revoked.

The rooms beside this one: ``_keys`` (the server secret and the keys derived from it),
``_ownership`` (one policy per ownership mode), ``_minting`` (a new token's parameters,
and making it with its record), ``_checks`` (what a record says about a use), ``_audit``
(the folded, bounded audit trail: see there) and ``_claims`` (who owns a project name).
Inside, a check returns a :class:`~pypitoken_core._audit.Refusal` or None; only the public
methods raise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import names
from ._audit import (
    DEFAULT_AUDIT_MAX_EVENTS,
    DEFAULT_AUDIT_WINDOW,
    Auditor,
    Refusal,
    event,
)
from ._checks import scope_reasons, window_reasons
from ._claims import Claim, ProjectClaims
from ._identity import Identity
from ._keys import (
    STAND_IN_SALT,
    check_secret,
    derive_key,
    load_secret,
    note_fingerprint,
)
from ._minting import DEFAULT_ACTIONS, checked_lifetime, issue, mint_actions, mint_window
from ._ownership import (
    MAINTAINER,
    OWNER,
    OWNERSHIP_CHOICES,
    OWNERSHIP_MODES,
    Ownership,
    bad_project_name,
    is_user_name,
    ownership_policy,
)
from ._publishing import Publishing
from .exceptions import (
    AlreadyExists,
    ConfigurationError,
    InvalidInput,
    InvalidRestriction,
    LoaderError,
    NotFound,
    StoreError,
    ValidationError,
)
from .oidc import (
    Endpoints,
    IssuerKeys,
    TrustedPublishingSettings,
    Verifier,
    default_audience,
    load_pinned,
)
from .restrictions import Context
from .store import (
    AuditEvent,
    AuditTrail,
    Directory,
    Project,
    PublisherRecord,
    Publishers,
    SingleUse,
    TokenGrant,
    TokenRecord,
    TokenRecords,
    User,
    open_store,
)
from .token import MAX_TOKEN_LENGTH, Token

__all__ = [
    "DEFAULT_ACTIONS",
    "DEFAULT_AUDIT_MAX_EVENTS",
    "DEFAULT_AUDIT_WINDOW",
    "DEFAULT_DB_URL",
    "INVALID_TOKEN",
    "OWNERSHIP_CHOICES",
    "OWNERSHIP_MODES",
    "Claim",
    "Identity",
    "TokenService",
    "derive_key",
    "load_secret",
    "wrong_password",
]

#: The reason given for every token that is not provably genuine (unknown id, bad signature).
INVALID_TOKEN = "invalid or unknown token"  # noqa: S105 (a message, not a secret)

_log = logging.getLogger("pypitoken_core.service")
_DB_ENV = "PYPITOKEN_DB"
#: The store of a command given no URL (and no ``$PYPITOKEN_DB``): in the current directory.
DEFAULT_DB_URL = "sqlite:///pypitoken.sqlite3"
_DOMAIN_SETTING = "domain"
_MAX_LIFETIME_SETTING = "max_lifetime"
_ALLOW_DELETE_SETTING = "allow_delete"
#: Where to turn the delete action on; the one index whose switch it can be (devpi always
#: allows it, and decides by its own ACLs).
_DELETE_SWITCH = "start pypitoken-pypiserver with --allow-token-delete"
#: Keys the store's memory of grants by the presented token's signature (see ``_grant``):
#: random per process, as the memory is.
_SEAL_KEY = os.urandom(32)
#: Tokens whose last touch this process remembers (see ``_touch``).
_TOUCHED_MAX = 10_000
_AUDIENCE_SETTING = "oidc_audience"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class TokenService:
    """Mint, authenticate and revoke tokens; manage users, projects and roles.

    Thread-safe as far as the store is (both bundled stores are). ``ownership`` is one of
    :data:`OWNERSHIP_MODES`; ``external`` is the one mode whose store may keep token
    records only, without a :class:`~pypitoken_core.store.Directory` (users, projects and
    roles are then the index server's, and the methods that manage them raise
    :class:`StoreError`); ``allow_delete`` enables the ``delete`` action;
    ``last_used_interval`` throttles the ``last_used`` writes (seconds);
    ``max_lifetime`` (seconds, None or 0 for none) is the longest a minted token may
    live; ``audit_window`` and ``audit_max_events`` bound the audit trail (see
    :mod:`pypitoken_core._audit`). Raises :class:`ConfigurationError` for any of them
    that cannot work.
    """

    def __init__(
        self,
        store: TokenRecords,
        secret: bytes,
        *,
        domain: str = "localhost",
        prefix: str = "pypi",
        ownership: str = "pypi",
        allow_delete: bool = False,
        last_used_interval: int = 60,
        max_lifetime: int | None = None,
        audit_window: int = DEFAULT_AUDIT_WINDOW,
        audit_max_events: int = DEFAULT_AUDIT_MAX_EVENTS,
    ) -> None:
        self._secret = check_secret(secret)
        self._policy: Ownership = ownership_policy(ownership)
        if not prefix or "-" in prefix:
            raise ConfigurationError("the token prefix must be non-empty and contain no '-'")
        directory = store if isinstance(store, Directory) else None
        if directory is None and self._policy.keeps_projects:
            raise ConfigurationError(
                f"ownership {ownership!r} needs a store that keeps users and projects;"
                f" {store.url} keeps token records only"
            )
        self._audit = Auditor(store, audit_window, audit_max_events)
        self.max_lifetime = checked_lifetime(max_lifetime)
        self.store = store
        #: The store's users, projects and roles: the store itself when it keeps them
        #: (every URL store does), None when the index server keeps its own.
        self.directory: Directory | None = directory
        self._claims = (
            None if directory is None else ProjectClaims(directory, self._policy, self._audit)
        )
        self._publishing = (
            Publishing(
                store,
                self._secret,
                self._policy,
                directory,
                domain=domain,
                prefix=prefix,
            )
            if isinstance(store, Publishers) and isinstance(store, SingleUse)
            else None
        )
        self.domain = domain
        self.prefix = prefix
        self.ownership = ownership
        self.allow_delete = allow_delete
        self.last_used_interval = last_used_interval
        self._touched: OrderedDict[str, int] = OrderedDict()

    def __repr__(self) -> str:
        return f"<TokenService store={self.store.url!r} ownership={self.ownership!r}>"

    @property
    def audit_window(self) -> int:
        """Seconds during which repeated refusals of one kind share an audit line."""
        return self._audit.window

    @property
    def audit_max_events(self) -> int:
        """Lines the audit trail keeps at most."""
        return self._audit.max_events

    @classmethod
    def from_url(
        cls,
        db_url: str | None = None,
        *,
        secret_file: str | os.PathLike[str] | None = None,
        domain: str | None = None,
        prefix: str = "pypi",
        ownership: str = "pypi",
        allow_delete: bool | None = None,
        max_lifetime: int | None = None,
    ) -> TokenService:
        """Open the store at ``db_url`` (default ``$PYPITOKEN_DB``, else ./pypitoken.sqlite3).

        A given ``domain`` is saved as the store's; without one, the store's is used,
        else ``localhost``. ``max_lifetime`` likewise (seconds; 0 saves "no limit"), and
        ``allow_delete`` (None: the store's, else off), so that the admin CLI follows the
        limit and the delete switch an index was started with. Warns in the log
        when the secret differs from the one tokens in this store were minted with.
        """
        lifetime = None if max_lifetime is None else checked_lifetime(max_lifetime) or 0
        url = db_url or os.environ.get(_DB_ENV) or DEFAULT_DB_URL
        store = open_store(url)
        try:
            secret = load_secret(url, secret_file)
            note_fingerprint(store, secret, warn=True)
            # The index's configured domain becomes the store's, so that tokens minted
            # later from the admin CLI carry it too.
            stored = store.get_setting(_DOMAIN_SETTING)
            if domain and domain != stored:
                store.set_setting(_DOMAIN_SETTING, domain)
            domain = domain or stored or "localhost"
            if lifetime is None:
                lifetime = _stored_lifetime(store)
            elif store.get_setting(_MAX_LIFETIME_SETTING) != str(lifetime):
                store.set_setting(_MAX_LIFETIME_SETTING, str(lifetime))
            saved_delete = store.get_setting(_ALLOW_DELETE_SETTING)
            if allow_delete is None:
                allow_delete = saved_delete == "1"
            elif saved_delete != str(int(allow_delete)):
                store.set_setting(_ALLOW_DELETE_SETTING, str(int(allow_delete)))
        except BaseException:
            store.close()
            raise
        return cls(
            store,
            secret,
            domain=domain,
            prefix=prefix,
            ownership=ownership,
            allow_delete=allow_delete,
            max_lifetime=lifetime,
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # -- users, projects, roles ---------------------------------------------------------

    def _directory(self) -> Directory:
        """The store's directory; StoreError when the index server keeps users itself."""
        if self.directory is None:
            raise StoreError(
                f"{self.store.url} keeps token records only: its users and projects"
                " are the index server's"
            )
        return self.directory

    def _trail(self) -> AuditTrail:
        """The store's readable audit trail; StoreError when it only passes events on."""
        if not isinstance(self.store, AuditTrail):
            raise StoreError(f"{self.store.url} keeps no audit trail to read back")
        return self.store

    def add_user(self, name: str) -> User:
        """Register a user (raises :class:`InvalidInput`, :class:`AlreadyExists`)."""
        if not is_user_name(name):
            raise InvalidInput(f"invalid user name {name!r}")
        return self._directory().add_user(name)

    def remove_user(self, name: str, *, transfer_to: str | None = None) -> list[Project]:
        """Remove a user; all their tokens are refused from the next request on, and their
        token-page sessions end.

        A project must not be left without an owner, where nobody (not even an
        administrator's tokens) could upload: while ``name`` is the only owner of a
        project (see :meth:`sole_owned_projects`), the removal is refused with
        :class:`ValidationError`, unless ``transfer_to`` names the user who becomes the
        owner of those projects first. Returns the projects given to ``transfer_to``.
        Raises :class:`NotFound` for an unknown user.
        """
        user = self._user(name)
        orphans = self.sole_owned_projects(name)
        if orphans and transfer_to is None:
            raise ValidationError(
                f"user {name} is the only owner of {_project_list(orphans)}: name the user"
                " who takes them over, or transfer or remove them first"
            )
        if orphans and transfer_to is not None:
            heir = self._user(transfer_to)
            if heir.id == user.id:
                raise InvalidInput(f"user {name} cannot take over their own projects")
            for project in orphans:
                self._directory().transfer_project(
                    project.id,
                    heir.id,
                    event=event(
                        "project_transferred",
                        user=heir.name,
                        project=project.name,
                        reason=f"from {name}, who was removed",
                    ),
                )
        self._directory().remove_user(
            name, event=event("user_removed", user=name, reason="user removed")
        )
        return orphans

    def sole_owned_projects(self, name: str) -> list[Project]:
        """The projects whose only owner is the user ``name``, by name."""
        user = self._user(name)
        directory = self._directory()
        return [
            project
            for project, role in directory.list_user_roles(user.id)
            if role == OWNER
            and [n for n, r in directory.list_roles(project.id) if r == OWNER] == [name]
        ]

    def list_users(self) -> list[User]:
        """All registered users."""
        return self._directory().list_users()

    def register_user(self, name: str) -> User:
        """The user called ``name``, registered now if new: a user the index authenticated
        with a password is the registered user of the same name from their first use on.

        Where the index keeps its own users (``external``), only reads them: raises
        :class:`NotFound` for a name the index does not know. :class:`InvalidInput` for a
        name that cannot be a user's.
        """
        if not is_user_name(name):
            raise InvalidInput(f"invalid user name {name!r}")
        user = self.store.get_user(name)
        if user is not None:
            return user
        if self.directory is None:
            raise NotFound(f"unknown user {name!r}")
        try:
            return self.directory.add_user(name)
        except AlreadyExists:  # registered meanwhile, by another request
            return self._user(name)

    def user_name(self, user_id: str) -> str | None:
        """The name of the user with this id, or None if removed."""
        user = self.store.get_user_by_id(user_id)
        return None if user is None else user.name

    def add_project(self, name: str, owner: str) -> Project:
        """Register a project owned by ``owner`` (raises :class:`InvalidInput`,
        :class:`NotFound`, :class:`AlreadyExists`)."""
        normalized = self._project_name(name)
        return self._directory().add_project(normalized, self._user(owner).id)

    def get_project(self, name: str) -> Project:
        """The registered project called ``name`` (normalised here); raises
        :class:`InvalidInput` or :class:`NotFound`."""
        return self._project(name)

    def add_maintainer(self, project: str, user: str, *, by: str | None = None) -> None:
        """Let ``user`` upload to ``project``.

        ``by`` is the user who asks, who must own the project; None is an administrator
        (the admin CLI, an index's named admins). An owner stays an owner: handing a
        project over is :meth:`transfer_project`. Raises :class:`NotFound` for an unknown
        project or user, :class:`ValidationError` when ``by`` may not, or ``user`` owns it.
        """
        record = self._project(project)
        self._require_owner(record, by)
        target = self._user(user)
        if self._directory().get_role(record.id, target.id) == OWNER:
            raise ValidationError(f"user {target.name} already owns project {record.name!r}")
        self._directory().set_role(
            record.id,
            target.id,
            MAINTAINER,
            event=_role_event("maintainer_added", target.name, record.name, by),
        )

    def remove_maintainer(self, project: str, user: str, *, by: str | None = None) -> None:
        """Stop ``user`` maintaining ``project``: they can no longer upload to it.

        ``by`` must own the project (None: an administrator), or be ``user`` (a maintainer
        may leave). An owner cannot be removed this way (the project would have no owner
        to manage it): transfer it first. Raises :class:`NotFound` (also when ``user``
        has no role there) or :class:`ValidationError`.
        """
        record = self._project(project)
        target = self._user(user)
        if by != target.name:
            self._require_owner(record, by)
        role = self._directory().get_role(record.id, target.id)
        if role is None:
            raise NotFound(f"user {target.name} does not maintain project {record.name!r}")
        if role == OWNER:
            raise ValidationError(
                f"user {target.name} owns project {record.name!r}; transfer it to another"
                " user first"
            )
        removed = self._directory().remove_role(
            record.id,
            target.id,
            event=_role_event("maintainer_removed", target.name, record.name, by),
        )
        if not removed:  # taken away by someone else meanwhile
            raise NotFound(f"user {target.name} does not maintain project {record.name!r}")

    def transfer_project(self, project: str, to: str, *, by: str | None = None) -> None:
        """Make ``to`` the owner of ``project``; its other owners become maintainers.

        ``by`` must own the project; None (an administrator) may also give a project
        that lost its owner a new one. Raises :class:`NotFound` or
        :class:`ValidationError`.
        """
        record = self._project(project)
        self._require_owner(record, by)
        target = self._user(to)
        self._directory().transfer_project(
            record.id,
            target.id,
            event=_role_event("project_transferred", target.name, record.name, by),
        )

    def remove_project(self, project: str) -> None:
        """Forget a project and every role on it (an administrator's operation).

        Its files stay on the index: a project that still has files then has no owner, and
        uploads to it are refused until an administrator names one (``pypitoken project
        add``). Tokens scoped to it stay scoped to its old id, which no later project of
        the same name will have. Raises :class:`NotFound` for an unknown project.
        """
        record = self._project(project)
        removed = self._directory().remove_project(
            record.id,
            event=event("project_removed", project=record.name, reason="by an administrator"),
        )
        if not removed:
            raise NotFound(f"unknown project {project!r}")

    def list_projects(self) -> list[Project]:
        """All registered projects."""
        return self._directory().list_projects()

    def list_roles(self, project: Project) -> list[tuple[str, str]]:
        """``(user name, role)`` of everyone with a role on ``project``, by user name."""
        return self._directory().list_roles(project.id)

    def list_user_projects(self, user: str) -> list[tuple[Project, str]]:
        """``(project, role)`` for every project ``user`` owns or maintains, by name."""
        return self._directory().list_user_roles(self._user(user).id)

    def _require_owner(self, project: Project, by: str | None) -> None:
        """Refuse unless ``by`` owns ``project`` (None, an administrator, always may)."""
        if by is None:
            return
        user = self.store.get_user(by)
        role = None if user is None else self._directory().get_role(project.id, user.id)
        if role != OWNER:
            raise ValidationError(f"user {by} does not own project {project.name!r}")

    def _user(self, name: str) -> User:
        user = self.store.get_user(name)
        if user is None:
            raise NotFound(f"unknown user {name!r}")
        return user

    def _project_name(self, name: str, error: type[InvalidInput] = InvalidInput) -> str:
        bad = bad_project_name(name)
        if bad is not None:
            raise error(bad)
        return names.normalize(name)

    def _project(self, name: str) -> Project:
        record = self._directory().get_project(self._project_name(name))
        if record is None:
            raise NotFound(f"unknown project {name!r}")
        return record

    # -- tokens -------------------------------------------------------------------------

    def mint(
        self,
        user: str,
        *,
        projects: Iterable[str] = (),
        project_ids: Iterable[str] = (),
        indexes: Iterable[str] = (),
        expires: int | datetime.datetime | datetime.timedelta | None = None,
        not_before: int | datetime.datetime | datetime.timedelta | None = None,
        actions: Iterable[str] | None = None,
        description: str = "",
        domain: str | None = None,
        unlimited: bool = False,
    ) -> tuple[str, TokenRecord]:
        """Create a token for ``user``; return the raw token (show it once) and its record.

        ``expires``/``not_before``: a datetime is absolute, an int or timedelta is relative
        to now. A project-scoped token carries the project-name and project-id caveats, as
        on pypi.org; it can only be minted for existing projects the ownership policy lets
        the user mint for (in ``external`` mode the index checks this itself). A
        user-wide token carries the user-id caveat. Restrictions are kept on the record
        and embedded as caveats; both are enforced. Raises :class:`InvalidRestriction`
        for parameters that cannot describe the token (times outside years 1 to 9999; with
        a ``max_lifetime``, a token that would never expire or live longer),
        :class:`NotFound` for an unknown user or project, :class:`ValidationError` when
        the policy refuses. ``unlimited`` exempts the token from ``max_lifetime``: the
        index's administrators mint such tokens through its token API.
        """
        owner = self._user(user)
        now = int(time.time())
        project_list = [self._project_name(p, InvalidRestriction) for p in projects]
        ids = list(project_ids)
        if self._policy.keeps_projects:
            for name in project_list:
                project = self._project(name)
                role = self._directory().get_role(project.id, owner.id)
                refused = self._policy.mint_refusal(owner, project, role)
                if refused is not None:
                    raise ValidationError(refused)
                ids.append(project.id)
        lifetime = None if unlimited else self.max_lifetime
        not_before_ts, expires_ts = mint_window(expires, not_before, now, lifetime)
        return issue(
            self.store,
            self._secret,
            owner,
            domain=domain or self.domain,
            prefix=self.prefix,
            now=now,
            projects=project_list,
            project_ids=ids,
            indexes=list(indexes),
            actions=mint_actions(
                actions, allow_delete=self.allow_delete, enable_with=_DELETE_SWITCH
            ),
            not_before=not_before_ts,
            expires=expires_ts,
            description=description,
        )

    def revoke(self, token_id: str) -> None:
        """Revoke a token: refused from the next request on, in every process."""
        if not self.store.revoke_token(
            token_id, event=event("revoked", token_id=token_id, reason="revoked")
        ):
            raise NotFound(f"unknown token {token_id!r}")

    def get_token(self, token_id: str) -> TokenRecord:
        """The record of a token (raises :class:`NotFound`)."""
        record = self.store.get_token(token_id)
        if record is None:
            raise NotFound(f"unknown token {token_id!r}")
        return record

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Records of all tokens, or of one user's tokens."""
        return self.store.list_tokens(None if user is None else self._user(user).id)

    def find_token(self, prefix: str) -> TokenRecord:
        """The one token whose id starts with ``prefix`` (a whole id, or any unique start).

        Raises :class:`NotFound` when none does, and :class:`InvalidInput` naming the
        candidates (by the start of their ids, long enough to tell them apart) when
        several do. For people typing ids; servers look tokens up by whole ids only.
        """
        wanted = prefix.strip().lower()
        if _UUID.fullmatch(wanted):
            return self.get_token(wanted)
        found = (
            [r for r in self.store.list_tokens(None) if r.id.startswith(wanted)] if wanted else []
        )
        if not found:
            raise NotFound(f"no token id starts with {prefix[:40]!r}")
        if len(found) > 1:
            ids = sorted(r.id for r in found)
            shown = ", ".join(_unique_start(i, ids) for i in ids[:10])
            shown += ", ..." if len(ids) > 10 else ""
            raise InvalidInput(
                f"{len(ids)} tokens start with {prefix[:40]!r}: {shown}; give more of the id"
            )
        return found[0]

    # -- trusted publishers -------------------------------------------------------------

    def _publishers(self) -> Publishing:
        if self._publishing is None:
            raise StoreError(f"{self.store.url} keeps no trusted publishers")
        return self._publishing

    def add_publisher(
        self,
        kind: str,
        fields: Mapping[str, Any],
        *,
        projects: Sequence[str],
        user: str | None = None,
        index: str | None = None,
    ) -> PublisherRecord:
        """Register a trusted publisher of ``kind`` (``github``, ``gitlab``, ``oidc``).

        ``fields`` are the kind's (see :mod:`pypitoken_core.oidc`): GitHub ``repository``
        (``OWNER/REPO``), ``workflow``, optional ``environment``, ``owner_id`` and
        ``issuer``; GitLab ``project_path``, ``ci_config``, optional ``environment`` and
        ``issuer``; any issuer ``issuer`` and ``claims`` (a dict). The publisher uploads to
        ``projects`` on behalf of ``user`` (default: the owner of the one project named),
        who must be able to mint tokens for them. A project that does not exist yet is
        pending: its first publish creates it, owned by ``user``. The same publisher
        (kind, fields, index) added again by the same user gains the projects; by another
        user it is refused (:class:`AlreadyExists`). Where the index keeps its own
        projects (devpi), ``index`` names the ``user/index`` it uploads to. Raises
        :class:`InvalidInput`, :class:`NotFound`, :class:`ValidationError` (the user may
        not upload there).
        """
        owner = None if user is None else self._user(user)
        return self._publishers().add(kind, fields, projects=projects, user=owner, index=index)

    def list_publishers(self, user: str | None = None) -> list[PublisherRecord]:
        """Every trusted publisher, or those registered by one user, oldest first."""
        records = self._publishers().registered()
        if user is None:
            return records
        owner_id = self._user(user).id
        return [r for r in records if r.added_by == owner_id]

    def get_publisher(self, publisher_id: str) -> PublisherRecord:
        """The trusted publisher with this id (raises :class:`NotFound`)."""
        record = self._publishers().get(publisher_id)
        if record is None:
            raise NotFound(f"unknown publisher {publisher_id!r}")
        return record

    def remove_publisher(self, publisher_id: str, *, by: str | None = None) -> None:
        """Remove a trusted publisher; every token minted for it is revoked with it."""
        self._publishers().remove(publisher_id, by=by)

    def trusted_publishing(self, settings: TrustedPublishingSettings) -> Endpoints:
        """The trusted-publishing endpoints of this service's index (see
        :mod:`pypitoken_core.oidc`), keeping their issuer keys for the life of the object.

        The audience defaults to one derived from the token domain. A server whose
        maximum token lifetime is shorter than ``settings.lifetime`` mints no publisher
        tokens (they answer ``not-enabled``). Raises :class:`ConfigurationError` when
        PyJWT is missing or a pinned key file cannot be used.
        """
        publishing = self._publishers()
        audience = settings.audience or default_audience(self.domain)
        # Saved for the admin CLI, which tells GitLab users the variable it names.
        if self.store.get_setting(_AUDIENCE_SETTING) != audience:
            self.store.set_setting(_AUDIENCE_SETTING, audience)
        if settings.enabled and self.max_lifetime is not None:
            if self.max_lifetime < settings.lifetime:
                _log.warning(
                    "trusted publishing is off: tokens live at most %d s here, and a"
                    " publisher's token lives %d s",
                    self.max_lifetime,
                    settings.lifetime,
                )
                settings = dataclasses.replace(settings, enabled=False)
        pinned = load_pinned(settings.jwks_file) if settings.jwks_file else None
        verifier = Verifier(audience, IssuerKeys(pinned), publishing.issuer_known)
        lifetime = settings.lifetime
        return Endpoints(
            settings,
            verifier,
            lambda claims: publishing.exchange(claims, lifetime=lifetime),
            self.burn,
        )

    def publisher_audience(self) -> str:
        """The OIDC audience of the index on this store: the one it was last started with,
        else the default derived from the token domain."""
        return self.store.get_setting(_AUDIENCE_SETTING) or default_audience(self.domain)

    def burn(self, raw_token: str) -> bool:
        """Revoke a token minted for a trusted publisher, once its holder is done with it.

        Only a genuine token (its signature verified) minted by the exchange is revoked;
        returns whether one was.
        """
        loaded = self._load(raw_token)
        if isinstance(loaded, Refusal):
            return False
        genuine = self._verify(loaded, self._grant(loaded, None))
        if isinstance(genuine, Refusal) or genuine[0].token.publisher_id is None:
            return False
        token_id = genuine[0].token.id
        return self.store.revoke_token(
            token_id,
            event=event("revoked", token_id=token_id, reason="burned by its trusted publisher"),
        )

    # -- the audit trail ----------------------------------------------------------------

    def list_events(
        self,
        limit: int = 100,
        token_id: str | None = None,
        *,
        user: str | None = None,
        project: str | None = None,
        kind: str | None = None,
        since: int | None = None,
    ) -> list[AuditEvent]:
        """Up to ``limit`` audit lines, newest first, optionally only one token's.

        The other filters keep the lines of ``user``, of ``project`` (any spelling of
        its name), of one ``kind`` of event ("denied", "minted", "revoked", ...) and
        those last seen at or after ``since`` (a timestamp). They are applied to the
        newest :attr:`audit_max_events` lines, the most a trail keeps.
        """
        trail = self._trail()
        if user is None and project is None and kind is None and since is None:
            return trail.list_events(limit=limit, token_id=token_id)
        wanted = None if project is None else names.normalize(project)
        found: list[AuditEvent] = []
        for entry in trail.list_events(limit=max(limit, self.audit_max_events), token_id=token_id):
            if len(found) >= limit:
                break
            # Lines come newest-written first, but a folded line's time moves on: check each.
            if (
                (since is None or entry.time >= since)
                and (user is None or entry.user == user)
                and (wanted is None or entry.project == wanted)
                and (kind is None or entry.event == kind)
            ):
                found.append(entry)
        return found

    def prune_events(self, *, before: int | None = None, keep: int | None = None) -> int:
        """Drop audit lines last seen before ``before``, then all but the newest ``keep``;
        return how many went."""
        return self._trail().prune_events(before=before, keep=keep)

    # -- authentication -----------------------------------------------------------------

    def authenticate(
        self,
        raw_token: str,
        context: Context | Callable[[], Context],
        *,
        user: str | None = None,
    ) -> Identity:
        """Check ``raw_token`` for the use ``context`` describes; return who acts.

        ``user`` is the name the client logged in with when it was not ``__token__``
        (``alice:<token>``): the token must be that user's.

        ``context`` may be a function that builds the :class:`Context`: it is called only
        once the token's signature is verified, so an adapter never parses a request body
        (an upload form) for a forged token. Raises :class:`ValidationError` with a reason
        the token's holder can act on (:data:`INVALID_TOKEN` for any token that is not
        provably genuine).
        """
        ready = context if isinstance(context, Context) else None
        if ready is not None and (bad := _name_refusal(ready)) is not None:
            raise ValidationError(bad)  # a cheap, certain refusal: nothing read or recorded
        # With the use known up front, one store read answers everything (token, owner,
        # project, role); a deferred context costs a second read for project and role.
        token, grant = self._find(raw_token, None if ready is None else self._project_key(ready))
        genuine = self._verify(token, grant, user)
        if isinstance(genuine, Refusal):
            raise self._denied(genuine, grant, ready)
        grant, owner = genuine
        if isinstance(context, Context):
            use, project, role = context, grant.project, grant.role
        else:
            use = context()
            if (bad := _name_refusal(use)) is not None:
                refused = _bad_name_refusal(grant.token, use, bad)
                raise self._denied(refused, grant, use)
            project, role = self._project_and_role(use, owner, token)
        refusal = self._refusal(token, grant.token, owner, use, project, role)
        if refusal is not None:
            raise self._denied(refusal, grant, use)
        self._touch(grant.token, use.now)
        return Identity(owner.name, owner.id, grant.token.id)

    def evaluate(self, raw_token: str, contexts: Sequence[Context]) -> list[str | None]:
        """Answer several uses of one token at once: for each context, None if the token
        allows it, else the reason :meth:`authenticate` would give.

        For an index that asks about several actions per request (devpi checks each
        permission of each stage). It costs one use: one load, one signature check, one
        store read (and a read of project and role for each other project the contexts
        name), at most one "denied" line in the audit trail (the first refusal's), and a
        ``last_used`` touch if any use is allowed. Never raises :class:`ValidationError`: a token
        refused as a whole (forged, revoked, malformed) answers its reason for every use.
        """
        # A name that cannot be a project is refused as authenticate refuses it, before
        # anything is read or recorded; the other uses are checked together.
        answers: list[str | None] = [_name_refusal(context) for context in contexts]
        uses = [(i, context) for i, context in enumerate(contexts) if answers[i] is None]
        if not uses:
            return answers
        loaded = self._load(raw_token)
        if isinstance(loaded, Refusal):
            for i, _ in uses:
                answers[i] = loaded.message
            return answers
        # The grant's one read also answers for the first use's project.
        first_key = self._project_key(uses[0][1])
        token, grant = loaded, self._grant(loaded, first_key)
        genuine = self._verify(token, grant)
        if isinstance(genuine, Refusal):
            self._denied(genuine, grant, _common([context for _, context in uses]))
            for i, _ in uses:
                answers[i] = genuine.message
            return answers
        grant, owner = genuine
        projects = {first_key: (grant.project, grant.role)}
        first: tuple[Refusal, Context] | None = None
        allowed: Context | None = None
        for i, context in uses:
            key = self._project_key(context)
            if key not in projects:
                projects[key] = self._project_and_role(context, owner)
            refusal = self._refusal(token, grant.token, owner, context, *projects[key])
            if refusal is None:
                allowed = allowed or context
            else:
                answers[i] = refusal.message
                first = first or (refusal, context)
        if first is not None:
            self._denied(first[0], grant, first[1])
        if allowed is not None:
            self._touch(grant.token, allowed.now)
        return answers

    def identify(
        self, raw_token: str, *, now: int | None = None, user: str | None = None
    ) -> Identity:
        """Who a genuine, current token speaks for, before its use is known.

        Checks what :meth:`authenticate` checks except the use: format, lookup,
        signature, revocation, owner, and the validity window (record and caveats).
        Project, index and action restrictions are not evaluated: call
        :meth:`authenticate` or :meth:`evaluate` for each use. For servers that learn the
        use only later (devpi resolves the stages a push touches after identifying the
        caller). ``user``: as for :meth:`authenticate`.
        """
        context = Context(now=now)
        token, grant = self._find(raw_token, None)
        genuine = self._verify(token, grant, user)
        if isinstance(genuine, Refusal):
            raise self._denied(genuine, grant, None)
        grant, owner = genuine
        context = context._evolve(user_id=owner.id, oidc_publisher_id=grant.token.publisher_id)
        window = window_reasons(grant.token, context.now)
        reasons = window or [f.reason for f in token._failures(context, partial=True)]
        if reasons:
            refusal = Refusal(tuple(reasons), "expired" if window else "restricted")
            raise self._denied(refusal, grant, None)
        return Identity(owner.name, owner.id, grant.token.id)

    def recognizes(self, raw_token: str) -> bool:
        """Whether ``raw_token`` has the shape of a token this service issues.

        Its prefix, a macaroon that loads, and an identifier of our form (a lowercase
        UUID). Nothing is read from the store, so the answer says nothing about whether
        such a token exists: a server that must tell its tokens from passwords that merely
        start like one (devpi's ``<user>:<password>``) asks this, then :meth:`identify`,
        which refuses an unknown id as it refuses a known one.
        """
        loaded = self._load(raw_token)
        return not isinstance(loaded, Refusal) and _UUID.fullmatch(loaded.identifier) is not None

    def authorize_user(self, user_name: str, context: Context) -> Identity:
        """Apply the ownership rules to a user who logged in with a password.

        The password was checked by the index (e.g. htpasswd); a password user is the
        registered user of the same name, registered on first use.
        """
        if not is_user_name(user_name):
            raise ValidationError(f"invalid user name {user_name!r}")
        user = self.register_user(user_name)
        context = context._evolve(user_id=user.id)
        bad = _name_refusal(context)
        refusal = (
            Refusal((bad,), "refused")
            if bad is not None
            else self._rights_refusal(
                user, context, *self._project_and_role(context, user), kind="refused"
            )
        )
        if refusal is not None:
            self._audit.denied(refusal, user=user.name, context=context)
            raise refusal.error(user=user.name)
        return Identity(user.name, user.id, None)

    # -- the steps of a check -----------------------------------------------------------

    def _load(self, raw_token: str) -> Token | Refusal:
        """Size limit, prefix and format: the token, or why it is not one of ours.

        Never recorded in the audit trail: nothing says whose it would be.
        """
        if not isinstance(raw_token, str) or len(raw_token) > MAX_TOKEN_LENGTH:
            return Refusal(("malformed token",), "malformed")
        prefix, _, _ = raw_token.partition("-")
        if prefix != self.prefix:
            return Refusal((f"token must start with '{self.prefix}-'",), "malformed")
        try:
            return Token.load(raw_token)
        except LoaderError as exc:
            return Refusal((f"malformed token ({exc})",), "malformed")

    def _grant(self, token: Token, project_name: str | None) -> TokenGrant | None:
        """The token's record, owner, and ``project_name``'s project and role: one read.

        None for an identifier that is not in the store. Our identifiers are lowercase
        UUID4s; anything else cannot be in the store, and crafted bytes (NUL, megabytes)
        never reach a database query. The store may answer from memory only a token with
        this very signature (the seal), so a forged token's refusal costs a read whether
        or not its id is in use: the time it takes tells nothing about the id.
        """
        if not _UUID.fullmatch(token.identifier):
            return None
        return self.store.get_token_grant(token.identifier, project_name, token._seal(_SEAL_KEY))

    def _find(self, raw_token: str, project_name: str | None) -> tuple[Token, TokenGrant | None]:
        """Find the token: :meth:`_load` and :meth:`_grant`, raising for a malformed one."""
        loaded = self._load(raw_token)
        if isinstance(loaded, Refusal):
            raise loaded.error() from None
        return loaded, self._grant(loaded, project_name)

    def _verify(
        self, token: Token, grant: TokenGrant | None, user: str | None = None
    ) -> tuple[TokenGrant, User] | Refusal:
        """Verify the token: signature, then revocation and owner (who must be ``user``,
        when the client named one).

        The signature comes first: before it is verified, nothing about the record (that
        it was revoked, or its owner removed) is the holder's business. An unknown id is
        checked against a key no token has, so that its refusal costs what a known id's
        bad signature costs: the time it takes tells nothing.
        """
        if grant is None:
            token._signature_matches(derive_key(self._secret, STAND_IN_SALT))
            return Refusal((INVALID_TOKEN,), "unknown", recorded="unknown token id")
        record, owner = grant.token, grant.owner
        if not token._signature_matches(derive_key(self._secret, record.salt)):
            return Refusal(
                (INVALID_TOKEN,),
                "forged",
                recorded="bad signature (a forged or altered token, or the server secret changed)",
            )
        if record.revoked:
            return Refusal(("token revoked",), "revoked")
        if owner is None:
            return Refusal(("the token's owner no longer exists",), "owner removed")
        if user is not None and user != owner.name:
            # The name came with the request: cut, as a reason phrase would be.
            named = repr(user if len(user) <= 64 else user[:61] + "...")
            return Refusal(
                (
                    f"this token does not belong to user {named}; log in as __token__"
                    " (or as the token's owner)",
                ),
                "wrong user",
            )
        return grant, owner

    def _project_key(self, context: Context) -> str | None:
        """The project name to look up for this use: None if none is named or needed.

        The name must have passed :func:`bad_project_name`.
        """
        return context.project_name if self._policy.keeps_projects else None

    def _project_and_role(
        self, context: Context, user: User, token: Token | None = None
    ) -> tuple[Project | None, str | None]:
        """The project the context names and ``user``'s role on it, in reads of their own.

        With a (verified) token of ``user``'s, in one read: its grant for that project.
        The name must have passed :func:`_name_refusal`.
        """
        name = self._project_key(context)
        if name is None:
            return None, None
        if token is not None:
            grant = self._grant(token, name)
            if grant is not None and grant.token.user_id == user.id:
                return grant.project, grant.role
        project = self._directory().get_project(name)
        return project, None if project is None else self._directory().get_role(project.id, user.id)

    def _refusal(
        self,
        token: Token,
        record: TokenRecord,
        owner: User,
        context: Context,
        project: Project | None,
        role: str | None,
    ) -> Refusal | None:
        """Collect the reasons a genuine token may not be used as ``context`` says, then
        apply the ownership policy; None if it may."""
        context = context._evolve(
            user_id=owner.id,
            project_id=context.project_id or (None if project is None else project.id),
            oidc_publisher_id=record.publisher_id,
        )
        window = window_reasons(record, context.now)
        # The caveats repeat the record's restrictions; report them only when they add
        # something (the holder's offline restrictions), in pypitoken's words.
        reasons = window + scope_reasons(record, context) or [
            failure.reason for failure in token._failures(context)
        ]
        if reasons:
            return Refusal(tuple(reasons), "expired" if window else "restricted")
        return self._rights_refusal(owner, context, project, role, kind="rights")

    def _rights_refusal(
        self, user: User, context: Context, project: Project | None, role: str | None, *, kind: str
    ) -> Refusal | None:
        """The owner's own rights: what the user could do with a password.

        ``project`` is the project the context names (None if unregistered) and ``role``
        the user's role on it. Nothing is claimed here: a new name is taken by
        :meth:`claim_upload`, when a file of it is about to be stored.
        """
        if context.action == "delete" and not self.allow_delete:
            return Refusal((f"deleting is not enabled on this server ({_DELETE_SWITCH})",), kind)
        refused = self._policy.use_refusal(
            user, context.action, context.project_name, project, role
        )
        return None if refused is None else Refusal((refused,), kind)

    def _denied(
        self, refusal: Refusal, grant: TokenGrant | None, context: Context | None
    ) -> ValidationError:
        """Record the refusal of the token in ``grant`` (None: an unknown id); return the
        error to raise, which names the token and its owner for the index's log."""
        token_id = None if grant is None else grant.token.id
        user = None if grant is None or grant.owner is None else grant.owner.name
        self._audit.denied(refusal, token_id=token_id, user=user, context=context)
        return refusal.error(token_id=token_id, user=user)

    def _touch(self, record: TokenRecord, now: int) -> None:
        # One write per token per interval (and process), whatever the request rate. A
        # record read from the store's memory keeps the last_used it was read with (a
        # touch is not a change worth forgetting reads for), so this process remembers
        # its own touches.
        last = record.last_used
        mine = self._touched.get(record.id)
        if mine is not None and (last is None or mine > last):
            last = mine
        if last is None or now - last >= self.last_used_interval:
            self.store.touch_token(record.id, now)
            touched = self._touched
            if len(touched) >= _TOUCHED_MAX and record.id not in touched:
                with contextlib.suppress(KeyError):
                    touched.popitem(last=False)  # the oldest: at worst one more touch
            touched[record.id] = now

    # -- claiming projects ---------------------------------------------------------------

    def claim_upload(
        self,
        identity: Identity,
        project: str,
        *,
        has_files: Callable[[], bool],
        adopt_for: str | None = None,
    ) -> Claim | None:
        """Decide, right before the index stores a file of ``project``, whether it may.

        Call it after :meth:`authenticate` or :meth:`authorize_user` allowed the request,
        at the moment a distribution file is about to be written: this is the only place
        a project is claimed, so a request that stores nothing never owns a name. A new
        project is taken for the uploader and returned as a :class:`Claim`, which the
        caller must hand to :meth:`confirm_claim` once the file is stored, or to
        :meth:`release_claim` if writing it failed. ``has_files`` tells whether the
        index already holds files of the project: such a project with no owner belongs to
        whoever the admin names, so the upload is refused with the command to run, unless
        ``adopt_for`` names the user who adopts it (then the usual rules decide). Returns
        None when nothing was claimed; raises :class:`ValidationError` with the reason.
        """
        if self._claims is None:  # the index server keeps its own projects
            return None
        return self._claims.claim_upload(
            identity, project, has_files=has_files, adopt_for=adopt_for
        )

    def confirm_claim(self, claim: Claim) -> None:
        """The claimed project's first file is stored: the claim is final (and audited)."""
        self._project_claims().confirm(claim)

    def release_claim(self, claim: Claim, *, has_files: Callable[[], bool]) -> None:
        """The upload that took ``claim`` stored nothing: give the name back.

        Kept instead if ``has_files`` says a file of the project is stored after all: a
        partial file the failed write left (the index serves it), or one that another
        upload of the same owner, relying on this claim, wrote meanwhile.
        """
        self._project_claims().release(claim, has_files=has_files)

    def adopt_unowned(self, owner: str, projects: Iterable[str]) -> list[str]:
        """Register each of ``projects`` that has no owner yet as ``owner``'s.

        For an index whose package directory held files before tokens: the operator
        names the user who owns them all. Names the index could not serve under a valid
        project name are skipped. Returns the adopted names, sorted; raises
        :class:`NotFound` if ``owner`` is not registered.
        """
        return self._project_claims().adopt_unowned(owner, projects)

    def _project_claims(self) -> ProjectClaims:
        if self._claims is None:
            raise StoreError(f"{self.store.url} keeps no projects to claim")
        return self._claims


def wrong_password(user_name: str) -> str:
    """The refusal of a password the index's own check did not accept (or a user it does
    not know), for both index servers to give in the same words."""
    named = repr(user_name if len(user_name) <= 64 else user_name[:61] + "...")
    return (
        f"wrong password for user {named}; use __token__ as the user name with an API"
        " token, or check the password"
    )


def _unique_start(token_id: str, ids: Sequence[str]) -> str:
    """The shortest start of ``token_id`` that no other of ``ids`` shares."""
    shared = 0
    for other in ids:
        if other != token_id:
            same = next(
                (i for i, (a, b) in enumerate(zip(token_id, other, strict=False)) if a != b), 36
            )
            shared = max(shared, same)
    return token_id[: shared + 1]


def _role_event(name: str, user: str, project: str, by: str | None) -> AuditEvent:
    """The audit line of a role change on ``project`` for ``user``, asked for by ``by``."""
    return event(name, user=user, project=project, reason=f"by {by or 'an administrator'}")


def _project_list(projects: Sequence[Project]) -> str:
    names = ", ".join(repr(p.name) for p in projects)
    return f"project {names}" if len(projects) == 1 else f"projects {names}"


def _name_refusal(context: Context) -> str | None:
    """Why the project a use names cannot be looked up or recorded (None: it can, or it
    names none)."""
    return None if context.project_name is None else bad_project_name(context.project_name)


def _bad_name_refusal(record: TokenRecord, use: Context, bad: str) -> Refusal:
    """The refusal of a genuine token for a use whose project name is invalid.

    The token's own window comes first (an expired token reads expired, whatever the
    request names); the audit line gives the name's length only, never the name.
    """
    window = window_reasons(record, use.now)
    if window:
        return Refusal(tuple(window), "expired")
    length = len(use.project_name or "")
    return Refusal((bad,), "request", recorded=f"invalid project name ({length} characters)")


def _common(contexts: Sequence[Context]) -> Context:
    """What several uses share, for the audit line of a token refused as a whole: the
    project and the action, when they are the same for all."""
    first = contexts[0]
    return first._evolve(
        project_name=first.project_name
        if all(c.project_name == first.project_name for c in contexts)
        else None,
        action=first.action if all(c.action == first.action for c in contexts) else None,
    )


def _stored_lifetime(store: TokenRecords) -> int | None:
    """The maximum token lifetime saved in ``store`` (by the index), or None."""
    text = store.get_setting(_MAX_LIFETIME_SETTING)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ConfigurationError(f"the store's maximum token lifetime {text!r} is not a number")
    return checked_lifetime(int(text))
