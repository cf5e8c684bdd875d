"""The ``pypitoken`` command: inspect and restrict tokens offline, administer a store,
and manage one's own tokens on an index.

Offline: ``inspect`` and ``restrict`` need no key and no database. Admin: ``user``,
``project``, ``token`` and ``audit`` work on the store named by ``--db`` / ``$PYPITOKEN_DB``.
Client: ``remote`` talks to an index's token API (``--url``), as one of its users.
A raw token is printed only by ``token create`` and ``restrict``, the commands whose job
is to hand one to its owner; errors never echo it. Pass ``-`` to read a token from
standard input and keep it out of the shell history.

Layout: ``_common`` (what every command shares), ``_offline``, ``_admin``, ``_client``; this module
builds the group and adds each module's commands. A new family of commands is a module
beside them, added below.
"""

from __future__ import annotations

import click

from ..service import OWNERSHIP_CHOICES
from . import _admin, _client, _offline
from ._common import Admin
from ._common import parse_duration as parse_duration
from ._common import parse_moment as parse_moment

__all__ = ["cli", "main", "parse_duration", "parse_moment"]


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
    ctx.obj = Admin(db, secret_file, ownership, allow_delete)


for command in (
    _offline.inspect,
    _offline.restrict,
    _admin.user,
    _admin.project,
    _admin.token,
    _admin.audit,
    _client.remote,
):
    cli.add_command(command)


def main() -> None:
    """Console entry point."""
    cli(prog_name="pypitoken")
