"""The identity a request authenticated by one of our tokens carries through devpi."""

from __future__ import annotations

__all__ = ["REGISTRY_KEY", "TokenIdentity"]

#: Where the plugin's per-application state lives in the pyramid registry.
REGISTRY_KEY = "pypitoken_devpi"


class TokenIdentity:
    """A devpi identity (``username``, ``groups``) for a request that presented a token.

    ``username`` is the token's owner, so devpi's ACLs apply exactly as for the owner.
    The raw token is kept privately for the per-stage checks and never shown in reprs.
    """

    __slots__ = ("_raw", "groups", "token_id", "username")

    def __init__(self, username: str, token_id: str, raw: str) -> None:
        self.username = username
        self.groups: list[str] = []
        self.token_id = token_id
        self._raw = raw

    def __repr__(self) -> str:
        return f"<TokenIdentity user={self.username!r} token_id={self.token_id!r}>"
