"""Claiming project names: a project is taken by the first upload that stores a file of it.

Nothing else claims a name: a request that stores nothing never owns one. The index asks
:meth:`ProjectClaims.claim_upload` right before it writes a file, and confirms or releases
the claim once it knows whether the file was stored. Who may upload at all is the
ownership policy's to say; this module does the reads and writes around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import names
from ._audit import Auditor, Refusal, event
from ._identity import Identity
from ._ownership import Ownership, bad_project_name, is_user_name
from .exceptions import AlreadyExists, NotFound, ValidationError
from .restrictions import Context
from .store import Directory, Project, User

__all__ = ["Claim", "ProjectClaims"]

# What refusals of a claim are folded under in the audit trail.
_KIND = "refused"


@dataclass(frozen=True, slots=True)
class Claim:
    """A new project taken for ``user_name`` by the upload about to store its first file."""

    project: str
    project_id: str
    user_name: str


class ProjectClaims:
    """Claims, adoption and release of project names in ``store``, under ``policy``."""

    def __init__(self, store: Directory, policy: Ownership, audit: Auditor) -> None:
        self._store = store
        self._policy = policy
        self._audit = audit

    def __repr__(self) -> str:
        return f"<ProjectClaims ownership={self._policy.name!r}>"

    def claim_upload(
        self,
        identity: Identity,
        project: str,
        *,
        has_files: Callable[[], bool],
        adopt_for: str | None = None,
    ) -> Claim | None:
        """See :meth:`TokenService.claim_upload`."""
        if not self._policy.keeps_projects:
            return None
        name = Context(project).project_name  # normalised as every use is
        if name is None:
            raise ValidationError("the upload names no project")
        bad = bad_project_name(name)
        if bad is not None:
            raise ValidationError(bad)
        user = self._store.get_user_by_id(identity.user_id)
        if user is None:
            raise ValidationError(f"user {identity.user_name} no longer exists")
        outcome = self._claim(user, name, has_files, adopt_for)
        if isinstance(outcome, Refusal):
            self._audit.denied(
                outcome, token_id=identity.token_id, user=user.name, project=name, action="upload"
            )
            raise outcome.error()
        return outcome

    def _claim(
        self, user: User, name: str, has_files: Callable[[], bool], adopt_for: str | None
    ) -> Claim | Refusal | None:
        project = self._store.get_project(name)
        if project is None and has_files():
            # Read again after seeing files: a concurrent first upload claims before it
            # writes, so once its file shows, its claim is there to be read.
            project = self._store.get_project(name) or self._adopt(name, adopt_for)
            if project is None:
                # Files nobody owns: anyone may add to them in open mode (and nobody
                # becomes their owner), else the admin names the owner.
                unowned = self._policy.unowned_refusal(name)
                return None if unowned is None else Refusal((unowned,), _KIND)
        elif project is None:
            try:
                project = self._store.add_project(name, user.id)
            except AlreadyExists:  # another first upload took it a moment ago
                project = self._store.get_project(name)
                if project is None:
                    return Refusal((f"project {name!r} is changing owner; try again",), _KIND)
            else:
                return Claim(name, project.id, user.name)
        role = self._store.get_role(project.id, user.id)
        refused = self._policy.use_refusal(user, "upload", name, project, role)
        return None if refused is None else Refusal((refused,), _KIND)

    def confirm(self, claim: Claim) -> None:
        """See :meth:`TokenService.confirm_claim`."""
        self._audit.record(
            event(
                "project_created",
                user=claim.user_name,
                project=claim.project,
                reason="first upload",
            )
        )

    def release(self, claim: Claim, *, has_files: Callable[[], bool]) -> None:
        """See :meth:`TokenService.release_claim`."""
        if has_files():
            self.confirm(claim)
            return
        self._store.remove_project(
            claim.project_id,
            event=event(
                "claim_released",
                user=claim.user_name,
                project=claim.project,
                action="upload",
                reason="the upload stored no file",
            ),
        )

    def adopt_unowned(self, owner: str, projects: Iterable[str]) -> list[str]:
        """See :meth:`TokenService.adopt_unowned`."""
        user = self._store.get_user(owner) if is_user_name(owner) else None
        if user is None:
            raise NotFound(
                f"--adopt-unowned: unknown user {owner!r}; "
                f"register it first with `pypitoken user add {owner}`"
            )
        known = {p.name for p in self._store.list_projects()}
        adopted = []
        for project in projects:
            name = names.normalize(project) if isinstance(project, str) else ""
            if name in known or not names.is_normalized(name):
                continue
            known.add(name)
            if self._adopt(name, owner) is not None:
                adopted.append(name)
        return sorted(adopted)

    def _adopt(self, name: str, owner: str | None) -> Project | None:
        """Register ``name`` as ``owner``'s (None: nobody adopts); the project after that."""
        if owner is None:
            return None
        user = self._store.get_user(owner)
        if user is None:
            return None
        try:
            project = self._store.add_project(name, user.id)
        except AlreadyExists:
            return self._store.get_project(name)
        except NotFound:  # the adopting user was removed a moment ago
            return None
        self._audit.record(
            event("project_adopted", user=owner, project=name, reason="unowned files")
        )
        return project
