"""TokenService: mint, authenticate and revoke tokens against a store.

This is the one entry point the index adapters call. It knows users, projects, ownership
and tokens; it knows nothing about HTTP. ``authenticate`` does, in order: size limit,
load, identifier lookup, signature, revoked?, the restrictions kept on the record and the
caveats in the token (including those the holder added offline), then the owner's own
rights: a token never does what its owner cannot.

Until the signature is verified, every refusal reads the same (:data:`INVALID_TOKEN`)
and costs the same (an unknown id is checked against a stand-in key): whoever holds only
an id learns neither whether it exists nor whether it was revoked.

Audit. Refusals are recorded in the store's audit trail, folded together: one line per
token (or user), kind of refusal and :attr:`TokenService.audit_window`, with a count. The
trail keeps at most :attr:`TokenService.audit_max_events` lines. So what a refused request
can add to the store is one small line at most, and a burst of them adds a few lines.

Keys. Each token has a random salt, stored; its key is HMAC-SHA256(server secret, salt)
and is never stored, so a database dump alone cannot forge a token. Losing or changing the
server secret invalidates every token minted with it.
"""

from __future__ import annotations

import datetime
import hmac
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from . import _time, names
from .exceptions import (
    AlreadyExists,
    InvalidRestriction,
    LoaderError,
    NotFound,
    StoreError,
    ValidationError,
)
from .restrictions import ACTIONS, Context, _short_repr, timestamp_from_parameter
from .store import (
    AuditEvent,
    Directory,
    Project,
    TokenGrant,
    TokenRecord,
    TokenRecords,
    TokenStore,
    User,
    open_store,
)
from .token import MAX_TOKEN_LENGTH, Token

__all__ = [
    "DEFAULT_ACTIONS",
    "DEFAULT_AUDIT_MAX_EVENTS",
    "DEFAULT_AUDIT_WINDOW",
    "INVALID_TOKEN",
    "OWNERSHIP_CHOICES",
    "OWNERSHIP_MODES",
    "Claim",
    "Identity",
    "TokenService",
    "derive_key",
    "load_secret",
]

log = logging.getLogger(__name__)

#: What a token may do unless narrowed at mint time.
DEFAULT_ACTIONS: tuple[str, ...] = ("upload", "download")

#: ``pypi``: the first user to store a file of a project owns it; only owners and
#: maintainers upload.
#: ``open``: any registered user may upload anywhere (pypiserver's own behaviour).
#: ``external``: the index server enforces the owner's rights itself (devpi's ACLs).
OWNERSHIP_MODES: tuple[str, ...] = ("pypi", "open", "external")

#: The modes an operator chooses between (``external`` is for adapters, such as devpi's,
#: whose index server enforces the owner's rights itself).
OWNERSHIP_CHOICES: tuple[str, ...] = ("pypi", "open")

#: The reason given for every token that is not provably genuine (unknown id, bad signature).
INVALID_TOKEN = "invalid or unknown token"  # noqa: S105 (a message, not a secret)

#: Seconds during which repeated refusals of one kind for one token share an audit line.
DEFAULT_AUDIT_WINDOW = 3600

#: Lines the audit trail keeps at most (the oldest go first): at a few hundred bytes each,
#: tens of megabytes.
DEFAULT_AUDIT_MAX_EVENTS = 100_000

OWNER, MAINTAINER = "Owner", "Maintainer"
_SECRET_ENV = "PYPITOKEN_SECRET"  # noqa: S105 (a variable name, not a secret)
_SECRET_FILE_ENV = "PYPITOKEN_SECRET_FILE"  # noqa: S105
_DB_ENV = "PYPITOKEN_DB"
_DEFAULT_DB = "sqlite:///pypitoken.sqlite3"
_MIN_SECRET_BYTES = 16
_FINGERPRINT_SETTING = "secret_fingerprint"
_DOMAIN_SETTING = "domain"
_MAX_LIFETIME_SETTING = "max_lifetime"
# An unknown id is checked against the key this salt gives, so that it costs what a known
# id with a bad signature costs. No token has it: salts are 16 random bytes.
_STAND_IN_SALT = b"pypitoken-core: no such token"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MAX_USER_NAME = 200


