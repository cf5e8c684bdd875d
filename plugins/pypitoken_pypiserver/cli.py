"""``pypitoken-pypiserver``: ``pypi-server`` with API tokens.

``pypitoken-pypiserver run [pypi-server run options] [token options] PACKAGES_DIR``.

The token options are taken out of the command line; everything else goes, untouched, to
pypiserver's own ``main()``, so flags, defaults, logging set-up, server selection and
``--server-base-url`` behave exactly as in ``pypi-server``. The one change is the auther:
while ``main()`` runs, ``RunConfig.get_auther`` is wrapped so that the auther pypiserver
builds (htpasswd from ``-P``, or always-False) becomes the fallback of a
:class:`~pypitoken_pypiserver._auth.TokenAuther`, and ``setup_routes_from_config`` is
wrapped so that the app ``main()`` runs has the trusted-publishing routes, and the token
page and API in front. Wrapping those two, rather than re-implementing ``main()``, keeps
us from drifting from pypiserver's start-up code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pypiserver
from pypiserver.__main__ import main as pypiserver_main
from pypiserver.bottle_wrapper import bottle
from pypiserver.config import RunConfig

from pypitoken_core.exceptions import ConfigurationError, PyPITokenException
from pypitoken_core.oidc import TrustedPublishingSettings
from pypitoken_core.service import OWNERSHIP_CHOICES

from ._app import (
    PackageDirectoryError,
    TokenSettings,
    admin_names,
    check_package_dirs,
    default_token_db,
    install_auther,
    install_routes,
    with_token_pages,
)

__all__ = ["main"]

Auther = Callable[[str, str], bool]


def _token_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pypitoken-pypiserver",
        add_help=False,
        allow_abbrev=False,
        description="Token options (on top of every `pypi-server run` option):",
    )
    parser.add_argument(
        "--token-db",
        metavar="URL",
        help="token store: sqlite:////abs/path.sqlite3 or postgresql://... "
        "(default: $PYPITOKEN_DB, else sqlite ./pypitoken.sqlite3 in the current directory)",
    )
    parser.add_argument("--token-domain", metavar="DOMAIN", help="location written into new tokens")
    parser.add_argument(
        "--token-secret-file",
        metavar="FILE",
        help="file holding the server secret (default: the store keeps it)",
    )
    parser.add_argument(
        "--ownership",
        choices=OWNERSHIP_CHOICES,
        default="pypi",
        help="pypi: upload only to projects you own or maintain (a new name becomes yours "
        "when a file of it is stored); open: any registered user uploads anywhere "
        "(default: pypi)",
    )
    parser.add_argument(
        "--adopt-unowned",
        metavar="USER",
        help="make USER the owner of every project that has files in the package directory "
        "but no owner (at start, and when such files show up later); without it, uploads "
        "to such a project are refused until an admin runs `pypitoken project add`",
    )
    parser.add_argument(
        "--token-max-lifetime",
        metavar="SECONDS",
        type=_seconds,
        help="refuse to mint tokens that live longer, or never expire (also for `pypitoken "
        "token create` on this store, which keeps the setting; 0: no limit)",
    )
    parser.add_argument(
        "--allow-token-delete",
        action="store_true",
        help="let tokens remove packages (:action=remove_pkg); off by default",
    )
    parser.add_argument(
        "--no-trusted-publishing",
        dest="trusted_publishing",
        action="store_false",
        help="do not mint tokens for trusted publishers (/_/oidc/* answer not-enabled)",
    )
    parser.add_argument(
        "--oidc-audience",
        metavar="AUDIENCE",
        help="the 'aud' CI tokens must carry (default: the token domain, prefixed with"
        " 'pypitoken-' unless it starts with a letter)",
    )
    parser.add_argument(
        "--oidc-token-lifetime",
        metavar="SECONDS",
        type=_seconds,
        default=900,
        help="how long a token minted for a trusted publisher lives, 900 to 21600 (default: 900)",
    )
    parser.add_argument(
        "--oidc-jwks-file",
        metavar="FILE",
        help='pinned signing keys of OIDC issuers, {"<issuer>": <JWKS>, ...}, for an index'
        " that cannot reach them",
    )
    parser.add_argument(
        "--token-admins",
        metavar="USER,USER",
        default="",
        help="users (of -P) who may manage every user's tokens and projects on the token "
        "page (/+tokens) and the token API (/+api-tokens)",
    )
    parser.add_argument(
        "--trust-proxy-headers",
        action="store_true",
        help="take https and the client's address (the token page's Secure cookies and "
        "log-in throttle) from the proxy's X-Forwarded-Proto and X-Forwarded-For: only "
        "when every request comes through a proxy that sets both",
    )
    return parser


def _admins(parser: argparse.ArgumentParser, text: str) -> tuple[str, ...]:
    try:
        return admin_names(text)
    except ValueError as exc:
        parser.error(str(exc))


def _seconds(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 15):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return int(text)


@contextmanager
def _token_auther(settings: TokenSettings) -> Iterator[None]:
    original = RunConfig.get_auther
    original_routes = pypiserver.setup_routes_from_config

    def get_auther(self: RunConfig, passed_auther: Auther | None) -> Auther:
        self.auther = original(self, passed_auther)
        try:
            check_package_dirs(self.roots)
            return install_auther(self, settings).auther
        except (PackageDirectoryError, PyPITokenException) as exc:
            sys.exit(f"pypitoken-pypiserver: {exc}")

    def setup_routes(app: Any, config: RunConfig) -> Any:
        # main() runs the app this returns (mounted under --server-base-url, if given):
        # the trusted-publishing routes join pypiserver's, the token page and API go in
        # front of it here.
        app = install_routes(original_routes(app, config), config)
        return with_token_pages(app, config, settings)

    RunConfig.get_auther = get_auther
    pypiserver.setup_routes_from_config = setup_routes
    original_waitress = bottle.WaitressServer.run
    if settings.trust_proxy_headers:
        bottle.WaitressServer.run = _waitress_behind_a_proxy
    try:
        yield
    finally:
        RunConfig.get_auther = original
        pypiserver.setup_routes_from_config = original_routes
        bottle.WaitressServer.run = original_waitress


def _waitress_behind_a_proxy(self: Any, handler: Any) -> None:
    """bottle's waitress adapter, with the proxy's headers trusted.

    waitress drops X-Forwarded-* headers unless told which proxy to trust, and bottle's
    adapter (which pypiserver's ``main()`` runs) passes it no options. With
    ``--trust-proxy-headers`` the operator says that every request comes through the
    proxy: waitress then takes the scheme and the client's address from the proxy's
    X-Forwarded-Proto and (last hop of) X-Forwarded-For, for pypiserver and the token
    page alike.
    """
    from waitress import serve

    serve(
        handler,
        host=self.host,
        port=self.port,
        trusted_proxy="*",
        trusted_proxy_count=1,
        trusted_proxy_headers="x-forwarded-proto x-forwarded-for",
    )


def _trusted_publishing(
    parser: argparse.ArgumentParser, ours: argparse.Namespace
) -> TrustedPublishingSettings:
    try:
        return TrustedPublishingSettings(
            enabled=ours.trusted_publishing,
            audience=ours.oidc_audience,
            lifetime=ours.oidc_token_lifetime,
            jwks_file=ours.oidc_jwks_file,
        )
    except ConfigurationError as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> None:
    """Run pypiserver with token authentication; see the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _token_parser()
    ours, rest = parser.parse_known_args(args)
    if "-h" in rest or "--help" in rest:
        parser.print_help()
        print()
    settings = TokenSettings(
        db=ours.token_db or default_token_db(),
        domain=ours.token_domain,
        secret_file=ours.token_secret_file,
        ownership=ours.ownership,
        allow_delete=ours.allow_token_delete,
        max_lifetime=ours.token_max_lifetime,
        adopt_unowned=ours.adopt_unowned,
        trusted_publishing=_trusted_publishing(parser, ours),
        admins=_admins(parser, ours.token_admins),
        trust_proxy_headers=ours.trust_proxy_headers,
    )
    with _token_auther(settings):
        pypiserver_main(rest)


if __name__ == "__main__":
    main()
