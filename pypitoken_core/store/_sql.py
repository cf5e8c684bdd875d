"""The queries SQLite and PostgreSQL share, written once.

A backend supplies three things: ``_read`` (one autocommitted statement), ``_tx`` (a
write transaction that commits on success and rolls back on any error) and its dialect's
:class:`Statements`. Both translate driver errors into ``StoreError`` themselves, so the
methods here only raise the domain errors (``NotFound``, ``AlreadyExists``) they decide on.

Tuples of names are stored as one text column joined by newlines rather than JSON: splitting
is ten times cheaper than ``json.loads`` on the hot path, and no project, index, action or
id can contain a newline (``add_token`` refuses one that does).

NUL characters: PostgreSQL text cannot hold them, and names, ids and tokens come from
requests. So every backend behaves alike: a key with a NUL matches nothing (lookups say
"not found"), a value with a NUL is refused on writes, and audit events, which must never
be lost to a crafted name, get U+FFFD in its place.

The reads a request makes (its grant, users, projects, roles) are kept in memory and
answered from there while the database's change counter has not moved (``_cache``, which
says why that is exact); a backend's migrations create the counter and its triggers.

Audit events are bounded here for every backend (``clean_event``): text fields are cut to
``MAX_EVENT_TEXT`` characters and times must be what a datetime holds, so one line has a
size limit whatever a request carries. Folding (``merge_key``) and ``keep`` bound the
number of lines.
"""

# ruff: noqa: S105  (statement names like "token" are not passwords)
from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..exceptions import AlreadyExists, NotFound, StoreError
from ._cache import Counters, ReadCache, still_valid
from .base import (
    MAX_EVENT_TEXT,
    ROLES,
    AuditEvent,
    LoginFailures,
    PageSession,
    Project,
    PublisherRecord,
    TokenGrant,
    TokenRecord,
    User,
    check_failure_keys,
    check_keep,
    check_publisher,
    check_publisher_projects,
    check_record,
    check_session,
    check_setting,
    check_single_use,
    check_text,
    check_time,
    has_nul,
    redact_url,
)

_SEP = "\n"
_NUL = "\x00"

T = TypeVar("T")


class Cursor(Protocol):
    """What both drivers' cursors offer (a DB-API subset)."""

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What both drivers' connections offer: ``execute`` returning a cursor."""

    def execute(self, sql: Any, params: Sequence[Any] = ..., /) -> Cursor: ...


