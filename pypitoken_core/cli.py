"""The ``pypitoken`` command: inspect and restrict tokens offline, administer a store.

Offline: ``inspect`` and ``restrict`` need no key and no database. Admin: ``user``,
``project``, ``token`` and ``audit`` work on the store named by ``--db`` / ``$PYPITOKEN_DB``.
A raw token is printed only by ``token create`` and ``restrict``, the commands whose job
is to hand one to its owner; errors never echo it. Pass ``-`` to read a token from
standard input and keep it out of the shell history.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

from . import _time
from . import restrictions as r
from .exceptions import PyPITokenException
from .service import OWNERSHIP_CHOICES, TokenService
from .store import TokenRecord
from .token import Token

__all__ = ["main", "parse_duration", "parse_moment"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


_DURATION = re.compile(r"^([0-9]{1,15})([smhdw])$")


def parse_duration(text: str) -> int:
    """``30s``, ``15m``, ``1h``, ``1d``, ``2w`` -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 15m, 1h, 1d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _in_range(stamp: int, text: str) -> int:
    if not _time.in_range(stamp):
        raise click.BadParameter(f"{text!r} is not a time between years 1 and 9999")
    return stamp


def parse_moment(text: str, *, allow_duration: bool = False) -> int:
    """An ISO 8601 datetime with an offset, epoch seconds, or (if allowed) a duration from now.

    Raises :class:`click.BadParameter` for anything else, and for a time outside the
    years 1 to 9999 UTC.
    """
    text = text.strip()
    if allow_duration and _DURATION.match(text):
        return _in_range(int(time.time()) + parse_duration(text), text)
    if text.isascii() and text.isdigit():
        # Digits only up to what a time can be: int() of a million digits is slow.
        return _in_range(int(text) if len(text) <= 15 else _time.MAX_TIMESTAMP + 1, text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        kinds = "a duration (1h, 2w), " if allow_duration else ""
        raise click.BadParameter(
            f"{text!r} is not {kinds}an ISO 8601 datetime with an offset, or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no UTC offset (add Z or +00:00)")
    return _in_range(int(moment.timestamp()), text)


def _iso(timestamp: int | None) -> str | None:
    """ISO 8601 in UTC; a time no date can show (a token from elsewhere) as its number."""
    if timestamp is None:
        return None
    moment = _time.utc(timestamp)
    if moment is None:
        return f"timestamp {timestamp}"
    return moment.isoformat().replace("+00:00", "Z")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _read_token(value: str) -> Token:
    if value == "-":
        value = sys.stdin.read().strip()
    try:
        return Token.load(value)
    except PyPITokenException as exc:
        _fail(f"cannot read the token: {exc}")


_WORDS: dict[type[r.Restriction], Callable[[Any], str]] = {
    r.DateRestriction: lambda x: (
        f"valid from {_iso(x.not_before)} until {_iso(x.not_after)} (excl)"
    ),
    r.LegacyDateRestriction: lambda x: (
        f"valid from {_iso(x.not_before)} until {_iso(x.not_after)} (excl, legacy)"
    ),
    r.ProjectNamesRestriction: lambda x: f"projects: {', '.join(x.project_names) or '(none)'}",
    r.LegacyProjectNamesRestriction: lambda x: (
        f"projects: {', '.join(x.project_names) or '(none)'} (legacy)"
    ),
    r.ProjectIDsRestriction: lambda x: f"project ids: {', '.join(x.project_ids) or '(none)'}",
    r.LegacyProjectIDsRestriction: lambda x: (
        f"project ids: {', '.join(x.project_ids) or '(none)'} (legacy)"
    ),
    r.UserIDRestriction: lambda x: f"user id: {x.user_id}",
    r.OIDCPublisherRestriction: lambda x: f"trusted publisher: {x.oidc_publisher_id}",
    r.LegacyNoopRestriction: lambda x: "no restriction (legacy noop)",
    r.ActionsRestriction: lambda x: f"actions: {', '.join(x.actions) or '(none)'}",
    r.IndexesRestriction: lambda x: f"indexes: {', '.join(x.indexes) or '(none)'}",
}


class _Admin:
    """Global options; the service is opened on first use, so offline commands need no store."""

    def __init__(self, db: str | None, secret_file: str | None, ownership: str, allow_delete: bool):
        self.db, self.secret_file = db, secret_file
        self.ownership, self.allow_delete = ownership, allow_delete
        self._service: TokenService | None = None

    def service(self) -> TokenService:
        if self._service is None:
            self._service = TokenService.from_url(
                self.db,
                secret_file=self.secret_file,
                ownership=self.ownership,
                allow_delete=self.allow_delete,
            )
            click.get_current_context().call_on_close(self._service.close)
        return self._service


pass_admin = click.make_pass_decorator(_Admin)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="PYPITOKEN_DB",
    metavar="URL",
    help="Store URL: sqlite:///path or postgresql://... [env PYPITOKEN_DB]",
)
@click.option(
    "--secret-file",
    envvar="PYPITOKEN_SECRET_FILE",
    metavar="PATH",
    help="Server secret file (default: next to the SQLite database).",
)
@click.option(
    "--ownership",
    type=click.Choice(OWNERSHIP_CHOICES),
    default="pypi",
    envvar="PYPITOKEN_OWNERSHIP",
    show_default=True,
    help="pypi: only owners and maintainers upload; open: any user uploads anywhere.",
)
@click.option(
    "--allow-delete",
    is_flag=True,
    envvar="PYPITOKEN_ALLOW_DELETE",
    help="Allow minting tokens with the delete action.",
)
@click.pass_context
def cli(
    ctx: click.Context, db: str | None, secret_file: str | None, ownership: str, allow_delete: bool
) -> None:
    """PyPI-style API tokens for self-hosted package indexes."""
    ctx.obj = _Admin(db, secret_file, ownership, allow_delete)


