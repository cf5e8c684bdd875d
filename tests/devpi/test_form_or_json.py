"""Whether an upload form's body would also read as JSON: the boundary cases.

``read_index_write`` refuses a body that is a form and JSON at once (devpi would read the
form and a push the JSON). It tells with a cheap look at the first bytes, then one parse of
at most ``MAX_PUSH_BODY`` bytes; these cases pin where that look must not answer "not
JSON" for a body that is JSON (leading whitespace, the literals), where a body that only
looks like JSON is still a form, and the size limit itself. Each refused form is paired
with an accepted one of the same shape.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from pypitoken_devpi._request import MAX_PUSH_BODY, IndexWrite, Unreadable, read_index_write
from pyramid.urldispatch import Route
from webob import Request

from tests.devpi.test_request import MULTIPART, multipart

FORM = "application/x-www-form-urlencoded"
INDEX_ROUTE = Route("/{user}/{index}/", "/{user:[^+/]+}/{index:[^+/]+}/")
SUBMIT = urlencode([(":action", "submit"), ("name", "mine")]).encode()


def form_post(body: bytes) -> Request:
    """A POST of ``body`` as a urlencoded form to alice/dev, routed as devpi routes it."""
    request = Request.blank("/alice/dev/", method="POST", headers={"Content-Type": FORM})
    request.body = body
    request.matched_route = INDEX_ROUTE
    request.matchdict = INDEX_ROUTE.match(request.path_info)
    return request


def reading(body: bytes) -> IndexWrite | str:
    return reading_as(body, FORM)


def reading_as(body: bytes, content_type: str) -> IndexWrite | str:
    request = form_post(body)
    request.content_type = content_type
    try:
        return read_index_write(request)
    except Unreadable as exc:
        return str(exc)


BOTH = "the body is both a form and JSON"
MINE = IndexWrite("submit", "mine", action="submit")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # JSON texts that are also forms with ':action' (the literals parse as forms too)
        (b' {"x": "&' + SUBMIT + b'&"}', BOTH),
        (b'\r\n\t {"x": "&' + SUBMIT + b'&"}', BOTH),
        (b'{"x": "&' + SUBMIT + b'&"}', BOTH),
        (b'["&' + SUBMIT + b'&"]', BOTH),
        # forms whose first field only starts like JSON
        (b"0=x&" + SUBMIT, MINE),
        (b"-x=1&" + SUBMIT, MINE),
        (b"[x=1&" + SUBMIT, MINE),
        (b"nothing=1&" + SUBMIT, MINE),
        (b"trueish=1&" + SUBMIT, MINE),
        (SUBMIT, MINE),
    ],
)
def test_a_form_is_refused_only_when_it_is_also_json(body: bytes, expected: object) -> None:
    assert reading(body) == expected


@pytest.mark.parametrize("literal", [b"true", b"false", b"null", b" null", b"1"])
def test_a_json_literal_is_json(literal: bytes) -> None:
    # webob reads the literal as a form field without a value, and it is a JSON text.
    assert reading(literal) == BOTH
    # The positive control: followed by more fields, it only starts like JSON.
    assert reading(literal + b"&" + SUBMIT) == MINE


def pad_to(size: int, start: bytes) -> bytes:
    body = start + b"&" + SUBMIT + b"&pad="
    return body + b"p" * (size - len(body))


def test_a_body_up_to_the_limit_is_parsed_to_tell() -> None:
    # A form that starts like JSON, exactly MAX_PUSH_BODY bytes long: parsed, and a form.
    at_limit = pad_to(MAX_PUSH_BODY, b"{x=1")
    assert len(at_limit) == MAX_PUSH_BODY
    assert reading(at_limit) == MINE
    # One byte more is too long to parse: it counts as JSON, and is refused.
    assert reading(pad_to(MAX_PUSH_BODY + 1, b"{x=1")) == BOTH
    # A body over the limit that does not start like JSON is a form whatever its size.
    assert reading(pad_to(MAX_PUSH_BODY + 1, b"x=1")) == MINE


def test_a_multipart_upload_over_the_limit_is_a_form() -> None:
    # Every multipart body starts with its boundary, "--" and then anything: a wheel is
    # larger than MAX_PUSH_BODY, and must never count as JSON for its size.
    wheel = b"PK" + b"\0" * MAX_PUSH_BODY
    fields = ((":action", "file_upload"), ("name", "mine"), ("version", "1.0"))
    for content in (b"PK", wheel):
        body = multipart(*fields, ("content", content), files=["content"])
        assert reading_as(body, MULTIPART) == IndexWrite(
            "submit", "mine", version="1.0", action="file_upload", filename="content.bin"
        )
    # The refusal beside it: a body of the same size that starts like JSON counts as JSON.
    assert reading(pad_to(len(wheel), b"[x=1")) == BOTH
