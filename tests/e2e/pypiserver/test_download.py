"""Reads through ``pypitoken-pypiserver run -a update,download,list``, with real pip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import basic, request, upload_body
from .conftest import TOKEN_USER, Index, pypiserver_running

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory, dists) -> Iterator[Index]:
    """A private index holding ``dl-proj`` 0.1 (wheel) and ``dl-other`` 0.1, owned by dora."""
    with pypiserver_running(
        tmp_path_factory.mktemp("private"), "-a", "update,download,list"
    ) as idx:
        dora = idx.admin.user("dora")
        auth = basic(TOKEN_USER, idx.admin.mint(dora))
        for project in ("dl-proj", "dl-other"):
            body, ctype = upload_body(dists(project)[0], project)
            resp = request(idx.url, "POST", "/", auth=auth, body=body, content_type=ctype)
            assert resp.status == 200, resp
        yield idx


def test_pip_downloads_with_a_download_capable_token(private: Index, tmp_path: Path) -> None:
    token = private.admin.mint("dora", "dl-proj", actions="download")

    proc = private.pip_download("dl-proj", tmp_path, TOKEN_USER, token)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["dl_proj-0.1-py3-none-any.whl"]


def test_pip_without_credentials_fails(private: Index, tmp_path: Path) -> None:
    proc = private.pip_download("dl-proj", tmp_path)

    assert proc.returncode != 0
    assert not list(tmp_path.iterdir())
    assert request(private.url, "GET", "/simple/dl-proj/").status == 401


def test_upload_only_token_cannot_download(private: Index, tmp_path: Path) -> None:
    token = private.admin.mint("dora", "dl-proj", actions="upload")

    proc = private.pip_download("dl-proj", tmp_path, TOKEN_USER, token)

    assert proc.returncode != 0
    assert not list(tmp_path.iterdir())
    page = request(private.url, "GET", "/simple/dl-proj/", auth=basic(TOKEN_USER, token))
    assert page.status == 403
    assert page.reason == "Invalid API Token: not valid for action 'download'"
    file = request(
        private.url, "GET", "/packages/dl_proj-0.1-py3-none-any.whl", auth=basic(TOKEN_USER, token)
    )
    assert (file.status, file.reason) == (403, "Invalid API Token: not valid for action 'download'")


def test_project_token_reads_only_its_project(private: Index) -> None:
    auth = basic(TOKEN_USER, private.admin.mint("dora", "dl-proj"))

    assert request(private.url, "GET", "/simple/dl-proj/", auth=auth).status == 200
    # Any spelling of the name is the same project (pypiserver then redirects).
    assert request(private.url, "GET", "/simple/DL_Proj/", auth=auth).status == 301
    assert request(private.url, "GET", "/dl-proj/json", auth=auth).status == 200
    for path in ("/simple/dl-other/", "/packages/dl_other-0.1-py3-none-any.whl", "/dl-other/json"):
        resp = request(private.url, "GET", path, auth=auth)
        assert (resp.status, resp.reason) == (
            403,
            "Invalid API Token: not valid for project 'dl-other'",
        ), path
    # Index-wide pages name no project: a project-scoped token is refused, as on pypi.org.
    index_page = request(private.url, "GET", "/simple/", auth=auth)
    assert (index_page.status, index_page.reason) == (
        403,
        "Invalid API Token: this token is scoped to projects and the request names none",
    )


def test_user_wide_token_reads_index_pages(private: Index) -> None:
    auth = basic(TOKEN_USER, private.admin.mint("dora"))

    for path in ("/simple/", "/packages/", "/simple/dl-other/"):
        assert request(private.url, "GET", path, auth=auth).status == 200, path
