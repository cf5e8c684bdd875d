"""Admin commands: ``user``, ``project``, ``token`` and ``audit``, on the store of ``--db``.

A raw token is printed only by ``token create``, whose job is to hand it to its owner.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from .. import _time
from ..display import event_json, token_json, token_status
from ..exceptions import AlreadyExists, ValidationError
from ..service import TokenService
from ..store import TokenRecord
from ._common import (
    Admin,
    admin_errors,
    fail,
    iso,
    parse_duration,
    parse_expiry,
    parse_moment,
    pass_admin,
    table,
)

__all__ = ["audit", "project", "token", "user"]


@click.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@pass_admin
@admin_errors
def user_add(admin: Admin, name: str) -> None:
    """Register a user."""
    record = admin.service(create=True).add_user(name)
    click.echo(f"added user {record.name} ({record.id})")


@user.command("list")
@pass_admin
@admin_errors
def user_list(admin: Admin) -> None:
    """List users."""
    for u in admin.service().list_users():
        click.echo(f"{u.name}\t{u.id}\t{iso(u.created)}")


@user.command("remove")
@click.argument("name")
@click.option(
    "--transfer-to",
    metavar="USER",
    help="Make USER the owner of the projects NAME is the only owner of.",
)
@pass_admin
@admin_errors
def user_remove(admin: Admin, name: str, transfer_to: str | None) -> None:
    """Remove a user; all their tokens are refused from now on.

    Refused while NAME is the only owner of a project, unless --transfer-to names who
    takes those projects over: a project without an owner can take no uploads.
    """
    try:
        moved = admin.service().remove_user(name, transfer_to=transfer_to)
    except ValidationError as exc:
        fail(
            f"{exc} (add --transfer-to USER, or run `pypitoken project transfer PROJECT"
            " USER` or `pypitoken project remove PROJECT`)"
        )
    for project in moved:
        click.echo(f"{project.name} now belongs to {transfer_to}")
    click.echo(f"removed user {name}; their tokens are revoked")


@click.group()
def project() -> None:
    """Manage projects and their maintainers."""


@project.command("add")
@click.argument("name")
@click.option("--owner", required=True, metavar="USER", help="The project's owner.")
@pass_admin
@admin_errors
def project_add(admin: Admin, name: str, owner: str) -> None:
    """Register a project with its owner."""
    service = admin.service(create=True)
    try:
        record = service.add_project(name, owner)
    except AlreadyExists:
        existing = service.get_project(name)
        owners = [n for n, role in service.list_roles(existing) if role == "Owner"]
        fail(
            f"project {existing.name} already exists"
            + (f" (owned by {', '.join(owners)})" if owners else " (it has no owner)")
            + f"; to give it to {owner}: pypitoken project transfer {existing.name} {owner}"
        )
    click.echo(f"added project {record.name} ({record.id}) owned by {owner}")


@project.command("list")
@pass_admin
@admin_errors
def project_list(admin: Admin) -> None:
    """List projects and their roles."""
    service = admin.service()
    for p in service.list_projects():
        roles = ", ".join(f"{name} ({role})" for name, role in service.list_roles(p))
        click.echo(f"{p.name}\t{p.id}\t{roles}")


@project.command("add-maintainer")
@click.argument("name")
@click.argument("user_name", metavar="USER")
@pass_admin
@admin_errors
def project_add_maintainer(admin: Admin, name: str, user_name: str) -> None:
    """Let USER upload to project NAME."""
    admin.service().add_maintainer(name, user_name)
    click.echo(f"{user_name} now maintains {name}")


@project.command("remove-maintainer")
@click.argument("name")
@click.argument("user_name", metavar="USER")
@pass_admin
@admin_errors
def project_remove_maintainer(admin: Admin, name: str, user_name: str) -> None:
    """Stop USER maintaining project NAME (an owner must be transferred away instead)."""
    admin.service().remove_maintainer(name, user_name)
    click.echo(f"{user_name} no longer maintains {name}")


@project.command("transfer")
@click.argument("name")
@click.argument("user_name", metavar="USER")
@pass_admin
@admin_errors
def project_transfer(admin: Admin, name: str, user_name: str) -> None:
    """Make USER the owner of project NAME; its other owners become maintainers.

    Also gives a project that lost its owner (a removed user) a new one.
    """
    admin.service().transfer_project(name, user_name)
    click.echo(f"{name} now belongs to {user_name}")


@project.command("remove")
@click.argument("name")
@pass_admin
@admin_errors
def project_remove(admin: Admin, name: str) -> None:
    """Forget project NAME and its roles (its files stay on the index; tokens scoped to it
    stop working for any project registered later under the same name)."""
    admin.service().remove_project(name)
    click.echo(f"removed project {name}")


@click.group()
def token() -> None:
    """Create, list, show and revoke tokens."""


def _record_json(service: TokenService, rec: TokenRecord) -> dict[str, Any]:
    return token_json(rec, owner=service.user_name(rec.user_id))


@token.command("create")
@click.option("--user", "user_name", required=True, metavar="NAME", help="The token's owner.")
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="NAME",
    help="Scope to this project (repeatable).",
)
@click.option(
    "--expires",
    metavar="WHEN",
    help="1h, 30d, 2w, an ISO 8601 datetime with an offset, or @EPOCH (seconds).",
)
@click.option("--actions", metavar="LIST", help="Comma-separated: upload,download[,delete].")
@click.option("--description", default="", help="What the token is for.")
@click.option(
    "--domain", metavar="DOMAIN", help="Location written in the token (default: the store's)."
)
@pass_admin
@admin_errors
def token_create(
    admin: Admin,
    user_name: str,
    projects: tuple[str, ...],
    expires: str | None,
    actions: str | None,
    description: str,
    domain: str | None,
) -> None:
    """Mint a token and print it (only the token, on stdout: it is shown once)."""
    expiry = None if expires is None else parse_expiry(expires)
    action_list = None if actions is None else [a.strip() for a in actions.split(",") if a.strip()]
    raw, _ = admin.service(create=True).mint(
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
@admin_errors
def token_list(admin: Admin, user_name: str | None, as_json: bool) -> None:
    """List tokens (never their secrets): one row each, under a header."""
    service = admin.service()
    stored = service.list_tokens(user_name)
    records = [_record_json(service, rec) for rec in stored]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("no tokens", err=True)
        return
    now = int(time.time())
    rows = [("ID", "USER", "STATUS", "EXPIRES", "LAST USED", "SCOPE", "ACTIONS", "DESCRIPTION")]
    for rec, record in zip(records, stored, strict=True):
        rows.append(
            (
                rec["id"],
                rec["user"] or "(removed)",
                token_status(record.revoked, record.expires, now),
                rec["expires"] or "never",
                rec["last_used"] or "never",
                ",".join(rec["projects"]) or "all projects",
                ",".join(rec["actions"]),
                rec["description"],
            )
        )
    table(rows)


@token.command("show")
@click.argument("token_id", metavar="ID")
@pass_admin
@admin_errors
def token_show(admin: Admin, token_id: str) -> None:
    """Show one token's record (never its secret); ID may be any unique start of its id."""
    service = admin.service()
    click.echo(json.dumps(_record_json(service, service.find_token(token_id)), indent=2))


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@pass_admin
@admin_errors
def token_revoke(admin: Admin, token_id: str) -> None:
    """Revoke a token: refused from the next request on, in every server process.

    ID may be any unique start of the token's id (as `token list` shows it).
    """
    service = admin.service()
    record = service.find_token(token_id)
    service.revoke(record.id)
    click.echo(f"revoked {record.id}")