# -- offline ---------------------------------------------------------------------------


@cli.command()
@click.argument("token")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(token: str, as_json: bool) -> None:
    """Show a token's prefix, domain, identifier and restrictions (TOKEN or - for stdin)."""
    tok = _read_token(token)
    items = [i if isinstance(i, r.Restriction) else str(i) for i in tok._parsed()]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "prefix": tok.prefix,
                    "domain": tok.domain,
                    "identifier": tok.identifier,
                    "restrictions": [
                        i.dump() if isinstance(i, r.Restriction) else {"unknown": i} for i in items
                    ],
                },
                indent=2,
            )
        )
        return
    click.echo(f"prefix: {tok.prefix}\ndomain: {tok.domain}\nidentifier: {tok.identifier}")
    if not items:
        click.echo("restrictions: none (the token can do everything its owner can)")
    else:
        click.echo("restrictions:")
    for item in items:
        if isinstance(item, r.Restriction):
            click.echo(f"  - {_WORDS[type(item)](item)}")
        else:
            click.echo(f"  - not understood, so the token is refused: {item}")


@cli.command()
@click.argument("token")
@click.option(
    "--project", "projects", multiple=True, metavar="NAME", help="Only this project (repeatable)."
)
@click.option(
    "--project-id",
    "project_ids",
    multiple=True,
    metavar="ID",
    help="Only this project id (repeatable).",
)
@click.option("--user-id", metavar="ID", help="Only this user id.")
@click.option(
    "--expires",
    metavar="DURATION|DATETIME",
    help="Valid from now until then (1h, 2w, ISO 8601, epoch).",
)
@click.option(
    "--not-before", metavar="DATETIME", help="Start of the validity window (with --not-after)."
)
@click.option(
    "--not-after", metavar="DATETIME", help="End of the validity window (with --not-before)."
)
@click.option(
    "--action",
    "actions",
    multiple=True,
    type=click.Choice(r.ACTIONS),
    help="Only this action (repeatable).",
)
@click.option(
    "--index",
    "indexes",
    multiple=True,
    metavar="USER/INDEX",
    help="Only this devpi index (repeatable).",
)
def restrict(
    token: str,
    projects: tuple[str, ...],
    project_ids: tuple[str, ...],
    user_id: str | None,
    expires: str | None,
    not_before: str | None,
    not_after: str | None,
    actions: tuple[str, ...],
    indexes: tuple[str, ...],
) -> None:
    """Narrow a token offline and print it (TOKEN or - for stdin). Needs no key."""
    tok = _read_token(token)
    if expires is not None and (not_before or not_after):
        raise click.UsageError("use --expires, or --not-before with --not-after, not both")
    if expires is not None:
        nbf, exp = int(time.time()), parse_moment(expires, allow_duration=True)
    elif not_before or not_after:
        if not (not_before and not_after):
            raise click.UsageError("--not-before and --not-after go together")
        nbf, exp = parse_moment(not_before), parse_moment(not_after)
    else:
        nbf = exp = None
    if not (nbf is not None or projects or project_ids or user_id or actions or indexes):
        raise click.UsageError("give at least one restriction")
    try:
        tok.restrict(
            not_before=nbf,
            not_after=exp,
            project_names=projects or None,
            project_ids=project_ids or None,
            user_id=user_id,
            actions=actions or None,
            indexes=indexes or None,
        )
    except PyPITokenException as exc:
        _fail(str(exc))
    click.echo(tok.dump())


