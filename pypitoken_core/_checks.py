"""What a token's record says about one use: pure functions of (record, context).

The record keeps what the token was minted for; the caveats in the token repeat it, and
the holder may have added more offline. These are the record's half, in words a twine user
can act on; the service reports the caveats' reasons only when the record has none.
"""

from __future__ import annotations

from . import _time
from .restrictions import Context
from .store import TokenRecord

__all__ = ["scope_reasons", "window_reasons"]


def window_reasons(record: TokenRecord, now: int) -> list[str]:
    """The record's validity window against the time ``now``."""
    reasons = []
    if record.expires is not None and now >= record.expires:
        reasons.append(f"token expired at {_time.iso(record.expires, spaced=True)}")
    if record.not_before is not None and now < record.not_before:
        reasons.append(f"token not valid before {_time.iso(record.not_before, spaced=True)}")
    return reasons


def scope_reasons(record: TokenRecord, context: Context) -> list[str]:
    """The record's projects, indexes and actions against this use."""
    reasons = []
    if record.projects:
        if context.project_name is None:
            reasons.append("this token is scoped to projects and the request names none")
        elif context.project_name not in record.projects:
            reasons.append(f"not valid for project {context.project_name!r}")
    if record.indexes:
        if context.index is None:
            reasons.append("this token is scoped to indexes and the request names none")
        elif context.index not in record.indexes:
            reasons.append(f"not valid for index {context.index!r}")
    if context.action is None:
        reasons.append("the request's action is unknown")
    elif context.action not in record.actions:
        reasons.append(f"not valid for action {context.action!r}")
    return reasons
