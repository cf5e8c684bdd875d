"""Reads kept in memory, each valid for exactly as long as the store's change counters
say nothing it depends on was written since.

The SQL stores keep two counters in the database (table ``changes``), moved by triggers
in the same transaction as every write that can change a decision: ``added`` by a new
token, ``changed`` by anything else (a token revoked or altered, but not a ``last_used``
touch; a user, project, role or setting written). A trigger cannot be forgotten by a
code path, an older version of this package still running during an upgrade, or an
operator's hand-written SQL.

Each kept read is tagged with the counters read in the same statement (so from the same
snapshot). A later read is answered from memory when they still allow it
(:func:`still_valid`), which a read of one row tells, instead of the joined read:
whatever committed before the read began is seen, in every process and on every host,
as uncached reads see it (``store.base``). The counters are asked on every read, never
trusted for a while: no request acts on a decision older than itself. (On SQLite the
wal-index header, which every commit rewrites, answers "nothing committed since the
counters were last read" without a query: ``store.sqlite._CommitWatch``.) A new token can
change only reads that found nothing (its id was unknown until then), so minting, which
CI systems do all day, leaves every other kept read in place.

What is kept: the grant of a request (token record, owner, project, role) and the single
reads of users, projects and roles. Records hold the per-token salt, which is useless
without the server secret; raw tokens and keys never reach a store. Both maps are
bounded, and reads that found nothing (an attacker's random token ids) have a map of
their own, so that a flood of them cannot push out the records of tokens in use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["FOUND_ENTRIES", "UNKNOWN_ENTRIES", "Counters", "ReadCache", "still_valid"]

#: Reads that found something, kept at most: a grant is about 1.5 KB, so ~15 MB.
FOUND_ENTRIES = 10_000
#: Reads that found nothing, kept at most.
UNKNOWN_ENTRIES = 2_000

#: The change counters: (changed, added).
Counters = tuple[int, int]


def still_valid(read_at: Counters, found_nothing: bool, now: Counters) -> bool:
    """Whether a read made at counters ``read_at`` answers as one made at ``now`` would.

    Anything but a new token can change any read; a new token only one that found nothing.
    """
    return read_at[0] == now[0] and (not found_nothing or read_at[1] == now[1])


class ReadCache:
    """Bounded maps ``key -> (counters, result)``; the oldest entry goes first.

    Thread-safe without a lock: every operation is one or two dict operations, each
    atomic, and a race can only drop or replace an entry, never pair a key with another
    key's result. Entries that can no longer be valid are dropped all at once when a
    read at newer counters is stored. Validity itself is the caller's to check
    (:func:`still_valid`), against counters read now.
    """

    __slots__ = ("_found", "_found_size", "_newest", "_unknown", "_unknown_size")

    def __init__(self, found: int = FOUND_ENTRIES, unknown: int = UNKNOWN_ENTRIES) -> None:
        self._found_size = found
        self._unknown_size = unknown
        # OrderedDict, not dict: dropping the oldest entry of a dict again and again makes
        # finding the next oldest a scan over the holes left behind.
        self._found: OrderedDict[Hashable, tuple[Counters, Any]] = OrderedDict()
        self._unknown: OrderedDict[Hashable, tuple[Counters, Any]] = OrderedDict()
        self._newest: Counters = (-1, -1)

    def __repr__(self) -> str:
        return f"<ReadCache {len(self._found)} found, {len(self._unknown)} unknown>"

    def get(self, key: Hashable) -> tuple[Counters, Any] | None:
        """The kept ``(counters, result)`` of ``key``, or None."""
        return self._found.get(key) or self._unknown.get(key)

    def put(self, key: Hashable, counters: Counters, value: Any) -> None:
        """Keep ``value`` (None: nothing was found), read at ``counters``."""
        newest = self._newest
        if counters[0] > newest[0]:
            # Everything kept so far was read before a change: none of it is valid now.
            self._newest = counters
            self._found = OrderedDict()
            self._unknown = OrderedDict()
        elif counters[0] < newest[0]:
            return  # read before a change that another thread has already seen
        elif counters[1] > newest[1]:
            self._newest = counters
            self._unknown = OrderedDict()  # read before a token was added: it may exist now
        if value is None:
            if counters[1] < self._newest[1]:
                return
            entries, size = self._unknown, self._unknown_size
        else:
            entries, size = self._found, self._found_size
        if size <= 0:
            return
        if len(entries) >= size and key not in entries:
            try:
                entries.popitem(last=False)
            except KeyError:
                pass  # another thread emptied it meanwhile: it is bounded either way
        entries[key] = (counters, value)

    def clear(self) -> None:
        """Forget everything."""
        self._found = OrderedDict()
        self._unknown = OrderedDict()
