"""Offline commands: ``inspect`` and ``restrict`` a token; they need no key and no store."""

from __future__ import annotations

import json
import time

import click

from .. import names
from .. import restrictions as r
from ..exceptions import PyPITokenException
from ..token import Token
from ._common import fail, parse_moment, read_token

__all__ = ["inspect", "restrict"]


@click.command()
@click.argument("token")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(token: str, as_json: bool) -> None:
    """Show a token's prefix, domain, identifier and restrictions (TOKEN or - for stdin)."""
    tok = read_token(token)
    items = [i if isinstance(i, r.Restriction) else str(i) for i in tok.inspect()]
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
            click.echo(f"  - {item.describe()}")
        else:
            click.echo(f"  - not understood, so the token is refused: {item}")


@click.command()
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
    metavar="WHEN",
    help="Valid from now until then: 1h, 2w, an ISO 8601 datetime with an offset, or @EPOCH.",
)
@click.option(
    "--not-before", metavar="WHEN", help="Start of the validity window (with --not-after)."
)
@click.option("--not-after", metavar="WHEN", help="End of the validity window (with --not-before).")
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
    tok = read_token(token)
    if expires is not None and (not_before or not_after):
        raise click.UsageError("use --expires, or --not-before with --not-after, not both")
    nbf: int | None
    exp: int | None
    if expires is not None:
        nbf, exp = int(time.time()), parse_moment(expires)
    elif not_before or not_after:
        if not (not_before and not_after):
            raise click.UsageError("--not-before and --not-after go together")
        nbf, exp = parse_moment(not_before), parse_moment(not_after)
    else:
        nbf = exp = None
    if not (nbf is not None or projects or project_ids or user_id or actions or indexes):
        raise click.UsageError("give at least one restriction")
    warnings = _outside(tok, "project", [names.normalize(p) for p in projects]) + _outside(
        tok, "project id", list(project_ids)
    )
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
        fail(str(exc))
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(tok.dump())


_SCOPES: dict[str, tuple[tuple[type[r.Restriction], ...], str]] = {
    "project": ((r.ProjectNamesRestriction, r.LegacyProjectNamesRestriction), "project_names"),
    "project id": ((r.ProjectIDsRestriction, r.LegacyProjectIDsRestriction), "project_ids"),
}


def _outside(tok: Token, kind: str, asked: list[str]) -> list[str]:
    """Why narrowing to ``asked`` makes a token that fails for some or all of them.

    Caveats only narrow: a use must pass every one, so a project outside a scope the
    token already has can never be used, whatever this restriction says.
    """
    classes, field = _SCOPES[kind]
    try:
        scopes = [set(getattr(x, field)) for x in tok.restrictions if isinstance(x, classes)]
    except PyPITokenException:  # a caveat we cannot read: the token fails anyway
        return []
    if not asked or not scopes:
        return []
    allowed = set.intersection(*scopes)
    outside = [a for a in asked if a not in allowed]
    if not outside:
        return []
    limit = f"{kind} " + ", ".join(repr(a) for a in sorted(allowed)) if allowed else f"no {kind}"
    listed = ", ".join(repr(o) for o in outside)
    effect = (
        "the new token can never be used"
        if len(outside) == len(asked)
        else f"the new token can never be used for {listed}"
    )
    return [f"the token is already limited to {limit}; {listed} is outside it, so {effect}"]