# -- admin -----------------------------------------------------------------------------


def _admin_errors(func: Callable[..., None]) -> Callable[..., None]:
    """Turn library errors (unknown user, duplicate name, unreachable store) into exit 1."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except PyPITokenException as exc:
            _fail(str(exc))

    return wrapper


@cli.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@pass_admin
@_admin_errors
def user_add(admin: _Admin, name: str) -> None:
    """Register a user."""
    record = admin.service().add_user(name)
    click.echo(f"added user {record.name} ({record.id})")


@user.command("list")
@pass_admin
@_admin_errors
def user_list(admin: _Admin) -> None:
    """List users."""
    for u in admin.service().list_users():
        click.echo(f"{u.name}\t{u.id}\t{_iso(u.created)}")


@user.command("remove")
@click.argument("name")
@pass_admin
@_admin_errors
def user_remove(admin: _Admin, name: str) -> None:
    """Remove a user; all their tokens are refused from now on."""
    admin.service().remove_user(name)
    click.echo(f"removed user {name}; their tokens are revoked")


@cli.group()
def project() -> None:
    """Manage projects and their maintainers."""


@project.command("add")
@click.argument("name")
@click.option("--owner", required=True, metavar="USER", help="The project's owner.")
@pass_admin
@_admin_errors
def project_add(admin: _Admin, name: str, owner: str) -> None:
    """Register a project with its owner."""
    record = admin.service().add_project(name, owner)
    click.echo(f"added project {record.name} ({record.id}) owned by {owner}")


@project.command("list")
@pass_admin
@_admin_errors
def project_list(admin: _Admin) -> None:
    """List projects and their roles."""
    service = admin.service()
    for p in service.list_projects():
        roles = ", ".join(f"{name} ({role})" for name, role in service.store.list_roles(p.id))
        click.echo(f"{p.name}\t{p.id}\t{roles}")


@project.command("add-maintainer")
@click.argument("name")
@click.argument("user_name", metavar="USER")
@pass_admin
@_admin_errors
def project_add_maintainer(admin: _Admin, name: str, user_name: str) -> None:
    """Let USER upload to project NAME."""
    admin.service().add_maintainer(name, user_name)
    click.echo(f"{user_name} now maintains {name}")


@cli.group()
def token() -> None:
    """Create, list, show and revoke tokens."""


def _record_json(service: TokenService, rec: TokenRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "user": service.user_name(rec.user_id),
        "user_id": rec.user_id,
        "description": rec.description,
        "projects": list(rec.projects),
        "indexes": list(rec.indexes),
        "actions": list(rec.actions),
        "created": _iso(rec.created),
        "not_before": _iso(rec.not_before),
        "expires": _iso(rec.expires),
        "last_used": _iso(rec.last_used),
        "revoked": rec.revoked,
    }


@token.command("create")
@click.option("--user", "user_name", required=True, metavar="NAME", help="The token's owner.")
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="NAME",
    help="Scope to this project (repeatable).",
)
@click.option("--expires", metavar="DURATION|DATETIME", help="1h, 2w, ISO 8601 or epoch seconds.")
@click.option("--actions", metavar="LIST", help="Comma-separated: upload,download[,delete].")
@click.option("--description", default="", help="What the token is for.")
@click.option(
    "--domain", metavar="DOMAIN", help="Location written in the token (default: the store's)."
)
@pass_admin
@_admin_errors
def token_create(
    admin: _Admin,
    user_name: str,
    projects: tuple[str, ...],
    expires: str | None,
    actions: str | None,
    description: str,
    domain: str | None,
) -> None:
    """Mint a token and print it (only the token, on stdout: it is shown once)."""
    expiry: datetime.datetime | datetime.timedelta | None = None
    if expires is not None:
        moment = parse_moment(expires, allow_duration=True)  # refuses times past year 9999
        if _DURATION.match(expires.strip()):
            # Counted from the mint, not from now: opening the store takes a moment (more
            # on a busy machine), and "1s" must not have run out before the token exists.
            expiry = datetime.timedelta(seconds=parse_duration(expires))
        else:
            expiry = datetime.datetime.fromtimestamp(moment, datetime.UTC)
    action_list = None if actions is None else [a.strip() for a in actions.split(",") if a.strip()]
    raw, _ = admin.service().mint(
        user_name,
        projects=projects,
        expires=expiry,
        actions=action_list,
        description=description,
        domain=domain,
    )
    click.echo(raw)


@token.command("list")
@click.option("--user", "user_name", metavar="NAME", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_admin
@_admin_errors
def token_list(admin: _Admin, user_name: str | None, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    service = admin.service()
    records = [_record_json(service, rec) for rec in service.list_tokens(user_name)]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for rec in records:
        state = "revoked" if rec["revoked"] else "active"
        scope = ",".join(rec["projects"]) or "all projects"
        click.echo(
            f"{rec['id']}\t{rec['user']}\t{state}\t{scope}\texpires {rec['expires'] or 'never'}"
            f"\tlast used {rec['last_used'] or 'never'}\t{rec['description']}"
        )


@token.command("show")
@click.argument("token_id", metavar="ID")
@pass_admin
@_admin_errors
def token_show(admin: _Admin, token_id: str) -> None:
    """Show one token's record (never its secret)."""
    service = admin.service()
    click.echo(json.dumps(_record_json(service, service.get_token(token_id)), indent=2))


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@pass_admin
@_admin_errors
def token_revoke(admin: _Admin, token_id: str) -> None:
    """Revoke a token: refused from the next request on, in every server process."""
    admin.service().revoke(token_id)
    click.echo(f"revoked {token_id}")