@click.group()
def audit() -> None:
    """Read and prune the audit trail (mints, revocations, refusals)."""


@audit.command("list")
@click.option("--user", "user_name", metavar="NAME", help="Only this user's events.")
@click.option("--token", "token_id", metavar="ID", help="Only this token's (any unique id start).")
@click.option("--project", metavar="NAME", help="Only this project's events.")
@click.option(
    "--kind",
    metavar="EVENT",
    help="Only this kind of event: denied, minted, revoked, claimed, ...",
)
@click.option(
    "--since", metavar="WHEN", help="Only events seen since then: 1d (ago), ISO 8601 or @EPOCH."
)
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(min=0), help="Newest N."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_admin
@admin_errors
def audit_list(
    admin: Admin,
    user_name: str | None,
    token_id: str | None,
    project: str | None,
    kind: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the newest events, newest first; repeated refusals are one line with a count."""
    after = None if since is None else parse_moment(since, ago=True)
    service = admin.service()
    whose = token_id
    if token_id is not None and len(token_id) != 36:  # a whole id may outlive its record
        whose = service.find_token(token_id).id
    found = service.list_events(
        limit=limit, token_id=whose, user=user_name, project=project, kind=kind, since=after
    )
    if as_json:
        events = [event_json(e) for e in found]
        click.echo(json.dumps(events, indent=2))
        return
    if not found:
        click.echo("no audit events", err=True)
        return
    header = ("FIRST SEEN", "LAST SEEN", "COUNT", "EVENT", "USER", "TOKEN", "PROJECT", "ACTION")
    rows: list[tuple[str, ...]] = [(*header, "REASON")]
    for e in found:
        rows.append(
            (
                iso(e.first_time) or "-",
                iso(e.time) or "-",
                str(e.count),
                e.event,
                e.user or "-",
                e.token_id or "-",
                e.project or "-",
                e.action or "-",
                e.reason,
            )
        )
    table(rows)


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
@admin_errors
def audit_prune(admin: Admin, older_than: str | None, keep: int | None) -> None:
    """Drop old events by age, by count, or both (servers also cap the trail themselves)."""
    if older_than is None and keep is None:
        raise click.UsageError("give --older-than, --keep or both")
    before = None
    if older_than is not None:
        before = int(time.time()) - parse_duration(older_than)
        if not _time.in_range(before):
            raise click.BadParameter(f"{older_than!r} reaches back before year 1")
    dropped = admin.service().prune_events(before=before, keep=keep)
    click.echo(f"dropped {dropped} audit event(s)")