def _valid_user_name(name: object) -> bool:
    """Printable, non-blank, not the token pseudo-user, and of a sane length."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= _MAX_USER_NAME
        and name.strip() == name
        and name != "__token__"
        and name.isprintable()
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """A new project taken for ``user_name`` by the upload about to store its first file."""

    project: str
    project_id: str
    user_name: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who acts: the user, and the token used (None for a password login)."""

    user_name: str
    user_id: str
    token_id: str | None = None


def derive_key(secret: bytes, salt: bytes) -> bytes:
    """A token's macaroon key: HMAC-SHA256(server secret, per-token salt)."""
    return hmac.digest(secret, salt, "sha256")


def _fingerprint(secret: bytes) -> str:
    return hmac.digest(secret, b"pypitoken-core secret fingerprint", "sha256")[:8].hex()


def load_secret(
    db_url: str, secret_file: str | os.PathLike[str] | None = None, *, create: bool = True
) -> bytes:
    """Find the server secret: ``$PYPITOKEN_SECRET``, a secret file, or the SQLite default.

    The file is ``secret_file``, else ``$PYPITOKEN_SECRET_FILE``, else (for SQLite stores
    only) ``<database>.secret`` next to the database. A missing file is created with
    mode 0600 when ``create`` is true. A PostgreSQL store has no natural place for the
    file, so it needs one of the explicit sources.
    """
    env = os.environ.get(_SECRET_ENV)
    if env and secret_file is None:
        secret = env.encode("utf-8")
        if len(secret) < _MIN_SECRET_BYTES:
            raise StoreError(f"${_SECRET_ENV} must be at least {_MIN_SECRET_BYTES} characters")
        return secret
    path_text = secret_file or os.environ.get(_SECRET_FILE_ENV)
    if path_text is None:
        if not db_url.startswith("sqlite:///"):
            raise StoreError(
                "this store needs a server secret: pass --secret-file or set "
                f"${_SECRET_FILE_ENV} or ${_SECRET_ENV}"
            )
        path_text = db_url[len("sqlite:///") :] + ".secret"
    path = Path(path_text)
    try:
        return _read_secret(path)
    except FileNotFoundError:
        if not create:
            raise StoreError(f"secret file {path} does not exist") from None
    return _create_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreError(f"cannot read secret file {path}: {exc.strerror}") from exc
    if len(secret) < _MIN_SECRET_BYTES:
        raise StoreError(f"secret file {path} holds fewer than {_MIN_SECRET_BYTES} bytes")
    return secret


