"""Reading the directory back: user names by id (also of removed users) and project roles."""

from __future__ import annotations

from pypitoken_core.service import TokenService


def test_a_user_id_names_its_user_until_the_user_is_removed(service: TokenService) -> None:
    alice, bob = service.store.get_user("alice"), service.store.get_user("bob")
    assert alice is not None and bob is not None
    service.remove_user("bob")
    assert service.user_name(bob.id) is None
    assert service.user_name(alice.id) == "alice"


def test_the_roles_of_a_project_are_its_own(service: TokenService) -> None:
    service.add_project("bar", owner="bob")
    service.add_maintainer("foo", "bob")
    foo, bar = service.list_projects()[1], service.list_projects()[0]
    assert (foo.name, bar.name) == ("foo", "bar")
    assert service.list_roles(foo) == [("alice", "Owner"), ("bob", "Maintainer")]
    assert service.list_roles(bar) == [("bob", "Owner")]
