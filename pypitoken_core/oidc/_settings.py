"""How trusted publishing is set up on an index: on or off, the audience, the lifetime of
the tokens it mints, and pinned issuer keys."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ConfigurationError

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_LIFETIME",
    "MIN_LIFETIME",
    "TrustedPublishingSettings",
    "default_audience",
    "gitlab_token_variable",
]

#: PEP 807: a minted credential lives between 15 minutes and 6 hours.
MIN_LIFETIME, MAX_LIFETIME = 900, 21600
DEFAULT_LIFETIME = MIN_LIFETIME


def default_audience(domain: str) -> str:
    """The audience of an index whose tokens carry ``domain``: the domain itself when it
    starts with a letter, else ``pypitoken-<domain>``.

    A letter first, because GitLab CI passes the OIDC token in a variable named after the
    audience, and the two client libraries name it differently when it starts with a
    digit (an IP address). Each index has its own domain, so no other index accepts the
    same audience: set one explicitly where several share a domain.
    """
    return domain if domain[:1].isascii() and domain[:1].isalpha() else f"pypitoken-{domain}"


def gitlab_token_variable(audience: str) -> str:
    """The CI variable GitLab jobs must declare under ``id_tokens`` for this audience, as
    twine, pdm and uv look it up: ``<AUDIENCE>_ID_TOKEN``, upper-cased, every character
    other than a letter, digit or ``_`` replaced by ``_``."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in audience)
    return f"{name.upper()}_ID_TOKEN"


@dataclass(frozen=True, slots=True)
class TrustedPublishingSettings:
    """Trusted publishing on one index.

    ``enabled``: whether the endpoints mint (off: they answer ``not-enabled``).
    ``audience``: what the OIDC tokens' ``aud`` must be; None derives it from the index's
    token domain (:func:`default_audience`). ``lifetime``: seconds a minted token lives,
    within PEP 807's 900 to 21600. ``jwks_file``: a JSON file of pinned key sets,
    ``{"<issuer>": <JWKS>}``, for issuers the index cannot reach. Raises
    :class:`ConfigurationError` for values that cannot work.
    """

    enabled: bool = True
    audience: str | None = None
    lifetime: int = DEFAULT_LIFETIME
    jwks_file: str | None = None

    def __post_init__(self) -> None:
        if type(self.lifetime) is not int or not MIN_LIFETIME <= self.lifetime <= MAX_LIFETIME:
            raise ConfigurationError(
                f"a trusted publishing token lives {MIN_LIFETIME} to {MAX_LIFETIME} seconds"
                f" (PEP 807), not {self.lifetime!r}"
            )
        audience = self.audience
        if audience is not None and not (
            type(audience) is str
            and 0 < len(audience) <= 200
            and audience.isascii()
            and audience.isprintable()
            and audience[0].isalpha()
            and " " not in audience
        ):
            raise ConfigurationError(
                f"the OIDC audience {audience!r} must be up to 200 printable ASCII"
                " characters without spaces, starting with a letter"
            )