def _create_secret(path: Path) -> bytes:
    # Write a temporary file, then link it into place: the link fails if another process
    # won the race, and then both use the winner's secret. Nobody ever reads half a file.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
            log.info("created a new server secret in %s (mode 0600)", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return _read_secret(path)
    except OSError as exc:
        raise StoreError(f"cannot create secret file {path}: {exc.strerror}") from exc


def _iso(timestamp: int) -> str:
    moment = _time.utc(timestamp)
    if moment is None:  # a record written before times were checked
        return f"timestamp {_time.shown(timestamp)}"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _when(
    value: int | datetime.datetime | datetime.timedelta | None, now: int, name: str
) -> int | None:
    """Mint-time times: a datetime is absolute; an int or timedelta is relative to now.

    Raises :class:`InvalidRestriction` for a time outside years 1 to 9999 UTC.
    """
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
    elif type(value) is int:
        seconds = value
    else:
        return timestamp_from_parameter(value, name)
    return _time.checked(now + seconds, name, f"{_time.shown(seconds)} seconds from now")


def _lifetime(value: object) -> int | None:
    """A maximum token lifetime: a positive number of seconds, or 0 / None for no limit."""
    if value is None or value == 0:
        return None
    if type(value) is not int or not 0 < value <= _time.MAX_TIMESTAMP:
        raise StoreError(f"the maximum token lifetime must be a number of seconds, not {value!r}")
    return value


class TokenService:
    """Mint, authenticate and revoke tokens; manage users, projects and roles.

    Thread-safe as far as the store is (both bundled stores are). ``ownership`` is one of
    :data:`OWNERSHIP_MODES`; ``external`` is the one mode whose store may keep token
    records only, without a :class:`~pypitoken_core.store.Directory` (users, projects
    and roles are then the index server's, and the methods that manage them raise
    StoreError); ``allow_delete`` enables the ``delete`` action;
    ``last_used_interval`` throttles the ``last_used`` writes (seconds);
    ``max_lifetime`` (seconds, None or 0 for none) is the longest a minted token may
    live; ``audit_window`` and ``audit_max_events`` bound the audit trail (see the
    module docstring).
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
        if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET_BYTES:
            raise StoreError(f"the server secret must be at least {_MIN_SECRET_BYTES} bytes")
        if ownership not in OWNERSHIP_MODES:
            raise StoreError(f"ownership must be one of {', '.join(OWNERSHIP_MODES)}")
        if not prefix or "-" in prefix:
            raise StoreError("the token prefix must be non-empty and contain no '-'")
        if type(audit_window) is not int or audit_window < 0:
            raise StoreError("audit_window must be a non-negative number of seconds")
        if type(audit_max_events) is not int or audit_max_events < 1:
            raise StoreError("audit_max_events must be a positive number of events")
        directory = store if isinstance(store, Directory) else None
        if directory is None and ownership != "external":
            raise StoreError(
                f"ownership {ownership!r} needs a store that keeps users and projects;"
                f" {store.url} keeps token records only"
            )
        self.max_lifetime = _lifetime(max_lifetime)
        self.audit_window = audit_window
        self.audit_max_events = audit_max_events
        self.store = store
        #: The store's users, projects and roles: the store itself when it keeps them
        #: (every URL store does), None when the index server keeps its own.
        self.directory: Directory | None = directory
        self._secret = secret
        self.domain = domain
        self.prefix = prefix
        self.ownership = ownership
        self.allow_delete = allow_delete
        self.last_used_interval = last_used_interval

    def __repr__(self) -> str:
        return f"<TokenService store={self.store.url!r} ownership={self.ownership!r}>"

    @classmethod
    def from_url(
        cls,
        db_url: str | None = None,
        *,
        secret_file: str | os.PathLike[str] | None = None,
        domain: str | None = None,
        prefix: str = "pypi",
        ownership: str = "pypi",
        allow_delete: bool = False,
        max_lifetime: int | None = None,
    ) -> TokenService:
        """Open the store at ``db_url`` (default ``$PYPITOKEN_DB``, else ./pypitoken.sqlite3).

        A given ``domain`` is saved as the store's; without one, the store's is used,
        else ``localhost``. ``max_lifetime`` likewise (seconds; 0 saves "no limit"), so
        that the admin CLI follows the limit an index was started with. Warns in the log
        when the secret differs from the one tokens in this store were minted with.
        """
        lifetime = None if max_lifetime is None else _lifetime(max_lifetime) or 0
        url = db_url or os.environ.get(_DB_ENV) or _DEFAULT_DB
        store = open_store(url)
        try:
            secret = load_secret(url, secret_file)
            known = store.get_setting(_FINGERPRINT_SETTING)
            if known is None:
                store.set_setting(_FINGERPRINT_SETTING, _fingerprint(secret))
            elif known != _fingerprint(secret):
                log.warning(
                    "the server secret differs from the one this store's tokens were minted "
                    "with: every existing token will be refused"
                )
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

    def add_user(self, name: str) -> User:
        """Register a user (raises :class:`AlreadyExists`)."""
        if not _valid_user_name(name):
            raise InvalidRestriction(f"invalid user name {name!r}")
        return self._directory().add_user(name)

    def _user(self, name: str) -> User:
        user = self.store.get_user(name)
        if user is None:
            raise NotFound(f"unknown user {name!r}")
        return user

    def remove_user(self, name: str) -> None:
        """Remove a user; all their tokens are refused from the next request on."""
        self._directory().remove_user(
            name, event=_audit("user_removed", user=name, reason="user removed")
        )

    def list_users(self) -> list[User]:
        """All registered users."""
        return self._directory().list_users()

    def add_project(self, name: str, owner: str) -> Project:
        """Register a project owned by ``owner`` (raises :class:`AlreadyExists`)."""
        normalized = self._project_name(name)
        return self._directory().add_project(normalized, self._user(owner).id)

    def add_maintainer(self, project: str, user: str) -> None:
        """Let ``user`` upload to ``project``."""
        record = self._project(project)
        self._directory().set_role(record.id, self._user(user).id, MAINTAINER)

    def list_projects(self) -> list[Project]:
        """All registered projects."""
        return self._directory().list_projects()

    def _project_name(self, name: str) -> str:
        if not names.is_valid(name):
            raise InvalidRestriction(_invalid_name(name))
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
    ) -> tuple[str, TokenRecord]:
        """Create a token for ``user``; return the raw token (show it once) and its record.

        ``expires``/``not_before``: a datetime is absolute, an int or timedelta is relative
        to now. A project-scoped token carries the project-name and project-id caveats, as
        on pypi.org; it can only be minted for existing projects the user may upload to
        (except in ``external`` ownership mode, where the index checks this itself). A
        user-wide token carries the user-id caveat. Restrictions are kept on the record
        and embedded as caveats; both are enforced. Raises :class:`InvalidRestriction`
        for times outside years 1 to 9999 and, with a ``max_lifetime``, for a token that
        would never expire or live longer.
        """
        owner = self._user(user)
        now = int(time.time())
        project_list = [self._project_name(p) for p in projects]
        ids = list(project_ids)
        if self.ownership != "external":
            for name in project_list:
                record = self._project(name)
                if (
                    self.ownership == "pypi"
                    and self._directory().get_role(record.id, owner.id) is None
                ):
                    raise ValidationError(f"user {owner.name} may not upload to project {name!r}")
                ids.append(record.id)
        action_list = list(DEFAULT_ACTIONS if actions is None else actions)
        if not action_list:
            raise InvalidRestriction("a token needs at least one action")
        for action in action_list:
            if action not in ACTIONS:
                raise InvalidRestriction(
                    f"unknown action {action!r}; expected {', '.join(ACTIONS)}"
                )
        if "delete" in action_list and not self.allow_delete:
            raise InvalidRestriction("the delete action is not enabled on this server")
        index_list = list(indexes)
        not_after_ts = _when(expires, now, "expires")
        not_before_ts = _when(not_before, now, "not_before")
        if not_after_ts is not None and not_after_ts <= now:
            raise InvalidRestriction("expires must be in the future")
        if not_before_ts is not None and not_after_ts is None:
            raise InvalidRestriction("not_before needs expires")
        if self.max_lifetime is not None and (
            not_after_ts is None or not_after_ts - now > self.max_lifetime
        ):
            raise InvalidRestriction(
                f"tokens on this server must expire within {self.max_lifetime} seconds"
                " (its maximum token lifetime)"
            )

        token_id = str(uuid.uuid4())
        salt = secrets.token_bytes(16)
        token = Token.create(
            domain or self.domain, token_id, derive_key(self._secret, salt), self.prefix
        )
        # The date caveat is a window: it starts at not_before, or now.
        window_start = now if not_before_ts is None else not_before_ts
        token.restrict(
            not_before=None if not_after_ts is None else window_start,
            not_after=not_after_ts,
            project_names=project_list or None,
            project_ids=ids or None,
            user_id=None if project_list or ids else owner.id,
            # A caveat only when narrowed: default tokens stay readable by pypitoken.
            actions=None if set(action_list) == set(DEFAULT_ACTIONS) else action_list,
            indexes=index_list or None,
        )
        record = TokenRecord(
            id=token_id,
            user_id=owner.id,
            salt=salt,
            description=description,
            projects=tuple(project_list),
            project_ids=tuple(ids),
            indexes=tuple(index_list),
            actions=tuple(action_list),
            created=now,
            expires=not_after_ts,
            not_before=not_before_ts,
            last_used=None,
            revoked=False,
        )
        fingerprint = _fingerprint(self._secret)
        if self.store.get_setting(_FINGERPRINT_SETTING) != fingerprint:
            # Tokens minted from now on belong to this secret: warn about the others only.
            self.store.set_setting(_FINGERPRINT_SETTING, fingerprint)
        self.store.add_token(
            record, event=_audit("minted", token_id=token_id, user=owner.name, reason=description)
        )
        return token.dump(), record

    def revoke(self, token_id: str) -> None:
        """Revoke a token: refused from the next request on, in every process."""
        if not self.store.revoke_token(
            token_id, event=_audit("revoked", token_id=token_id, reason="revoked")
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

    def user_name(self, user_id: str) -> str | None:
        """The name of the user with this id, or None if removed."""
        user = self.store.get_user_by_id(user_id)
        return None if user is None else user.name

    # -- authentication -----------------------------------------------------------------

    def authenticate(self, raw_token: str, context: Context | Callable[[], Context]) -> Identity:
        """Check ``raw_token`` for the use ``context`` describes; return who acts.

        ``context`` may be a function that builds the :class:`Context`: it is called only
        once the token's signature is verified, so an adapter never parses a request body
        (an upload form) for a forged token. Raises :class:`ValidationError` with a reason
        the token's holder can act on (:data:`INVALID_TOKEN` for any token that is not
        provably genuine).
        """
        ready = context if isinstance(context, Context) else None
        # With the use known up front, one store read answers everything (token, owner,
        # project, role); a deferred context costs a second read for project and role.
        token, grant = self._find(raw_token, None if ready is None else self._project_key(ready))
        if grant is None:
            raise self._unknown(token, ready)
        record = grant.token
        user = self._genuine(token, grant, ready)
        if isinstance(context, Context):
            project, role = grant.project, grant.role
        else:
            context = context()
            try:
                project, role = self._project_and_role(context, user.id)
            except ValidationError as exc:
                self._denied(grant, context, exc, "request")
                raise
        context = context._evolve(
            user_id=user.id,
            project_id=context.project_id or (None if project is None else project.id),
        )
        validity = _validity_reasons(record, context)
        try:
            # The caveats repeat the record's restrictions; report them only when they add
            # something (the holder's offline restrictions), in pypitoken's words.
            reasons = validity + _scope_reasons(record, context)
            _raise_if(reasons or token._caveat_reasons(context)[0])
        except ValidationError as exc:
            self._denied(grant, context, exc, "expired" if validity else "restricted")
            raise
        try:
            self._check_rights(user, context, project, role)
        except ValidationError as exc:
            self._denied(grant, context, exc, "rights")
            raise
        self._touch(record, context.now)
        return Identity(user.name, user.id, record.id)

    def identify(self, raw_token: str, *, now: int | None = None) -> Identity:
        """Who a genuine, current token speaks for, before its use is known.

        Checks what :meth:`authenticate` checks except the use: format, lookup,
        signature, revocation, owner, and the validity window (record and caveats).
        Project, index and action restrictions are not evaluated: call
        :meth:`authenticate` for each use. For servers that learn the use only later
        (devpi resolves the stages a push touches after identifying the caller).
        """
        context = Context(now=now)
        token, grant = self._find(raw_token, None)
        if grant is None:
            raise self._unknown(token, None)
        record = grant.token
        user = self._genuine(token, grant, None)
        context = context._evolve(user_id=user.id)
        validity = _validity_reasons(record, context)
        try:
            _raise_if(validity or token._caveat_reasons(context, partial=True)[0])
        except ValidationError as exc:
            self._denied(grant, None, exc, "expired" if validity else "restricted")
            raise
        return Identity(user.name, user.id, record.id)

    def _find(self, raw_token: str, project_name: str | None) -> tuple[Token, TokenGrant | None]:
        """Size limit, prefix, format and identifier lookup (with the named project).

        The grant is None for an identifier that is not in the store.
        """
        if not isinstance(raw_token, str) or len(raw_token) > MAX_TOKEN_LENGTH:
            raise ValidationError("malformed token")
        prefix, _, _ = raw_token.partition("-")
        if prefix != self.prefix:
            raise ValidationError(f"token must start with '{self.prefix}-'")
        try:
            token = Token.load(raw_token)
        except LoaderError as exc:
            raise ValidationError(f"malformed token ({exc})") from None
        # Our identifiers are lowercase UUID4s; anything else cannot be in the store, and
        # crafted bytes (NUL, megabytes) never reach a database query.
        if not _UUID.fullmatch(token.identifier):
            return token, None
        return token, self.store.get_token_grant(token.identifier, project_name)

    def _unknown(self, token: Token, context: Context | None) -> ValidationError:
        """Record an unknown identifier and return the refusal, after a stand-in check.

        The signature is checked against a key no token has, so that this refusal costs
        what a known identifier's bad signature costs: the time it takes tells nothing.
        """
        token._signature_matches(derive_key(self._secret, _STAND_IN_SALT))
        self._event(
            _audit(
                "denied",
                project=None if context is None else context.project_name,
                action=None if context is None else context.action,
                reason="unknown token id",
            ),
            kind="unknown",
        )
        return ValidationError(INVALID_TOKEN)

    def _genuine(self, token: Token, grant: TokenGrant, context: Context | None) -> User:
        """Signature, then revocation and owner: the token is what the store says it is.

        The signature comes first: before it is verified, nothing about the record (that
        it was revoked, or its owner removed) is the holder's business.
        """
        record, user = grant.token, grant.owner
        if not token._signature_matches(derive_key(self._secret, record.salt)):
            self._denied(
                grant,
                context,
                "bad signature (a forged or altered token, or the server secret changed)",
                "forged",
            )
            raise ValidationError(INVALID_TOKEN)
        if record.revoked:
            self._denied(grant, context, "token revoked", "revoked")
            raise ValidationError("token revoked")
        if user is None:
            reason = "the token's owner no longer exists"
            self._denied(grant, context, reason, "owner removed")
            raise ValidationError(reason)
        return user

    def _touch(self, record: TokenRecord, now: int) -> None:
        # One write per token per interval, whatever the request rate.
        if record.last_used is None or now - record.last_used >= self.last_used_interval:
            self.store.touch_token(record.id, now)

    def _denied(
        self,
        grant: TokenGrant,
        context: Context | None,
        reason: ValidationError | str,
        kind: str,
    ) -> None:
        """Record a refusal of the token in ``grant``; ``kind`` is what it is folded under."""
        self._event(
            _audit(
                "denied",
                token_id=grant.token.id,
                user=None if grant.owner is None else grant.owner.name,
                project=None if context is None else context.project_name,
                action=None if context is None else context.action,
                reason=str(reason),
            ),
            kind=kind,
        )

    def authorize_user(self, user_name: str, context: Context) -> Identity:
        """Apply the ownership rules to a user who logged in with a password.

        The password was checked by the index (e.g. htpasswd); a password user is the
        registered user of the same name, registered on first use.
        """
        if not _valid_user_name(user_name):
            raise ValidationError(f"invalid user name {user_name!r}")
        user = self.store.get_user(user_name)
        if user is None:
            try:
                user = self._directory().add_user(user_name)
            except AlreadyExists:
                user = self._user(user_name)
        context = context._evolve(user_id=user.id)
        try:
            self._check_rights(user, context, *self._project_and_role(context, user.id))
        except ValidationError as exc:
            self._event(
                _audit(
                    "denied",
                    user=user.name,
                    project=context.project_name,
                    action=context.action,
                    reason=str(exc),
                )
            )
            raise
        return Identity(user.name, user.id, None)

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
        if self.ownership == "external":
            return None
        name = self._project_key(Context(project))
        if name is None:
            raise ValidationError("the upload names no project")
        user = self.store.get_user_by_id(identity.user_id)
        if user is None:
            raise ValidationError(f"user {identity.user_name} no longer exists")
        directory = self._directory()
        try:
            record = directory.get_project(name)
            if record is None and has_files():
                # Read again after seeing files: a concurrent first upload claims before it
                # writes, so once its file shows, its claim is there to be read.
                record = directory.get_project(name) or self._adopt(name, adopt_for)
                if record is None:
                    if self.ownership == "open":
                        return None  # anyone may upload to it; nobody becomes its owner
                    raise ValidationError(
                        f"project {name!r} has files on this index but no owner; "
                        f"an admin must run: pypitoken project add {name} --owner USER"
                    )
            elif record is None:
                try:
                    record = directory.add_project(name, user.id)
                except AlreadyExists:  # another first upload took it a moment ago
                    record = directory.get_project(name)
                    if record is None:
                        raise ValidationError(
                            f"project {name!r} is changing owner; try again"
                        ) from None
                else:
                    return Claim(name, record.id, user.name)
            context = Context(name, action="upload")._evolve(user_id=user.id)
            self._check_rights(user, context, record, directory.get_role(record.id, user.id))
        except ValidationError as exc:
            self._event(
                _audit(
                    "denied",
                    token_id=identity.token_id,
                    user=user.name,
                    project=name,
                    action="upload",
                    reason=str(exc),
                )
            )
            raise
        return None

    def confirm_claim(self, claim: Claim) -> None:
        """The claimed project's first file is stored: the claim is final (and audited)."""
        self._event(
            _audit(
                "project_created",
                user=claim.user_name,
                project=claim.project,
                reason="first upload",
            )
        )

    def release_claim(self, claim: Claim, *, has_files: Callable[[], bool]) -> None:
        """The upload that took ``claim`` stored nothing: give the name back.

        Kept instead if ``has_files`` says a file of the project is stored after all: a
        partial file the failed write left (the index serves it), or one that another
        upload of the same owner, relying on this claim, wrote meanwhile.
        """
        if has_files():
            self.confirm_claim(claim)
            return
        self._directory().remove_project(
            claim.project_id,
            event=_audit(
                "claim_released",
                user=claim.user_name,
                project=claim.project,
                action="upload",
                reason="the upload stored no file",
            ),
        )

    def adopt_unowned(self, owner: str, projects: Iterable[str]) -> list[str]:
        """Register each of ``projects`` that has no owner yet as ``owner``'s.

        For an index whose package directory held files before tokens: the operator
        names the user who owns them all. Names the index could not serve under a valid
        project name are skipped. Returns the adopted names, sorted; raises
        :class:`NotFound` if ``owner`` is not registered.
        """
        user = self.store.get_user(owner) if _valid_user_name(owner) else None
        if user is None:
            raise NotFound(
                f"--adopt-unowned: unknown user {owner!r}; "
                f"register it first with `pypitoken user add {owner}`"
            )
        known = {p.name for p in self._directory().list_projects()}
        adopted = []
        for project in projects:
            name = names.normalize(project) if isinstance(project, str) else ""
            if name in known or not names.is_normalized(name):
                continue
            known.add(name)
            if self._adopt(name, owner) is not None:
                adopted.append(name)
        return sorted(adopted)

    def _adopt(self, name: str, owner: str | None) -> Project | None:
        """Register ``name`` as ``owner``'s (None: nobody adopts); the project after that."""
        if owner is None:
            return None
        user = self.store.get_user(owner)
        if user is None:
            return None
        try:
            record = self._directory().add_project(name, user.id)
        except AlreadyExists:
            return self._directory().get_project(name)
        except NotFound:  # the adopting user was removed a moment ago
            return None
        self._event(_audit("project_adopted", user=owner, project=name, reason="unowned files"))
        return record

    def _project_key(self, context: Context) -> str | None:
        """The project name to look up for this use: None if none is named or needed.

        A name that is not a valid project name is refused here, before it reaches a
        query or the audit trail.
        """
        name = context.project_name
        if name is None:
            return None
        if not names.is_valid(name):
            raise ValidationError(_invalid_name(name))
        return None if self.ownership == "external" else name

    def _project_and_role(
        self, context: Context, user_id: str
    ) -> tuple[Project | None, str | None]:
        name = self._project_key(context)
        if name is None:
            return None, None
        directory = self._directory()
        project = directory.get_project(name)
        return project, None if project is None else directory.get_role(project.id, user_id)

    def _check_rights(
        self, user: User, context: Context, record: Project | None, role: str | None
    ) -> None:
        """The owner's own rights: what the user could do with a password.

        ``record`` is the project the context names (None if unregistered) and ``role``
        the user's role on it. Nothing is claimed here: a new name is taken by
        :meth:`claim_upload`, when a file of it is about to be stored.
        """
        action, project = context.action, context.project_name
        if action == "delete" and not self.allow_delete:
            raise ValidationError("deleting is not enabled on this server")
        if self.ownership == "external" or action == "download" or project is None:
            return
        if record is None:
            if action != "upload":
                raise ValidationError(f"project {project!r} does not exist")
            # Anyone registered may start a new project, but this request may store
            # nothing (pypiserver ignores `submit`, refuses a bad file): it gets the name
            # only through claim_upload, right before its file is written.
            return
        if self.ownership == "open" and action == "upload":
            return
        # Deleting stays with the owners in both modes: open mode shares uploads, not removal.
        if role is None or (action == "delete" and role != OWNER):
            verb = "delete from" if action == "delete" else "upload to"
            raise ValidationError(f"user {user.name} may not {verb} project {project!r}")

    def _event(self, event: AuditEvent, kind: str = "refused") -> None:
        """Record an event outside a write (denials, first uploads), never failing the call.

        Denials are folded into one line per token (or, for a password login, per user)
        and ``kind`` of refusal within :attr:`audit_window`; the trail keeps at most
        :attr:`audit_max_events` lines.
        """
        merge_key = None
        if event.event == "denied":
            merge_key = "\n".join(("denied", event.token_id or "", event.user or "", kind))
        try:
            self.store.add_event(
                event,
                merge_key=merge_key,
                merge_window=self.audit_window,
                keep=self.audit_max_events,
            )
        except StoreError:
            # The audit trail must not turn a refusal into a crash, nor a success into a failure.
            log.exception("could not record audit event %r", event.event)


