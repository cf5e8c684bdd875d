"""TokenService.authenticate and authorize_user: ownership, actions, reasons, order, audit."""

from __future__ import annotations

import datetime
import time

import pytest

from pypitoken_core import Context, NotFound, Token, ValidationError
from pypitoken_core.service import INVALID_TOKEN, Identity, TokenService
from pypitoken_core.store import TokenStore
from pypitoken_core.token import MAX_TOKEN_LENGTH
from tests.service.conftest import MakeService, delete, download, upload


def refused(service: TokenService, raw: str, context: Context) -> str:
    with pytest.raises(ValidationError) as info:
        service.authenticate(raw, context)
    return str(info.value)


# -- happy paths and ownership -------------------------------------------------------------


def test_happy_path_returns_who_acts(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["foo"])
    alice = service.store.get_user("alice")
    assert alice is not None
    assert service.authenticate(raw, upload("foo")) == Identity("alice", alice.id, record.id)
    assert service.authenticate(raw, download("FOO")) == Identity("alice", alice.id, record.id)


def test_first_uploader_becomes_owner_in_pypi_mode(service: TokenService) -> None:
    alice_raw, _ = service.mint("alice")
    bob_raw, _ = service.mint("bob")
    bob = service.authenticate(bob_raw, upload("Brand_New"))
    assert bob.user_name == "bob"
    # Authenticating claims nothing: the name is taken when bob's file is stored.
    assert service.store.get_project("brand-new") is None
    claim = service.claim_upload(bob, "Brand_New", has_files=lambda: False)
    assert claim is not None
    project = service.store.get_project("brand-new")
    assert project is not None
    assert service.store.list_roles(project.id) == [("bob", "Owner")]
    reason = refused(service, alice_raw, upload("brand-new"))
    assert reason == "user alice may not upload to project 'brand-new'"
    assert service.authenticate(bob_raw, upload("brand-new")).user_name == "bob"


def test_others_cannot_upload_in_pypi_mode(service: TokenService) -> None:
    raw, _ = service.mint("bob")
    assert refused(service, raw, upload("foo")) == "user bob may not upload to project 'foo'"


def test_maintainers_added_by_owner_can_upload(service: TokenService) -> None:
    raw, _ = service.mint("bob")
    assert refused(service, raw, upload("foo")) == "user bob may not upload to project 'foo'"
    service.add_maintainer("foo", "bob")
    assert service.authenticate(raw, upload("foo")).user_name == "bob"
    foo = service.store.get_project("foo")
    assert foo is not None
    assert service.store.list_roles(foo.id) == [("alice", "Owner"), ("bob", "Maintainer")]


def test_open_mode_lets_any_registered_user_upload(make_service: MakeService) -> None:
    svc = make_service(ownership="open")
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("foo", "alice")
    raw, _ = svc.mint("bob")
    assert svc.authenticate(raw, upload("foo")).user_name == "bob"
    assert svc.authenticate(raw, upload("never-seen")).user_name == "bob"


def test_download_allowed_for_every_registered_user(service: TokenService) -> None:
    raw, _ = service.mint("bob")
    assert service.authenticate(raw, download("foo")).user_name == "bob"
    assert service.authenticate(raw, download("does-not-exist")).user_name == "bob"
    assert service.authenticate(raw, download(None)).user_name == "bob"


def test_a_token_never_does_what_its_owner_cannot(make_service: MakeService) -> None:
    """A token minted where bob could upload stops working when he no longer can."""
    open_svc = make_service(ownership="open")
    open_svc.add_user("alice")
    open_svc.add_user("bob")
    open_svc.add_project("foo", "alice")
    raw, _ = open_svc.mint("bob", projects=["foo"])
    assert open_svc.authenticate(raw, upload("foo")).user_name == "bob"
    pypi_svc = make_service(ownership="pypi")
    assert refused(pypi_svc, raw, upload("foo")) == "user bob may not upload to project 'foo'"
    assert pypi_svc.authenticate(raw, download("foo")).user_name == "bob"


# -- password users ------------------------------------------------------------------------


