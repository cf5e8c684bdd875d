"""Which URLs this package will talk to: https, or plain http on the loopback only."""

from __future__ import annotations

import ipaddress
import urllib.parse

from ..exceptions import InvalidInput

__all__ = ["check_issuer", "is_loopback", "trusted_url"]

_MAX_URL = 1000


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a URL's host, without brackets) is this machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_url(url: object) -> bool:
    """Whether ``url`` may be fetched for keys: https, or http to the loopback (a test
    issuer on the same machine); never with credentials in it."""
    if type(url) is not str or len(url) > _MAX_URL or not url.isprintable():
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))


def check_issuer(url: object) -> str:
    """An OIDC issuer URL a publisher may name: see :func:`trusted_url`, and no query or
    fragment (an issuer is compared verbatim with the ``iss`` claim of its tokens).

    Raises :class:`InvalidInput` naming what is wrong.
    """
    if type(url) is not str or not trusted_url(url):
        raise InvalidInput(
            f"issuer {url!r} must be an https URL (http only on the loopback, for tests)"
        )
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidInput(f"issuer {url!r} must not have a query or a fragment")
    return url
