"""Input the requester controls must end in a ValidationError, on every store, never a StoreError.

The token (and so its identifier), the project name of the request and a password user's
name all come from outside. An adapter maps ValidationError to a 403 with the reason; any
other error becomes a 500 or "the token store is down", and a crafted request must not
be able to cause that, nor to register odd users or projects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pypitoken_core import Token, ValidationError, _macaroon
from pypitoken_core.service import TokenService
from tests.service.conftest import download, upload


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def svc(request: pytest.FixtureRequest, tmp_path: Path, secret: bytes) -> Iterator[TokenService]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    secret_file = tmp_path / "server.secret"
    secret_file.write_bytes(secret)
    service = TokenService.from_url(url, secret_file=secret_file)
    try:
        service.add_user("alice")
        service.add_project("foo", "alice")
        yield service
    finally:
        service.close()


@pytest.mark.parametrize(
    "identifier",
    [
        "ab\x00cd",
        "x" * 4000,
        "'; DROP TABLE tokens; --",
        "ÿ",
        "00000000-0000-4000-8000-000000000000",
    ],
)
def test_crafted_identifiers_are_unknown_tokens(
    svc: TokenService, secret: bytes, identifier: str
) -> None:
    raw = Token.create("localhost", identifier, secret).dump()
    with pytest.raises(ValidationError):
        svc.authenticate(raw, upload("foo"))


def test_identifier_of_a_real_token_with_a_nul_appended(svc: TokenService) -> None:
    raw, record = svc.mint("alice")
    prefix, _, body = raw.partition("-")
    decoded = _macaroon.decode(_macaroon.b64decode(body))
    odd = decoded._replace(identifier=record.id.encode() + b"\x00")
    with pytest.raises(ValidationError):
        svc.authenticate(prefix + "-" + _macaroon.b64encode(_macaroon.encode(odd)), upload("foo"))


@pytest.mark.parametrize("project", ["bad name!", "", "-leading", "a\x00b", "ünïcode", "a/b"])
def test_first_upload_of_an_invalid_project_name_is_refused(
    svc: TokenService, project: str
) -> None:
    raw, _ = svc.mint("alice")
    before = svc.list_projects()
    with pytest.raises(ValidationError):
        svc.authenticate(raw, upload(project))
    with pytest.raises(ValidationError):
        svc.authorize_user("alice", upload(project))
    assert svc.list_projects() == before


@pytest.mark.parametrize("project", ["a\x00b", "bad name!"])
def test_download_of_an_invalid_project_name_is_not_a_store_error(
    svc: TokenService, project: str
) -> None:
    raw, _ = svc.mint("alice")
    try:
        svc.authenticate(raw, download(project))
    except ValidationError:
        pass


@pytest.mark.parametrize("name", ["", "   ", "__token__", "a\x00b", "x\ny"])
def test_password_user_names_are_checked_before_registration(svc: TokenService, name: str) -> None:
    before = svc.list_users()
    with pytest.raises(ValidationError):
        svc.authorize_user(name, download("foo"))
    assert svc.list_users() == before
