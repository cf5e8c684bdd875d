"""One database connection per (process, thread), for the SQL stores.

Neither sqlite3 nor psycopg connections may be used by two threads at once, and no
connection may cross a fork: gunicorn forks its workers after the app (and so the store)
was created, and a child that closed an inherited PostgreSQL connection would end the
parent's session with it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

from ..exceptions import StoreError

__all__ = ["ThreadConnections"]

C = TypeVar("C")


class _Holder(Generic[C]):
    """Owns one thread's connection and closes it when the thread ends.

    It lives in a ``threading.local``, so CPython drops it when its thread exits. In a
    forked child the holders of the parent's threads are dropped too, but closing their
    connections there would tear down the parent's sessions (libpq sends Terminate on the
    shared socket), so a holder only closes in the process that opened it.
    """

    __slots__ = ("__weakref__", "close", "conn", "conns", "pid")

    def __init__(self, conn: C, conns: dict[int, C], close: Callable[[C], None]) -> None:
        self.conn = conn
        self.conns = conns
        self.close = close
        self.pid = os.getpid()

    def __del__(self) -> None:
        # Also runs at interpreter shutdown, when anything may already be torn down.
        with suppress(Exception):
            if self.pid == os.getpid():
                self.conns.pop(id(self), None)
                self.close(self.conn)


class ThreadConnections(Generic[C]):
    """One database connection per (process, thread), opened on first use.

    A ``threading.local`` gives each thread its own connection with a single attribute
    lookup on the hot path; an ``os.register_at_fork`` hook gives a forked child fresh
    connections without a ``getpid()`` call per request. The connections inherited from
    the parent are kept referenced, never closed, in the child.
    """

    def __init__(self, connect: Callable[[], C], close: Callable[[C], None]) -> None:
        self._connect = connect
        self._close = close
        self._local = threading.local()
        # Strong references, so that no connection is garbage-collected (and closed) in a
        # forked child when CPython drops the parent's other threads. Plain dict operations
        # are atomic, so no lock is needed (a lock held by another thread at fork time would
        # deadlock the child).
        self._conns: dict[int, C] = {}
        self._inherited: list[C] = []
        self._closed = False
        self._pid = os.getpid()
        _LIVE.add(self)

    def get(self) -> C:
        """Return this thread's connection, opening it if needed."""
        try:
            return self._local.holder.conn  # type: ignore[no-any-return]
        except AttributeError:
            return self._open()

    def _open(self) -> C:
        if self._closed:
            raise StoreError("the store is closed")
        conn = self._connect()
        holder = _Holder(conn, self._conns, self._close)
        self._conns[id(holder)] = conn
        self._local.holder = holder
        return conn

    def discard(self) -> None:
        """Close and forget this thread's connection (it broke); the next ``get`` reconnects."""
        holder = getattr(self._local, "holder", None)
        if holder is not None:
            del self._local.holder
            self._conns.pop(id(holder), None)
            with suppress(Exception):
                self._close(holder.conn)

    def close(self) -> None:
        """Close every thread's connection; later ``get`` calls raise StoreError."""
        self._closed = True
        self._local = threading.local()
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with suppress(Exception):
                self._close(conn)

    def __del__(self) -> None:
        # A store dropped without close(): release its connections (drivers warn about
        # unclosed ones), but only in the process that opened them.
        with suppress(Exception):
            if self._pid == os.getpid():
                self.close()

    def _after_fork_in_child(self) -> None:
        self._pid = os.getpid()
        self._inherited.extend(self._conns.values())
        self._conns = {}
        self._local = threading.local()


_LIVE: weakref.WeakSet[ThreadConnections[Any]] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for pool in list(_LIVE):
        pool._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_after_fork)
