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

Trusted publishers live in their registrant's user record too (hidden key
``"pypitoken_publishers"``), and the single-use marks (the ``jti`` of every OIDC token
exchanged, until it expires) in root's (``"pypitoken_single_use"``): devpi serialises its
write transactions, so taking a mark inside the mint request's transaction is atomic, and
the marks replicate like everything else.

Every method needs the keyfs transaction devpi opens around each request; writes need a
write transaction (POST/PUT/PATCH/DELETE on the primary) and fail with ``StoreError``
elsewhere. Users, projects and roles belong to devpi, so the store is
:class:`~pypitoken_core.store.TokenRecords`, :class:`~pypitoken_core.store.Publishers`
and :class:`~pypitoken_core.store.SingleUse` (no ``Directory``): it reads devpi's users
to name a token's owner, and the service runs with ``ownership="external"``.

It also keeps the token page's sessions (:class:`~pypitoken_core.store.PageSessions`):
each in its user's record under the hidden key ``"pypitoken_sessions"``, by the hash of
the cookie's id, written at log-in and log-out (POSTs, so write transactions), gone with
the user. Two things stay in this process instead, because devpi-server is one process
and keyfs keeps every write in its changelog for ever: a session's last use (written on
every page view, most of them read transactions; after a restart a session counts as
last used when it was last written), and the failed log-ins of the throttle (an attacker
must not be able to grow the changelog).

Two things of the tokens cannot wait for a write request:

- ``last_used``: a token's use in a write transaction is stamped in it; a use in a read
  transaction (most of them: downloads) is kept in memory, and :meth:`KeyfsStore.write_last_uses`
  writes what is pending in one write transaction of its own, which a background thread
  of devpi's (:class:`LastUseWriter`) runs every :data:`WRITE_INTERVAL` seconds. The
  service asks for a stamp at most once a minute per token. A replica cannot write its
  keyfs: it stamps nothing, and its records show the primary's stamps as they replicate.
- the audit trail (:class:`~pypitoken_core.store.AuditTrail`): refusals happen mostly in
  read requests, and keyfs keeps every version of every value forever, so the trail is
  an SQLite file of the server's own (``pypitoken-audit.sqlite3`` in the server
  directory), folded and bounded as every store's trail is, and readable with
  ``pypitoken --db sqlite:///<serverdir>/pypitoken-audit.sqlite3 audit list``. Each
  server keeps its own (a replica records what it refused). Events also go to devpi's
  log, one line each.
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
    PublisherRecord,
    TokenGrant,
    TokenRecord,
    TokenStore,
    User,
)
from pypitoken_core.store.base import (
    check_keep,
    check_publisher,
    check_publisher_projects,
    check_record,
    check_session,
    check_setting,
    check_single_use,
    check_time,
    count_login_failure,
)

__all__ = [
    "MARKS_KEY",
    "PROJECT_NAMESPACE",
    "PUBLISHERS_KEY",
    "SESSIONS_KEY",
    "TOKENS_KEY",
    "USER_NAMESPACE",
    "KeyfsStore",
    "LastUseWriter",
    "project_id",
    "user_id",
]

#: The hidden key of a devpi user record that holds that user's token records.
TOKENS_KEY = "pypitoken_tokens"
#: The hidden key of a devpi user record that holds the publishers that user registered.
PUBLISHERS_KEY = "pypitoken_publishers"
#: The hidden key of root's user record that holds the single-use marks.
MARKS_KEY = "pypitoken_single_use"
_MARKS_USER = "root"
#: The hidden key of a devpi user record that holds that user's token-page sessions.
SESSIONS_KEY = "pypitoken_sessions"
#: Namespaces of the derived ids; changing them would invalidate every id caveat.
USER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:user")
PROJECT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:project")
#: Tokens whose last use waits for the writer at most; a use beyond waits for the next one
#: (the service asks again a minute later).
MAX_PENDING_USES = 10_000
#: Seconds between two rounds of :class:`LastUseWriter`. Each round that stamps a last
#: use rewrites the owner's user record (devpi keeps every version of it), so rounds are
#: spaced out: a use in a read request is recorded within this many seconds.
WRITE_INTERVAL = 10.0


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
        "publisher_id": record.publisher_id,
    }


def _publisher_to_dict(record: PublisherRecord) -> dict[str, Any]:
    return {
        "kind": record.kind,
        "issuer": record.issuer,
        "config": record.config,
        "lookup_key": record.lookup_key,
        "projects": list(record.projects),
        "index": record.index,
        "pending": list(record.pending),
        "added_by": record.added_by,
        "created": record.created,
    }


