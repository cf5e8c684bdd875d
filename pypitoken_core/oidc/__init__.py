"""Trusted publishing: CI jobs exchange an OIDC token for a short-lived upload token.

What is here, below the token service and free of any HTTP server:

- publisher kinds (``_publishers``): GitHub Actions, GitLab CI and any OIDC issuer, one
  class per kind behind one registry (:data:`KINDS`), each matching a verified token's
  claims as pypi.org does;
- verification (``_verify``, ``_jwks``): PyJWT with asymmetric algorithms only, keys
  from the issuer's discovery document and JWKS (cached, refreshed at most once a minute,
  kept when the issuer is down, or pinned from a file), and limits before parsing;
- the endpoints' semantics (``_http``): audience, mint, burn and PEP 807 discovery, plain
  values in and a :class:`Response` out, errors as RFC 9457 problem documents that also
  carry Warehouse's ``message`` and ``errors``;
- the error codes (``_errors``) and the settings (``_settings``).

The token service (:meth:`pypitoken_core.service.TokenService.trusted_publishing`)
assembles the endpoints with its store: it matches publishers, remembers each token's
``jti`` and mints; the adapters route requests to them.
"""

from __future__ import annotations

from ._errors import CODES as CODES
from ._errors import ExchangeError as ExchangeError
from ._http import DISCOVERY_TYPE as DISCOVERY_TYPE
from ._http import MAX_BODY as MAX_BODY
from ._http import Endpoints as Endpoints
from ._http import Minted as Minted
from ._http import Response as Response
from ._http import check_length as check_length
from ._http import path_hashes as path_hashes
from ._http import problem as problem
from ._jwks import ALGORITHMS as ALGORITHMS
from ._jwks import IssuerKeys as IssuerKeys
from ._jwks import load_pinned as load_pinned
from ._publishers import GITHUB_ISSUER as GITHUB_ISSUER
from ._publishers import GITLAB_ISSUER as GITLAB_ISSUER
from ._publishers import KINDS as KINDS
from ._publishers import GenericPublisher as GenericPublisher
from ._publishers import GitHubPublisher as GitHubPublisher
from ._publishers import GitLabPublisher as GitLabPublisher
from ._publishers import Publisher as Publisher
from ._publishers import describe_record as describe_record
from ._publishers import from_record as from_record
from ._publishers import publisher_kind as publisher_kind
from ._settings import DEFAULT_LIFETIME as DEFAULT_LIFETIME
from ._settings import MAX_LIFETIME as MAX_LIFETIME
from ._settings import MIN_LIFETIME as MIN_LIFETIME
from ._settings import TrustedPublishingSettings as TrustedPublishingSettings
from ._settings import default_audience as default_audience
from ._settings import gitlab_token_variable as gitlab_token_variable
from ._urls import check_issuer as check_issuer
from ._verify import LEEWAY as LEEWAY
from ._verify import MAX_JWT_LENGTH as MAX_JWT_LENGTH
from ._verify import Verifier as Verifier

__all__ = [
    "ALGORITHMS",
    "CODES",
    "DEFAULT_LIFETIME",
    "DISCOVERY_TYPE",
    "GITHUB_ISSUER",
    "GITLAB_ISSUER",
    "KINDS",
    "LEEWAY",
    "MAX_BODY",
    "MAX_JWT_LENGTH",
    "MAX_LIFETIME",
    "MIN_LIFETIME",
    "Endpoints",
    "ExchangeError",
    "GenericPublisher",
    "GitHubPublisher",
    "GitLabPublisher",
    "IssuerKeys",
    "Minted",
    "Publisher",
    "Response",
    "TrustedPublishingSettings",
    "Verifier",
    "check_issuer",
    "check_length",
    "default_audience",
    "describe_record",
    "from_record",
    "gitlab_token_variable",
    "load_pinned",
    "path_hashes",
    "problem",
    "publisher_kind",
]
