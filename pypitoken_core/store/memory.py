"""An in-memory store with the same contract, for unit tests of the service.

It runs the same contract suite as the SQL backends, so a service test that passes here
tells the truth about SQLite and PostgreSQL too. One lock makes every method atomic;
nothing survives the process.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..exceptions import AlreadyExists, NotFound, StoreError
from ._sql import check_bound, check_limit, check_merge, clean_event, new_id, now
from .base import (
    ROLES,
    AuditEvent,
    LoginFailures,
    PageSession,
    Project,
    TokenGrant,
    TokenRecord,
    User,
    check_keep,
    check_record,
    check_session,
    check_setting,
    check_text,
    check_time,
    count_login_failure,
    grant_from_parts,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """A :class:`~pypitoken_core.store.TokenStore` kept in dictionaries."""

    def __init__(self, url: str = "memory://") -> None:
        self._url = url
        self._lock = threading.Lock()
        self._closed = False
        self._users: dict[str, User] = {}  # by id
        self._projects: dict[str, Project] = {}  # by id
        self._roles: dict[tuple[str, str], str] = {}  # (project id, user id) -> role
        self._tokens: dict[str, TokenRecord] = {}
        # seq -> (event, merge key), in the order of a growing sequence number, as the SQL
        # stores' seq column.
        self._events: dict[int, tuple[AuditEvent, str | None]] = {}
        self._seq = 0
        self._merge_keys: dict[str, int] = {}  # merge key -> seq of its newest line
        self._settings: dict[str, str] = {}
        self._sessions: dict[str, PageSession] = {}
        self._failures: dict[str, LoginFailures] = {}

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"<MemoryStore {self._url}>"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            yield

    def _user_named(self, name: str) -> User | None:
        return next((u for u in self._users.values() if u.name == name), None)

    # -- users ---------------------------------------------------------------------------

    def add_user(self, name: str) -> User:
        check_text("a user name", name)
        with self._locked():
            if self._user_named(name) is not None:
                raise AlreadyExists(f"user {name!r} already exists")
            user = User(new_id(), name, now())
            self._users[user.id] = user
            return user

    def get_user(self, name: str) -> User | None:
        with self._locked():
            return self._user_named(name)

    def get_user_by_id(self, user_id: str) -> User | None:
        with self._locked():
            return self._users.get(user_id)

    def list_users(self) -> list[User]:
        with self._locked():
            return sorted(self._users.values(), key=lambda u: u.name)

    def remove_user(self, name: str, *, event: AuditEvent | None = None) -> None:
        event = _clean(event)
        with self._locked():
            user = self._user_named(name)
            if user is None:
                raise NotFound(f"no user {name!r}")
            self._roles = {k: r for k, r in self._roles.items() if k[1] != user.id}
            self._sessions = {k: s for k, s in self._sessions.items() if s.user != name}
            for tid, record in self._tokens.items():
                if record.user_id == user.id:
                    self._tokens[tid] = dataclasses.replace(record, revoked=True)
            del self._users[user.id]
            if event is not None:
                self._append(event)

    # -- projects and roles --------------------------------------------------------------

    def add_project(self, name: str, owner_id: str) -> Project:
        check_text("a project name", name)
        with self._locked():
            if owner_id not in self._users:
                raise NotFound(f"no user with id {owner_id!r}")
            if any(p.name == name for p in self._projects.values()):
                raise AlreadyExists(f"project {name!r} already exists")
            project = Project(new_id(), name, now())
            self._projects[project.id] = project
            self._roles[(project.id, owner_id)] = "Owner"
            return project

    def remove_project(self, project_id: str, *, event: AuditEvent | None = None) -> bool:
        event = _clean(event)
        with self._locked():
            if self._projects.pop(project_id, None) is None:
                return False
            self._roles = {k: r for k, r in self._roles.items() if k[0] != project_id}
            if event is not None:
                self._append(event)
            return True

    def get_project(self, name: str) -> Project | None:
        with self._locked():
            return next((p for p in self._projects.values() if p.name == name), None)

    def list_projects(self) -> list[Project]:
        with self._locked():
            return sorted(self._projects.values(), key=lambda p: p.name)

    def _check_project_and_user(self, project_id: str, user_id: str) -> None:
        if project_id not in self._projects:
            raise NotFound(f"no project with id {project_id!r}")
        if user_id not in self._users:
            raise NotFound(f"no user with id {user_id!r}")

    def set_role(
        self, project_id: str, user_id: str, role: str, *, event: AuditEvent | None = None
    ) -> None:
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r}; expected one of {sorted(ROLES)}")
        event = _clean(event)
        with self._locked():
            self._check_project_and_user(project_id, user_id)
            self._roles[(project_id, user_id)] = role
            if event is not None:
                self._append(event)

    def remove_role(
        self, project_id: str, user_id: str, *, event: AuditEvent | None = None
    ) -> bool:
        event = _clean(event)
        with self._locked():
            if self._roles.pop((project_id, user_id), None) is None:
                return False
            if event is not None:
                self._append(event)
            return True

    def transfer_project(
        self, project_id: str, user_id: str, *, event: AuditEvent | None = None
    ) -> None:
        event = _clean(event)
        with self._locked():
            self._check_project_and_user(project_id, user_id)
            for key, role in self._roles.items():
                if key[0] == project_id and role == "Owner":
                    self._roles[key] = "Maintainer"
            self._roles[(project_id, user_id)] = "Owner"
            if event is not None:
                self._append(event)

    def get_role(self, project_id: str, user_id: str) -> str | None:
        with self._locked():
            return self._roles.get((project_id, user_id))

    def list_roles(self, project_id: str) -> list[tuple[str, str]]:
        with self._locked():
            return sorted(
                (self._users[uid].name, role)
                for (pid, uid), role in self._roles.items()
                if pid == project_id
            )

    def list_user_roles(self, user_id: str) -> list[tuple[Project, str]]:
        with self._locked():
            return sorted(
                (
                    (self._projects[pid], role)
                    for (pid, uid), role in self._roles.items()
                    if uid == user_id
                ),
                key=lambda pair: pair[0].name,
            )

    # -- tokens --------------------------------------------------------------------------

    def add_token(self, record: TokenRecord, *, event: AuditEvent | None = None) -> None:
        check_record(record)
        event = _clean(event)
        # What a database would hand back: plain bytes and a real bool.
        record = dataclasses.replace(record, salt=bytes(record.salt), revoked=bool(record.revoked))
        with self._locked():
            if record.user_id not in self._users:
                raise NotFound(f"no user with id {record.user_id!r}")
            if record.id in self._tokens:
                raise AlreadyExists(f"a token with id {record.id!r} already exists")
            self._tokens[record.id] = record
            if event is not None:
                self._append(event)

    def get_token(self, token_id: str) -> TokenRecord | None:
        with self._locked():
            return self._tokens.get(token_id)

    def get_token_grant(self, token_id: str, project_name: str | None) -> TokenGrant | None:
        return grant_from_parts(self, token_id, project_name)

    def list_tokens(self, user_id: str | None = None) -> list[TokenRecord]:
        with self._locked():
            records = [r for r in self._tokens.values() if user_id in (None, r.user_id)]
        return sorted(records, key=lambda r: (r.created, r.id))

    def revoke_token(self, token_id: str, *, event: AuditEvent | None = None) -> bool:
        event = _clean(event)
        with self._locked():
            record = self._tokens.get(token_id)
            if record is None:
                return False
            self._tokens[token_id] = dataclasses.replace(record, revoked=True)
            if event is not None:
                self._append(event)
            return True

    def touch_token(self, token_id: str, when: int) -> None:
        check_time("a last-used time", when)
        with self._locked():
            record = self._tokens.get(token_id)
            if record is not None and (record.last_used is None or record.last_used < when):
                self._tokens[token_id] = dataclasses.replace(record, last_used=when)

    # -- audit trail and settings --------------------------------------------------------

    def _append(self, event: AuditEvent, merge_key: str | None = None) -> None:
        self._seq += 1
        self._events[self._seq] = (event, merge_key)
        if merge_key is not None:
            self._merge_keys[merge_key] = self._seq

    def _drop(self, doomed: list[int]) -> int:
        for seq in doomed:
            _, key = self._events.pop(seq)
            if key is not None and self._merge_keys.get(key) == seq:
                del self._merge_keys[key]
        return len(doomed)

    def _drop_all_but(self, keep: int) -> int:
        # The SQL stores drop by sequence number (seq <= newest - keep); so does this.
        return self._drop([seq for seq in self._events if seq <= self._seq - keep])

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
        with self._locked():
            seq = None if key is None else self._merge_keys.get(key)
            if seq is not None:
                line, _ = self._events[seq]
                first = _first_time(line)
                if first >= event.time - merge_window:
                    self._events[seq] = (
                        dataclasses.replace(
                            line,
                            user=event.user,
                            project=event.project,
                            action=event.action,
                            reason=event.reason,
                            count=line.count + event.count,
                            time=max(line.time, event.time),
                            first_time=min(first, _first_time(event)),
                        ),
                        key,
                    )
                    return
            self._append(event, key)
            if keep is not None:
                self._drop_all_but(keep)

    def list_events(self, limit: int = 100, token_id: str | None = None) -> list[AuditEvent]:
        check_limit(limit)
        with self._locked():
            events = [
                e for e, _ in reversed(self._events.values()) if token_id in (None, e.token_id)
            ]
        return events[:limit]

    def prune_events(self, *, before: int | None = None, keep: int | None = None) -> int:
        check_time("prune_events' before", before)
        check_bound("keep", keep)
        with self._locked():
            dropped = 0
            if before is not None:
                dropped += self._drop([s for s, (e, _) in self._events.items() if e.time < before])
            if keep is not None:
                dropped += self._drop_all_but(keep)
            return dropped

    # -- page sessions and the log-in throttle -----------------------------------------

    def add_session(self, session: PageSession, *, keep: int) -> None:
        check_session(session)
        check_keep(keep)
        with self._locked():
            if session.key in self._sessions:
                raise AlreadyExists("a session with this key already exists")
            self._sessions = {
                k: s for k, s in self._sessions.items() if s.expires > session.created
            }
            self._sessions[session.key] = session
            mine = sorted(
                (s for s in self._sessions.values() if s.user == session.user),
                key=lambda s: (s.created, s.key),
                reverse=True,
            )
            for old in mine[keep:]:
                del self._sessions[old.key]

    def get_session(self, key: str) -> PageSession | None:
        with self._locked():
            return self._sessions.get(key)

    def touch_session(self, key: str, when: int) -> None:
        check_time("a session's last use", when)
        with self._locked():
            session = self._sessions.get(key)
            if session is not None and session.last_seen < when:
                self._sessions[key] = dataclasses.replace(session, last_seen=when)

    def remove_session(self, key: str) -> bool:
        with self._locked():
            return self._sessions.pop(key, None) is not None

    def remove_user_sessions(self, user: str) -> int:
        with self._locked():
            doomed = [k for k, s in self._sessions.items() if s.user == user]
            for key in doomed:
                del self._sessions[key]
            return len(doomed)

    def note_login_failure(self, keys: Sequence[str], when: int, window: int, keep: int) -> None:
        with self._locked():
            self._failures = count_login_failure(self._failures, keys, when, window, keep)

    def login_failures(self, key: str) -> LoginFailures | None:
        with self._locked():
            return self._failures.get(key)

    def clear_login_failures(self, key: str) -> None:
        with self._locked():
            self._failures.pop(key, None)

    def get_setting(self, key: str) -> str | None:
        with self._locked():
            return self._settings.get(key)

    def set_setting(self, key: str, value: str) -> None:
        check_setting(key, value)
        with self._locked():
            self._settings[key] = value

    def close(self) -> None:
        with self._lock:
            self._closed = True


def _clean(event: AuditEvent | None) -> AuditEvent | None:
    return None if event is None else clean_event(event)


def _first_time(event: AuditEvent) -> int:
    return event.time if event.first_time is None else event.first_time