@dataclass(frozen=True, slots=True)
class Statements:
    """Every statement the shared methods run, in SQLite's ``?`` parameter style.

    The two ``*_lock`` statements differ by dialect: PostgreSQL needs row locks so that
    ``remove_user`` and a concurrent ``add_token`` serialise (otherwise a token could be
    added, unrevoked, for a user being deleted); SQLite serialises all writers anyway.
    """

    insert_user: str = (
        "INSERT INTO users (id, name, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
    )
    # The kept reads (store._cache): each also reads the change counters in the same
    # statement, and gives exactly one row, from ``changes``, whether or not it finds
    # anything.
    counters: str = "SELECT changed, added FROM changes"
    user_by_name: str = (
        "SELECT ch.changed, ch.added, u.id, u.name, u.created FROM changes ch"
        " LEFT JOIN users u ON u.name = ?"
    )
    user_by_id: str = (
        "SELECT ch.changed, ch.added, u.id, u.name, u.created FROM changes ch"
        " LEFT JOIN users u ON u.id = ?"
    )
    users: str = "SELECT id, name, created FROM users"
    user_lock_share: str = "SELECT id FROM users WHERE id = ?"
    user_lock_update: str = "SELECT id FROM users WHERE name = ?"
    delete_roles_of_user: str = "DELETE FROM roles WHERE user_id = ?"
    delete_sessions_of_user: str = "DELETE FROM sessions WHERE user_name = ?"
    revoke_tokens_of_user: str = "UPDATE tokens SET revoked = TRUE WHERE user_id = ?"
    delete_user: str = "DELETE FROM users WHERE id = ?"
    insert_project: str = (
        "INSERT INTO projects (id, name, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
    )
    project_by_name: str = (
        "SELECT ch.changed, ch.added, p.id, p.name, p.created FROM changes ch"
        " LEFT JOIN projects p ON p.name = ?"
    )
    project_exists: str = "SELECT id FROM projects WHERE id = ?"
    delete_roles_of_project: str = "DELETE FROM roles WHERE project_id = ?"
    delete_project: str = "DELETE FROM projects WHERE id = ?"
    projects: str = "SELECT id, name, created FROM projects"
    upsert_role: str = (
        "INSERT INTO roles (project_id, user_id, role) VALUES (?, ?, ?)"
        " ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role"
    )
    role: str = (
        "SELECT ch.changed, ch.added, r.role FROM changes ch"
        " LEFT JOIN roles r ON r.project_id = ? AND r.user_id = ?"
    )
    roles: str = (
        "SELECT users.name, roles.role FROM roles JOIN users ON users.id = roles.user_id"
        " WHERE roles.project_id = ?"
    )
    user_roles: str = (
        "SELECT p.id, p.name, p.created, r.role FROM roles r"
        " JOIN projects p ON p.id = r.project_id WHERE r.user_id = ?"
    )
    delete_role: str = "DELETE FROM roles WHERE project_id = ? AND user_id = ?"
    demote_owners: str = (
        "UPDATE roles SET role = 'Maintainer' WHERE project_id = ? AND role = 'Owner'"
    )
    insert_token: str = (
        "INSERT INTO tokens (id, user_id, salt, description, projects, project_ids, indexes,"
        " actions, created, expires, not_before, last_used, revoked, publisher_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    token: str = (
        "SELECT id, user_id, salt, description, projects, project_ids, indexes, actions,"
        " created, expires, not_before, last_used, revoked, publisher_id FROM tokens"
        " WHERE id = ?"
    )
    # The hot path: the token, its owner, the named project and the owner's role on it,
    # in one statement (one implicit read transaction), with the change counters.
    # Parameters: token id, project name.
    token_grant: str = (
        "SELECT ch.changed, ch.added, t.id, t.user_id, t.salt, t.description, t.projects,"
        " t.project_ids, t.indexes, t.actions, t.created, t.expires, t.not_before,"
        " t.last_used, t.revoked, t.publisher_id, u.name, u.created, p.id, p.name, p.created,"
        " r.role"
        " FROM changes ch"
        " LEFT JOIN tokens t ON t.id = ?"
        " LEFT JOIN users u ON u.id = t.user_id"
        " LEFT JOIN projects p ON p.name = ?"
        " LEFT JOIN roles r ON r.project_id = p.id AND r.user_id = t.user_id"
    )
    tokens: str = (
        "SELECT id, user_id, salt, description, projects, project_ids, indexes, actions,"
        " created, expires, not_before, last_used, revoked, publisher_id FROM tokens"
    )
    tokens_of_user: str = (
        "SELECT id, user_id, salt, description, projects, project_ids, indexes, actions,"
        " created, expires, not_before, last_used, revoked, publisher_id FROM tokens"
        " WHERE user_id = ?"
    )
    revoke_token: str = "UPDATE tokens SET revoked = TRUE WHERE id = ?"
    touch_token: str = (
        "UPDATE tokens SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)"
    )
    insert_event: str = (
        "INSERT INTO events (time, event, token_id, user_name, project, action, reason,"
        " count, first_time, merge_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    events: str = (
        "SELECT time, event, token_id, user_name, project, action, reason, count, first_time"
        " FROM events ORDER BY seq DESC LIMIT ?"
    )
    events_of_token: str = (
        "SELECT time, event, token_id, user_name, project, action, reason, count, first_time"
        " FROM events WHERE token_id = ? ORDER BY seq DESC LIMIT ?"
    )
    # The newest line of a kind: one descent of the (merge_key, seq) index.
    merge_target: str = (
        "SELECT seq, first_time FROM events WHERE merge_key = ? ORDER BY seq DESC LIMIT 1"
    )
    # count + n rather than a value computed here: two PostgreSQL writers folding into the
    # same line at READ COMMITTED must not lose one another's occurrences.
    merge_event: str = (
        "UPDATE events SET count = count + ?,"
        " time = CASE WHEN time > ? THEN time ELSE ? END,"
        " first_time = CASE WHEN first_time < ? THEN first_time ELSE ? END,"
        " user_name = ?, project = ?, action = ?, reason = ? WHERE seq = ?"
    )
    # seq only grows, so "all but the newest n" is a range of the primary key.
    trim_events: str = "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?"
    prune_events: str = "DELETE FROM events WHERE time < ?"
    insert_publisher: str = (
        "INSERT INTO publishers (id, kind, issuer, config, lookup_key, projects, index_name,"
        " pending, added_by, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING"
    )
    publisher: str = (
        "SELECT id, kind, issuer, config, lookup_key, projects, index_name, pending, added_by,"
        " created FROM publishers WHERE id = ?"
    )
    publishers: str = (
        "SELECT id, kind, issuer, config, lookup_key, projects, index_name, pending, added_by,"
        " created FROM publishers"
    )
    publishers_by_key: str = (
        "SELECT id, kind, issuer, config, lookup_key, projects, index_name, pending, added_by,"
        " created FROM publishers WHERE lookup_key = ?"
    )
    issuer_exists: str = "SELECT 1 FROM publishers WHERE issuer = ? LIMIT 1"
    set_publisher_projects: str = "UPDATE publishers SET projects = ?, pending = ? WHERE id = ?"
    delete_publisher: str = "DELETE FROM publishers WHERE id = ?"
    revoke_tokens_of_publisher: str = "UPDATE tokens SET revoked = TRUE WHERE publisher_id = ?"
    # An expired mark of the same key is taken over; then the insert decides atomically
    # (a concurrent insert of the key waits for ours, then finds the conflict).
    drop_expired_marks: str = "DELETE FROM single_use WHERE expires < ?"
    insert_mark: str = "INSERT INTO single_use (key, expires) VALUES (?, ?) ON CONFLICT DO NOTHING"
    mark_taken: str = "SELECT 1 FROM single_use WHERE key = ? AND expires >= ?"
    insert_session: str = (
        "INSERT INTO sessions (key, user_name, groups, csrf, created, last_seen, expires)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    session: str = (
        "SELECT key, user_name, groups, csrf, created, last_seen, expires FROM sessions"
        " WHERE key = ?"
    )
    touch_session: str = "UPDATE sessions SET last_seen = ? WHERE key = ? AND last_seen < ?"
    delete_session: str = "DELETE FROM sessions WHERE key = ?"
    delete_ended_sessions: str = "DELETE FROM sessions WHERE expires <= ?"
    # A user's sessions but the newest n (by creation, then key: a total order).
    trim_user_sessions: str = (
        "DELETE FROM sessions WHERE user_name = ? AND key NOT IN (SELECT key FROM sessions"
        " WHERE user_name = ? ORDER BY created DESC, key DESC LIMIT ?)"
    )
    # Parameters: key, when, when, window start, window start. In an UPDATE every
    # right-hand side reads the row as it was, in SQLite and PostgreSQL alike.
    note_failure: str = (
        "INSERT INTO login_failures (key, count, first, last) VALUES (?, 1, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET"
        " count = CASE WHEN login_failures.first > ? THEN login_failures.count + 1 ELSE 1 END,"
        " first = CASE WHEN login_failures.first > ? THEN login_failures.first"
        " ELSE excluded.first END,"
        " last = CASE WHEN login_failures.last > excluded.last THEN login_failures.last"
        " ELSE excluded.last END"
    )
    # Serialises the throttle's writers, which delete lines others may be counting into
    # (PostgreSQL could otherwise deadlock two of them); SQLite serialises writers anyway.
    failures_lock: str = ""
    drop_old_failures: str = "DELETE FROM login_failures WHERE first <= ?"
    # The least recent lines beyond the newest n (the parameter is n - 1); lines tied with
    # the n-th stay, so a line just counted is never dropped.
    trim_failures: str = (
        "DELETE FROM login_failures WHERE last < (SELECT last FROM login_failures"
        " ORDER BY last DESC LIMIT 1 OFFSET ?)"
    )
    failures: str = "SELECT count, first, last FROM login_failures WHERE key = ?"
    clear_failures: str = "DELETE FROM login_failures WHERE key = ?"
    setting: str = "SELECT value FROM settings WHERE key = ?"
    upsert_setting: str = (
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )

    def in_style(self, placeholder: str, **overrides: str) -> Statements:
        """Return these statements with ``?`` replaced by ``placeholder``, plus overrides."""
        changed = {
            f.name: getattr(self, f.name).replace("?", placeholder)
            for f in dataclasses.fields(self)
        }
        changed.update(overrides)
        return Statements(**changed)


def new_id() -> str:
    """A new lowercase UUID4, the id format of users, projects and tokens."""
    return str(uuid.uuid4())


def now() -> int:
    return int(time.time())


def check_bound(what: str, value: object) -> None:
    """Refuse a count or window that is not a non-negative integer (None is allowed)."""
    if value is not None and (type(value) is not int or value < 0):
        raise StoreError(f"{what} must be a non-negative integer, not {value!r}")


def record_row(record: TokenRecord) -> tuple[Any, ...]:
    """A token record's row in column order, once :func:`check_record` has accepted it.

    Each tuple of names becomes one text column, its names joined by newlines.
    """
    check_record(record)
    return (
        record.id,
        record.user_id,
        bytes(record.salt),
        record.description,
        _SEP.join(record.projects),
        _SEP.join(record.project_ids),
        _SEP.join(record.indexes),
        _SEP.join(record.actions),
        record.created,
        record.expires,
        record.not_before,
        record.last_used,
        bool(record.revoked),
        record.publisher_id,
    )


def split_names(text: str) -> tuple[str, ...]:
    return tuple(text.split(_SEP)) if text else ()


def check_limit(limit: int) -> None:
    # SQLite reads a negative LIMIT as "no limit" and PostgreSQL refuses it: be uniform.
    if type(limit) is not int or limit < 0:
        raise StoreError(f"limit must be a non-negative integer, not {limit!r}")