def test_password_users_are_registered_on_first_use(service: TokenService) -> None:
    identity = service.authorize_user("carol", upload("carols-pkg"))
    carol = service.store.get_user("carol")
    assert carol is not None
    assert identity == Identity("carol", carol.id, None)
    assert service.claim_upload(identity, "carols-pkg", has_files=lambda: False) is not None
    project = service.store.get_project("carols-pkg")
    assert project is not None
    assert service.store.list_roles(project.id) == [("carol", "Owner")]
    # Same user again: no second registration.
    assert service.authorize_user("carol", upload("carols-pkg")).user_id == carol.id
    assert [u.name for u in service.list_users()].count("carol") == 1


def test_password_users_follow_the_same_rules(service: TokenService) -> None:
    with pytest.raises(ValidationError, match="user bob may not upload to project 'foo'"):
        service.authorize_user("bob", upload("foo"))
    assert service.authorize_user("bob", download("foo")).user_name == "bob"
    assert service.authorize_user("alice", upload("foo")).user_name == "alice"
    service.add_maintainer("foo", "bob")
    assert service.authorize_user("bob", upload("foo")).user_name == "bob"


def test_password_user_is_the_registered_user_of_the_same_name(service: TokenService) -> None:
    """A project created by a password upload is the token user's project, and vice versa."""
    alice = service.authorize_user("alice", upload("by-password"))
    service.claim_upload(alice, "by-password", has_files=lambda: False)
    raw, _ = service.mint("alice", projects=["by-password"])
    assert service.authenticate(raw, upload("by-password")).user_name == "alice"
    bob_raw, _ = service.mint("bob")
    bob = service.authenticate(bob_raw, upload("by-token"))
    service.claim_upload(bob, "by-token", has_files=lambda: False)
    assert service.authorize_user("bob", upload("by-token")).user_name == "bob"
    with pytest.raises(ValidationError, match="user alice may not upload"):
        service.authorize_user("alice", upload("by-token"))


def test_password_users_in_open_mode(make_service: MakeService) -> None:
    svc = make_service(ownership="open")
    svc.add_user("alice")
    svc.add_project("foo", "alice")
    assert svc.authorize_user("dave", upload("foo")).user_name == "dave"


# -- delete --------------------------------------------------------------------------------


def test_delete_refused_unless_enabled(make_service: MakeService) -> None:
    enabled = make_service(allow_delete=True)
    enabled.add_user("alice")
    enabled.add_project("foo", "alice")
    raw, _ = enabled.mint("alice", actions=["upload", "download", "delete"])
    assert enabled.authenticate(raw, delete("foo")).user_name == "alice"
    disabled = make_service()
    assert refused(disabled, raw, delete("foo")) == "deleting is not enabled on this server"
    with pytest.raises(ValidationError, match="deleting is not enabled"):
        disabled.authorize_user("alice", delete("foo"))


def test_delete_needs_the_delete_action(make_service: MakeService) -> None:
    svc = make_service(allow_delete=True)
    svc.add_user("alice")
    svc.add_project("foo", "alice")
    raw, _ = svc.mint("alice")
    assert refused(svc, raw, delete("foo")) == "not valid for action 'delete'"


def test_delete_is_for_owners_only(make_service: MakeService) -> None:
    svc = make_service(allow_delete=True)
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("foo", "alice")
    svc.add_maintainer("foo", "bob")
    raw, _ = svc.mint("bob", projects=["foo"], actions=["upload", "delete"])
    assert svc.authenticate(raw, upload("foo")).user_name == "bob"
    assert refused(svc, raw, delete("foo")) == "user bob may not delete from project 'foo'"
    with pytest.raises(ValidationError, match="may not delete from project 'foo'"):
        svc.authorize_user("bob", delete("foo"))
    assert refused(svc, raw, delete("nothing")) == "not valid for project 'nothing'"


def test_delete_is_for_owners_only_in_open_mode_too(make_service: MakeService) -> None:
    """Open mode opens uploads to everyone; deleting someone else's project stays the owner's."""
    svc = make_service(allow_delete=True, ownership="open")
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("foo", "alice")
    raw, _ = svc.mint("bob", actions=["upload", "download", "delete"])
    assert svc.authenticate(raw, upload("foo")).user_name == "bob"
    assert refused(svc, raw, delete("foo")) == "user bob may not delete from project 'foo'"


def test_delete_of_a_missing_project(make_service: MakeService) -> None:
    svc = make_service(allow_delete=True)
    svc.add_user("alice")
    raw, _ = svc.mint("alice", actions=["delete"])
    assert refused(svc, raw, delete("ghost")) == "project 'ghost' does not exist"
    assert svc.store.get_project("ghost") is None


