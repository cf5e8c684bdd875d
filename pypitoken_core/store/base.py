"""The records a token store keeps, and the protocols the stores meet.

A store keeps two things that can live apart:

- **token records** (:class:`TokenRecords`): the tokens, the one-read grant lookup, the
  audit events written with them, and settings; plus reading the users the records
  belong to (:class:`UserLookup`), because a grant names its owner;
- a **directory** (:class:`Directory`): users, projects and the roles between them;
- the **sessions of the token page** (:class:`PageSessions`): who is logged in, and the
  failed log-ins that throttle the next ones, shared by every worker process.

A store that keeps all of it, and an :class:`AuditTrail` to read its events back, is a
:class:`TokenStore`: every store :func:`~pypitoken_core.store.open_store` opens (SQLite,
PostgreSQL, memory). Trusted publishing adds two more, which every store keeps, the devpi
keyfs store too: the registered :class:`Publishers`, and :class:`SingleUse` marks (an
OIDC token's ``jti``, taken once and remembered until it expires). devpi-server keeps its
own users and decides with its own ACLs, so the devpi plugin's keyfs store has no
directory and no readable trail, and its service runs with ``ownership="external"``::

    UserLookup -+- TokenRecords -+
                |                +- TokenStore   SQLiteStore, PostgreSQLStore, MemoryStore
                +- Directory ----+
                   AuditTrail ---+
                   PageSessions -+
                   Publishers ---+
                   SingleUse ----+
    TokenRecords, PageSessions, Publishers, SingleUse   KeyfsStore (devpi plugin)

What holds for every method of every protocol here: it raises only
:class:`~pypitoken_core.exceptions.StoreError` and its subclasses (``NotFound``,
``AlreadyExists``), whatever the backend, so the service never sees a driver exception.
Writes are atomic; reads see every write that returned before them, in any thread or
process, which is what makes revocation immediate (the SQL stores keep reads in memory
and ask the database, on every read, only whether anything changed: ``store._cache``).
Strings with a NUL character (which PostgreSQL cannot store, and which a crafted request
can carry) behave the same
everywhere: as a key they match nothing, as a value to write they are refused with
StoreError (:func:`check_text`), and in an audit event the NUL is replaced by U+FFFD so
the event is still recorded. Times are integers between years 1 and 9999 UTC
(:data:`~pypitoken_core._time.MIN_TIMESTAMP` to ``MAX_TIMESTAMP``); others are refused
with StoreError (:func:`check_time`).

Records are plain values (frozen, slotted dataclasses) so that the service can pass them
around, compare them in tests and never mutate a row behind a backend's back. Times are
integer seconds since the epoch: the token caveats use the same unit, so no conversion
happens on the hot path.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast, runtime_checkable

from .. import _time
from ..exceptions import StoreError

__all__ = [
    "EVENTS",
    "MAX_EVENT_TEXT",
    "ROLES",
    "AuditEvent",
    "AuditTrail",
    "Directory",
    "LoginFailures",
    "PageSession",
    "PageSessions",
    "Project",
    "PublisherRecord",
    "Publishers",
    "SingleUse",
    "TokenGrant",
    "TokenRecord",
    "TokenRecords",
    "TokenStore",
    "User",
    "UserLookup",
    "check_failure_keys",
    "check_keep",
    "check_publisher",
    "check_publisher_projects",
    "check_record",
    "check_session",
    "check_setting",
    "check_single_use",
    "check_text",
    "check_time",
    "count_login_failure",
    "has_nul",
    "redact_url",
]

#: The roles a user can hold on a project, as pypi.org names them.
ROLES: frozenset[str] = frozenset({"Owner", "Maintainer"})

#: Audit event names the service writes. Stores accept any name: the list documents the
#: vocabulary, it does not police it, so a new event never needs a schema migration.
EVENTS: frozenset[str] = frozenset(
    {
        "minted",
        "revoked",
        "denied",
        "user_removed",
        "project_created",
        "project_adopted",
        "claim_released",
        "maintainer_added",
        "maintainer_removed",
        "project_transferred",
        "project_removed",
        "publisher_added",
        "publisher_removed",
    }
)

#: Longest text an audit event field keeps; longer ones are cut (and end with "...").
MAX_EVENT_TEXT = 1000

_NUL = "\x00"


@dataclass(frozen=True, slots=True)
class User:
    """A registered user. ``id`` is a lowercase UUID4, the value of ``user_id`` caveats."""

    id: str
    name: str
    created: int


@dataclass(frozen=True, slots=True)
class Project:
    """A project. ``name`` is PEP 503 normalised by the caller; the store compares it verbatim."""

    id: str
    name: str
    created: int


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """The server-side half of an issued token.

    ``id`` is the macaroon identifier. ``salt`` feeds the per-token key derivation
    (HMAC of the server secret), so a copy of the database alone cannot mint tokens; the
    key itself is never stored. The tuples record what the token was minted for, so that
    ``token list`` can show it without the raw token.
    """

    id: str
    user_id: str
    salt: bytes
    description: str
    projects: tuple[str, ...]
    project_ids: tuple[str, ...]
    indexes: tuple[str, ...]
    actions: tuple[str, ...]
    created: int
    expires: int | None
    not_before: int | None
    last_used: int | None
    revoked: bool
    publisher_id: str | None = None


@dataclass(frozen=True, slots=True)
class PublisherRecord:
    """A trusted publisher: a CI workflow whose OIDC tokens may be exchanged for upload tokens.

    ``kind`` names the publisher type (``github``, ``gitlab``, ``oidc``) and ``config`` its
    fields, as canonical JSON (the kind's business, see :mod:`pypitoken_core.oidc`);
    ``lookup_key`` is what a verified OIDC token's claims are looked up by. ``projects``
    are normalised project names; ``index`` is the devpi ``user/index`` the publisher may
    upload to (None elsewhere). ``pending`` are those of the projects that did not exist
    when they were named: the first publish creates each, owned by ``added_by`` (a user
    id), on whose behalf every token minted for the publisher acts.
    """

    id: str
    kind: str
    issuer: str
    config: str
    lookup_key: str
    projects: tuple[str, ...]
    index: str | None
    pending: tuple[str, ...]
    added_by: str
    created: int


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What one request needs to decide on a token: the record, its owner (None once the
    user is removed), and the project the request names with the owner's role on it."""

    token: TokenRecord
    owner: User | None
    project: Project | None
    role: str | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail. It names the token by id only, never the token itself.

    A line may stand for several occurrences of one kind of event (the service folds
    repeated refusals of a token together): ``count`` of them, the first at
    ``first_time`` and the latest at ``time``; the other fields are the latest one's.
    ``first_time`` defaults to ``time``.
    """

    time: int
    event: str
    token_id: str | None
    user: str | None
    project: str | None
    action: str | None
    reason: str
    count: int = 1
    first_time: int | None = None

    def __post_init__(self) -> None:
        if self.first_time is None:
            object.__setattr__(self, "first_time", self.time)


@dataclass(frozen=True, slots=True)
class PageSession:
    """A user logged in to the token page.

    ``key`` is the SHA-256 (hex) of the random session id the browser's cookie holds: the
    id itself is never stored, so a copy of the store cannot be used as a cookie.
    ``groups`` are the groups the index reported when the user logged in (devpi's; none
    on pypiserver). ``csrf`` is the token every form of the session must carry. The
    session ends at ``expires`` whatever happens, or earlier when it was not used for a
    while after ``last_seen`` (the page decides how long).
    """

    key: str
    user: str
    groups: tuple[str, ...]
    csrf: str = field(repr=False)  # a form secret: never in a repr, so never in a log
    created: int
    last_seen: int
    expires: int


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """The failed log-ins counted under one key (a user, an address) since ``first``;
    ``last`` is the latest."""

    count: int
    first: int
    last: int


@runtime_checkable
class UserLookup(Protocol):
    """Reading users by name or id: what a token's owner is, wherever users are kept."""

    def get_user(self, name: str) -> User | None:
        """Return the user called ``name``, or None."""
        ...

    def get_user_by_id(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""
        ...


@runtime_checkable
class TokenRecords(UserLookup, Protocol):
    """Token records, the grant lookup of a request, audit events and settings.

    The optional ``event`` of :meth:`add_token` and :meth:`revoke_token` is written in the
    same transaction as the change, so the audit trail can never disagree with the tokens
    after a crash. Where events go is the store's: a store that is also an
    :class:`AuditTrail` keeps them to be read back; another may hand each one to its
    server's log (devpi's keyfs store).
    """

    @property
    def url(self) -> str:
        """The store URL without any password, safe for messages and logs."""
        ...

    def add_token(self, record: TokenRecord, *, event: AuditEvent | None = None) -> None:
        """Store a new token record (and its "minted" event, if given) in one transaction.

        Raises ``AlreadyExists`` for a duplicate id and ``NotFound`` if the owner does
        not exist (so a token can never outlive a concurrent ``remove_user`` unrevoked),
        and StoreError for a record that :func:`check_record` refuses.
        """
        ...

    def get_token(self, token_id: str) -> TokenRecord | None:
        """Return the record for a token id, or None. The hot path: one indexed read."""
        ...

    def get_token_grant(
        self, token_id: str, project_name: str | None, seal: bytes | None = None
    ) -> TokenGrant | None:
        """Return the token, its owner, and ``project_name``'s project with the owner's role.

        The hot path of an index request, in one read (one statement on SQL backends):
        the same answers as ``get_token`` and ``get_user_by_id``, and, from a store that is
        also a :class:`Directory`, ``get_project`` and ``get_role``. A store without a
        directory knows no projects: its grants have no project and no role. None if the
        token id is unknown. The record's ``last_used`` may be older than ``get_token``'s:
        a store may keep grants in memory until something that can change a decision is
        written, and a touch is not such a write (``store._cache``). ``seal``, a digest of
        the presented token's signature, is part of what a store keeps a grant under: a
        token with another signature (a forged one) is never answered from memory, so its
        refusal costs a read whatever its id points at, and its time tells nothing.
        """
        ...

    def list_tokens(self, user_id: str | None = None) -> list[TokenRecord]:
        """Return all token records, or one user's, oldest first."""
        ...

    def revoke_token(self, token_id: str, *, event: AuditEvent | None = None) -> bool:
        """Mark a token revoked; False if the id is unknown (then ``event`` is not written)."""
        ...

    def touch_token(self, token_id: str, when: int) -> None:
        """Record ``when`` as the token's last use; never moves ``last_used`` backwards.

        The service throttles calls, so this is not a write per request. Unknown ids are
        ignored: a last-used stamp is not worth an error. A store that cannot write
        during the requests that use tokens may write the stamp a moment later, or not
        at all where it cannot write (devpi's keyfs: a use in a read request is stamped
        by a write of its own shortly after, and a replica stamps nothing).
        """
        ...

    def add_event(
        self,
        event: AuditEvent,
        *,
        merge_key: str | None = None,
        merge_window: int = 0,
        keep: int | None = None,
    ) -> None:
        """Record one audit event.

        An :class:`AuditTrail` appends it or folds it into a recent line of its kind.
        With a ``merge_key``: if the newest line written with the same key started at
        most ``merge_window`` seconds before ``event.time``, that line absorbs the event
        (its count grows by ``event.count``, its time window widens to include
        ``event.time``, and its user, project, action and reason become the event's);
        otherwise a new line starts. With ``keep``, a new line makes the oldest lines
        beyond the newest ``keep`` go, so the trail never holds more than ``keep`` lines.
        A store that hands events to a log writes one line per event and leaves folding
        and trimming to the log's rotation.
        """
        ...

    def get_setting(self, key: str) -> str | None:
        """Return a stored setting (e.g. the server's token domain), or None."""
        ...

    def set_setting(self, key: str, value: str) -> None:
        """Store a setting, replacing any previous value (StoreError unless both are str)."""
        ...

    def close(self) -> None:
        """Release every connection the store opened; later calls raise ``StoreError``.

        A store that opens none has nothing to release (devpi's keyfs store works inside
        the transactions devpi opens, and closing it changes nothing).
        """
        ...


@runtime_checkable
class Directory(UserLookup, Protocol):
    """Users, projects and the roles users hold on projects.

    The optional ``event`` of :meth:`remove_user` and :meth:`remove_project` is written in
    the same transaction as the change, like those of :class:`TokenRecords`.
    """

    def add_user(self, name: str) -> User:
        """Create a user with a new lowercase UUID4 id; ``AlreadyExists`` if the name is taken."""
        ...

    def list_users(self) -> list[User]:
        """Return every user, ordered by name."""
        ...

    def remove_user(self, name: str, *, event: AuditEvent | None = None) -> None:
        """Delete a user, their roles, and revoke all their tokens in one transaction.

        Tokens stay (revoked) so the audit trail and ``token list`` still explain them.
        Raises ``NotFound`` if there is no such user.
        """
        ...

    def add_project(self, name: str, owner_id: str) -> Project:
        """Create a project and make ``owner_id`` its Owner, in one transaction.

        Raises ``AlreadyExists`` if the name is taken, ``NotFound`` if the owner is unknown.
        """
        ...

    def remove_project(self, project_id: str, *, event: AuditEvent | None = None) -> bool:
        """Delete a project and every role on it (and write ``event``) in one transaction.

        False if there is no such project (then ``event`` is not written). Tokens that
        name the project keep its id, which no later project will have.
        """
        ...

    def get_project(self, name: str) -> Project | None:
        """Return the project called ``name`` (compared verbatim), or None."""
        ...

    def list_projects(self) -> list[Project]:
        """Return every project, ordered by name."""
        ...

    def set_role(
        self, project_id: str, user_id: str, role: str, *, event: AuditEvent | None = None
    ) -> None:
        """Give ``user_id`` the ``role`` ("Owner" or "Maintainer") on a project, replacing any.

        Raises ``NotFound`` if the project or user is unknown, ``StoreError`` for another role.
        """
        ...

    def remove_role(
        self, project_id: str, user_id: str, *, event: AuditEvent | None = None
    ) -> bool:
        """Take the user's role on the project away (and write ``event``) in one transaction.

        False if the user has no role there (then ``event`` is not written).
        """
        ...

    def transfer_project(
        self, project_id: str, user_id: str, *, event: AuditEvent | None = None
    ) -> None:
        """Make ``user_id`` the project's only Owner, in one transaction: every other Owner
        becomes a Maintainer (they keep uploading; the new owner may remove them).

        Raises ``NotFound`` if the project or user is unknown.
        """
        ...

    def get_role(self, project_id: str, user_id: str) -> str | None:
        """Return the user's role on the project, or None."""
        ...

    def list_roles(self, project_id: str) -> list[tuple[str, str]]:
        """Return ``(user name, role)`` pairs for a project, ordered by user name."""
        ...

    def list_user_roles(self, user_id: str) -> list[tuple[Project, str]]:
        """Return ``(project, role)`` for every project the user has a role on, by name."""
        ...


@runtime_checkable
class AuditTrail(Protocol):
    """An audit trail the store keeps, to be read back and pruned.

    The trail is bounded: an event's text fields are cut to :data:`MAX_EVENT_TEXT`
    characters, repeated events can be folded into one line (``merge_key`` of
    :meth:`TokenRecords.add_event`), and old lines are dropped (``keep`` and
    :meth:`prune_events`).
    """

    def list_events(self, limit: int = 100, token_id: str | None = None) -> list[AuditEvent]:
        """Return up to ``limit`` events, newest first, optionally only one token's."""
        ...

    def prune_events(self, *, before: int | None = None, keep: int | None = None) -> int:
        """Drop events last seen before ``before``, then all but the newest ``keep``.

        Returns how many lines were dropped. Either bound may be None (not applied).
        """
        ...


@runtime_checkable
class Publishers(Protocol):
    """The trusted publishers registered on the index.

    The optional ``event`` of :meth:`add_publisher` and :meth:`remove_publisher` is written
    in the same transaction as the change.
    """

    def add_publisher(self, record: PublisherRecord, *, event: AuditEvent | None = None) -> None:
        """Register a publisher. ``AlreadyExists`` for a duplicate id, ``NotFound`` if
        ``added_by`` is no user, StoreError for a record :func:`check_publisher` refuses."""
        ...

    def get_publisher(self, publisher_id: str) -> PublisherRecord | None:
        """Return the publisher with this id, or None."""
        ...

    def list_publishers(self) -> list[PublisherRecord]:
        """Return every publisher, oldest first."""
        ...

    def find_publishers(self, lookup_key: str) -> list[PublisherRecord]:
        """Return the publishers registered under ``lookup_key``, oldest first (one read)."""
        ...

    def has_issuer(self, issuer: str) -> bool:
        """Tell whether any publisher trusts ``issuer`` (one read): tokens of other
        issuers are refused before any of their keys is fetched."""
        ...

    def set_publisher_projects(
        self, publisher_id: str, projects: tuple[str, ...], pending: tuple[str, ...]
    ) -> bool:
        """Replace a publisher's projects and pending ones (a project added, or a pending
        project now created or taken by someone else); False if the id is unknown.

        StoreError for values :func:`check_publisher` would refuse.
        """
        ...

    def remove_publisher(self, publisher_id: str, *, event: AuditEvent | None = None) -> bool:
        """Remove a publisher and revoke every token minted for it, in one transaction.

        False if there is no such publisher (then ``event`` is not written).
        """
        ...


@runtime_checkable
class SingleUse(Protocol):
    """Marks that can be taken once: "taken on one process is seen by all", until expiry.

    An OIDC token's ``jti`` is taken when it is exchanged, so the same CI token is
    refused afterwards by every process and host sharing the store.
    """

    def take_once(self, key: str, expires: int, now: int) -> bool:
        """Take ``key`` until ``expires``: True if this call took it, False if it is taken.

        Atomic: of concurrent calls for one key, exactly one gets True. A mark whose
        ``expires`` is before ``now`` counts as absent (and expired marks are dropped).
        """
        ...

    def is_taken(self, key: str, now: int) -> bool:
        """Tell whether ``key`` is taken and not expired at ``now`` (a read, no write)."""
        ...


@runtime_checkable
class PageSessions(Protocol):
    """The token page's sessions and its log-in throttle, shared by every server process.

    Bounded whatever a client sends: a session is written only after a password was
    checked, a user keeps at most ``keep`` of them, and each new one drops that user's
    sessions that have ended; failed log-ins are counters, one line per key, and
    :meth:`note_login_failure` drops the lines older than its window and the least recent
    ones beyond ``keep``.
    """

    def add_session(self, session: PageSession, *, keep: int) -> None:
        """Store a new session; drop the user's sessions whose ``expires`` is not after
        ``session.created`` (a store may drop other users' ended sessions too), and the
        user's oldest beyond the newest ``keep`` (a positive number).

        Raises ``AlreadyExists`` for a duplicate key, StoreError for a session that
        :func:`check_session` refuses.
        """
        ...

    def get_session(self, key: str) -> PageSession | None:
        """Return the session with this key, or None."""
        ...

    def touch_session(self, key: str, when: int) -> None:
        """Record ``when`` as the session's last use; never moves ``last_seen`` backwards.

        Unknown keys are ignored. The page calls it at most about once a minute per
        session; a store that cannot write during a page's read requests may keep the
        stamp in its process only (devpi's keyfs; devpi-server is one process).
        """
        ...

    def remove_session(self, key: str) -> bool:
        """End a session (log out); False if there was none with this key."""
        ...

    def remove_user_sessions(self, user: str) -> int:
        """End every session of ``user``; return how many there were."""
        ...

    def note_login_failure(self, keys: Sequence[str], when: int, window: int, keep: int) -> None:
        """Count a failed log-in at ``when`` under each of ``keys`` (a user, an address).

        A key's count starts again at one when its first counted failure is ``window``
        seconds old or older. Lines whose first failure is that old are dropped, and then
        the least recent beyond the newest ``keep``.
        """
        ...

    def login_failures(self, key: str) -> LoginFailures | None:
        """The failures counted under ``key``, or None (the caller applies the window)."""
        ...

    def clear_login_failures(self, key: str) -> None:
        """Forget the failures counted under ``key`` (a successful log-in of that user)."""
        ...


@runtime_checkable
class TokenStore(
    TokenRecords, Directory, AuditTrail, PageSessions, Publishers, SingleUse, Protocol
):
    """A store that keeps it all: token records, the directory, the audit trail, the
    token page's sessions, the trusted publishers and the single-use marks.

    What the parts promise together: removing a user revokes their tokens and ends their
    page sessions in the same transaction (:meth:`Directory.remove_user`), and a grant
    names the project and the owner's role on it (:meth:`TokenRecords.get_token_grant`).
    """


def has_nul(*values: object) -> bool:
    """Tell whether any of the string ``values`` holds a NUL (so cannot be stored)."""
    return any(type(v) is str and _NUL in v for v in values)


def check_text(what: str, *values: object) -> None:
    """Refuse to write a string with a NUL character (see the module docstring)."""
    if has_nul(*values):
        raise StoreError(f"{what} cannot contain NUL characters")


def check_time(what: str, *values: object) -> None:
    """Refuse a time that is not an integer between years 1 and 9999 (None is allowed).

    SQL integers are 64-bit; without this a huge Python int would surface as a driver's
    OverflowError instead of a StoreError, and the other stores would take it.
    """
    for value in values:
        if value is not None and (type(value) is not int or not _time.in_range(value)):
            raise StoreError(f"{what} must be an integer timestamp within years 1 to 9999")


def _check_names(field: str, names: object, what: str = "token field") -> None:
    if type(names) is not tuple:
        raise StoreError(f"{what} {field!r} must be a tuple of strings")
    for name in names:
        if type(name) is not str or not name or "\n" in name or _NUL in name:
            raise StoreError(f"{what} {field!r} holds an empty, multi-line or NUL value")


def check_record(record: object) -> TokenRecord:
    """Return ``record`` if every store can keep it and give it back equal.

    Raises StoreError for anything but a :class:`TokenRecord`, for NUL characters in its
    strings, for times outside years 1 to 9999, and for name tuples holding anything but
    non-empty single-line strings (no project, index, action or id has a newline, which
    lets the SQL stores keep a tuple as one text column).
    """
    if not isinstance(record, TokenRecord):
        raise StoreError("add_token needs a TokenRecord")
    check_text(
        "a token's id, user id and description", record.id, record.user_id, record.description
    )
    check_time("a token's times", record.created, record.expires, record.not_before)
    check_time("a token's times", record.last_used)
    for name in ("projects", "project_ids", "indexes", "actions"):
        _check_names(name, getattr(record, name))
    if record.publisher_id is not None and (
        type(record.publisher_id) is not str or not record.publisher_id
    ):
        raise StoreError("a token's publisher id must be a non-empty string or None")
    check_text("a token's publisher id", record.publisher_id)
    return record


def check_session(session: object) -> PageSession:
    """Return ``session`` if every store can keep it and give it back equal.

    Raises StoreError for anything but a :class:`PageSession`, for strings that are not
    strings or hold a NUL, groups that are not a tuple of non-empty single-line strings,
    and times outside years 1 to 9999.
    """
    if not isinstance(session, PageSession):
        raise StoreError("add_session needs a PageSession")
    for value in (session.key, session.user, session.csrf):
        if type(value) is not str or not value:
            raise StoreError("a session's key, user and csrf must be non-empty strings")
    check_text("a session's key, user and csrf", session.key, session.user, session.csrf)
    _check_names("groups", session.groups, "session field")
    check_time("a session's times", session.created, session.last_seen, session.expires)
    return session


#: Longest key a failed log-in is counted under; longer keys are refused (they come from
#: requests: a user name, an address).
MAX_FAILURE_KEY = 300


def check_keep(keep: object) -> None:
    """Refuse a bound on kept lines that is not a positive integer."""
    if type(keep) is not int or keep < 1:
        raise StoreError(f"keep must be a positive integer, not {keep!r}")


def check_failure_keys(keys: object) -> None:
    """Refuse keys of failed log-ins that are not short strings without NUL characters."""
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise StoreError("failed log-ins are counted under a sequence of keys")
    for key in keys:
        if type(key) is not str or not key or len(key) > MAX_FAILURE_KEY or _NUL in key:
            raise StoreError(
                f"a failed log-in's key must be a string of 1 to {MAX_FAILURE_KEY} characters"
                " without NUL"
            )


def count_login_failure(
    failures: Mapping[str, LoginFailures],
    keys: Sequence[str],
    when: int,
    window: int,
    keep: int,
) -> dict[str, LoginFailures]:
    """:meth:`PageSessions.note_login_failure` for a store that keeps the counts in a
    dict: the new dict. Checks its arguments as every store does."""
    check_failure_keys(keys)
    check_time("a failed log-in's time", when)
    if type(window) is not int or window < 0:
        raise StoreError(f"window must be a non-negative integer, not {window!r}")
    check_keep(keep)
    start = when - window
    counted = {k: f for k, f in failures.items() if f.first > start}
    for key in keys:
        old = counted.get(key)
        counted[key] = (
            LoginFailures(1, when, when)
            if old is None
            else LoginFailures(old.count + 1, old.first, max(old.last, when))
        )
    if len(counted) > keep:
        # As the SQL stores do: drop what is older than the keep-th most recent line.
        bound = sorted((f.last for f in counted.values()), reverse=True)[keep - 1]
        counted = {k: f for k, f in counted.items() if f.last >= bound}
    return counted


def check_publisher(record: object) -> PublisherRecord:
    """Return ``record`` if every store can keep it and give it back equal (see
    :func:`check_record`); StoreError otherwise."""
    if not isinstance(record, PublisherRecord):
        raise StoreError("add_publisher needs a PublisherRecord")
    texts = (
        record.id, record.kind, record.issuer, record.config, record.lookup_key,
        record.added_by,
    )  # fmt: skip
    if any(type(v) is not str or not v for v in texts):
        raise StoreError("a publisher's id, kind, issuer, config, key and owner must be strings")
    if record.index is not None and (type(record.index) is not str or not record.index):
        raise StoreError("a publisher's index must be a non-empty string or None")
    check_text("a publisher", *texts, record.index)
    check_time("a publisher's creation time", record.created)
    check_publisher_projects(record.projects, record.pending)
    return record


def check_publisher_projects(projects: object, pending: object) -> None:
    """Refuse a publisher's projects unless they are names, at least one, with the
    pending ones among them."""
    _check_names("projects", projects)
    _check_names("pending", pending)
    names, waiting = cast(tuple[str, ...], projects), cast(tuple[str, ...], pending)
    if not names:
        raise StoreError("a publisher names at least one project")
    if not set(waiting) <= set(names):
        raise StoreError("a publisher's pending projects must be among its projects")


def check_single_use(key: object, *times: object) -> None:
    """Refuse a single-use key that is not a non-empty string, or bad times."""
    if type(key) is not str or not key:
        raise StoreError("a single-use key must be a non-empty string")
    check_text("a single-use key", key)
    check_time("a single-use mark's times", *times)


def check_setting(key: object, value: object) -> None:
    """Refuse a setting whose key or value is not a string, or holds a NUL character."""
    if type(key) is not str or type(value) is not str:
        raise StoreError("setting keys and values must be strings")
    check_text("a setting", key, value)


def grant_from_parts(
    store: TokenStore, token_id: str, project_name: str | None
) -> TokenGrant | None:
    """``get_token_grant`` composed of the single-record reads, for stores without joins."""
    token = store.get_token(token_id)
    if token is None:
        return None
    project = None if project_name is None else store.get_project(project_name)
    role = None if project is None else store.get_role(project.id, token.user_id)
    return TokenGrant(token, store.get_user_by_id(token.user_id), project, role)


def redact_url(url: str) -> str:
    """Return ``url`` without a password (in the user part or a ``password=`` option).

    Store URLs end up in error messages and logs; the password must not.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}" if user else hostport
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = urllib.parse.urlencode([(k, v) for k, v in pairs if k.lower() != "password"])
    if netloc == parts.netloc and query == parts.query:
        return url
    # Rebuilt by hand: urlunsplit drops the empty authority of "sqlite:////abs/path".
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )
