"""Password users from ``-P htpasswd`` keep working beside tokens, under the ownership rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .client import basic, request, upload_body
from .conftest import TOKEN_USER, Index, pypiserver_running, write_htpasswd

pytestmark = pytest.mark.e2e

PASSWORD = "carol-secret-pw"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    work = tmp_path_factory.mktemp("mixed")
    write_htpasswd(work / "htpasswd", {"carol": PASSWORD})
    with pypiserver_running(work / "run", "-P", str(work / "htpasswd")) as idx:
        yield idx


def test_password_user_uploads_with_twine(mixed: Index, dists) -> None:
    wheel, sdist = dists("ht-carol")

    proc = mixed.twine("carol", PASSWORD, wheel, sdist)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {wheel.name, sdist.name} <= mixed.stored()


def test_wrong_password_is_refused(mixed: Index, dists) -> None:
    body, ctype = upload_body(dists("ht-wrong")[0], "ht-wrong")

    auth = basic("carol", "nope")
    resp = request(mixed.url, "POST", "/", auth=auth, body=body, content_type=ctype)

    # pypiserver's own refusal was a bare "Forbidden"; now it says what to do.
    assert (resp.status, resp.reason) == (
        403,
        "wrong password for user 'carol'; use __token__ as the user name with an API token,"
        " or check the password",
    )
    right = request(mixed.url, "POST", "/", auth=basic("carol", PASSWORD), body=body,
                    content_type=ctype)  # fmt: skip
    assert right.status == 200, right


def test_tokens_work_on_the_same_server(mixed: Index, dists) -> None:
    tess = mixed.admin.user("ht-tess")
    token = mixed.admin.mint(tess)

    assert mixed.twine(TOKEN_USER, token, dists("ht-tess-proj")[0]).returncode == 0


def test_password_user_follows_ownership(mixed: Index, dists) -> None:
    owner = mixed.admin.user("ht-owner")
    assert mixed.twine(TOKEN_USER, mixed.admin.mint(owner), dists("ht-owned")[0]).returncode == 0
    body, ctype = upload_body(dists("ht-owned", "0.2")[0], "ht-owned")

    auth = basic("carol", PASSWORD)
    resp = request(mixed.url, "POST", "/", auth=auth, body=body, content_type=ctype)

    assert resp.status == 403
    assert resp.reason == "Forbidden: user carol may not upload to project 'ht-owned'"
