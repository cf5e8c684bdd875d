"""TokenService.mint: identifiers, location, prefix, caveats and records, who may mint what."""

from __future__ import annotations

import datetime
import re
import time
import uuid
from pathlib import Path

import pypitoken
import pytest

from pypitoken_core import (
    ActionsRestriction,
    ConfigurationError,
    DateRestriction,
    InvalidInput,
    InvalidRestriction,
    NotFound,
    ProjectIDsRestriction,
    ProjectNamesRestriction,
    Token,
    UserIDRestriction,
    ValidationError,
)
from pypitoken_core.service import DEFAULT_ACTIONS, TokenService, derive_key
from tests.service.conftest import MakeService, upload

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_identifier_is_a_fresh_lowercase_uuid4(service: TokenService) -> None:
    ids = set()
    for _ in range(20):
        raw, record = service.mint("alice")
        assert UUID4.match(record.id)
        assert uuid.UUID(record.id).version == 4
        assert Token.load(raw).identifier == record.id
        ids.add(record.id)
    assert len(ids) == 20
    assert {r.id for r in service.list_tokens("alice")} == ids


def test_users_and_projects_get_lowercase_uuid4_ids(service: TokenService) -> None:
    for item in [*service.list_users(), *service.list_projects()]:
        assert UUID4.match(item.id), item


def test_location_is_the_configured_domain(make_service: MakeService) -> None:
    svc = make_service(domain="pkgs.example.org")
    svc.add_user("alice")
    raw, _ = svc.mint("alice")
    assert Token.load(raw).domain == "pkgs.example.org"
    raw, _ = svc.mint("alice", domain="other.example.org")
    assert Token.load(raw).domain == "other.example.org"


