"""Token records kept in devpi-server's own keyfs, so tokens replicate and export with users.

Layout: every token record lives in its owner's user record (keyfs key ``{user}/.config``)
under the hidden key ``"pypitoken_tokens"``, a dict ``{token_id: {...}}``. devpi never
shows keys outside ``User.visible_keys`` over HTTP, copies the whole record into
``devpi-export`` and back with ``devpi-import``, and replicates it with every other keyfs
change. The salts stored there are useless without the server secret (the per-token key is
HMAC-SHA256(secret, salt), computed by the service), which matters because replicas can
fetch this data.

Ids: devpi has no user or project ids, so this module defines stable ones (documented in
``examples/devpi/README.md``)::

    user id    = uuid5(USER_NAMESPACE, "<username>")
    project id = uuid5(PROJECT_NAMESPACE, "<user>/<index>/<normalised project>")

They need no storage, are the same on the primary, every replica and after an
export/import, and let pypitoken write ``[2, [ids]]`` / ``[3, id]`` caveats offline.

Every method needs the keyfs transaction devpi opens around each request; writes need a
write transaction (POST/PUT/PATCH/DELETE on the primary) and fail with ``StoreError``
elsewhere. Users, projects and roles belong to devpi, so the store is
:class:`~pypitoken_core.store.TokenRecords` (no ``Directory``): it reads devpi's
users to name a token's owner, and the service runs with ``ownership="external"``.

It also keeps the token page's sessions (:class:`~pypitoken_core.store.PageSessions`):
each in its user's record under the hidden key ``"pypitoken_sessions"``, by the hash of
the cookie's id, written at log-in and log-out (POSTs, so write transactions), gone with
the user. Two things stay in this process instead, because devpi-server is one process
and keyfs keeps every write in its changelog for ever: a session's last use (written on
every page view, most of them read transactions; after a restart a session counts as
last used when it was last written), and the failed log-ins of the throttle (an attacker
must not be able to grow the changelog).
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from devpi_server.readonly import ensure_deeply_readonly

from pypitoken_core.exceptions import AlreadyExists, NotFound, StoreError
from pypitoken_core.names import normalize
from pypitoken_core.store import (
    AuditEvent,
    LoginFailures,
    PageSession,
    TokenGrant,
    TokenRecord,
    User,
)
from pypitoken_core.store.base import (
    check_keep,
    check_record,
    check_session,
    check_setting,
    check_time,
    count_login_failure,
)

__all__ = [
    "PROJECT_NAMESPACE",
    "SESSIONS_KEY",
    "TOKENS_KEY",
    "USER_NAMESPACE",
    "KeyfsStore",
    "project_id",
    "user_id",
]

#: The hidden key of a devpi user record that holds that user's token records.
TOKENS_KEY = "pypitoken_tokens"
#: The hidden key of a devpi user record that holds that user's token-page sessions.
SESSIONS_KEY = "pypitoken_sessions"
#: Namespaces of the derived ids; changing them would invalidate every id caveat.
USER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:user")
PROJECT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:project")


def user_id(username: str) -> str:
    """Return the stable lowercase UUID of a devpi user."""
    return str(uuid.uuid5(USER_NAMESPACE, username))


def project_id(index: str, project: str) -> str:
    """Return the stable lowercase UUID of ``project`` (normalised here) on ``user/index``."""
    return str(uuid.uuid5(PROJECT_NAMESPACE, f"{index}/{normalize(project)}"))


def _record_to_dict(record: TokenRecord) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "salt": base64.b64encode(record.salt).decode("ascii"),
        "description": record.description,
        "projects": list(record.projects),
        "project_ids": list(record.project_ids),
        "indexes": list(record.indexes),
        "actions": list(record.actions),
        "created": record.created,
        "expires": record.expires,
        "not_before": record.not_before,
        "last_used": record.last_used,
        "revoked": record.revoked,
    }


def _record_from_dict(token_id: str, data: Mapping[str, Any]) -> TokenRecord:
    try:
        return TokenRecord(
            id=token_id,
            user_id=str(data["user_id"]),
            salt=base64.b64decode(data["salt"], validate=True),
            description=str(data.get("description", "")),
            projects=tuple(data.get("projects", ())),
            project_ids=tuple(data.get("project_ids", ())),
            indexes=tuple(data.get("indexes", ())),
            actions=tuple(data.get("actions", ())),
            created=int(data["created"]),
            expires=None if data.get("expires") is None else int(data["expires"]),
            not_before=None if data.get("not_before") is None else int(data["not_before"]),
            last_used=None if data.get("last_used") is None else int(data["last_used"]),
            revoked=bool(data.get("revoked", False)),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise StoreError(f"token record {token_id} in devpi's keyfs is damaged") from exc


#: A record as devpi hands one out (a read-only view), for the work an unknown id is
#: made to cost in ``get_token_grant``.
_STAND_IN = ensure_deeply_readonly(
    _record_to_dict(
        TokenRecord(
            id=str(uuid.UUID(int=0)),
            user_id=user_id("root"),
            salt=bytes(32),
            description="",
            projects=(),
            project_ids=(),
            indexes=(),
            actions=("upload", "download"),
            created=0,
            expires=None,
            not_before=None,
            last_used=None,
            revoked=False,
        )
    )
)


class KeyfsStore:
    """:class:`~pypitoken_core.store.TokenRecords` in devpi's keyfs, owners from devpi's users.

    ``xom`` is devpi-server's application object; the store reads ``xom.model`` (bound to
    the current thread's keyfs transaction) on every call and keeps no copy of the data,
    only a process-local map from token id to owner name that is rebuilt when a lookup
    misses and keyfs has changed since the last build.
    """

    def __init__(self, xom: Any, log: Any = None) -> None:
        self._xom = xom
        self._log = log
        self._lock = threading.Lock()
        self._owner_of: dict[str, str] = {}
        self._name_of: dict[str, str] = {}
        self._built_at: int | None = None
        self._settings: dict[str, str] = {}
        self._session_owner: dict[str, str] = {}
        self._sessions_built_at: int | None = None
        self._seen: dict[str, int] = {}
        self._failures: dict[str, LoginFailures] = {}

    def __repr__(self) -> str:
        return f"<KeyfsStore {self.url}>"

    @property
    def url(self) -> str:
        return "devpi-keyfs:"

    # -- plumbing ----------------------------------------------------------------------

    def _keyfs_tx(self) -> Any:
        try:
            return self._xom.keyfs.tx
        except AttributeError as exc:  # no transaction open on this thread
            raise StoreError("no devpi keyfs transaction is open") from exc

    def _model(self) -> Any:
        # devpi's model fails with AttributeError outside a transaction: ask first, so
        # that the store raises StoreError as the protocol says.
        self._keyfs_tx()
        return self._xom.model

    def _tokens_of(self, devpi_user: Any) -> Mapping[str, Any]:
        config = devpi_user.key.get() or {}
        tokens = config.get(TOKENS_KEY)
        return tokens if isinstance(tokens, Mapping) else {}

    def _writable_user(self, name: str) -> Any:
        if not self._keyfs_tx().write:
            raise StoreError("tokens can only be changed on the primary, in a write request")
        devpi_user = self._model().get_user(name)
        if devpi_user is None:
            raise NotFound(f"no devpi user {name!r}")
        return devpi_user

    def _user_name_for_id(self, uid: str) -> str | None:
        # Ids are derived from names, so a cached pair never goes stale; only whether the
        # user still exists has to be asked each time.
        name = self._name_of.get(uid)
        if name is None:
            self._name_of = {user_id(n): n for n in self._model().get_usernames()}
            name = self._name_of.get(uid)
        if name is None or self._model().get_user(name) is None:
            return None
        return name

    def _owner(self, token_id: str) -> str | None:
        owner = self._owner_of.get(token_id)
        if owner is not None:
            return owner
        serial = self._keyfs_tx().at_serial
        with self._lock:
            if self._built_at == serial:
                return None
            # A miss after a keyfs change: rebuild from the user records. Replicas get
            # tokens only through replication, and devpi-import writes user records
            # directly, so the map cannot be maintained incrementally alone.
            owner_of: dict[str, str] = {}
            for devpi_user in self._model().get_userlist():
                for tid in self._tokens_of(devpi_user):
                    owner_of[tid] = devpi_user.name
            self._owner_of = owner_of
            self._built_at = serial
        return self._owner_of.get(token_id)

    # -- users (devpi's own) -----------------------------------------------------------

    def get_user(self, name: str) -> User | None:
        devpi_user = self._model().get_user(name)
        if devpi_user is None:
            return None
        return User(id=user_id(name), name=name, created=0)

    def get_user_by_id(self, uid: str) -> User | None:
        name = self._user_name_for_id(uid)
        return None if name is None else User(id=uid, name=name, created=0)

    # -- tokens ------------------------------------------------------------------------

    def add_token(self, record: TokenRecord, *, event: AuditEvent | None = None) -> None:
        check_record(record)
        name = self._user_name_for_id(record.user_id)
        if name is None:
            raise NotFound(f"no devpi user with id {record.user_id}")
        devpi_user = self._writable_user(name)
        with devpi_user.key.update() as config:
            tokens = dict(config.get(TOKENS_KEY) or {})
            if record.id in tokens:
                raise AlreadyExists(f"token {record.id} already exists")
            tokens[record.id] = _record_to_dict(record)
            config[TOKENS_KEY] = tokens
        self._owner_of[record.id] = name
        if event is not None:
            self.add_event(event)

    def get_token(self, token_id: str) -> TokenRecord | None:
        owner = self._owner(token_id)
        if owner is None:
            return None
        devpi_user = self._model().get_user(owner)
        data = None if devpi_user is None else self._tokens_of(devpi_user).get(token_id)
        if data is None:  # user or token deleted since the map was built
            self._owner_of.pop(token_id, None)
            return None
        return _record_from_dict(token_id, data)

    def get_token_grant(self, token_id: str, project_name: str | None) -> TokenGrant | None:
        # devpi has no project registry here (its ACLs decide): project and role are None.
        token = self.get_token(token_id)
        if token is None:
            # What a found id costs (its owner's record read, a record parsed, the owner
            # looked up), paid on root's record (devpi-init always creates root), so that
            # the time of a refusal says next to nothing about whether the id exists. The
            # rest is devpi reading a bigger user record for a real owner; measured in
            # benchmarks/bench_forged_ids.py.
            root = self._model().get_user("root")
            if root is not None:
                self._tokens_of(root).get(token_id)
            _record_from_dict(token_id, _STAND_IN)
            self.get_user_by_id(_STAND_IN["user_id"])
            return None
        return TokenGrant(token, self.get_user_by_id(token.user_id), None, None)

    def list_tokens(self, user_id: str | None = None) -> list[TokenRecord]:
        if user_id is None:
            names = sorted(self._model().get_usernames())
        else:
            name = self._user_name_for_id(user_id)
            names = [] if name is None else [name]
        records = []
        for name in names:
            devpi_user = self._model().get_user(name)
            if devpi_user is None:
                continue
            for tid, data in self._tokens_of(devpi_user).items():
                records.append(_record_from_dict(tid, data))
        records.sort(key=lambda r: (r.created, r.id))
        return records

    def revoke_token(self, token_id: str, *, event: AuditEvent | None = None) -> bool:
        record = self.get_token(token_id)
        if record is None:
            return False
        name = self._owner_of[token_id]
        devpi_user = self._writable_user(name)
        with devpi_user.key.update() as config:
            tokens = dict(config.get(TOKENS_KEY) or {})
            data = dict(tokens[token_id])
            data["revoked"] = True
            tokens[token_id] = data
            config[TOKENS_KEY] = tokens
        if event is not None:
            self.add_event(event)
        return True

    def touch_token(self, token_id: str, when: int) -> None:
        # Not recorded: keyfs writes need a write transaction, and most token uses are
        # read requests (and every request on a replica is). A bad time is still refused,
        # as by every store.
        check_time("a last-used time", when)

    # -- page sessions -----------------------------------------------------------------

    def _sessions_of(self, devpi_user: Any) -> Mapping[str, Any]:
        config = devpi_user.key.get() or {}
        sessions = config.get(SESSIONS_KEY)
        return sessions if isinstance(sessions, Mapping) else {}

    def _session_user(self, key: str) -> str | None:
        owner = self._session_owner.get(key)
        if owner is not None:
            return owner
        serial = self._keyfs_tx().at_serial
        with self._lock:
            if self._sessions_built_at == serial:
                return None
            # As for tokens: rebuilt from the user records when a lookup misses after a
            # keyfs change (a session written by another thread, or before a restart).
            owners: dict[str, str] = {}
            for devpi_user in self._model().get_userlist():
                for session_key in self._sessions_of(devpi_user):
                    owners[session_key] = devpi_user.name
            self._session_owner = owners
            self._sessions_built_at = serial
        return self._session_owner.get(key)

    def add_session(self, session: PageSession, *, keep: int) -> None:
        check_session(session)
        check_keep(keep)
        devpi_user = self._writable_user(session.user)
        if self._session_user(session.key) is not None:
            raise AlreadyExists("a session with this key already exists")
        with devpi_user.key.update() as config:
            sessions = dict(config.get(SESSIONS_KEY) or {})
            live = {k: v for k, v in sessions.items() if int(v["expires"]) > session.created}
            live[session.key] = {
                "groups": list(session.groups),
                "csrf": session.csrf,
                "created": session.created,
                "last_seen": session.last_seen,
                "expires": session.expires,
            }
            newest = sorted(live, key=lambda k: (int(live[k]["created"]), k), reverse=True)
            config[SESSIONS_KEY] = {k: live[k] for k in newest[:keep]}
        self._session_owner[session.key] = session.user

    def get_session(self, key: str) -> PageSession | None:
        owner = self._session_user(key)
        devpi_user = None if owner is None else self._model().get_user(owner)
        data = None if devpi_user is None else self._sessions_of(devpi_user).get(key)
        if owner is None or data is None:
            self._session_owner.pop(key, None)
            return None
        try:
            stored = int(data["last_seen"])
            return PageSession(
                key=key,
                user=owner,
                groups=tuple(str(g) for g in data.get("groups", ())),
                csrf=str(data["csrf"]),
                created=int(data["created"]),
                last_seen=max(stored, self._seen.get(key, stored)),
                expires=int(data["expires"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"a token page session of {owner} in devpi's keyfs is damaged"
            ) from exc

    def touch_session(self, key: str, when: int) -> None:
        check_time("a session's last use", when)
        if self._session_user(key) is None:
            return
        with self._lock:
            if self._seen.get(key, -1) < when:
                self._seen[key] = when

    def _drop_sessions(self, name: str, doomed: Any) -> int:
        devpi_user = self._writable_user(name)
        with devpi_user.key.update() as config:
            sessions = dict(config.get(SESSIONS_KEY) or {})
            gone = [k for k in sessions if doomed(k)]
            for k in gone:
                del sessions[k]
                self._session_owner.pop(k, None)
                self._seen.pop(k, None)
            config[SESSIONS_KEY] = sessions
        return len(gone)

    def remove_session(self, key: str) -> bool:
        owner = self._session_user(key)
        if owner is None or self._model().get_user(owner) is None:
            return False
        return self._drop_sessions(owner, lambda k: k == key) == 1

    def remove_user_sessions(self, user: str) -> int:
        devpi_user = self._model().get_user(user)
        if devpi_user is None or not self._sessions_of(devpi_user):
            return 0
        return self._drop_sessions(user, lambda k: True)

    # -- the log-in throttle: in this process (see the module docstring) ----------------

    def note_login_failure(self, keys: Sequence[str], when: int, window: int, keep: int) -> None:
        with self._lock:
            self._failures = count_login_failure(self._failures, keys, when, window, keep)

    def login_failures(self, key: str) -> LoginFailures | None:
        return self._failures.get(key)

    def clear_login_failures(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    # -- audit and settings ------------------------------------------------------------

    def add_event(
        self,
        event: AuditEvent,
        *,
        merge_key: str | None = None,
        merge_window: int = 0,
        keep: int | None = None,
    ) -> None:
        # Every event is one log line: folding and trimming are the log's rotation's job.
        if self._log is None:
            return
        # Every stage check asks about every action, so most denials are about actions
        # the request does not even attempt: debug only. The refusal a client actually
        # receives is logged by the server hooks.
        write = self._log.debug if event.event == "denied" else self._log.info
        write(
            "pypitoken: %s token=%s user=%s project=%s action=%s reason=%s",
            event.event,
            event.token_id,
            event.user,
            event.project,
            event.action,
            event.reason,
        )

    def get_setting(self, key: str) -> str | None:
        return self._settings.get(key)

    def set_setting(self, key: str, value: str) -> None:
        check_setting(key, value)
        self._settings[key] = value

    def close(self) -> None:
        # devpi owns the keyfs and its transactions: there is nothing here to release.
        return None