# -- restrictions: record, caveats, offline narrowing --------------------------------------


def test_project_token_is_refused_elsewhere(service: TokenService) -> None:
    service.add_project("bar", "alice")
    raw, _ = service.mint("alice", projects=["foo"])
    assert refused(service, raw, upload("bar")) == "not valid for project 'bar'"
    assert refused(service, raw, download("bar")) == "not valid for project 'bar'"
    assert "names none" in refused(service, raw, upload(None))


def test_narrowed_actions(service: TokenService) -> None:
    raw, _ = service.mint("alice", actions=["download"])
    assert service.authenticate(raw, download("foo")).user_name == "alice"
    assert refused(service, raw, upload("foo")) == "not valid for action 'upload'"
    assert refused(service, raw, Context("foo")) == "the request's action is unknown"


def test_expired_token(service: TokenService) -> None:
    raw, record = service.mint("alice", expires=3600)
    assert record.expires is not None
    assert service.authenticate(raw, upload("foo", now=record.expires - 1)).user_name == "alice"
    reason = refused(service, raw, upload("foo", now=record.expires))
    stamp = datetime.datetime.fromtimestamp(record.expires, datetime.UTC)
    assert reason.startswith("token expired at ")
    assert stamp.strftime("%Y-%m-%d %H:%M:%S") in reason


def test_not_yet_valid_token(service: TokenService) -> None:
    raw, record = service.mint("alice", expires=7200, not_before=3600)
    assert record.not_before is not None
    assert refused(service, raw, upload("foo", now=record.created)).startswith(
        "token not valid before "
    )
    assert service.authenticate(raw, upload("foo", now=record.not_before)).user_name == "alice"


def test_offline_narrowing_is_enforced(service: TokenService) -> None:
    service.add_project("bar", "alice")
    raw, _ = service.mint("alice")
    alice = service.store.get_user("alice")
    assert alice is not None

    narrowed = Token.load(raw).restrict(project_names=["foo"]).dump()
    assert service.authenticate(narrowed, upload("foo")).user_name == "alice"
    only = "This token can only be used"
    assert refused(service, narrowed, upload("bar")) == f"{only} for project(s): foo. Received: bar"

    now = int(time.time())
    expired = Token.load(raw).restrict(not_before=now - 100, not_after=now - 10).dump()
    assert refused(service, expired, upload("foo", now=now)) == (
        f"{only} between timestamps {now - 100} (incl) and {now - 10} (excl). Received: {now}"
    )

    download_only = Token.load(raw).restrict(actions=["download"]).dump()
    assert service.authenticate(download_only, download("foo")).user_name == "alice"
    assert refused(service, download_only, upload("foo")) == (
        f"{only} for action(s): download. Received: upload"
    )

    nobody = "00000000-0000-4000-8000-000000000000"
    other_user = Token.load(raw).restrict(user_id=nobody).dump()
    assert refused(service, other_user, upload("foo")) == (
        f"{only} by user with id: {nobody}. Received: {alice.id}"
    )

    bar = service.store.get_project("bar")
    foo = service.store.get_project("foo")
    assert bar is not None and foo is not None
    by_id = Token.load(raw).restrict(project_ids=[bar.id]).dump()
    assert service.authenticate(by_id, upload("bar")).user_name == "alice"
    assert refused(service, by_id, upload("foo")) == (
        f"{only} for project(s): {bar.id}. Received: {foo.id}"
    )
    same_user = Token.load(raw).restrict(user_id=alice.id).dump()
    assert service.authenticate(same_user, upload("foo")).user_name == "alice"


def test_offline_narrowing_cannot_widen(service: TokenService) -> None:
    raw, _ = service.mint("alice", projects=["foo"], actions=["download"])
    service.add_project("bar", "alice")
    widened = (
        Token.load(raw)
        .restrict(project_names=["foo", "bar"], actions=["download", "upload"])
        .dump()
    )
    assert refused(service, widened, upload("foo")) == "not valid for action 'upload'"
    assert refused(service, widened, download("bar")) == "not valid for project 'bar'"
    assert service.authenticate(widened, download("foo")).user_name == "alice"


