"""devpi-client commands for the server's API tokens (``devpi_client`` entry point).

``devpi api-token-create``, ``devpi api-token-list`` and ``devpi api-token-revoke`` call
``/{user}/+api-tokens`` on the current server with the current login. The names leave
devpi-tokens' ``token-*`` commands alone, so both plugins can be installed together.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from pluggy import HookimplMarker

from pypitoken_core.display import iso
from pypitoken_core.exceptions import InvalidInput
from pypitoken_core.times import parse_time

__all__ = ["devpiclient_subcommands"]

hookimpl = HookimplMarker("devpiclient")


def _user_argument(parser: Any) -> None:
    parser.add_argument(
        "-u",
        "--user",
        default=None,
        help="the user whose tokens to manage (default: the logged-in user)",
    )


def create_arguments(parser: Any) -> None:
    """Create an API token (PyPI style) on the current devpi server.

    The token is printed once, or written to the file given with -o. Use it with twine
    as user ``__token__``. Narrow it with the options; without any it can upload to and
    download from everything its owner can.
    """
    _user_argument(parser)
    parser.add_argument(
        "-p",
        "--project",
        dest="projects",
        action="append",
        default=[],
        metavar="NAME",
        help="only this project (repeat for several)",
    )
    parser.add_argument(
        "-i",
        "--index",
        dest="indexes",
        action="append",
        default=[],
        metavar="USER/INDEX",
        help="only this index (repeat for several)",
    )
    parser.add_argument(
        "-a",
        "--action",
        dest="actions",
        action="append",
        default=None,
        choices=("upload", "download", "delete"),
        help="only this action (repeat for several; default upload, download)",
    )
    parser.add_argument(
        "-e",
        "--expires",
        default=None,
        metavar="WHEN",
        help="when the token expires: 30s, 15m, 1h, 1d, 2w from now, an ISO 8601 datetime"
        " with an offset, or @EPOCH (seconds); a bare number is refused",
    )
    parser.add_argument("-d", "--description", default="", help="what the token is for")
    parser.add_argument(
        "-o",
        "--outfile",
        default=None,
        metavar="FILE",
        help="write the token to FILE (mode 0600) instead of printing it",
    )


def list_arguments(parser: Any) -> None:
    """List the API tokens of a user (never the tokens themselves)."""
    _user_argument(parser)


def revoke_arguments(parser: Any) -> None:
    """Revoke an API token of a user, by id."""
    _user_argument(parser)
    parser.add_argument("token_id", metavar="ID", help="the token id (see api-token-list)")


@hookimpl
def devpiclient_subcommands() -> list[tuple[Any, str, str]]:
    return [
        (create_arguments, "api-token-create", "pypitoken_devpi.client:create"),
        (list_arguments, "api-token-list", "pypitoken_devpi.client:list_tokens"),
        (revoke_arguments, "api-token-revoke", "pypitoken_devpi.client:revoke"),
    ]


def _tokens_url(hub: Any, args: Any, *rest: str) -> Any:
    hub.requires_login()
    user = args.user or hub.current.get_auth_user()
    return hub.current.root_url.joinpath(user, "+api-tokens", *rest)


def create(hub: Any, args: Any) -> None:
    """Handler of ``devpi api-token-create``."""
    body: dict[str, Any] = {
        "projects": args.projects,
        "indexes": args.indexes,
        "description": args.description,
    }
    if args.actions is not None:
        body["actions"] = args.actions
    if args.expires is not None:
        try:
            when = parse_time(args.expires)
        except InvalidInput as exc:
            hub.fatal(f"--expires: {exc}")
        body["expires"] = (
            int(when.total_seconds())
            if isinstance(when, datetime.timedelta)
            else when.isoformat().replace("+00:00", "Z")
        )
    if args.outfile and os.path.exists(args.outfile):
        hub.fatal(f"{args.outfile} exists; not overwriting it")
    reply = hub.http_api("post", _tokens_url(hub, args), kvdict=body, type="api-token")
    token_id, token = reply.result["id"], reply.result["token"]
    if args.outfile:
        fd = os.open(args.outfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        hub.info(f"API token {token_id} written to {args.outfile}")
    else:
        hub.info(f"API token {token_id} (shown once):")
        hub.line(token)


def _when(timestamp: int | None) -> str:
    return "never" if timestamp is None else iso(timestamp)


def list_tokens(hub: Any, args: Any) -> None:
    """Handler of ``devpi api-token-list``."""
    reply = hub.http_api("get", _tokens_url(hub, args), type="api-tokens")
    tokens = reply.result["tokens"]
    if not tokens:
        hub.info("no API tokens")
    for t in tokens:
        state = "revoked" if t["revoked"] else f"expires {_when(t['expires'])}"
        hub.line(f"{t['id']}  {state}  {t['description']}")
        for key in ("projects", "indexes", "actions"):
            if t[key]:
                hub.line(f"    {key}: {', '.join(t[key])}")
        hub.line(f"    created {_when(t['created'])}")


def revoke(hub: Any, args: Any) -> None:
    """Handler of ``devpi api-token-revoke``."""
    reply = hub.http_api("delete", _tokens_url(hub, args, args.token_id))
    hub.info(reply.json_get("message") or f"API token {args.token_id} revoked")
