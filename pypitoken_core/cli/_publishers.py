"""``pypitoken publisher``: the trusted publishers of the store of ``--db``.

``add github|gitlab|oidc`` registers one, ``list`` shows them, ``remove`` removes one and
revokes the tokens minted for it. A publisher uploads on behalf of the user who registered
it (``--user``, by default the owner of the project named); a project that does not exist
yet is pending: the first publish creates it. Adding the same publisher (same workflow,
same user) for another project adds the project to it, as on pypi.org: its tokens are for
all its projects.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..display import publisher_json
from ..oidc import describe_record, from_record, gitlab_token_variable
from ..store import PublisherRecord
from ._common import Admin, admin_errors, fail, pass_admin

__all__ = ["publisher"]


@click.group()
def publisher() -> None:
    """Manage trusted publishers (CI workflows that upload without a stored secret)."""


@publisher.group("add")
def add() -> None:
    """Register a trusted publisher."""


_project = click.option(
    "--project",
    "projects",
    multiple=True,
    required=True,
    metavar="NAME",
    help="Project it may upload to (repeat for several; a new name is created by its first"
    " publish).",
)
_user = click.option(
    "--user", default=None, help="Who it uploads as (default: the project's owner)."
)
_environment = click.option(
    "--environment", default="", help="Only jobs running in this deployment environment."
)


def _added(record: PublisherRecord) -> None:
    shown = from_record(record).describe()
    click.echo(f"publisher {record.id} ({shown}) for {_projects(record)}")


def _projects(record: PublisherRecord) -> str:
    """``a, b (pending: its first publish creates it)``, or the names alone."""
    return ", ".join(
        f"{name} (pending: its first publish creates it)" if name in record.pending else name
        for name in record.projects
    )


@add.command("github")
@_project
@click.option("--repository", required=True, metavar="OWNER/REPO", help="The repository.")
@click.option("--workflow", required=True, metavar="FILE", help="e.g. release.yml")
@_environment
@click.option(
    "--owner-id",
    default="",
    metavar="N",
    help="GitHub's numeric id of the owner (pins it: a re-created account cannot take over).",
)
@click.option(
    "--issuer", default=None, metavar="URL", help="For GitHub Enterprise Server: its issuer."
)
@_user
@pass_admin
@admin_errors
def add_github(
    admin: Admin,
    projects: tuple[str, ...],
    repository: str,
    workflow: str,
    environment: str,
    owner_id: str,
    issuer: str | None,
    user: str | None,
) -> None:
    """A GitHub Actions workflow."""
    fields: dict[str, Any] = {
        "repository": repository,
        "workflow": workflow,
        "environment": environment,
        "owner_id": owner_id,
        "issuer": issuer,
    }
    service = admin.service()
    _added(service.add_publisher("github", fields, projects=projects, user=user))


@add.command("gitlab")
@_project
@click.option(
    "--repository",
    required=True,
    metavar="NAMESPACE/PROJECT",
    help="The GitLab project path (subgroups allowed).",
)
@click.option(
    "--ci-config",
    default=".gitlab-ci.yml",
    show_default=True,
    metavar="PATH",
    help="The CI configuration file of the pipeline.",
)
@_environment
@click.option("--issuer", default=None, metavar="URL", help="For self-managed GitLab: its URL.")
@_user
@pass_admin
@admin_errors
def add_gitlab(
    admin: Admin,
    projects: tuple[str, ...],
    repository: str,
    ci_config: str,
    environment: str,
    issuer: str | None,
    user: str | None,
) -> None:
    """A GitLab CI pipeline. The job must declare the index's OIDC token (printed here)."""
    fields: dict[str, Any] = {
        "project_path": repository,
        "ci_config": ci_config,
        "environment": environment,
        "issuer": issuer,
    }
    service = admin.service()
    _added(service.add_publisher("gitlab", fields, projects=projects, user=user))
    audience = service.publisher_audience()
    click.echo(
        f"the job needs: id_tokens: {{{gitlab_token_variable(audience)}: {{aud: {audience}}}}}"
    )


def _claim(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE")
    return key, value


@add.command("oidc")
@_project
@click.option("--issuer", required=True, metavar="URL", help="The OIDC issuer.")
@click.option(
    "--claim",
    "claims",
    multiple=True,
    required=True,
    metavar="KEY=VALUE",
    help="A claim the token must carry with exactly this value (repeat; include sub).",
)
@_user
@pass_admin
@admin_errors
def add_oidc(
    admin: Admin,
    projects: tuple[str, ...],
    issuer: str,
    claims: tuple[str, ...],
    user: str | None,
) -> None:
    """Any OIDC issuer (Forgejo or Gitea Actions, Buildkite, Keycloak, ...)."""
    pairs = dict(_claim(text) for text in claims)
    if len(pairs) != len(claims):
        fail("each claim may be given once")
    service = admin.service()
    fields = {"issuer": issuer, "claims": pairs}
    _added(service.add_publisher("oidc", fields, projects=projects, user=user))


@publisher.command("list")
@click.option("--user", default=None, help="Only those registered by this user.")
@click.option("--json", "as_json", is_flag=True, help="JSON, one object per publisher.")
@pass_admin
@admin_errors
def list_publishers(admin: Admin, user: str | None, as_json: bool) -> None:
    """List trusted publishers."""
    service = admin.service()
    records = service.list_publishers(user)
    if as_json:
        shown = [publisher_json(r, added_by=service.user_name(r.added_by)) for r in records]
        click.echo(json.dumps(shown, indent=2))
        return
    for record in records:
        by = service.user_name(record.added_by) or "(removed user)"
        click.echo(f"{record.id}\t{_projects(record)}\t{describe_record(record)}\tby {by}")


@publisher.command("remove")
@click.argument("publisher_id", metavar="ID")
@pass_admin
@admin_errors
def remove(admin: Admin, publisher_id: str) -> None:
    """Remove a trusted publisher; the tokens minted for it are revoked."""
    admin.service().remove_publisher(publisher_id)
    click.echo(f"removed publisher {publisher_id}; its tokens are revoked")