@cli.group()
def audit() -> None:
    """Read and prune the audit trail (mints, revocations, refusals)."""


@audit.command("list")
@click.option("--token", "token_id", metavar="ID", help="Only this token's events.")
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(min=0), help="Newest N."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_admin
@_admin_errors
def audit_list(admin: _Admin, token_id: str | None, limit: int, as_json: bool) -> None:
    """Show the newest events, newest first; repeated refusals are one line with a count."""
    events = [
        {
            "first": _iso(e.first_time),
            "last": _iso(e.time),
            "count": e.count,
            "event": e.event,
            "token_id": e.token_id,
            "user": e.user,
            "project": e.project,
            "action": e.action,
            "reason": e.reason,
        }
        for e in admin.service().store.list_events(limit=limit, token_id=token_id)
    ]
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    for e in events:
        when = e["last"] if e["count"] == 1 else f"{e['first']}..{e['last']} x{e['count']}"
        who = " ".join(
            f"{key}={e[key]}" for key in ("token_id", "user", "project", "action") if e[key]
        )
        click.echo(f"{when}\t{e['event']}\t{who}\t{e['reason']}")


@audit.command("prune")
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Drop events last seen longer ago than this (90d, 12w, ...).",
)
@click.option(
    "--keep", type=click.IntRange(min=0), metavar="N", help="Then keep only the newest N lines."
)
@pass_admin
@_admin_errors
def audit_prune(admin: _Admin, older_than: str | None, keep: int | None) -> None:
    """Drop old events by age, by count, or both (servers also cap the trail themselves)."""
    if older_than is None and keep is None:
        raise click.UsageError("give --older-than, --keep or both")
    before = None
    if older_than is not None:
        before = int(time.time()) - parse_duration(older_than)
        if not _time.in_range(before):
            raise click.BadParameter(f"{older_than!r} reaches back before year 1")
    dropped = admin.service().store.prune_events(before=before, keep=keep)
    click.echo(f"dropped {dropped} audit event(s)")


def main() -> None:
    """Console entry point."""
    cli(prog_name="pypitoken")
