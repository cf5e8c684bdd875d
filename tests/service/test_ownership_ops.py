"""Owners manage their projects: maintainers, transfers, removal, and no dead ends.

``by`` names the user who asks (they must own the project); None is an administrator
(the admin CLI, an index's named admins). Every change writes its audit line. Removing
a user never leaves a project without an owner unless told where the projects go.
Reproduces issue 13 point 9: ``user remove alice`` used to leave her projects ownerless,
after which nobody (not even an admin) could upload.
"""

from __future__ import annotations

import pytest

from pypitoken_core import InvalidInput, InvalidRestriction, NotFound, ValidationError
from pypitoken_core.service import TokenService
from tests.service.conftest import MakeService, download, upload


def roles(service: TokenService, project: str = "foo") -> list[tuple[str, str]]:
    return service.list_roles(service.get_project(project))


def events(service: TokenService) -> list[tuple[str, str | None, str | None, str]]:
    return [
        (e.event, e.user, e.project, e.reason)
        for e in reversed(service.store.list_events())
        if e.event not in ("minted", "denied")
    ]


@pytest.fixture
def carol(service: TokenService) -> str:
    service.add_user("carol")
    return "carol"


# -- maintainers --------------------------------------------------------------------------


def test_an_owner_adds_and_removes_a_maintainer(service: TokenService) -> None:
    raw, _ = service.mint("bob")
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.authenticate(raw, upload("foo"))

    service.add_maintainer("foo", "bob", by="alice")
    assert roles(service) == [("alice", "Owner"), ("bob", "Maintainer")]
    assert service.authenticate(raw, upload("foo")).user_name == "bob"

    service.remove_maintainer("foo", "bob", by="alice")
    assert roles(service) == [("alice", "Owner")]
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.authenticate(raw, upload("foo"))
    assert events(service) == [
        ("maintainer_added", "bob", "foo", "by alice"),
        ("maintainer_removed", "bob", "foo", "by alice"),
    ]


def test_a_maintainer_cannot_do_what_owners_do(service: TokenService, carol: str) -> None:
    service.add_maintainer("foo", "bob")
    for attempt in (
        lambda: service.add_maintainer("foo", "carol", by="bob"),
        lambda: service.remove_maintainer("foo", "alice", by="bob"),
        lambda: service.transfer_project("foo", "bob", by="bob"),
        lambda: service.transfer_project("foo", "carol", by="bob"),
    ):
        with pytest.raises(ValidationError, match=r"^user bob does not own project 'foo'$"):
            attempt()
    with pytest.raises(ValidationError, match=r"^user carol does not own project 'foo'$"):
        service.remove_maintainer("foo", "bob", by="carol")
    assert roles(service) == [("alice", "Owner"), ("bob", "Maintainer")]
    assert events(service) == [("maintainer_added", "bob", "foo", "by an administrator")]


def test_a_maintainer_may_leave(service: TokenService) -> None:
    service.add_maintainer("foo", "bob", by="alice")
    service.remove_maintainer("foo", "bob", by="bob")
    assert roles(service) == [("alice", "Owner")]


def test_an_owner_is_never_removed_or_demoted_as_a_maintainer(service: TokenService) -> None:
    with pytest.raises(
        ValidationError,
        match=r"^user alice owns project 'foo'; transfer it to another user first$",
    ):
        service.remove_maintainer("foo", "alice", by="alice")
    with pytest.raises(ValidationError, match=r"^user alice owns project 'foo'; transfer"):
        service.remove_maintainer("foo", "alice")  # not even by an administrator
    with pytest.raises(ValidationError, match=r"^user alice already owns project 'foo'$"):
        service.add_maintainer("foo", "alice")
    assert roles(service) == [("alice", "Owner")]


def test_unknown_projects_users_and_roles(service: TokenService) -> None:
    with pytest.raises(NotFound, match=r"^unknown project 'nope'$"):
        service.add_maintainer("nope", "bob", by="alice")
    with pytest.raises(NotFound, match=r"^unknown user 'nobody'$"):
        service.add_maintainer("foo", "nobody", by="alice")
    with pytest.raises(NotFound, match=r"^user bob does not maintain project 'foo'$"):
        service.remove_maintainer("foo", "bob", by="alice")
    with pytest.raises(InvalidInput, match="invalid project name"):
        service.transfer_project("bad name!", "bob")
    service.add_maintainer("FOO", "bob", by="alice")  # names are normalised
    assert roles(service) == [("alice", "Owner"), ("bob", "Maintainer")]


# -- transfers ----------------------------------------------------------------------------


def test_an_owner_transfers_a_project(service: TokenService, carol: str) -> None:
    service.add_maintainer("foo", "carol", by="alice")
    alice_raw, _ = service.mint("alice", projects=["foo"])

    service.transfer_project("foo", "bob", by="alice")

    assert roles(service) == [("alice", "Maintainer"), ("bob", "Owner"), ("carol", "Maintainer")]
    # alice still uploads (a maintainer now); bob manages the project.
    assert service.authenticate(alice_raw, upload("foo")).user_name == "alice"
    with pytest.raises(ValidationError, match=r"^user alice does not own project 'foo'$"):
        service.remove_maintainer("foo", "carol", by="alice")
    service.remove_maintainer("foo", "alice", by="bob")
    assert roles(service) == [("bob", "Owner"), ("carol", "Maintainer")]
    with pytest.raises(ValidationError, match=r"^user alice may not upload to project 'foo'$"):
        service.authenticate(alice_raw, upload("foo"))
    assert ("project_transferred", "bob", "foo", "by alice") in events(service)


