"""Who acts: what a successful check answers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who acts: the user, and the token used (None for a password login)."""

    user_name: str
    user_id: str
    token_id: str | None = None
