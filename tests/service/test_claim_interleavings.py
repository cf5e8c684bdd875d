"""Claims that meet another first upload, and the claim rules in open mode.

``claim_upload`` reads the project, asks the index whether it holds files of it, and only
then registers the name. Another process can claim the name in between: here that other
upload runs inside ``has_files`` (the moment the index looks at its files), which is
exactly where a concurrent first upload fits, so each interleaving is reproduced with
real stores and no stand-ins. Whatever the interleaving, the name ends up with one owner
and the loser is told so, as if it had come second.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pypitoken_core import ValidationError
from pypitoken_core.service import Identity, TokenService
from tests.service.conftest import MakeService, upload


def holder(service: TokenService, name: str) -> Identity:
    raw, _ = service.mint(name)
    return service.authenticate(raw, upload("contested"))


def claimed_meanwhile(service: TokenService, by: Identity, *, files: bool) -> Callable[[], bool]:
    """``has_files`` for an upload that ``by``'s first upload of "contested" overtakes."""

    def has_files() -> bool:
        claim = service.claim_upload(by, "contested", has_files=lambda: False)
        assert claim is not None
        service.confirm_claim(claim)
        return files

    return has_files


@pytest.mark.parametrize("files", [True, False], ids=["file-shown", "file-not-yet-shown"])
def test_a_claim_overtaken_by_another_first_upload_is_refused(
    service: TokenService, files: bool
) -> None:
    bob, alice = holder(service, "bob"), holder(service, "alice")
    overtaken = claimed_meanwhile(service, alice, files=files)

    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'contested'$"):
        service.claim_upload(bob, "contested", has_files=overtaken)

    project = service.store.get_project("contested")
    assert project is not None
    assert service.store.list_roles(project.id) == [("alice", "Owner")]


@pytest.mark.parametrize("files", [True, False], ids=["file-shown", "file-not-yet-shown"])
def test_a_claim_overtaken_by_its_own_owner_goes_ahead(service: TokenService, files: bool) -> None:
    # The positive control: the same interleaving, where the winner is the same user.
    alice = holder(service, "alice")
    overtaken = claimed_meanwhile(service, alice, files=files)

    assert service.claim_upload(alice, "contested", has_files=overtaken) is None


def test_open_mode_uploads_to_a_registered_project_of_another_user(
    make_service: MakeService,
) -> None:
    svc = make_service(ownership="open")
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("theirs", owner="alice")
    raw, _ = svc.mint("bob")
    bob = svc.authenticate(raw, upload("theirs"))

    assert svc.claim_upload(bob, "theirs", has_files=lambda: True) is None
    project = svc.store.get_project("theirs")
    assert project is not None
    assert svc.store.list_roles(project.id) == [("alice", "Owner")]


def test_pypi_mode_refuses_the_same_upload(service: TokenService) -> None:
    # The control of the open-mode test: alice owns foo.
    raw, _ = service.mint("bob")
    bob = service.authenticate(raw, upload("bar"))

    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.claim_upload(bob, "foo", has_files=lambda: True)


def test_an_upload_that_names_no_project_claims_nothing(service: TokenService) -> None:
    # An adapter that found no name in the request passes None.
    bob = holder(service, "bob")

    with pytest.raises(ValidationError, match=r"^the upload names no project$"):
        service.claim_upload(bob, None, has_files=lambda: False)  # type: ignore[arg-type]
    assert service.claim_upload(bob, "named", has_files=lambda: False) is not None


def test_adopting_skips_what_is_not_a_name(service: TokenService) -> None:
    # The names come from the index's package directory; anything else is skipped, whole.
    found = [None, 123, b"bytes", "Good_One", "bad name!"]
    assert service.adopt_unowned("alice", found) == ["good-one"]  # type: ignore[list-item]
    assert [p.name for p in service.list_projects()] == ["foo", "good-one"]