def test_an_administrator_gives_an_ownerless_project_an_owner(service: TokenService) -> None:
    """The dead end of issue 13: the store lost the project's only owner (a removal from
    before this check, or one racing an upload); an administrator gives it a new one."""
    service.store.remove_user("alice")  # behind the service's back
    bob_raw, _ = service.mint("bob")
    assert roles(service) == []
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.authenticate(bob_raw, upload("foo"))
    service.transfer_project("foo", "bob")
    assert roles(service) == [("bob", "Owner")]
    assert service.authenticate(bob_raw, upload("foo")).user_name == "bob"


# -- removing users and projects ----------------------------------------------------------


def test_removing_a_sole_owner_is_refused_until_told_where_the_projects_go(
    service: TokenService, carol: str
) -> None:
    """Issue 13 point 9: this used to leave foo without an owner."""
    service.add_project("bar", "alice")
    service.add_project("shared", "alice")
    service.transfer_project("shared", "carol")  # alice is no longer its only owner...
    service.directory.set_role(  # type: ignore[union-attr]
        service.get_project("shared").id, service.store.get_user("alice").id, "Owner"
    )  # ...but one of two
    assert [p.name for p in service.sole_owned_projects("alice")] == ["bar", "foo"]
    with pytest.raises(
        ValidationError,
        match=r"^user alice is the only owner of projects 'bar', 'foo': name the user who"
        r" takes them over, or transfer or remove them first$",
    ):
        service.remove_user("alice")
    assert service.store.get_user("alice") is not None  # nothing happened
    assert roles(service, "bar") == [("alice", "Owner")]

    service.remove_user("alice", transfer_to="bob")

    assert service.store.get_user("alice") is None
    assert roles(service, "bar") == [("bob", "Owner")]
    assert roles(service, "foo") == [("bob", "Owner")]
    assert roles(service, "shared") == [("carol", "Owner")]
    bob_raw, _ = service.mint("bob", projects=["foo"])
    assert service.authenticate(bob_raw, upload("foo")).user_name == "bob"
    assert events(service)[-3:] == [
        ("project_transferred", "bob", "bar", "from alice, who was removed"),
        ("project_transferred", "bob", "foo", "from alice, who was removed"),
        ("user_removed", "alice", None, "user removed"),
    ]


def test_a_user_owning_nothing_alone_is_removed_at_once(service: TokenService) -> None:
    service.add_maintainer("foo", "bob")
    service.remove_user("bob")
    assert service.store.get_user("bob") is None
    assert roles(service) == [("alice", "Owner")]


def test_a_sole_owner_of_one_project_is_told_its_name(service: TokenService) -> None:
    with pytest.raises(
        ValidationError,
        match=r"^user alice is the only owner of project 'foo': name the user who takes them",
    ):
        service.remove_user("alice")
    service.remove_user("alice", transfer_to="bob")
    assert roles(service) == [("bob", "Owner")]


def test_transfer_to_is_asked_only_when_there_is_something_to_transfer(
    service: TokenService,
) -> None:
    # bob owns nothing alone: whom his projects would go to is not a question, so even
    # himself is no refusal (alice, who owns foo alone, is refused that: the test below).
    service.add_maintainer("foo", "bob")
    service.remove_user("bob", transfer_to="bob")
    assert service.store.get_user("bob") is None
    assert roles(service) == [("alice", "Owner")]


def test_transfer_to_must_be_someone_else_who_exists(service: TokenService) -> None:
    with pytest.raises(NotFound, match=r"^unknown user 'nobody'$"):
        service.remove_user("alice", transfer_to="nobody")
    with pytest.raises(InvalidInput, match="cannot take over their own projects"):
        service.remove_user("alice", transfer_to="alice")
    with pytest.raises(NotFound, match=r"^unknown user 'nobody'$"):
        service.remove_user("nobody", transfer_to="bob")
    assert roles(service) == [("alice", "Owner")]
    assert service.store.get_user("alice") is not None


def test_removing_a_project(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["foo"])
    service.remove_project("foo")
    with pytest.raises(NotFound, match=r"^unknown project 'foo'$"):
        service.get_project("foo")
    with pytest.raises(NotFound, match=r"^unknown project 'foo'$"):
        service.remove_project("foo")
    # A new project of the same name has a new id: the old token does not reach it.
    new = service.add_project("foo", "bob")
    with pytest.raises(ValidationError) as info:
        service.authenticate(raw, download("foo"))
    assert str(info.value) == (
        f"This token can only be used for project(s): {record.project_ids[0]}. Received: {new.id}"
    )
    assert ("project_removed", None, "foo", "by an administrator") in events(service)


def test_list_user_projects(service: TokenService) -> None:
    service.add_project("bar", "bob")
    service.add_maintainer("foo", "bob")
    assert [(p.name, role) for p, role in service.list_user_projects("bob")] == [
        ("bar", "Owner"),
        ("foo", "Maintainer"),
    ]
    with pytest.raises(NotFound):
        service.list_user_projects("nobody")


# -- the maximum lifetime, for administrators ---------------------------------------------


def test_unlimited_tokens_outlive_the_maximum_lifetime(make_service: MakeService) -> None:
    svc = make_service(max_lifetime=3600)
    svc.add_user("root")
    with pytest.raises(InvalidRestriction, match="must expire within 3600 seconds"):
        svc.mint("root", expires=7200)
    _, record = svc.mint("root", expires=7200, unlimited=True)
    assert record.expires == record.created + 7200
    _, forever = svc.mint("root", unlimited=True)
    assert forever.expires is None