def test_location_is_informational(make_service: MakeService) -> None:
    from pypitoken_core import _macaroon

    svc = make_service(domain="a.example")
    svc.add_user("alice")
    raw, _ = svc.mint("alice")
    token = Token.load(raw)
    moved = token._raw._replace(location=b"elsewhere.example")
    raw_moved = "pypi-" + _macaroon.b64encode(_macaroon.encode(moved))
    assert Token.load(raw_moved).domain == "elsewhere.example"
    assert svc.authenticate(raw_moved, upload("foo")).user_name == "alice"
    other = make_service(domain="b.example")
    assert other.authenticate(raw, upload("foo")).user_name == "alice"


# -- refusals in the order the issue gives ---------------------------------------------------


@pytest.mark.parametrize("bad", [None, b"pypi-abc", 42])
def test_non_string_token(service: TokenService, bad: object) -> None:
    assert refused(service, bad, upload("foo")) == "malformed token"  # type: ignore[arg-type]


def test_huge_string_is_refused_before_decoding(service: TokenService) -> None:
    raw, _ = service.mint("alice")
    assert refused(service, "pypi-" + "A" * 10_000_000, upload("foo")) == "malformed token"
    padded = raw + "A" * (MAX_TOKEN_LENGTH + 1 - len(raw))
    assert refused(service, padded, upload("foo")) == "malformed token"


@pytest.mark.parametrize("prefix", ["pypj", "PYPI", "acme", ""])
def test_other_prefix_is_refused(service: TokenService, prefix: str) -> None:
    raw, _ = service.mint("alice")
    other = prefix + raw[len("pypi") :]
    assert "must start with 'pypi-'" in refused(service, other, upload("foo"))


def test_service_with_own_prefix_refuses_pypi(make_service: MakeService) -> None:
    pypi = make_service()
    acme = make_service(prefix="acme")
    pypi.add_user("alice")
    raw, _ = pypi.mint("alice")
    assert "must start with 'acme-'" in refused(acme, raw, upload("foo"))


@pytest.mark.parametrize("body", ["", "!!!", "AgEI", "é", "pypi-"])
def test_malformed_token(service: TokenService, body: str) -> None:
    assert refused(service, "pypi-" + body, upload("foo")).startswith("malformed token")


def test_unknown_identifier(service: TokenService, secret: bytes) -> None:
    foreign = Token.create("localhost", "0f8f1e7c-9b55-4a52-9a34-3e08f3d0a2a5", secret).dump()
    assert refused(service, foreign, upload("foo")) == INVALID_TOKEN


def test_revoked_is_checked_after_the_signature_and_before_caveats(
    service: TokenService,
) -> None:
    raw, record = service.mint("alice", projects=["foo"], expires=60)
    service.revoke(record.id)
    assert refused(service, raw, upload("foo")) == "token revoked"
    assert refused(service, raw, upload("bar", now=record.created + 3600)) == "token revoked"
    forged = Token.create("localhost", record.id, b"guessed key").dump()
    assert refused(service, forged, upload("foo")) == INVALID_TOKEN


def test_signature_is_checked_before_caveats(service: TokenService) -> None:
    _raw, record = service.mint("alice", expires=60)
    forged = Token.create("localhost", record.id, b"guessed key").dump()
    reason = refused(service, forged, upload("bar", now=record.created + 3600))
    assert reason == INVALID_TOKEN


def test_caveats_are_checked_before_owner_rights(service: TokenService) -> None:
    service.add_user("carol")
    service.add_project("carols", "carol")
    raw, _ = service.mint("alice", projects=["foo"])
    assert refused(service, raw, upload("carols")) == "not valid for project 'carols'"


def test_all_unmet_restrictions_are_reported(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["foo"], expires=60, actions=["download"])
    with pytest.raises(ValidationError) as info:
        service.authenticate(raw, upload("bar", now=record.created + 3600))
    assert len(info.value.reasons) == 3
    assert info.value.reasons[0].startswith("token expired at ")
    assert "not valid for project 'bar'" in info.value.reasons
    assert "not valid for action 'upload'" in info.value.reasons


# -- revocation and removed users ------------------------------------------------------------


