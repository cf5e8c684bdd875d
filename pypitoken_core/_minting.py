"""Minting: what a new token may be asked for, and making it with its record.

The service decides whether a user may mint a token for a project (the ownership policy);
this module checks the rest of the request (actions, times, the server's maximum lifetime)
and makes the token and its record from the same values, so that the caveats and the
record say the same thing.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable

from . import _time
from ._audit import event
from ._keys import derive_key, new_salt, note_fingerprint
from .exceptions import ConfigurationError, InvalidRestriction
from .restrictions import ACTIONS
from .store import TokenRecord, TokenRecords, User
from .times import duration_text
from .token import Token

__all__ = ["DEFAULT_ACTIONS", "checked_lifetime", "issue", "mint_actions", "mint_window"]

#: What a token may do unless narrowed at mint time.
DEFAULT_ACTIONS: tuple[str, ...] = ("upload", "download")

When = int | datetime.datetime | datetime.timedelta | None


def checked_lifetime(value: object) -> int | None:
    """A maximum token lifetime: a positive number of seconds, or 0 / None for no limit.

    Raises :class:`ConfigurationError` for anything else.
    """
    if value is None or value == 0:
        return None
    if type(value) is not int or not 0 < value <= _time.MAX_TIMESTAMP:
        raise ConfigurationError(
            f"the maximum token lifetime must be a number of seconds, not {value!r}"
        )
    return value


def mint_actions(
    actions: Iterable[str] | None, *, allow_delete: bool, enable_with: str = ""
) -> list[str]:
    """The actions asked for (default :data:`DEFAULT_ACTIONS`), checked; a refused
    ``delete`` says how to enable it (``enable_with``)."""
    action_list = list(DEFAULT_ACTIONS if actions is None else actions)
    if not action_list:
        raise InvalidRestriction("a token needs at least one action")
    for action in action_list:
        if action not in ACTIONS:
            raise InvalidRestriction(f"unknown action {action!r}; expected {', '.join(ACTIONS)}")
    if "delete" in action_list and not allow_delete:
        how = f" ({enable_with})" if enable_with else ""
        raise InvalidRestriction(f"the delete action is not enabled on this server{how}")
    return action_list


def mint_window(
    expires: When, not_before: When, now: int, max_lifetime: int | None
) -> tuple[int | None, int | None]:
    """``(not_before, expires)`` as timestamps, checked against ``now`` and the lifetime.

    A datetime is absolute; an int or timedelta is relative to ``now``. Raises
    :class:`InvalidRestriction` for a time outside years 1 to 9999, a past expiry, a start
    without an end, or (with ``max_lifetime``) a token that would never expire or live
    longer.
    """
    not_after_ts = _when(expires, now, "expires")
    not_before_ts = _when(not_before, now, "not_before")
    if not_after_ts is not None and not_after_ts <= now:
        raise InvalidRestriction("expires must be in the future")
    if not_before_ts is not None and not_after_ts is None:
        raise InvalidRestriction("not_before needs expires")
    if max_lifetime is not None and (not_after_ts is None or not_after_ts - now > max_lifetime):
        raise InvalidRestriction(
            f"tokens on this server must expire within {max_lifetime} seconds"
            f" ({duration_text(max_lifetime)}, its maximum token lifetime)"
        )
    return not_before_ts, not_after_ts


def _when(value: When, now: int, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
    elif type(value) is int:
        seconds = value
    else:
        return _time.timestamp_from_parameter(value, name)
    return _time.checked(now + seconds, name, f"{_time.shown(seconds)} seconds from now")


def issue(
    store: TokenRecords,
    secret: bytes,
    owner: User,
    *,
    domain: str,
    prefix: str,
    now: int,
    projects: list[str],
    project_ids: list[str],
    indexes: list[str],
    actions: list[str],
    not_before: int | None,
    expires: int | None,
    description: str,
    publisher_id: str | None = None,
) -> tuple[str, TokenRecord]:
    """Make a token for ``owner`` from checked values, store its record; return both.

    A project-scoped token carries the project-name and project-id caveats, as on pypi.org;
    a user-wide one the user-id caveat; one minted for a trusted publisher (``publisher_id``)
    also pypi.org's trusted-publisher caveat, ``[4, "<publisher id>", null]``. The record
    (and its "minted" audit line) is written in one store transaction; the raw token exists
    only in the return value.
    """
    token_id = str(uuid.uuid4())
    salt = new_salt()
    token = Token.create(domain, token_id, derive_key(secret, salt), prefix)
    # The date caveat is a window: it starts at not_before, or now.
    window_start = now if not_before is None else not_before
    token.restrict(
        not_before=None if expires is None else window_start,
        not_after=expires,
        project_names=projects or None,
        project_ids=project_ids or None,
        user_id=None if projects or project_ids else owner.id,
        # A caveat only when narrowed: default tokens stay readable by pypitoken.
        actions=None if set(actions) == set(DEFAULT_ACTIONS) else actions,
        indexes=indexes or None,
        oidc_publisher_id=publisher_id,
    )
    record = TokenRecord(
        id=token_id,
        user_id=owner.id,
        salt=salt,
        description=description,
        projects=tuple(projects),
        project_ids=tuple(project_ids),
        indexes=tuple(indexes),
        actions=tuple(actions),
        created=now,
        expires=expires,
        not_before=not_before,
        last_used=None,
        revoked=False,
        publisher_id=publisher_id,
    )
    # Tokens minted from now on belong to this secret: warn about the others only.
    note_fingerprint(store, secret, warn=False)
    store.add_token(
        record, event=event("minted", token_id=token_id, user=owner.name, reason=description)
    )
    return token.dump(), record
