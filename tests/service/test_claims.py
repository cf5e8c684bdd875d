"""Claiming projects: only a stored file makes its uploader a project's owner.

``authenticate`` and ``authorize_user`` never register a project; ``claim_upload`` does,
right before the index stores a file, and ``confirm_claim``/``release_claim`` settle it
once the write is done. A project the index holds files of but nobody owns is refused,
or adopted by the user the operator named.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pypitoken_core import NotFound, ValidationError
from pypitoken_core.service import Claim, Identity, TokenService
from tests.service.conftest import MakeService, delete, download, upload


def files(present: bool) -> Callable[[], bool]:
    return lambda: present


def never_asked() -> bool:
    raise AssertionError("has_files must not be read for a registered project")


def unowned(name: str) -> str:
    return (
        f"project '{name}' has files on this index but no owner; "
        f"an admin must run: pypitoken project add {name} --owner USER"
    )


def events(service: TokenService) -> list[tuple[str, str | None, str | None]]:
    return [(e.event, e.user, e.project) for e in reversed(service.store.list_events())]


@pytest.fixture
def bob(service: TokenService) -> Identity:
    raw, _ = service.mint("bob")
    return service.authenticate(raw, upload("new-name"))


@pytest.mark.parametrize("mode", ["pypi", "open"])
@pytest.mark.parametrize("context", [upload("new-name"), download("new-name"), delete("new-name")])
def test_checking_a_request_never_registers_a_project(
    make_service: MakeService, mode: str, context
) -> None:
    svc = make_service(ownership=mode, allow_delete=True)
    svc.add_user("alice")
    raw, _ = svc.mint("alice", actions=["upload", "download", "delete"])
    for check in (
        lambda: svc.authenticate(raw, context),
        lambda: svc.authorize_user("alice", context),
    ):
        try:
            check()
        except ValidationError as exc:
            assert str(exc) == "project 'new-name' does not exist"
    assert svc.list_projects() == []


def test_a_stored_first_file_claims_the_name(service: TokenService, bob: Identity) -> None:
    claim = service.claim_upload(bob, "New_Name", has_files=files(False))

    assert claim is not None
    project = service.store.get_project("new-name")
    assert project is not None
    assert claim == Claim("new-name", project.id, "bob")
    assert service.store.list_roles(project.id) == [("bob", "Owner")]
    service.confirm_claim(claim)
    assert events(service)[-1] == ("project_created", "bob", "new-name")
    # The owner's next file claims nothing new, and the index's files are not even read.
    assert service.claim_upload(bob, "new-name", has_files=never_asked) is None


def test_others_are_refused_once_claimed(service: TokenService, bob: Identity) -> None:
    alice_raw, record = service.mint("alice")
    alice = service.authenticate(alice_raw, upload("new-name"))  # both pass while it is new
    service.claim_upload(bob, "new-name", has_files=files(False))

    with pytest.raises(ValidationError, match=r"^user alice may not upload to project 'new-name'$"):
        service.claim_upload(alice, "new-name", has_files=never_asked)

    denied = service.store.list_events(1)[0]
    assert (denied.event, denied.token_id, denied.user, denied.project) == (
        "denied",
        record.id,
        "alice",
        "new-name",
    )
    service.add_maintainer("new-name", "alice")
    assert service.claim_upload(alice, "new-name", has_files=never_asked) is None


def test_a_failed_write_gives_the_name_back(service: TokenService, bob: Identity) -> None:
    claim = service.claim_upload(bob, "new-name", has_files=files(False))
    assert claim is not None

    service.release_claim(claim, has_files=files(False))

    assert service.store.get_project("new-name") is None
    assert events(service)[-1] == ("claim_released", "bob", "new-name")
    alice_raw, _ = service.mint("alice")
    alice = service.authenticate(alice_raw, upload("new-name"))
    assert service.claim_upload(alice, "new-name", has_files=files(False)) is not None


def test_release_keeps_a_claim_whose_project_has_a_file(
    service: TokenService, bob: Identity
) -> None:
    """Another upload of the same owner, relying on the claim, stored a file meanwhile."""
    claim = service.claim_upload(bob, "new-name", has_files=files(False))
    assert claim is not None

    service.release_claim(claim, has_files=files(True))

    project = service.store.get_project("new-name")
    assert project is not None and project.id == claim.project_id
    assert events(service)[-1] == ("project_created", "bob", "new-name")


def test_unowned_files_are_not_taken_over(service: TokenService, bob: Identity) -> None:
    carol = service.authorize_user("carol", upload("legacy"))
    for who in (bob, carol):
        with pytest.raises(ValidationError) as info:
            service.claim_upload(who, "Legacy", has_files=files(True))
        assert str(info.value) == unowned("legacy")
    assert service.store.get_project("legacy") is None
    assert [e[:2] for e in events(service)[-2:]] == [("denied", "bob"), ("denied", "carol")]

    service.add_project("legacy", "bob")  # what the reason tells the admin to run
    assert service.claim_upload(bob, "legacy", has_files=never_asked) is None


def test_open_mode_uploads_to_unowned_files_without_owning_them(
    make_service: MakeService,
) -> None:
    svc = make_service(ownership="open")
    svc.add_user("bob")
    raw, _ = svc.mint("bob")
    bob = svc.authenticate(raw, upload("legacy"))

    assert svc.claim_upload(bob, "legacy", has_files=files(True)) is None
    assert svc.store.get_project("legacy") is None
    claim = svc.claim_upload(bob, "brand-new", has_files=files(False))
    assert claim is not None and claim.user_name == "bob"


def test_adopt_for_gives_unowned_files_to_that_user(service: TokenService, bob: Identity) -> None:
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'legacy'$"):
        service.claim_upload(bob, "legacy", has_files=files(True), adopt_for="alice")

    project = service.store.get_project("legacy")
    assert project is not None
    assert service.store.list_roles(project.id) == [("alice", "Owner")]
    assert ("project_adopted", "alice", "legacy") in events(service)
    alice_raw, _ = service.mint("alice")
    alice = service.authenticate(alice_raw, upload("legacy"))
    assert service.claim_upload(alice, "legacy", has_files=never_asked, adopt_for="alice") is None
    # A new name is still its first uploader's.
    assert service.claim_upload(bob, "fresh", has_files=files(False), adopt_for="alice")


def test_adopt_for_a_user_removed_since_start_refuses(service: TokenService, bob: Identity) -> None:
    service.add_user("gone")
    service.remove_user("gone")
    with pytest.raises(ValidationError) as info:
        service.claim_upload(bob, "legacy", has_files=files(True), adopt_for="gone")
    assert str(info.value) == unowned("legacy")


def test_adopt_unowned_at_start(service: TokenService) -> None:
    adopted = service.adopt_unowned("alice", ["Zeta_Pkg", "foo", "zeta-pkg", "bad name!", "beta"])

    assert adopted == ["beta", "zeta-pkg"]
    for name in adopted:
        project = service.store.get_project(name)
        assert project is not None
        assert service.store.list_roles(project.id) == [("alice", "Owner")]
    assert service.adopt_unowned("bob", ["beta", "zeta-pkg", "foo"]) == []  # nothing new


@pytest.mark.parametrize("owner", ["nobody", "", "__token__"])
def test_adopt_unowned_needs_a_registered_user(service: TokenService, owner: str) -> None:
    with pytest.raises(NotFound, match=f"--adopt-unowned: unknown user '{owner}'"):
        service.adopt_unowned(owner, ["legacy"])
    assert service.store.get_project("legacy") is None


def test_claim_refuses_a_removed_user_and_a_bad_name(service: TokenService, bob: Identity) -> None:
    for bad in ("bad name!", "a\x00b", ""):
        with pytest.raises(ValidationError, match="invalid project name"):
            service.claim_upload(bob, bad, has_files=never_asked)
    service.remove_user("bob")
    with pytest.raises(ValidationError, match=r"^user bob no longer exists$"):
        service.claim_upload(bob, "new-name", has_files=never_asked)
    assert service.store.get_project("new-name") is None


def test_external_ownership_claims_nothing(make_service: MakeService) -> None:
    svc = make_service(ownership="external")
    svc.add_user("alice")
    raw, _ = svc.mint("alice")
    alice = svc.authenticate(raw, upload("anything"))

    assert svc.claim_upload(alice, "anything", has_files=never_asked) is None
    assert svc.list_projects() == []