def test_default_domain_is_localhost(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    assert Token.load(raw).domain == "localhost"


def test_prefix_is_pypi_by_default_and_configurable(make_service: MakeService) -> None:
    svc = make_service(prefix="acme")
    svc.add_user("alice")
    raw, _ = svc.mint("alice")
    assert raw.startswith("acme-")
    assert svc.authenticate(raw, upload("new")).user_name == "alice"
    default = make_service()
    raw, _ = default.mint("alice")
    assert raw.startswith("pypi-")


@pytest.mark.parametrize("prefix", ["", "py-pi"])
def test_bad_prefix_is_refused_at_construction(make_service: MakeService, prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        make_service(prefix=prefix)


def test_bad_configuration_is_refused(make_service: MakeService) -> None:
    with pytest.raises(ConfigurationError, match="ownership"):
        make_service(ownership="anarchy")
    with pytest.raises(ConfigurationError, match="secret"):
        make_service(secret=b"short")
    with pytest.raises(ConfigurationError, match="secret"):
        make_service(secret="a str is not bytes, however long it is")


def test_user_wide_token_carries_the_user_id_caveat(service: TokenService) -> None:
    raw, record = service.mint("alice", description="laptop")
    alice = service.store.get_user("alice")
    assert alice is not None
    assert Token.load(raw).restrictions == [UserIDRestriction(user_id=alice.id)]
    assert record.user_id == alice.id
    assert record.projects == () and record.project_ids == ()
    assert record.actions == DEFAULT_ACTIONS
    assert record.description == "laptop"
    assert record.expires is None and record.not_before is None
    assert record.last_used is None and record.revoked is False
    assert abs(record.created - time.time()) < 60


def test_project_token_carries_name_and_id_caveats(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["Foo"])
    foo = service.store.get_project("foo")
    assert foo is not None
    assert Token.load(raw).restrictions == [
        ProjectNamesRestriction(project_names=["foo"]),
        ProjectIDsRestriction(project_ids=[foo.id]),
    ]
    assert record.projects == ("foo",)
    assert record.project_ids == (foo.id,)


def test_restrictions_are_on_the_record_and_in_the_caveats(make_service: MakeService) -> None:
    svc = make_service(allow_delete=True)
    svc.add_user("alice")
    svc.add_project("foo", "alice")
    raw, record = svc.mint(
        "alice",
        projects=["foo"],
        expires=datetime.timedelta(hours=1),
        actions=["upload", "delete"],
    )
    found = Token.load(raw).restrictions
    assert isinstance(found[0], DateRestriction)
    assert found[0].not_after == record.expires
    assert found[0].not_before == record.created
    assert record.expires == record.created + 3600
    assert ActionsRestriction(actions=["upload", "delete"]) in found
    assert record.actions == ("upload", "delete")


def test_expiry_forms(service: TokenService) -> None:
    _, rel = service.mint("alice", expires=600)
    assert rel.expires == rel.created + 600
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)
    _, absolute = service.mint("alice", expires=moment)
    assert absolute.expires == int(moment.timestamp())
    _, window = service.mint("alice", expires=7200, not_before=3600)
    assert window.not_before == window.created + 3600
    assert window.expires == window.created + 7200


def test_bad_expiry_is_refused(service: TokenService) -> None:
    with pytest.raises(InvalidRestriction, match=r"^expires must be in the future$"):
        service.mint("alice", expires=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    naive = "Received a naive datetime for `expires`"
    with pytest.raises(InvalidRestriction, match=naive):
        service.mint("alice", expires=datetime.datetime(2100, 1, 1))  # naive: no offset
    with pytest.raises(InvalidRestriction, match=r"^not_before needs expires$"):
        service.mint("alice", not_before=60)
    assert service.list_tokens() == []
    service.mint("alice", expires=datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC))
    service.mint("alice", not_before=60, expires=120)


def test_default_actions_write_no_actions_caveat(service: TokenService) -> None:
    raw, record = service.mint("alice", actions=["download", "upload"])
    assert not any(isinstance(r, ActionsRestriction) for r in Token.load(raw).restrictions)
    assert set(record.actions) == {"upload", "download"}
    raw, record = service.mint("alice", actions=["download"])
    assert ActionsRestriction(actions=["download"]) in Token.load(raw).restrictions
    assert record.actions == ("download",)


def test_unknown_action_is_refused(service: TokenService) -> None:
    with pytest.raises(InvalidRestriction, match="unknown action"):
        service.mint("alice", actions=["upload", "publish"])


def test_delete_only_where_the_server_enables_it(make_service: MakeService) -> None:
    svc = make_service()
    svc.add_user("alice")
    with pytest.raises(InvalidRestriction, match="delete"):
        svc.mint("alice", actions=["delete"])
    enabled = make_service(allow_delete=True)
    _, record = enabled.mint("alice", actions=["upload", "download", "delete"])
    assert "delete" in record.actions
    # Not even a server that enables delete adds it to a token unless asked.
    _, record = enabled.mint("alice")
    assert "delete" not in record.actions


def test_mint_for_unknown_user(service: TokenService) -> None:
    with pytest.raises(NotFound, match="unknown user 'carol'"):
        service.mint("carol")


def test_project_token_needs_an_existing_project(service: TokenService) -> None:
    # A first upload uses a user-wide token, as on pypi.org.
    with pytest.raises(NotFound, match="unknown project 'nothere'"):
        service.mint("alice", projects=["nothere"])
    assert service.list_tokens() == []


def test_project_token_needs_upload_rights_in_pypi_mode(service: TokenService) -> None:
    with pytest.raises(ValidationError, match="user bob may not upload to project 'foo'"):
        service.mint("bob", projects=["foo"])
    service.add_maintainer("foo", "bob")
    _, record = service.mint("bob", projects=["foo"])
    assert record.projects == ("foo",)


def test_project_token_for_anyone_in_open_mode(make_service: MakeService) -> None:
    svc = make_service(ownership="open")
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("foo", "alice")
    _, record = svc.mint("bob", projects=["foo"])
    assert record.projects == ("foo",)


def test_invalid_names(service: TokenService) -> None:
    for bad in ("", "   ", "__token__"):
        with pytest.raises(InvalidInput, match=f"^invalid user name {bad!r}$"):
            service.add_user(bad)
    with pytest.raises(InvalidInput, match=r"^invalid project name 'not a valid name!' "):
        service.add_project("not a valid name!", "alice")
    assert service.add_user("carol").name == "carol"
    assert service.add_project("a-valid-name", "carol").name == "a-valid-name"


def test_salts_are_random_and_the_key_is_derived_from_them(
    service: TokenService, secret: bytes
) -> None:
    raw1, rec1 = service.mint("alice", projects=["foo"])
    raw2, rec2 = service.mint("alice", projects=["foo"])
    assert len(rec1.salt) >= 16
    assert rec1.salt != rec2.salt
    foo = service.store.get_project("foo")
    assert foo is not None
    for raw, rec in ((raw1, rec1), (raw2, rec2)):
        key = derive_key(secret, rec.salt)
        Token.load(raw).check(key, project_name="foo", project_id=foo.id)
    with pytest.raises(ValidationError, match="Signatures do not match"):
        Token.load(raw1).check(derive_key(secret, rec2.salt), project_name="foo", project_id=foo.id)


def test_pypitoken_reads_and_checks_our_tokens(service: TokenService, secret: bytes) -> None:
    """pypitoken 7.1.1 understands the user_id and project caveats we write."""
    foo = service.store.get_project("foo")
    alice = service.store.get_user("alice")
    assert foo is not None and alice is not None
    raw, rec = service.mint("alice", projects=["foo"], expires=3600)
    theirs = pypitoken.Token.load(raw)
    assert len(theirs.restrictions) == 3
    theirs.check(
        key=derive_key(secret, rec.salt), project_name="foo", project_id=foo.id, user_id=alice.id
    )
    with pytest.raises(pypitoken.ValidationError, match=r"project\(s\): foo\. Received: bar$"):
        theirs.check(
            key=derive_key(secret, rec.salt),
            project_name="bar",
            project_id=foo.id,
            user_id=alice.id,
        )
    raw, rec = service.mint("alice")
    theirs = pypitoken.Token.load(raw)
    theirs.check(
        key=derive_key(secret, rec.salt), project_name="any", project_id="x", user_id=alice.id
    )
    refused = f"user with id: {alice.id}. Received: other$"
    with pytest.raises(pypitoken.ValidationError, match=refused):
        theirs.check(
            key=derive_key(secret, rec.salt), project_name="any", project_id="x", user_id="other"
        )


def test_empty_action_list_is_refused(service: TokenService) -> None:
    """A token that may do nothing is a caller's mistake; refuse it rather than mint it."""
    with pytest.raises(InvalidRestriction, match="action"):
        service.mint("alice", actions=[])
    assert service.list_tokens() == []


def test_a_servers_domain_becomes_the_stores_default(tmp_path: Path) -> None:
    """The index's --token-domain is what the admin CLI's tokens carry later by default."""
    url = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    server = TokenService.from_url(url, domain="pypi.example.com")
    server.add_user("alice")
    server.close()
    admin = TokenService.from_url(url)
    try:
        raw, _ = admin.mint("alice")
        assert Token.load(raw).domain == "pypi.example.com"
        raw, _ = admin.mint("alice", domain="other.example.com")
        assert Token.load(raw).domain == "other.example.com"
    finally:
        admin.close()