def _audit(
    event: str,
    *,
    token_id: str | None = None,
    user: str | None = None,
    project: str | None = None,
    action: str | None = None,
    reason: str = "",
) -> AuditEvent:
    # Only a valid project name is recorded: the name comes from a request.
    if project is not None and not names.is_valid(project):
        project = None
    return AuditEvent(int(time.time()), event, token_id, user, project, action, reason)


def _invalid_name(name: object) -> str:
    return (
        f"invalid project name {_short_repr(name)} (a project name has letters, digits and"
        f" '-_.', starts and ends with a letter or digit, and has at most"
        f" {names.MAX_LENGTH} characters)"
    )


def _stored_lifetime(store: TokenStore) -> int | None:
    """The maximum token lifetime saved in ``store`` (by the index), or None."""
    text = store.get_setting(_MAX_LIFETIME_SETTING)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise StoreError(f"the store's maximum token lifetime {text!r} is not a number")
    return _lifetime(int(text))


def _raise_if(reasons: list[str]) -> None:
    if reasons:
        raise ValidationError(", ".join(reasons), reasons=tuple(reasons))


def _validity_reasons(record: TokenRecord, context: Context) -> list[str]:
    """The record's validity window, in words a twine user can act on."""
    reasons = []
    now = context.now
    if record.expires is not None and now >= record.expires:
        reasons.append(f"token expired at {_iso(record.expires)}")
    if record.not_before is not None and now < record.not_before:
        reasons.append(f"token not valid before {_iso(record.not_before)}")
    return reasons


def _scope_reasons(record: TokenRecord, context: Context) -> list[str]:
    """The record's projects, indexes and actions against this use."""
    reasons = []
    if record.projects:
        if context.project_name is None:
            reasons.append("this token is scoped to projects and the request names none")
        elif context.project_name not in record.projects:
            reasons.append(f"not valid for project {context.project_name!r}")
    if record.indexes:
        if context.index is None:
            reasons.append("this token is scoped to indexes and the request names none")
        elif context.index not in record.indexes:
            reasons.append(f"not valid for index {context.index!r}")
    if context.action is None:
        reasons.append("the request's action is unknown")
    elif context.action not in record.actions:
        reasons.append(f"not valid for action {context.action!r}")
    return reasons
