"""Received values, shown in messages: short, and never failing."""

from __future__ import annotations

__all__ = ["short_repr"]

_MAX_REPR = 120


def short_repr(obj: object) -> str:
    """``repr(obj)``, cut to 120 characters; a value whose repr fails is named by its type."""
    try:
        text = repr(obj)
    except Exception:  # a deeply nested list (RecursionError) or a hostile __repr__
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."
