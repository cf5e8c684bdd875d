"""Which project a request acts on, read as devpi's view does: project and file routes.

A project route names the project in the URL, with or without a trailing slash. On file
routes (``+f``, ``+e``), devpi's views find the file from the request path in two ways:
``del_pkg`` (DELETE) and ``post_toxresult`` (POST on ``+f``) take the path as it is;
``stage_pkgserv`` and ``mirror_pkgserv`` (GET) first cut off a ``#...`` fragment, then a
``.metadata`` suffix (core metadata of the file). ``request_project`` must find the same
file, so each reading is pinned here on a real devpi-server's file store, with a path that
only that reading resolves (the positive control) next to one it must not.
"""

from __future__ import annotations

from typing import Any

import pytest
from pypitoken_devpi._request import request_project
from pyramid.urldispatch import Route
from webob import Request

from .conftest import App

#: devpi-server 6.20's route of a stage's files (devpi_server/main.py), as a real pyramid
#: route. (Its ``+e`` twin serves mirror files, which a server without a mirror has none of.)
FILE_ROUTE = Route(
    "/{user}/{index}/+f/{relpath:.*}", "/{user:[^+/]+}/{index:[^+/]+}/+f/{relpath:.*}"
)


PROJECT_ROUTE = Route(
    "/{user}/{index}/{project}", "/{user:[^+/]+}/{index:[^+/]+}/{project:[^+/]+/?}"
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/alice/dev/mine", "mine"),
        ("/alice/dev/mine/", "mine"),
        ("/alice/dev/Mine_X", "mine-x"),
        ("/alice/dev/mineX/", "minex"),
        ("/alice/dev/X", "x"),
    ],
)
def test_a_project_route_names_the_project(path: str, expected: str) -> None:
    request = Request.blank(path)
    request.matched_route = PROJECT_ROUTE
    request.matchdict = PROJECT_ROUTE.match(path)
    assert request_project(request, xom=None) == expected


def file_path(app: App, index: str) -> str:
    """The path of ``tinypkg`` 1.0's file on ``index``."""
    links = app.request("GET", f"/{index}/tinypkg/1.0").json["result"]["+links"]
    return "/" + links[0]["href"].split("/", 3)[3]


def project_of(app: App, method: str, path: str) -> str | None:
    """``request_project`` for ``method path``, routed as devpi routes it."""
    request = Request.blank(path, method=method)
    request.matched_route = FILE_ROUTE
    request.matchdict = FILE_ROUTE.match(request.path_info)
    assert request.matchdict is not None, path
    with app.xom.keyfs.read_transaction():
        return request_project(request, app.xom)


@pytest.fixture
def path(app: App) -> str:
    """The path of a file of ``tinypkg`` uploaded to alice/dev."""
    assert app.upload("alice/dev", "tinypkg", "1.0", user="alice").status_int == 200
    return file_path(app, "alice/dev")


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "POST"])
def test_the_file_itself_names_its_project(app: App, path: str, method: str) -> None:
    assert project_of(app, method, path) == "tinypkg"
    assert project_of(app, method, path + "/") == "tinypkg"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_download_reads_the_core_metadata_of_the_file(app: App, path: str, method: str) -> None:
    assert project_of(app, method, path + ".metadata") == "tinypkg"
    # Only the suffix is cut, once and at the end.
    assert project_of(app, method, path + ".metadata.metadata") is None
    assert project_of(app, method, path.replace(".whl", ".metadata.whl")) is None
    assert project_of(app, method, path + ".METADATA") is None


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_download_ignores_a_fragment(app: App, path: str, method: str) -> None:
    assert project_of(app, method, path + "%23sha256=00") == "tinypkg"
    # The first '#' starts the fragment; the metadata suffix is cut after the fragment.
    assert project_of(app, method, path + "%23a%23b") == "tinypkg"
    assert project_of(app, method, path + ".metadata%23a") == "tinypkg"
    assert project_of(app, method, path + "%23a.metadata") == "tinypkg"
    assert project_of(app, method, path.replace(".whl", "%23.whl")) is None


@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_a_deletion_or_a_tox_result_takes_the_path_as_it_is(
    app: App, path: str, method: str
) -> None:
    # del_pkg and post_toxresult look up the whole path: a file they cannot find is not
    # the file a download of the same path would read.
    assert project_of(app, method, path + ".metadata") is None
    assert project_of(app, method, path + "%23sha256=00") is None


def test_the_path_is_cut_at_slashes_only(app: App) -> None:
    # The path starts with the user name: a leading character other than '/' is part of it.
    password = "x" * 12
    body: dict[str, Any] = {"password": password, "email": "x@example.org"}
    assert app.request("PUT", "/Xena", json_body=body).status_int == 201
    auth = ("Xena", password)
    response = app.request("PUT", "/Xena/dev", json_body={"bases": []}, auth=auth)
    assert response.status_int == 200, response
    assert app.upload("Xena/dev", "tinypkg", "1.0", auth=auth).status_int == 200
    path = file_path(app, "Xena/dev")
    for method in ("GET", "DELETE"):
        assert project_of(app, method, path) == "tinypkg"
