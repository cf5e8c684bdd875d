"""Input the requester controls must end in a ValidationError, on every store, never a StoreError.

The token (and so its identifier), the project name of the request and a password user's
name all come from outside. An adapter maps ValidationError to a 403 with the reason; any
other error becomes a 500 or "the token store is down", and a crafted request must not
be able to cause that, nor to register odd users or projects.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from pypitoken_core import Token, ValidationError, _macaroon
from pypitoken_core.service import INVALID_TOKEN, TokenService
from pypitoken_core.store import TokenStore, open_store
from tests.service.conftest import download, upload


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def svc(url: str, tmp_path: Path, secret: bytes) -> Iterator[TokenService]:
    secret_file = tmp_path / "server.secret"
    secret_file.write_bytes(secret)
    service = TokenService.from_url(url, secret_file=secret_file)
    try:
        service.add_user("alice")
        service.add_project("foo", "alice")
        yield service
    finally:
        service.close()


#: Identifiers no token of ours has (ours are lowercase UUID4s), crafted to hurt a store.
CRAFTED_IDENTIFIERS = [
    "ab\x00cd",
    "x" * 4000,
    "'; DROP TABLE tokens; --",
    "ÿ",
    "00000000-0000-4000-8000-00000000000A",
    "00000000-0000-4000-8000-000000000000\n",
]
INVALID = f"^{re.escape(INVALID_TOKEN)}$"


@pytest.mark.parametrize(
    "identifier", [*CRAFTED_IDENTIFIERS, "00000000-0000-4000-8000-000000000000"]
)
def test_crafted_identifiers_are_unknown_tokens(
    svc: TokenService, secret: bytes, identifier: str
) -> None:
    genuine, _ = svc.mint("alice")
    assert svc.authenticate(genuine, upload("foo")).user_name == "alice"
    raw = Token.create("localhost", identifier, secret).dump()
    with pytest.raises(ValidationError, match=INVALID):
        svc.authenticate(raw, upload("foo"))
    with pytest.raises(ValidationError, match=INVALID):
        svc.identify(raw)


class RecordingStore:
    """The real store, with the arguments of every call the service makes written down."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store
        self.arguments: list[object] = []

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def recorded(*args: object, **kwargs: object) -> object:
            self.arguments.extend(args)
            self.arguments.extend(kwargs.values())
            return attr(*args, **kwargs)

        return recorded


def test_only_well_formed_identifiers_reach_the_store(url: str, secret: bytes) -> None:
    recording = RecordingStore(open_store(url))
    service = TokenService(recording, secret)  # type: ignore[arg-type]
    try:
        service.add_user("alice")
        service.add_project("foo", "alice")
        well_formed = str(uuid.uuid4())
        for identifier in [*CRAFTED_IDENTIFIERS, well_formed]:
            raw = Token.create("localhost", identifier, secret).dump()
            for check in (partial(service.authenticate, context=upload("foo")), service.identify):
                recording.arguments.clear()
                with pytest.raises(ValidationError, match=INVALID):
                    check(raw)
                # The control: a well-formed unknown identifier is looked up, and seen here.
                assert (identifier in recording.arguments) == (identifier == well_formed)
    finally:
        service.close()


def test_identifier_of_a_real_token_with_a_nul_appended(svc: TokenService) -> None:
    raw, record = svc.mint("alice")
    prefix, _, body = raw.partition("-")
    decoded = _macaroon.decode(_macaroon.b64decode(body))
    odd = decoded._replace(identifier=record.id.encode() + b"\x00")
    assert svc.authenticate(raw, upload("foo")).user_name == "alice"
    with pytest.raises(ValidationError, match=INVALID):
        svc.authenticate(prefix + "-" + _macaroon.b64encode(_macaroon.encode(odd)), upload("foo"))


def invalid_name(name: str) -> str:
    return "^" + re.escape(f"invalid project name {name!r} (a project name has letters, digits")


@pytest.mark.parametrize("project", ["bad name!", "", "-leading", "a\x00b", "ünïcode", "a/b"])
def test_first_upload_of_an_invalid_project_name_is_refused(
    svc: TokenService, project: str
) -> None:
    raw, _ = svc.mint("alice")
    assert svc.authenticate(raw, upload("a-valid-name")).user_name == "alice"
    assert svc.authorize_user("alice", upload("a-valid-name")).user_name == "alice"
    before = svc.list_projects()
    with pytest.raises(ValidationError, match=invalid_name(project)):
        svc.authenticate(raw, upload(project))
    with pytest.raises(ValidationError, match=invalid_name(project)):
        svc.authorize_user("alice", upload(project))
    assert svc.list_projects() == before


@pytest.mark.parametrize("project", ["a\x00b", "bad name!"])
def test_download_of_an_invalid_project_name_is_refused_not_a_store_error(
    svc: TokenService, project: str
) -> None:
    raw, _ = svc.mint("alice")
    assert svc.authenticate(raw, download("foo")).user_name == "alice"
    with pytest.raises(ValidationError, match=invalid_name(project)):
        svc.authenticate(raw, download(project))


@pytest.mark.parametrize("name", ["", "   ", "__token__", "a\x00b", "x\ny"])
def test_password_user_names_are_checked_before_registration(svc: TokenService, name: str) -> None:
    assert svc.authorize_user("carol", download("foo")).user_name == "carol"
    before = svc.list_users()
    with pytest.raises(ValidationError, match="^" + re.escape(f"invalid user name {name!r}") + "$"):
        svc.authorize_user(name, download("foo"))
    assert svc.list_users() == before