def token_from_row(row: Sequence[Any]) -> TokenRecord:
    """Build a record from a ``tokens`` row in :attr:`Statements.token` column order."""
    (tid, user_id, salt, description, projects, project_ids, indexes, actions,
     created, expires, not_before, last_used, revoked, publisher_id) = row  # fmt: skip
    return TokenRecord(
        tid,
        user_id,
        bytes(salt),
        description,
        split_names(projects),
        split_names(project_ids),
        split_names(indexes),
        split_names(actions),
        created,
        expires,
        not_before,
        last_used,
        bool(revoked),
        publisher_id,
    )


def publisher_row(record: PublisherRecord) -> tuple[Any, ...]:
    """A publisher's row in column order, once :func:`check_publisher` has accepted it."""
    check_publisher(record)
    return (
        record.id,
        record.kind,
        record.issuer,
        record.config,
        record.lookup_key,
        _SEP.join(record.projects),
        record.index,
        _SEP.join(record.pending),
        record.added_by,
        record.created,
    )


def publisher_from_row(row: Sequence[Any]) -> PublisherRecord:
    """Build a publisher from a ``publishers`` row in :attr:`Statements.publisher` order."""
    pid, kind, issuer, config, key, projects, index, pending, added_by, created = row
    return PublisherRecord(
        pid, kind, issuer, config, key, split_names(projects), index, split_names(pending),
        added_by, created,
    )  # fmt: skip


_EVENT_TEXT = ("event", "token_id", "user", "project", "action", "reason")


def _clean_text(value: str) -> str:
    value = value.replace(_NUL, "\ufffd")
    if len(value) > MAX_EVENT_TEXT:
        value = value[: MAX_EVENT_TEXT - 3] + "..."
    return value


def clean_event(event: AuditEvent) -> AuditEvent:
    """The event as it will be stored: NUL characters replaced by U+FFFD, long texts cut.

    Raises StoreError for an event whose fields have the wrong types, a count below one
    or times outside years 1 to 9999.
    """
    if not isinstance(event, AuditEvent):
        raise StoreError("an audit event must be an AuditEvent")
    if type(event.event) is not str or type(event.reason) is not str:
        raise StoreError("an audit event's name and reason must be strings")
    if any(
        getattr(event, name) is not None and type(getattr(event, name)) is not str
        for name in _EVENT_TEXT
    ):
        raise StoreError("an audit event's text fields must be strings or None")
    check_time("an audit event's times", event.time, event.first_time)
    if type(event.count) is not int or event.count < 1:
        raise StoreError("an audit event's count must be a positive integer")
    dirty: dict[str, Any] = {
        name: _clean_text(value)
        for name in _EVENT_TEXT
        if (value := getattr(event, name)) is not None
        and (len(value) > MAX_EVENT_TEXT or _NUL in value)
    }
    return dataclasses.replace(event, **dirty) if dirty else event


def event_params(event: AuditEvent, merge_key: str | None = None) -> tuple[Any, ...]:
    """The ``insert_event`` parameters of a cleaned ``event``."""
    return (
        event.time,
        event.event,
        event.token_id,
        event.user,
        event.project,
        event.action,
        event.reason,
        event.count,
        event.first_time,
        merge_key,
    )


def check_merge(merge_key: str | None, merge_window: int, keep: int | None) -> str | None:
    """Validate ``add_event``'s options; return the merge key as it will be stored."""
    if merge_key is not None and type(merge_key) is not str:
        raise StoreError("an audit merge key must be a string")
    check_bound("merge_window", merge_window)
    check_bound("keep", keep)
    return None if merge_key is None else _clean_text(merge_key)


