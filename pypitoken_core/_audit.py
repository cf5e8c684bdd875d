"""The audit trail, as the service writes it: events built one way, refusals folded.

Refusals are recorded folded together: one line per token (or user), kind of refusal and
:attr:`Auditor.window`, with a count; the trail keeps at most
:attr:`Auditor.max_events` lines. So what a refused request can add to the store is one
small line at most, and a burst of them adds a few lines. Recording an event outside a
write never fails the request that caused it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import names
from .exceptions import ConfigurationError, StoreError, ValidationError
from .restrictions import Context
from .store import AuditEvent, TokenRecords

__all__ = [
    "DEFAULT_AUDIT_MAX_EVENTS",
    "DEFAULT_AUDIT_WINDOW",
    "Auditor",
    "Refusal",
    "event",
]

# The service's logger: operators configure one name for everything the service says.
log = logging.getLogger("pypitoken_core.service")

#: Seconds during which repeated refusals of one kind for one token share an audit line.
DEFAULT_AUDIT_WINDOW = 3600

#: Lines the audit trail keeps at most (the oldest go first): at a few hundred bytes each,
#: tens of megabytes.
DEFAULT_AUDIT_MAX_EVENTS = 100_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a use is refused: ``reasons`` (one per failed check), as told to the holder.

    ``kind`` is what repeated refusals are folded under in the audit trail ("forged",
    "expired", "rights", ...). ``recorded`` is what the audit trail says instead of the
    reasons, when the holder is told less (a forged token reads "invalid or unknown token"
    to its holder, "bad signature ..." to the operator).
    """

    reasons: tuple[str, ...]
    kind: str
    recorded: str | None = None

    @property
    def message(self) -> str:
        """The reasons, joined with ``", "``: a :class:`ValidationError`'s message."""
        return ", ".join(self.reasons)

    def error(self, *, token_id: str | None = None, user: str | None = None) -> ValidationError:
        """The exception that tells the holder, at the edge; ``token_id`` and ``user`` say
        whose token (or password) was refused, for the index's log."""
        return ValidationError(self.message, reasons=self.reasons, token_id=token_id, user=user)


def event(
    name: str,
    *,
    token_id: str | None = None,
    user: str | None = None,
    project: str | None = None,
    action: str | None = None,
    reason: str = "",
) -> AuditEvent:
    """An audit event happening now. Only a valid project name is recorded: it may come
    from a request."""
    if project is not None and not names.is_valid(project):
        project = None
    return AuditEvent(int(time.time()), name, token_id, user, project, action, reason)


class Auditor:
    """Writes events to ``store``'s trail outside other writes: denials folded, never failing.

    ``window`` (seconds) and ``max_events`` bound the trail, as the module docstring says.
    """

    def __init__(self, store: TokenRecords, window: int, max_events: int) -> None:
        if type(window) is not int or window < 0:
            raise ConfigurationError("audit_window must be a non-negative number of seconds")
        if type(max_events) is not int or max_events < 1:
            raise ConfigurationError("audit_max_events must be a positive number of events")
        self._store = store
        self.window = window
        self.max_events = max_events

    def __repr__(self) -> str:
        return f"<Auditor window={self.window} max_events={self.max_events}>"

    def record(self, entry: AuditEvent, kind: str = "refused") -> None:
        """Record ``entry`` (a denial, a first upload), never failing the call.

        Denials are folded into one line per token (or, for a password login, per user)
        and ``kind`` of refusal within :attr:`window`.
        """
        merge_key = None
        if entry.event == "denied":
            merge_key = "\n".join(("denied", entry.token_id or "", entry.user or "", kind))
        try:
            self._store.add_event(
                entry, merge_key=merge_key, merge_window=self.window, keep=self.max_events
            )
        except StoreError:
            # The audit trail must not turn a refusal into a crash, nor a success into a failure.
            log.exception("could not record audit event %r", entry.event)

    def denied(
        self,
        refusal: Refusal,
        *,
        token_id: str | None = None,
        user: str | None = None,
        context: Context | None = None,
        project: str | None = None,
        action: str | None = None,
    ) -> None:
        """Record a refusal of a token (``token_id``) or of a user's password login.

        The project and action are the ``context``'s, or given.
        """
        if context is not None:
            project, action = context.project_name, context.action
        self.record(
            event(
                "denied",
                token_id=token_id,
                user=user,
                project=project,
                action=action,
                reason=refusal.recorded or refusal.message,
            ),
            kind=refusal.kind,
        )
