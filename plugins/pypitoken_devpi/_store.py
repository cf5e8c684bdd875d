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
elsewhere. Users, projects and roles belong to devpi, so the store keeps
:class:`~pypitoken_core.store.TokenRecords` (no ``Directory``): it reads devpi's users to
name a token's owner, and the service runs with ``ownership="external"``.

Two things cannot wait for a write request:

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
from collections.abc import Mapping
from typing import Any

from pypitoken_core.exceptions import AlreadyExists, NotFound, StoreError
from pypitoken_core.names import normalize
from pypitoken_core.store import AuditEvent, TokenGrant, TokenRecord, TokenStore, User
from pypitoken_core.store.base import check_record, check_setting, check_time

__all__ = [
    "PROJECT_NAMESPACE",
    "TOKENS_KEY",
    "USER_NAMESPACE",
    "KeyfsStore",
    "LastUseWriter",
    "project_id",
    "user_id",
]

#: The hidden key of a devpi user record that holds that user's token records.
TOKENS_KEY = "pypitoken_tokens"
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
            raise StoreError("this devpi keyfs store keeps no audit trail: see devpi's log")
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