def _user(row: Sequence[Any]) -> User | None:
    return None if row[0] is None else User(*row)


def _project(row: Sequence[Any]) -> Project | None:
    return None if row[0] is None else Project(*row)


def _role(row: Sequence[Any]) -> str | None:
    role: str | None = row[0]
    return role


def _grant(row: Sequence[Any]) -> TokenGrant | None:
    if row[0] is None:
        return None
    token = token_from_row(row[:14])
    user_name, user_created, project_id, name, project_created, role = row[14:]
    return TokenGrant(
        token,
        None if user_name is None else User(token.user_id, user_name, user_created),
        None if project_id is None else Project(project_id, name, project_created),
        role,
    )


class SQLStore:
    """The TokenStore methods, on top of a backend's ``_read`` / ``_tx`` / ``_sql``.

    A backend also creates ``_cache`` (a :class:`~pypitoken_core.store._cache.ReadCache`)
    and the ``changes`` table with its triggers in its migrations.
    """

    _sql: Statements
    _url: str
    _cache: ReadCache

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def _kept(
        self,
        key: Hashable,
        sql: str,
        params: Sequence[Any],
        build: Callable[[Sequence[Any]], T | None],
    ) -> T | None:
        """``build`` of what ``sql`` reads, from memory while the change counters allow.

        ``sql`` reads the two counters, then the columns ``build`` takes, in one row.
        """
        marker = self._commit_marker()  # before any read: see _counted
        kept = self._cache.get(key)
        if kept is not None and still_valid(kept[0], kept[1] is None, self._counters(marker)):
            value: T | None = kept[1]
            return value
        rows = self._read(sql, params)
        if not rows:  # a key that no stored value can hold (PostgreSQL and NUL)
            return None
        changed, added, *row = rows[0]
        self._counted(marker, (changed, added))
        value = build(row)
        self._cache.put(key, (changed, added), value)
        return value

    def _commit_marker(self) -> object:
        """Something that changes whenever any transaction commits, read without a query;
        None where the backend has no such thing (then every check is a query)."""
        return None

    def _counters(self, marker: object = None) -> Counters:
        """The change counters now: one single-row read (a few µs on SQLite, one round trip
        on PostgreSQL), which sees every commit made before it, in any process.
        ``marker`` was taken just before (see :meth:`_counted`)."""
        changed, added = self._read(self._sql.counters, ())[0]
        self._counted(marker, (changed, added))
        return changed, added

    def _counted(self, marker: object, counters: Counters) -> None:
        """The counters were ``counters`` in a read that began after ``marker`` was taken:
        a backend whose marker is unchanged later may answer them without a query."""

    def _tx(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- users ---------------------------------------------------------------------------

    def add_user(self, name: str) -> User:
        check_text("a user name", name)
        user = User(new_id(), name, now())
        with self._tx() as conn:
            if conn.execute(self._sql.insert_user, (user.id, name, user.created)).rowcount != 1:
                raise AlreadyExists(f"user {name!r} already exists")
        return user

    def get_user(self, name: str) -> User | None:
        return self._kept(("user", name), self._sql.user_by_name, (name,), _user)

    def get_user_by_id(self, user_id: str) -> User | None:
        return self._kept(("user_id", user_id), self._sql.user_by_id, (user_id,), _user)

    def list_users(self) -> list[User]:
        return sorted((User(*r) for r in self._read(self._sql.users, ())), key=_by_name)

    def remove_user(self, name: str, *, event: AuditEvent | None = None) -> None:
        params = None if event is None else event_params(clean_event(event))
        if has_nul(name):
            raise NotFound(f"no user {name!r}")
        sql = self._sql
        with self._tx() as conn:
            rows = conn.execute(sql.user_lock_update, (name,)).fetchall()
            if not rows:
                raise NotFound(f"no user {name!r}")
            (user_id,) = rows[0]
            conn.execute(sql.delete_roles_of_user, (user_id,))
            conn.execute(sql.delete_sessions_of_user, (name,))
            conn.execute(sql.revoke_tokens_of_user, (user_id,))
            conn.execute(sql.delete_user, (user_id,))
            if params is not None:
                conn.execute(sql.insert_event, params)

    # -- projects and roles --------------------------------------------------------------

    def add_project(self, name: str, owner_id: str) -> Project:
        check_text("a project name", name)
        if has_nul(owner_id):
            raise NotFound(f"no user with id {owner_id!r}")
        project = Project(new_id(), name, now())
        sql = self._sql
        with self._tx() as conn:
            params = (project.id, name, project.created)
            duplicate = f"project {name!r} already exists"
            self._insert_for_user(conn, owner_id, sql.insert_project, params, duplicate)
            conn.execute(sql.upsert_role, (project.id, owner_id, "Owner"))
        return project

    def remove_project(self, project_id: str, *, event: AuditEvent | None = None) -> bool:
        params = None if event is None else event_params(clean_event(event))
        if has_nul(project_id):
            return False
        sql = self._sql
        with self._tx() as conn:
            conn.execute(sql.delete_roles_of_project, (project_id,))
            if conn.execute(sql.delete_project, (project_id,)).rowcount != 1:
                return False
            if params is not None:
                conn.execute(sql.insert_event, params)
        return True

    def get_project(self, name: str) -> Project | None:
        return self._kept(("project", name), self._sql.project_by_name, (name,), _project)

    def list_projects(self) -> list[Project]:
        return sorted((Project(*r) for r in self._read(self._sql.projects, ())), key=_by_name)

    def _insert_for_user(
        self, conn: Connection, user_id: str, insert: str, params: Sequence[Any], duplicate: str
    ) -> None:
        """Insert a row that belongs to ``user_id`` while holding the user's row, so that a
        concurrent removal of the user waits for it (or it finds no user)."""
        if not conn.execute(self._sql.user_lock_share, (user_id,)).fetchall():
            raise NotFound(f"no user with id {user_id!r}")
        if conn.execute(insert, params).rowcount != 1:
            raise AlreadyExists(duplicate)

    def _lock_project_and_user(self, conn: Connection, project_id: str, user_id: str) -> None:
        if has_nul(project_id, user_id):
            raise NotFound("no such project or user")
        if not conn.execute(self._sql.project_exists, (project_id,)).fetchall():
            raise NotFound(f"no project with id {project_id!r}")
        if not conn.execute(self._sql.user_lock_share, (user_id,)).fetchall():
            raise NotFound(f"no user with id {user_id!r}")

    def set_role(
        self, project_id: str, user_id: str, role: str, *, event: AuditEvent | None = None
    ) -> None:
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r}; expected one of {sorted(ROLES)}")
        params = None if event is None else event_params(clean_event(event))
        with self._tx() as conn:
            self._lock_project_and_user(conn, project_id, user_id)
            conn.execute(self._sql.upsert_role, (project_id, user_id, role))
            if params is not None:
                conn.execute(self._sql.insert_event, params)

    def remove_role(
        self, project_id: str, user_id: str, *, event: AuditEvent | None = None
    ) -> bool:
        params = None if event is None else event_params(clean_event(event))
        if has_nul(project_id, user_id):
            return False
        with self._tx() as conn:
            if conn.execute(self._sql.delete_role, (project_id, user_id)).rowcount != 1:
                return False
            if params is not None:
                conn.execute(self._sql.insert_event, params)
        return True

    def transfer_project(
        self, project_id: str, user_id: str, *, event: AuditEvent | None = None
    ) -> None:
        params = None if event is None else event_params(clean_event(event))
        with self._tx() as conn:
            self._lock_project_and_user(conn, project_id, user_id)
            conn.execute(self._sql.demote_owners, (project_id,))
            conn.execute(self._sql.upsert_role, (project_id, user_id, "Owner"))
            if params is not None:
                conn.execute(self._sql.insert_event, params)

    def get_role(self, project_id: str, user_id: str) -> str | None:
        key = ("role", project_id, user_id)
        return self._kept(key, self._sql.role, (project_id, user_id), _role)

    def list_roles(self, project_id: str) -> list[tuple[str, str]]:
        return sorted((name, role) for name, role in self._read(self._sql.roles, (project_id,)))

    def list_user_roles(self, user_id: str) -> list[tuple[Project, str]]:
        rows = self._read(self._sql.user_roles, (user_id,))
        return sorted(
            ((Project(pid, name, created), role) for pid, name, created, role in rows),
            key=lambda pair: pair[0].name,
        )

    # -- tokens --------------------------------------------------------------------------

    def add_token(self, record: TokenRecord, *, event: AuditEvent | None = None) -> None:
        params = record_row(record)
        event_row = None if event is None else event_params(clean_event(event))
        sql = self._sql
        with self._tx() as conn:
            duplicate = f"a token with id {record.id!r} already exists"
            self._insert_for_user(conn, record.user_id, sql.insert_token, params, duplicate)
            if event_row is not None:
                conn.execute(sql.insert_event, event_row)

    def get_token(self, token_id: str) -> TokenRecord | None:
        rows = self._read(self._sql.token, (token_id,))
        return token_from_row(rows[0]) if rows else None

    def get_token_grant(
        self, token_id: str, project_name: str | None, seal: bytes | None = None
    ) -> TokenGrant | None:
        key = ("grant", token_id, project_name, seal)
        return self._kept(key, self._sql.token_grant, (token_id, project_name), _grant)

    def list_tokens(self, user_id: str | None = None) -> list[TokenRecord]:
        if user_id is None:
            rows = self._read(self._sql.tokens, ())
        else:
            rows = self._read(self._sql.tokens_of_user, (user_id,))
        return sorted(map(token_from_row, rows), key=_by_created)

    def revoke_token(self, token_id: str, *, event: AuditEvent | None = None) -> bool:
        event_row = None if event is None else event_params(clean_event(event))
        if has_nul(token_id):
            return False
        with self._tx() as conn:
            if conn.execute(self._sql.revoke_token, (token_id,)).rowcount != 1:
                return False
            if event_row is not None:
                conn.execute(self._sql.insert_event, event_row)
        return True

    def touch_token(self, token_id: str, when: int) -> None:
        check_time("a last-used time", when)
        if has_nul(token_id):
            return
        with self._tx() as conn:
            conn.execute(self._sql.touch_token, (when, token_id, when))

    # -- trusted publishers and single-use marks -----------------------------------------

    def add_publisher(self, record: PublisherRecord, *, event: AuditEvent | None = None) -> None:
        params = publisher_row(record)
        event_row = None if event is None else event_params(clean_event(event))
        sql = self._sql
        with self._tx() as conn:
            duplicate = f"a publisher with id {record.id!r} already exists"
            self._insert_for_user(conn, record.added_by, sql.insert_publisher, params, duplicate)
            if event_row is not None:
                conn.execute(sql.insert_event, event_row)

    def get_publisher(self, publisher_id: str) -> PublisherRecord | None:
        rows = self._read(self._sql.publisher, (publisher_id,))
        return publisher_from_row(rows[0]) if rows else None

    def list_publishers(self) -> list[PublisherRecord]:
        rows = self._read(self._sql.publishers, ())
        return sorted(map(publisher_from_row, rows), key=_by_created)

    def find_publishers(self, lookup_key: str) -> list[PublisherRecord]:
        rows = self._read(self._sql.publishers_by_key, (lookup_key,))
        return sorted(map(publisher_from_row, rows), key=_by_created)

    def has_issuer(self, issuer: str) -> bool:
        return bool(self._read(self._sql.issuer_exists, (issuer,)))

    def set_publisher_projects(
        self, publisher_id: str, projects: tuple[str, ...], pending: tuple[str, ...]
    ) -> bool:
        check_publisher_projects(projects, pending)
        if has_nul(publisher_id):
            return False
        params = (_SEP.join(projects), _SEP.join(pending), publisher_id)
        with self._tx() as conn:
            return conn.execute(self._sql.set_publisher_projects, params).rowcount == 1

    def remove_publisher(self, publisher_id: str, *, event: AuditEvent | None = None) -> bool:
        event_row = None if event is None else event_params(clean_event(event))
        if has_nul(publisher_id):
            return False
        sql = self._sql
        with self._tx() as conn:
            if conn.execute(sql.delete_publisher, (publisher_id,)).rowcount != 1:
                return False
            conn.execute(sql.revoke_tokens_of_publisher, (publisher_id,))
            if event_row is not None:
                conn.execute(sql.insert_event, event_row)
        return True

    def take_once(self, key: str, expires: int, now: int) -> bool:
        check_single_use(key, expires, now)
        sql = self._sql
        with self._tx() as conn:
            conn.execute(sql.drop_expired_marks, (now,))
            return conn.execute(sql.insert_mark, (key, expires)).rowcount == 1

    def is_taken(self, key: str, now: int) -> bool:
        check_time("a single-use check's time", now)
        return bool(self._read(self._sql.mark_taken, (key, now)))

    # -- audit trail and settings --------------------------------------------------------

    def add_event(
        self,
        event: AuditEvent,
        *,
        merge_key: str | None = None,
        merge_window: int = 0,
        keep: int | None = None,
    ) -> None:
        event = clean_event(event)
        key = check_merge(merge_key, merge_window, keep)
        sql = self._sql
        with self._tx() as conn:
            if key is not None:
                rows = conn.execute(sql.merge_target, (key,)).fetchall()
                if rows and rows[0][1] >= event.time - merge_window:
                    t, first = event.time, event.first_time
                    detail = (event.user, event.project, event.action, event.reason)
                    conn.execute(
                        sql.merge_event, (event.count, t, t, first, first, *detail, rows[0][0])
                    )
                    return
            conn.execute(sql.insert_event, event_params(event, key))
            if keep is not None:
                conn.execute(sql.trim_events, (keep,))

    def list_events(self, limit: int = 100, token_id: str | None = None) -> list[AuditEvent]:
        check_limit(limit)
        if token_id is None:
            rows = self._read(self._sql.events, (limit,))
        else:
            rows = self._read(self._sql.events_of_token, (token_id, limit))
        return [AuditEvent(*r) for r in rows]

    def prune_events(self, *, before: int | None = None, keep: int | None = None) -> int:
        check_time("prune_events' before", before)
        check_bound("keep", keep)
        dropped = 0
        with self._tx() as conn:
            if before is not None:
                dropped += conn.execute(self._sql.prune_events, (before,)).rowcount
            if keep is not None:
                dropped += conn.execute(self._sql.trim_events, (keep,)).rowcount
        return dropped

    # -- page sessions and the log-in throttle -----------------------------------------

    def add_session(self, session: PageSession, *, keep: int) -> None:
        check_session(session)
        check_keep(keep)
        sql = self._sql
        with self._tx() as conn:
            conn.execute(sql.delete_ended_sessions, (session.created,))
            params = (
                session.key,
                session.user,
                _SEP.join(session.groups),
                session.csrf,
                session.created,
                session.last_seen,
                session.expires,
            )
            if conn.execute(sql.insert_session, params).rowcount != 1:
                raise AlreadyExists("a session with this key already exists")
            conn.execute(sql.trim_user_sessions, (session.user, session.user, keep))

    def get_session(self, key: str) -> PageSession | None:
        rows = self._read(self._sql.session, (key,))
        if not rows:
            return None
        key, user, groups, csrf, created, last_seen, expires = rows[0]
        return PageSession(key, user, split_names(groups), csrf, created, last_seen, expires)

    def touch_session(self, key: str, when: int) -> None:
        check_time("a session's last use", when)
        if has_nul(key):
            return
        with self._tx() as conn:
            conn.execute(self._sql.touch_session, (when, key, when))

    def remove_session(self, key: str) -> bool:
        if has_nul(key):
            return False
        with self._tx() as conn:
            return bool(conn.execute(self._sql.delete_session, (key,)).rowcount == 1)

    def remove_user_sessions(self, user: str) -> int:
        if has_nul(user):
            return 0
        with self._tx() as conn:
            return int(conn.execute(self._sql.delete_sessions_of_user, (user,)).rowcount)

    def note_login_failure(self, keys: Sequence[str], when: int, window: int, keep: int) -> None:
        check_failure_keys(keys)
        check_time("a failed log-in's time", when)
        check_bound("window", window)
        check_keep(keep)
        start = when - window
        sql = self._sql
        with self._tx() as conn:
            if sql.failures_lock:
                conn.execute(sql.failures_lock, ())
            conn.execute(sql.drop_old_failures, (start,))
            for key in keys:
                conn.execute(sql.note_failure, (key, when, when, start, start))
            conn.execute(sql.trim_failures, (keep - 1,))

    def login_failures(self, key: str) -> LoginFailures | None:
        rows = self._read(self._sql.failures, (key,))
        return LoginFailures(*rows[0]) if rows else None

    def clear_login_failures(self, key: str) -> None:
        if has_nul(key):
            return
        with self._tx() as conn:
            conn.execute(self._sql.clear_failures, (key,))

    def get_setting(self, key: str) -> str | None:
        rows = self._read(self._sql.setting, (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        check_setting(key, value)
        with self._tx() as conn:
            conn.execute(self._sql.upsert_setting, (key, value))


def _by_name(item: User | Project) -> str:
    return item.name


def _by_created(record: TokenRecord | PublisherRecord) -> tuple[int, str]:
    return (record.created, record.id)


def iter_statements(migration: str | tuple[str, ...]) -> Iterator[str]:
    """The statements of a migration: a script split on ``;`` (such scripts contain no
    literal semicolons), or a tuple of statements (for those that do: trigger bodies)."""
    parts = migration.split(";") if isinstance(migration, str) else migration
    for statement in parts:
        if statement.strip():
            yield statement.strip()