def test_revoke(service: TokenService) -> None:
    raw, record = service.mint("alice")
    other_raw, _ = service.mint("alice")
    service.revoke(record.id)
    assert refused(service, raw, download("foo")) == "token revoked"
    assert service.get_token(record.id).revoked is True
    assert service.authenticate(other_raw, upload("foo")).user_name == "alice"
    service.revoke(record.id)  # idempotent
    with pytest.raises(NotFound, match=r"^unknown token '00000000-0000-4000-8000-000000000000'$"):
        service.revoke("00000000-0000-4000-8000-000000000000")


def test_removed_user_tokens_are_refused(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["foo"])
    wide, _ = service.mint("alice")
    bob_raw, _ = service.mint("bob")
    service.remove_user("alice", transfer_to="bob")  # alice owned foo
    for token in (raw, wide):
        assert refused(service, token, upload("foo")) == "token revoked"
    assert service.get_token(record.id).revoked is True
    assert service.authenticate(bob_raw, download("foo")).user_name == "bob"
    # A new user with the old name is someone else: the old tokens stay refused.
    service.add_user("alice")
    assert refused(service, wide, upload("foo")) == "token revoked"


def test_list_tokens(service: TokenService) -> None:
    _, a1 = service.mint("alice", description="one")
    _, a2 = service.mint("alice", description="two")
    _, b1 = service.mint("bob")
    assert {r.id for r in service.list_tokens("alice")} == {a1.id, a2.id}
    assert [r.description for r in service.list_tokens("alice")] in (["one", "two"], ["two", "one"])
    assert {r.id for r in service.list_tokens()} == {a1.id, a2.id, b1.id}
    assert [r.id for r in service.list_tokens("bob")] == [b1.id]
    with pytest.raises(NotFound, match=r"^unknown user 'nobody'$"):
        service.list_tokens("nobody")


# -- last_used and audit ---------------------------------------------------------------------


class CountingStore:
    """Wraps a store and counts the calls the service makes."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return counted


def test_last_used_is_throttled(store: TokenStore, secret: bytes) -> None:
    counting = CountingStore(store)
    svc = TokenService(counting, secret, last_used_interval=60)  # type: ignore[arg-type]
    svc.add_user("alice")
    raw, record = svc.mint("alice")
    t0 = record.created
    svc.authenticate(raw, upload("foo", now=t0))
    assert svc.get_token(record.id).last_used == t0
    for offset in range(1, 60):
        svc.authenticate(raw, download("foo", now=t0 + offset))
    assert svc.get_token(record.id).last_used == t0
    assert counting.calls.get("touch_token") == 1
    svc.authenticate(raw, download("foo", now=t0 + 60))
    assert svc.get_token(record.id).last_used == t0 + 60
    assert counting.calls["touch_token"] == 2


def test_refused_requests_do_not_touch_last_used(service: TokenService) -> None:
    raw, record = service.mint("alice", projects=["foo"])
    assert refused(service, raw, upload("bar")) == "not valid for project 'bar'"
    assert service.get_token(record.id).last_used is None
    service.authenticate(raw, upload("foo"))
    assert service.get_token(record.id).last_used is not None


def test_audit_events(service: TokenService) -> None:
    raw, record = service.mint("alice", description="ci upload")
    service.authenticate(raw, upload("foo"))
    bob_raw, bob_record = service.mint("bob")
    assert refused(service, bob_raw, upload("foo")) == "user bob may not upload to project 'foo'"
    service.revoke(record.id)
    assert refused(service, raw, upload("foo")) == "token revoked"
    service.remove_user("bob")

    events = service.store.list_events(limit=1000)
    kinds = [e.event for e in reversed(events)]
    assert kinds.count("minted") == 2
    assert kinds.count("revoked") == 1
    assert kinds.count("denied") == 2
    assert "user_removed" in kinds
    minted = [e for e in events if e.event == "minted" and e.token_id == record.id]
    assert len(minted) == 1 and minted[0].user == "alice"
    (revoked,) = [e for e in events if e.event == "revoked"]
    assert revoked.token_id == record.id
    denied = {e.token_id: e for e in events if e.event == "denied"}
    assert denied[bob_record.id].reason == "user bob may not upload to project 'foo'"
    assert denied[bob_record.id].project == "foo"
    assert denied[bob_record.id].action == "upload"
    assert denied[record.id].reason == "token revoked"

    body = raw.partition("-")[2]
    for e in events:
        for value in (e.reason, e.user, e.project, e.action, e.token_id):
            assert value is None or (body[:40] not in value and raw not in value), e
