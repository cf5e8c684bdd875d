"""How the core's values are shown outside: token records, times and refusal reasons.

One function each, shared by the ``pypitoken`` CLI, both index adapters and the devpi
client, so that a record, a time or a reason reads the same wherever it appears.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._time import iso as iso
from .store import AuditEvent, PublisherRecord, TokenRecord

__all__ = [
    "MAX_REASON_PHRASE",
    "event_json",
    "iso",
    "publisher_json",
    "reason_phrase",
    "token_json",
]

#: Longest HTTP reason phrase :func:`reason_phrase` makes. twine and pip print it whole;
#: servers and proxies accept far longer status lines.
MAX_REASON_PHRASE = 400

# RFC 9110 reason-phrase = *( HTAB / SP / VCHAR / obs-text ). Printable ASCII only, so that
# neither a CR/LF nor a character outside latin-1 (from a project name) reaches a status line.
_UNSAFE_IN_PHRASE = re.compile(r"[^\x20-\x7e]")
_SPACES = re.compile(r" {2,}")


def reason_phrase(text: str, limit: int = MAX_REASON_PHRASE) -> str:
    """``text`` made safe as an HTTP reason phrase: printable ASCII on one line.

    Every other character becomes ``?``, runs of spaces one space, and a text longer than
    ``limit`` characters is cut to end with ``...``. Also what log lines use for a reason
    that came from a request.
    """
    phrase = _SPACES.sub(" ", _UNSAFE_IN_PHRASE.sub("?", text)).strip()
    return phrase if len(phrase) <= limit else phrase[: limit - 3] + "..."


def token_status(revoked: bool, expires: int | None, now: int) -> str:
    """A token's state in a listing: "revoked", "expired" or "active"."""
    if revoked:
        return "revoked"
    if expires is not None and expires <= now:
        return "expired"
    return "active"


def token_json(record: TokenRecord, *, owner: str | None, epoch: bool = False) -> dict[str, Any]:
    """A token's record as a JSON object, without its secret half (the salt).

    ``owner`` is the owner's name (None once the user is removed). Times are ISO 8601 in
    UTC (``2025-01-31T12:00:00Z``) or None; with ``epoch`` they are integer seconds, as
    token APIs answer programs (devpi's ``+api-tokens``).
    """

    def when(value: int | None) -> int | str | None:
        return value if epoch or value is None else iso(value)

    return {
        "id": record.id,
        "user": owner,
        "user_id": record.user_id,
        "description": record.description,
        "projects": list(record.projects),
        "indexes": list(record.indexes),
        "actions": list(record.actions),
        "created": when(record.created),
        "not_before": when(record.not_before),
        "expires": when(record.expires),
        "last_used": when(record.last_used),
        "revoked": record.revoked,
        "publisher_id": record.publisher_id,
    }


def publisher_json(
    record: PublisherRecord, *, added_by: str | None, epoch: bool = False
) -> dict[str, Any]:
    """A trusted publisher as a JSON object: its kind's fields next to the common ones.

    ``added_by`` is the registrant's name (None once the user is removed); times as in
    :func:`token_json`.
    """
    try:
        fields = json.loads(record.config)
    except ValueError:
        fields = {}
    return {
        "id": record.id,
        "kind": record.kind,
        "issuer": record.issuer,
        **(fields if isinstance(fields, dict) else {}),
        "projects": list(record.projects),
        "index": record.index,
        "pending": list(record.pending),
        "added_by": added_by,
        "created": record.created if epoch else iso(record.created),
    }


def event_json(event: AuditEvent) -> dict[str, Any]:
    """An audit line as a JSON object: when it was first and last seen (ISO 8601, UTC),
    how many occurrences it stands for, and what happened."""
    return {
        "first": iso(event.first_time if event.first_time is not None else event.time),
        "last": iso(event.time),
        "count": event.count,
        "event": event.event,
        "token_id": event.token_id,
        "user": event.user,
        "project": event.project,
        "action": event.action,
        "reason": event.reason,
    }
