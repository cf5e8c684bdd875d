"""``pypitoken remote``: manage your own API tokens on an index, through its token API.

The same commands work on pypiserver and devpi-server (both answer ``/+api-tokens``, see
``docs/token-api.md``), so a user never needs the token store::

    pypitoken remote --url https://pypi.example.com --user alice create --project acme
    pypitoken remote --url https://pypi.example.com --user alice list [--json]
    pypitoken remote --url https://pypi.example.com --user alice revoke ID

The password never comes from the command line (it would land in the shell history):
``$PYPITOKEN_PASSWORD``, else the ``keyring`` (if installed; service name: the URL),
else a prompt. ``create`` prints only the token on standard output. The API is reached
with the standard library alone.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import click

from ..display import token_status
from ._common import fail, iso, parse_expiry, table

__all__ = ["remote"]

_PASSWORD_ENV = "PYPITOKEN_PASSWORD"  # noqa: S105 (the variable's name)
_TIMEOUT = 60


@dataclass
class Remote:
    """Where the index is, who logs in, and the password once it was asked for."""

    url: str
    user: str
    _password: str | None = None

    def __repr__(self) -> str:
        return f"<Remote {self.url} user={self.user!r}>"

    def password(self) -> str:
        """``$PYPITOKEN_PASSWORD``, the keyring's, or typed at a prompt (asked once)."""
        if self._password is None:
            self._password = (
                os.environ.get(_PASSWORD_ENV)
                or _from_keyring(self.url, self.user)
                or click.prompt(f"Password of {self.user} on {self.url}", hide_input=True)
            )
        return self._password

    def call(self, method: str, path: str, *, owner: str | None, body: Any = None) -> Any:
        """One API request; the reply's JSON, or exit 1 with the server's message."""
        query = "" if owner is None else "?" + urllib.parse.urlencode({"user": owner})
        pair = base64.b64encode(f"{self.user}:{self.password()}".encode()).decode()
        headers = {"Accept": "application/json", "Authorization": f"Basic {pair}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        # The scheme is http or https: _url refused any other.
        request = urllib.request.Request(  # noqa: S310
            self.url + path + query, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
                return _json(response.read())
        except urllib.error.HTTPError as exc:
            reply = _json(exc.read())
            message = reply.get("message") if isinstance(reply, dict) else None
            fail(f"{exc.code} {message or exc.reason}")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            fail(f"cannot reach {self.url}: {reason}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _from_keyring(url: str, user: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # optional: without it, the prompt
        return None
    try:
        found = keyring.get_password(url, user)
    except KeyringError:
        return None
    return found if isinstance(found, str) and found else None


def _url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise click.BadParameter(f"{value!r} is not an index URL like https://pypi.example.com")
    if parts.username or parts.password:
        raise click.BadParameter("put no credentials in the URL: use --user and the password")
    return value.rstrip("/")


pass_remote = click.make_pass_decorator(Remote)


@click.group()
@click.option(
    "--url",
    envvar="PYPITOKEN_URL",
    required=True,
    metavar="URL",
    help="The index: https://pypi.example.com (devpi: its root). [env PYPITOKEN_URL]",
    callback=lambda ctx, param, value: _url(value),
)
@click.option(
    "--user",
    envvar="PYPITOKEN_USER",
    required=True,
    metavar="NAME",
    help="Who logs in (the index's own user). [env PYPITOKEN_USER]",
)
@click.pass_context
def remote(ctx: click.Context, url: str, user: str) -> None:
    """Manage your API tokens on an index (pypiserver or devpi), through its token API.

    The password comes from $PYPITOKEN_PASSWORD, the keyring (service: the URL), or a
    prompt; never from the command line.
    """
    ctx.obj = Remote(url, user)


_OWNER = click.option(
    "--owner", metavar="NAME", help="Another user's tokens (the index's administrators only)."
)


@remote.command("create")
@click.option("--project", "projects", multiple=True, metavar="NAME", help="Only this project.")
@click.option("--index", "indexes", multiple=True, metavar="USER/INDEX", help="Only this index.")
@click.option(
    "--action",
    "actions",
    multiple=True,
    type=click.Choice(("upload", "download", "delete")),
    help="Only this action (repeatable; default: upload and download).",
)
@click.option(
    "--expires",
    metavar="WHEN",
    help="1h, 30d, 2w, an ISO 8601 datetime with an offset, or @EPOCH"
    " (default: the server's longest).",
)
@click.option("--description", default="", help="What the token is for.")
@_OWNER
@pass_remote
def create(
    remote: Remote,
    projects: tuple[str, ...],
    indexes: tuple[str, ...],
    actions: tuple[str, ...],
    expires: str | None,
    description: str,
    owner: str | None,
) -> None:
    """Create a token and print it (only the token, on stdout: it is shown once)."""
    body: dict[str, Any] = {"description": description}
    if projects:
        body["projects"] = list(projects)
    if indexes:
        body["indexes"] = list(indexes)
    if actions:
        body["actions"] = list(actions)
    if expires is not None:
        when = parse_expiry(expires)
        body["expires"] = (
            int(when.total_seconds())
            if isinstance(when, datetime.timedelta)
            else when.isoformat().replace("+00:00", "Z")
        )
    reply = remote.call("POST", "/+api-tokens", owner=owner, body=body)
    result = reply["result"]
    click.echo(f"created API token {result['id']} (shown once, below)", err=True)
    click.echo(result["token"])


@remote.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_OWNER
@pass_remote
def list_tokens(remote: Remote, as_json: bool, owner: str | None) -> None:
    """List your tokens (never the tokens themselves)."""
    tokens = remote.call("GET", "/+api-tokens", owner=owner)["result"]["tokens"]
    if as_json:
        click.echo(json.dumps(tokens, indent=2))
        return
    if not tokens:
        click.echo("no API tokens", err=True)
        return
    rows = [("ID", "STATUS", "EXPIRES", "LAST USED", "SCOPE", "ACTIONS", "DESCRIPTION")]
    now = int(time.time())
    for t in tokens:
        scope = ", ".join(t["projects"]) or "all projects"
        if t["indexes"]:
            scope += " on " + ", ".join(t["indexes"])
        rows.append(
            (
                t["id"],
                token_status(t["revoked"], t["expires"], now),
                iso(t["expires"]) or "never",
                iso(t["last_used"]) or "never",
                scope,
                ",".join(t["actions"]),
                t["description"],
            )
        )
    table(rows)


@remote.command("revoke")
@click.argument("token_id", metavar="ID")
@_OWNER
@pass_remote
def revoke(remote: Remote, token_id: str, owner: str | None) -> None:
    """Revoke one of your tokens: refused from the next request on."""
    path = f"/+api-tokens/{urllib.parse.quote(token_id, safe='')}"
    reply = remote.call("DELETE", path, owner=owner)
    click.echo(reply.get("message") if isinstance(reply, dict) else f"revoked {token_id}")
