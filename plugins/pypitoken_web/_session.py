"""Logging in to the token page: sessions kept by the store, CSRF tokens, the throttle.

The browser holds a random session id in an ``HttpOnly``, ``SameSite=Strict`` cookie
(``Secure`` over https); the store keeps only its SHA-256, so neither a copy of the store
nor its logs can be replayed as a cookie. A session ends at logout (its record is
deleted: a copied cookie stops working in every worker process at once), after
:data:`IDLE` seconds without a request, and :data:`LIFETIME` seconds after the log-in
whatever happens. Each session has its own CSRF token, which every form must send back.

Before a session exists, the log-in form is protected by a second cookie holding a
random value the form repeats (a double submit): another site cannot read it.

Failed log-ins are counted per user and per address in the store, so the limits hold
across worker processes: :data:`USER_LIMIT` failures of one user, or
:data:`ADDRESS_LIMIT` from one address, within :data:`WINDOW` seconds, and further
log-ins are refused, before the password is even checked, until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from pypitoken_core.store import PageSession, PageSessions

from ._http import PageRequest

__all__ = [
    "ADDRESS_LIMIT",
    "IDLE",
    "LIFETIME",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "USER_LIMIT",
    "WINDOW",
    "Gate",
    "Locked",
]

log = logging.getLogger("pypitoken_web")

SESSION_COOKIE = "pypitoken_session"
LOGIN_COOKIE = "pypitoken_login"
#: A session ends this long after the log-in, however busy.
LIFETIME = 8 * 3600
#: A session ends after this long without a request.
IDLE = 30 * 60
#: Sessions one user keeps at most (the oldest go first).
SESSIONS_PER_USER = 10
#: How often (seconds) a session's last use is written: not on every request.
TOUCH_INTERVAL = 60
#: Failed log-ins counted in this window (seconds) ...
WINDOW = 15 * 60
#: ... of one user, or ...
USER_LIMIT = 5
#: ... from one address, before log-ins are refused until the window has passed.
ADDRESS_LIMIT = 20
#: Lines of failed log-ins the store keeps at most.
FAILURE_LINES = 10_000

_ID_BYTES = 32


def session_key(session_id: str) -> str:
    """What the store keeps of a session id: its SHA-256, in hex."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Locked:
    """Log-ins refused for ``retry_after`` seconds; ``who`` is "user" or "address"."""

    who: str
    retry_after: int


class Gate:
    """Sessions and log-in throttling over a :class:`~pypitoken_core.store.PageSessions`."""

    def __init__(self, store: PageSessions) -> None:
        self._store = store

    # -- the session of a request ------------------------------------------------------

    def current(self, request: PageRequest, now: int | None = None) -> PageSession | None:
        """The live session the request's cookie names, or None."""
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if not 20 <= len(session_id) <= 100:
            return None
        now = int(time.time()) if now is None else now
        session = self._store.get_session(session_key(session_id))
        if session is None or session.expires <= now or session.last_seen + IDLE <= now:
            return None
        if now - session.last_seen >= TOUCH_INTERVAL:
            self._store.touch_session(session.key, now)
        return session

    def start(self, user: str, groups: tuple[str, ...], now: int | None = None) -> tuple[str, str]:
        """Open a session for ``user``; return the cookie's id and the session's CSRF."""
        now = int(time.time()) if now is None else now
        session_id = secrets.token_urlsafe(_ID_BYTES)
        csrf = secrets.token_urlsafe(_ID_BYTES)
        self._store.add_session(
            PageSession(session_key(session_id), user, groups, csrf, now, now, now + LIFETIME),
            keep=SESSIONS_PER_USER,
        )
        return session_id, csrf

    def end(self, session: PageSession) -> None:
        """Log out: the session's record goes, so its cookie is worthless everywhere."""
        self._store.remove_session(session.key)

    @staticmethod
    def csrf_ok(session: PageSession, sent: str) -> bool:
        return bool(sent) and hmac.compare_digest(session.csrf.encode(), sent.encode())

    # -- the throttle ------------------------------------------------------------------

    def locked(self, user: str, address: str, now: int | None = None) -> Locked | None:
        """Whether log-ins of ``user`` or from ``address`` are refused now."""
        now = int(time.time()) if now is None else now
        for who, key, limit in (
            ("user", _user_key(user), USER_LIMIT),
            ("address", _address_key(address), ADDRESS_LIMIT),
        ):
            failures = self._store.login_failures(key)
            if failures is not None and failures.first > now - WINDOW and failures.count >= limit:
                return Locked(who, failures.first + WINDOW - now)
        return None

    def failed(self, user: str, address: str, now: int | None = None) -> None:
        now = int(time.time()) if now is None else now
        self._store.note_login_failure(
            [_user_key(user), _address_key(address)], now, WINDOW, FAILURE_LINES
        )

    def succeeded(self, user: str) -> None:
        # The address's count stays: a valid account of one's own must not reset the count
        # of one's guesses at others'.
        self._store.clear_login_failures(_user_key(user))


def _user_key(user: str) -> str:
    return "user:" + user[:200]


def _address_key(address: str) -> str:
    return "addr:" + address[:100]


def new_login_token() -> str:
    """The random value of the log-in form's double-submit cookie."""
    return secrets.token_urlsafe(24)


def cookie(name: str, value: str, request: PageRequest, *, clear: bool = False) -> str:
    """A ``Set-Cookie`` value scoped to the page, never readable by scripts or sent by
    other sites' pages."""
    parts = [
        f"{name}={'' if clear else value}",
        f"Path={request.root}/+tokens",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if request.secure:
        parts.append("Secure")
    if clear:
        parts.append("Max-Age=0")
    return "; ".join(parts)
