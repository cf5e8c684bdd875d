"""``--token-max-lifetime`` (issue 8, part 5): a pypiserver caps how long its tokens live,
for every way of starting it, and ``pypitoken token create`` on its store follows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pypitoken_pypiserver import make_app, paste_app_factory
from pypitoken_pypiserver.cli import main as cli_main

from pypitoken_core import Token
from pypitoken_core.service import TokenService

from .client import basic, request, upload_body
from .conftest import TOKEN_USER, Index, pypiserver_running

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    with pypiserver_running(
        tmp_path_factory.mktemp("capped"), "--token-max-lifetime", "3600"
    ) as idx:
        idx.admin.user("lena")
        yield idx


@pytest.mark.parametrize("expires", [None, "2h", "2030-01-01T00:00:00Z"])
def test_admin_cannot_mint_longer_lived_tokens(capped: Index, expires: str | None) -> None:
    args = ["token", "create", "--user", "lena"]
    if expires is not None:
        args += ["--expires", expires]
    proc = capped.admin(*args, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "tokens on this server must expire within 3600 seconds" in proc.stderr


def test_a_token_within_the_limit_works(capped: Index, dists) -> None:
    raw = capped.admin.mint("lena", expires="30m")
    (date,) = Token.load(raw).restrictions[:1]
    assert date.not_after - date.not_before == 1800  # type: ignore[attr-defined]
    body, ctype = upload_body(dists("lifetime-ok")[0], "lifetime-ok")
    resp = request(
        capped.url, "POST", "/", auth=basic(TOKEN_USER, raw), body=body, content_type=ctype
    )
    assert resp.status == 200, resp


def store_lifetime(db: str) -> int | None:
    service = TokenService.from_url(db)
    try:
        return service.max_lifetime
    finally:
        service.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    TokenService.from_url(url).close()
    return url


def test_make_app_and_paste_save_the_limit(db: str, tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    make_app(roots=[packages], token_db=db, token_max_lifetime=600)
    assert store_lifetime(db) == 600
    paste_app_factory({}, roots=str(packages), token_db=db, token_max_lifetime="86400")
    assert store_lifetime(db) == 86400
    make_app(roots=[packages], token_db=db)  # not given: the store's setting stays
    assert store_lifetime(db) == 86400
    make_app(roots=[packages], token_db=db, token_max_lifetime=0)
    assert store_lifetime(db) is None


@pytest.mark.parametrize("value", [-1, "600", 1.5])
def test_make_app_refuses_a_bad_limit(db: str, tmp_path: Path, value: object) -> None:
    with pytest.raises(ValueError, match="maximum token lifetime"):
        make_app(roots=[tmp_path], token_db=db, token_max_lifetime=value)


@pytest.mark.parametrize("value", ["ten", "-5", "1e3", "9" * 40])
def test_cli_refuses_a_bad_limit(
    db: str, tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "-p", "0", "--token-db", db, "--token-max-lifetime", value, str(tmp_path)])
    assert exit_.value.code == 2
    assert "is not a number of seconds" in capsys.readouterr().err


def test_cli_help_lists_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "--help"])
    assert exit_.value.code == 0
    assert "--token-max-lifetime SECONDS" in capsys.readouterr().out
