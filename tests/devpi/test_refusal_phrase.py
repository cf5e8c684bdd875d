"""devpi's 403s carry the core's reason phrase, exactly as pypiserver's do."""

from __future__ import annotations

from pypitoken_devpi.server import _forbidden

from pypitoken_core.display import reason_phrase


def test_refusals_use_the_core_reason_phrase() -> None:
    reason = "project 'ünï'\r\nSet-Cookie: x"
    refusal = _forbidden(reason)
    assert refusal.status == "403 " + reason_phrase(f"Invalid API Token: {reason}")
    assert refusal.status == "403 Invalid API Token: project '?n?'??Set-Cookie: x"
    assert _forbidden("token revoked").status == "403 Invalid API Token: token revoked"
