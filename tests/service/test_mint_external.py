"""Minting where the index keeps the projects (``external`` ownership, devpi).

The service then knows no project ids: a project-scoped token carries the project names
only, and no user-id caveat (the names scope it, as on pypi.org); a token without projects
is user-wide and carries the user id.
"""

from __future__ import annotations

from pypitoken_core import Token
from pypitoken_core.restrictions import ProjectNamesRestriction, UserIDRestriction
from tests.service.conftest import MakeService


def test_a_project_token_names_its_projects_and_nothing_else(make_service: MakeService) -> None:
    svc = make_service(ownership="external")
    alice = svc.add_user("alice")

    scoped, record = svc.mint("alice", projects=["Foo_Bar"])
    assert Token.load(scoped).restrictions == [ProjectNamesRestriction(["foo-bar"])]
    assert (record.projects, record.project_ids, record.user_id) == (("foo-bar",), (), alice.id)

    user_wide, _ = svc.mint("alice")
    assert Token.load(user_wide).restrictions == [UserIDRestriction(alice.id)]
