"""Reads kept in memory, each valid for exactly as long as the store's change counter
has not moved since it was read.

The SQL stores keep one counter in the database (table ``changes``), moved by triggers in
the same transaction as every write that can change a decision: a token added, revoked or
altered (but not a ``last_used`` touch), a user, project, role or setting written. A
trigger cannot be forgotten by a code path, an older version of this package still
running during an upgrade, or an operator's hand-written SQL.

Each kept read is tagged with the counter value read in the same statement (so from the
same snapshot). A later read is answered from memory when the counter still has that
value, which a one-column read of one row tells, instead of the joined read: whatever
committed before the read began is seen, in every process and on every host, as
uncached reads see it (``store.base``). The counter is asked on every read, never
trusted for a while: no request acts on a decision older than itself.

What is kept: the grant of a request (token record, owner, project, role) and the single
reads of users, projects and roles. Records hold the per-token salt, which is useless
without the server secret; raw tokens and keys never reach a store. Both maps are
bounded, and reads that found nothing (an attacker's random token ids) have a map of
their own, so that a flood of them cannot push out the records of tokens in use.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

__all__ = ["FOUND_ENTRIES", "UNKNOWN_ENTRIES", "ReadCache"]

#: Reads that found something, kept at most: a grant is about 1.5 KB, so ~15 MB.
FOUND_ENTRIES = 10_000
#: Reads that found nothing, kept at most.
UNKNOWN_ENTRIES = 2_000


class ReadCache:
    """Bounded maps ``key -> (counter value, result)``; the oldest entry goes first.

    Thread-safe without a lock: every operation is one or two dict operations, each
    atomic, and a race can only drop or replace an entry, never pair a key with another
    key's result. Entries read at an older counter value are dropped all at once when a
    newer one is stored.
    """

    __slots__ = ("_found", "_found_size", "_newest", "_unknown", "_unknown_size")

    def __init__(self, found: int = FOUND_ENTRIES, unknown: int = UNKNOWN_ENTRIES) -> None:
        self._found_size = found
        self._unknown_size = unknown
        self._found: dict[Hashable, tuple[int, Any]] = {}
        self._unknown: dict[Hashable, tuple[int, Any]] = {}
        self._newest = -1

    def __repr__(self) -> str:
        return f"<ReadCache {len(self._found)} found, {len(self._unknown)} unknown>"

    def get(self, key: Hashable) -> tuple[int, Any] | None:
        """The kept ``(counter value, result)`` of ``key``, or None."""
        return self._found.get(key) or self._unknown.get(key)

    def put(self, key: Hashable, version: int, value: Any) -> None:
        """Keep ``value`` (None: nothing was found), read at counter value ``version``."""
        if version > self._newest:
            # Everything kept so far was read before a change: it can never be used again.
            self._newest = version
            self._found = {}
            self._unknown = {}
        elif version < self._newest:
            return  # read before a change that another thread has already seen
        entries, size = (
            (self._unknown, self._unknown_size)
            if value is None
            else (self._found, self._found_size)
        )
        if size <= 0:
            return
        if len(entries) >= size and key not in entries:
            try:
                del entries[next(iter(entries))]
            except (KeyError, RuntimeError, StopIteration):
                pass  # another thread changed the map meanwhile: it is bounded either way
        entries[key] = (version, value)

    def clear(self) -> None:
        """Forget everything."""
        self._found = {}
        self._unknown = {}
