"""Ownership modes: who may mint for, act on and claim a project. One small policy per mode.

The index picks a mode (``TokenService(ownership=...)``): ``pypi`` (the first user to store a
file of a project owns it; owners and maintainers upload), ``open`` (any registered user
uploads anywhere, pypiserver's own behaviour) or ``external`` (the index server enforces
the owner's rights itself, as devpi's ACLs do). A policy only decides: it is handed the
user, the project and the role the service read, and answers with a reason or None.
"""

from __future__ import annotations

from typing import ClassVar

from . import names
from ._text import short_repr
from .exceptions import ConfigurationError
from .store import Project, User
from .token import TOKEN_USERNAME

__all__ = [
    "MAINTAINER",
    "OWNER",
    "OWNERSHIP_CHOICES",
    "OWNERSHIP_MODES",
    "Ownership",
    "bad_project_name",
    "is_user_name",
    "ownership_policy",
]

OWNER, MAINTAINER = "Owner", "Maintainer"

_MAX_USER_NAME = 200


def is_user_name(name: object) -> bool:
    """Printable, non-blank, not the token pseudo-user, and of a sane length."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= _MAX_USER_NAME
        and name.strip() == name
        and name != TOKEN_USERNAME
        and name.isprintable()
    )


def bad_project_name(name: object) -> str | None:
    """Why ``name``, from outside, cannot be a project name (None: it can).

    A name that fails here never reaches a store query or the audit trail.
    """
    if names.is_valid(name):
        return None
    return (
        f"invalid project name {short_repr(name)} (a project name has letters, digits and"
        f" '-_.', starts and ends with a letter or digit, and has at most"
        f" {names.MAX_LENGTH} characters)"
    )


class Ownership:
    """The rules of one ownership mode; this base holds what every mode shares.

    ``keeps_projects``: whether the service registers projects and roles in this mode (and
    so looks them up, writes their ids into tokens, and claims new names).
    """

    name: ClassVar[str]
    keeps_projects: ClassVar[bool] = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def mint_refusal(self, user: User, project: Project, role: str | None) -> str | None:
        """Why ``user`` (``role`` on ``project``) may not mint a token scoped to it."""
        return None

    def use_refusal(
        self,
        user: User,
        action: str | None,
        name: str | None,
        project: Project | None,
        role: str | None,
    ) -> str | None:
        """Why ``user`` may not do ``action`` on the project called ``name`` (None: may).

        ``project`` is its registration (None if unregistered) and ``role`` the user's
        role on it. Downloads, uses that name no project, and a first upload (which claims
        the name only when its file is stored) are everyone's.
        """
        if action == "download" or name is None:
            return None
        if project is None:
            # Anyone registered may start a new project, but this request may store
            # nothing (pypiserver ignores `submit`, refuses a bad file): it gets the name
            # only through a claim, right before its file is written.
            return None if action == "upload" else f"project {name!r} does not exist"
        return self._registered_refusal(user, action, name, role)

    def _registered_refusal(
        self, user: User, action: str | None, name: str, role: str | None
    ) -> str | None:
        # Deleting stays with the owners in every mode: open mode shares uploads, not removal.
        if role is None or (action == "delete" and role != OWNER):
            verb = "delete from" if action == "delete" else "upload to"
            return f"user {user.name} may not {verb} project {name!r}"
        return None

    def unowned_refusal(self, name: str) -> str | None:
        """Why a file of ``name``, which the index holds files of but nobody owns, may not be
        stored (None: it may, and nobody becomes its owner)."""
        return (
            f"project {name!r} has files on this index but no owner; "
            f"an admin must run: pypitoken project add {name} --owner USER"
        )


class _PyPI(Ownership):
    """pypi.org's rules: projects have owners; only owners and maintainers upload."""

    name = "pypi"

    def mint_refusal(self, user: User, project: Project, role: str | None) -> str | None:
        if role is None:
            return f"user {user.name} may not upload to project {project.name!r}"
        return None


class _Open(Ownership):
    """Any registered user uploads anywhere; deleting stays with the owners."""

    name = "open"

    def _registered_refusal(
        self, user: User, action: str | None, name: str, role: str | None
    ) -> str | None:
        if action == "upload":
            return None
        return super()._registered_refusal(user, action, name, role)

    def unowned_refusal(self, name: str) -> str | None:
        return None


class _External(Ownership):
    """The index server enforces the owner's rights itself; the service keeps no projects."""

    name = "external"
    keeps_projects = False

    def use_refusal(
        self,
        user: User,
        action: str | None,
        name: str | None,
        project: Project | None,
        role: str | None,
    ) -> str | None:
        return None

    def unowned_refusal(self, name: str) -> str | None:
        return None


_MODES: dict[str, Ownership] = {mode.name: mode for mode in (_PyPI(), _Open(), _External())}

#: ``pypi``: the first user to store a file of a project owns it; only owners and
#: maintainers upload.
#: ``open``: any registered user may upload anywhere (pypiserver's own behaviour).
#: ``external``: the index server enforces the owner's rights itself (devpi's ACLs).
OWNERSHIP_MODES: tuple[str, ...] = tuple(_MODES)

#: The modes an operator chooses between (``external`` is for adapters, such as devpi's,
#: whose index server enforces the owner's rights itself).
OWNERSHIP_CHOICES: tuple[str, ...] = ("pypi", "open")


def ownership_policy(mode: str) -> Ownership:
    """The policy of ``mode`` (one of :data:`OWNERSHIP_MODES`); :class:`ConfigurationError`
    for any other."""
    policy = _MODES.get(mode) if isinstance(mode, str) else None
    if policy is None:
        raise ConfigurationError(f"ownership must be one of {', '.join(OWNERSHIP_MODES)}")
    return policy