def _publisher_from_dict(publisher_id: str, data: Mapping[str, Any]) -> PublisherRecord:
    try:
        return PublisherRecord(
            id=publisher_id,
            kind=str(data["kind"]),
            issuer=str(data["issuer"]),
            config=str(data["config"]),
            lookup_key=str(data["lookup_key"]),
            projects=tuple(data["projects"]),
            index=None if data.get("index") is None else str(data["index"]),
            pending=tuple(data.get("pending", ())),
            added_by=str(data["added_by"]),
            created=int(data["created"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"publisher {publisher_id} in devpi's keyfs is damaged") from exc


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
            publisher_id=None if data.get("publisher_id") is None else str(data["publisher_id"]),
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
    misses and keyfs has changed since the last build. ``log`` gets one line per event;
    ``trail`` (a store of its own, see the module docstring) keeps them to be read back,
    and without one the store has none (its :meth:`list_events` refuses).
    """

    def __init__(self, xom: Any, log: Any = None, trail: TokenStore | None = None) -> None:
        self._xom = xom
        self._log = log
        self._trail = trail
        self._lock = threading.Lock()
        self._owner_of: dict[str, str] = {}
        self._name_of: dict[str, str] = {}
        self._built_at: int | None = None
        self._settings: dict[str, str] = {}
        self._pending: dict[str, int] = {}  # token id -> last use not written yet
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

    def get_token_grant(
        self, token_id: str, project_name: str | None, seal: bytes | None = None
    ) -> TokenGrant | None:
        # devpi has no project registry here (its ACLs decide): project and role are None.
        # Nothing is kept in memory here (devpi's keyfs caches), so the seal plays no part.
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
        check_time("a last-used time", when)
        if self._xom.is_replica():
            return  # a replica's keyfs is the primary's: it stamps nothing (module docstring)
        if self._keyfs_tx().write:
            self._stamp(token_id, when)
            return
        with self._lock:
            if token_id in self._pending or len(self._pending) < MAX_PENDING_USES:
                self._pending[token_id] = max(when, self._pending.get(token_id, when))

    def write_last_uses(self) -> int:
        """Write the last uses pending since the last call, in one keyfs write transaction.

        Call it with no transaction open (devpi's background thread does). Returns how
        many tokens were stamped; a token gone meanwhile is skipped.
        """
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        stamped = 0
        with self._xom.keyfs.write_transaction():
            for token_id, when in pending.items():
                stamped += self._stamp(token_id, when)
        return stamped

    def _stamp(self, token_id: str, when: int) -> bool:
        """Move the token's ``last_used`` forward to ``when`` (in a write transaction)."""
        owner = self._owner(token_id)
        devpi_user = None if owner is None else self._model().get_user(owner)
        if devpi_user is None or token_id not in self._tokens_of(devpi_user):
            return False
        with devpi_user.key.update() as config:
            tokens = dict(config.get(TOKENS_KEY) or {})
            data = dict(tokens[token_id])
            if data.get("last_used") is not None and int(data["last_used"]) >= when:
                return False
            data["last_used"] = when
            tokens[token_id] = data
            config[TOKENS_KEY] = tokens
        return True

    # -- trusted publishers and single-use marks ---------------------------------------

    def _all_publishers(self) -> dict[str, tuple[str, PublisherRecord]]:
        # Read from the user records each time (keyfs caches them): the exchange runs in
        # write transactions, which must see their own writes. It costs one pass over the
        # users per exchange, on an index whose users are people.
        found: dict[str, tuple[str, PublisherRecord]] = {}
        for devpi_user in self._model().get_userlist():
            config = devpi_user.key.get() or {}
            entries = config.get(PUBLISHERS_KEY)
            if isinstance(entries, Mapping):
                for pid, data in entries.items():
                    found[pid] = (devpi_user.name, _publisher_from_dict(pid, data))
        return found

    def add_publisher(self, record: PublisherRecord, *, event: AuditEvent | None = None) -> None:
        check_publisher(record)
        name = self._user_name_for_id(record.added_by)
        if name is None:
            raise NotFound(f"no devpi user with id {record.added_by}")
        devpi_user = self._writable_user(name)
        if record.id in self._all_publishers():
            raise AlreadyExists(f"publisher {record.id} already exists")
        with devpi_user.key.update() as config:
            entries = dict(config.get(PUBLISHERS_KEY) or {})
            entries[record.id] = _publisher_to_dict(record)
            config[PUBLISHERS_KEY] = entries
        if event is not None:
            self.add_event(event)

    def get_publisher(self, publisher_id: str) -> PublisherRecord | None:
        found = self._all_publishers().get(publisher_id)
        return None if found is None else found[1]

    def list_publishers(self) -> list[PublisherRecord]:
        records = [record for _, record in self._all_publishers().values()]
        return sorted(records, key=lambda r: (r.created, r.id))

    def find_publishers(self, lookup_key: str) -> list[PublisherRecord]:
        return [r for r in self.list_publishers() if r.lookup_key == lookup_key]

    def has_issuer(self, issuer: str) -> bool:
        return any(r.issuer == issuer for _, r in self._all_publishers().values())

    def _change_publisher(
        self, publisher_id: str, remove: bool, projects: tuple[tuple[str, ...], ...] = ()
    ) -> bool:
        found = self._all_publishers().get(publisher_id)
        if found is None:
            return False
        devpi_user = self._writable_user(found[0])
        with devpi_user.key.update() as config:
            entries = dict(config.get(PUBLISHERS_KEY) or {})
            if remove:
                entries.pop(publisher_id, None)
                # Its tokens are this user's (the registrant's): revoke them in the same write.
                tokens = {
                    tid: dict(data, revoked=True)
                    if data.get("publisher_id") == publisher_id
                    else data
                    for tid, data in (config.get(TOKENS_KEY) or {}).items()
                }
                config[TOKENS_KEY] = tokens
            else:
                names, pending = projects
                entries[publisher_id] = dict(
                    entries[publisher_id], projects=list(names), pending=list(pending)
                )
            config[PUBLISHERS_KEY] = entries
        return True

    def set_publisher_projects(
        self, publisher_id: str, projects: tuple[str, ...], pending: tuple[str, ...]
    ) -> bool:
        check_publisher_projects(projects, pending)
        return self._change_publisher(publisher_id, remove=False, projects=(projects, pending))

    def remove_publisher(self, publisher_id: str, *, event: AuditEvent | None = None) -> bool:
        removed = self._change_publisher(publisher_id, remove=True)
        if removed and event is not None:
            self.add_event(event)
        return removed

    def _marks(self) -> Mapping[str, Any]:
        root = self._model().get_user(_MARKS_USER)
        marks = None if root is None else (root.key.get() or {}).get(MARKS_KEY)
        return marks if isinstance(marks, Mapping) else {}

    def take_once(self, key: str, expires: int, now: int) -> bool:
        check_single_use(key, expires, now)
        root = self._writable_user(_MARKS_USER)
        with root.key.update() as config:
            marks = {k: e for k, e in (config.get(MARKS_KEY) or {}).items() if e >= now}
            if key in marks:
                return False
            marks[key] = expires
            config[MARKS_KEY] = marks
        return True

    def is_taken(self, key: str, now: int) -> bool:
        check_time("a single-use check's time", now)
        expires = self._marks().get(key)
        return isinstance(expires, int) and expires >= now

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
        # Kept (folded and bounded) by the trail, and one log line each.
        if self._trail is not None:
            self._trail.add_event(event, merge_key=merge_key, merge_window=merge_window, keep=keep)
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

    def list_events(self, limit: int = 100, token_id: str | None = None) -> list[AuditEvent]:
        return self._kept_trail().list_events(limit=limit, token_id=token_id)

    def prune_events(self, *, before: int | None = None, keep: int | None = None) -> int:
        return self._kept_trail().prune_events(before=before, keep=keep)

    def _kept_trail(self) -> TokenStore:
        if self._trail is None:
            raise StoreError("this devpi keyfs store was opened without an audit trail to read")
        return self._trail

    def get_setting(self, key: str) -> str | None:
        return self._settings.get(key)

    def set_setting(self, key: str, value: str) -> None:
        check_setting(key, value)
        self._settings[key] = value

    def close(self) -> None:
        # devpi owns the keyfs and its transactions: only the trail is ours to close.
        if self._trail is not None:
            self._trail.close()


class LastUseWriter:
    """A devpi background thread (``xom.thread_pool.register``) that writes the last uses
    the store has pending, every :data:`WRITE_INTERVAL` seconds, until devpi shuts down."""

    thread: Any  # set by devpi's thread pool on registration

    def __init__(self, store: KeyfsStore, log: Any) -> None:
        self._store = store
        self._log = log

    def __repr__(self) -> str:
        return f"<LastUseWriter of {self._store!r}>"

    def thread_run(self) -> None:
        while True:
            self.thread.sleep(WRITE_INTERVAL)  # raises devpi's Shutdown when it stops
            try:
                self._store.write_last_uses()
            except Exception as exc:  # a stamp is not worth a thread: log and go on
                self._log.error(
                    "pypitoken: could not record last uses: %s: %s", type(exc).__name__, exc
                )
