"""The whole reason an upload or a push is refused with: what twine or devpi-client prints.

Each refused body is paired with an accepted one of the same kind.
"""

from __future__ import annotations

import json

import pytest
from pypitoken_devpi._request import IndexWrite, Unreadable, read_index_write
from pyramid.urldispatch import Route
from webob import Request

INDEX_ROUTE = Route("/{user}/{index}/", "/{user:[^+/]+}/{index:[^+/]+}/")


def pushed(body: bytes) -> Request:
    request = Request.blank(
        "/alice/dev/", method="POST", headers={"Content-Type": "application/json"}
    )
    request.body = body
    request.matched_route = INDEX_ROUTE
    request.matchdict = INDEX_ROUTE.match(request.path_info)
    return request


GOOD = {"name": "mine", "version": "1.0", "targetindex": "alice/prod"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'["mine"]', "the push body must be a JSON object"),
        (json.dumps({**GOOD, "version": ""}).encode(), "the push names no version"),
        (json.dumps({**GOOD, "name": ""}).encode(), "the push names no project"),
        (b"{", "the push body is not valid JSON"),
    ],
)
def test_a_refused_push_says_exactly_why(body: bytes, reason: str) -> None:
    with pytest.raises(Unreadable) as refused:
        read_index_write(pushed(body))
    assert str(refused.value) == reason
    good = read_index_write(pushed(json.dumps(GOOD).encode()))
    assert good == IndexWrite("push", "mine", target="alice/prod", version="1.0")


def posted(body: bytes, content_type: str) -> Request:
    request = pushed(body)
    request.content_type = content_type
    return request


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"%3Aaction=submit&name=", FORM, "the upload form names no project"),
        (
            b"%3Aaction=submit&name=mine",
            f"{FORM}; charset={'x' * 50}",
            f"a token request must be UTF-8, not charset '{'x' * 40}'",
        ),
    ],
)
def test_a_refused_upload_form_says_exactly_why(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(Unreadable) as refused:
        read_index_write(posted(body, content_type))
    assert str(refused.value) == reason
    good = read_index_write(posted(b"%3Aaction=submit&name=mine", FORM))
    assert good == IndexWrite("submit", "mine", action="submit")
