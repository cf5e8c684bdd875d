"""Why an exchange (or a discovery request) is refused: a code, a status, a description.

The codes are Warehouse's where one fits (``invalid-payload``, ``invalid-token``,
``invalid-publisher``, ``invalid-pending-publisher``, ``invalid-reuse-token``,
``not-enabled``), so that twine, uv and pypa/gh-action-pypi-publish users read what they
read on pypi.org; the others say what only a self-hosted index can run into (an issuer it
cannot reach, a store that failed). :data:`CODES` is the one table of them all.
"""

from __future__ import annotations

from ..exceptions import PyPITokenException

__all__ = ["CODES", "ExchangeError"]

#: Every error code this package answers with, and its HTTP status.
CODES: dict[str, int] = {
    # The request body is not {"token": "<JWT>"}, or the JWT cannot be parsed, or its
    # issuer is one no publisher trusts.
    "invalid-payload": 422,
    # The request body (or the JWT in it) is larger than any CI token.
    "payload-too-large": 413,
    # The JWT is not provably genuine and current: signature, algorithm, key, issuer,
    # audience, times.
    "invalid-token": 422,
    # A genuine JWT that no registered publisher matches (the description says which
    # claim differs), or whose publisher can no longer mint.
    "invalid-publisher": 422,
    # A pending publisher whose project was created by someone else meanwhile.
    "invalid-pending-publisher": 422,
    # The JWT's jti was exchanged before.
    "invalid-reuse-token": 422,
    # Trusted publishing is switched off on this index.
    "not-enabled": 403,
    # The client asked for a PEP 807 feature this index does not offer.
    "unsupported-feature": 422,
    # The issuer's keys could not be fetched and none are cached for this token's key id.
    "issuer-unavailable": 503,
    # The token store failed before anything was consumed: retrying may succeed.
    "store-unavailable": 503,
    # Anything else went wrong before a token was minted (logged): retrying may succeed.
    "server-error": 503,
    # PEP 807 discovery: no upload URL here has that path.
    "not-found": 404,
    # PEP 807: the client accepts no media type this index answers with.
    "not-acceptable": 406,
}


class ExchangeError(PyPITokenException):
    """A refused exchange or discovery request: ``code`` (a key of :data:`CODES`), the
    HTTP ``status`` it maps to, and a ``description`` the CI job's log shows.

    Descriptions never contain the OIDC token, nor any key.
    """

    def __init__(self, code: str, description: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown exchange error code {code!r}")
        super().__init__(f"{code}: {description}")
        self.code = code
        self.status = CODES[code]
        self.description = description
