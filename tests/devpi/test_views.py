"""The token API's body reading (``POST /{user}/+api-tokens``), in-process.

Whatever JSON (or not JSON) a client sends, the view answers 201 or 400: ``_mint_arguments``
raises only its ``_BadRequest`` (400), and what it accepts the service either mints or
refuses with a ``PyPITokenException`` (400/404/503 in the view), never anything else.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypitoken_devpi.views import _BadRequest, _mint_arguments
from webob import Request

from pypitoken_core.exceptions import PyPITokenException
from pypitoken_core.service import TokenService
from pypitoken_core.store.memory import MemoryStore

ONE_DAY = 86400


def api_request(body: bytes, content_type: str = "application/json") -> Request:
    request = Request.blank(
        "/alice/+api-tokens", method="POST", headers={"Content-Type": content_type}
    )
    request.body = body
    request.authenticated_userid = "alice"
    return request


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"[" * 100_000, "application/json", "the body must be a JSON object"),
        (
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            "application/json",
            "the body must be a JSON object",
        ),
        (b"[]", "application/json", "the body must be a JSON object"),
        (b'"text"', "application/json", "the body must be a JSON object"),
        (b"null", "application/json", "the body must be a JSON object"),
        (b"", "application/json", "the body must be a JSON object"),
        (b'{"description": "\xff"}', "application/json", "the body must be a JSON object"),
        (b"{}", "application/json; charset=no-such-codec", "the body must be a JSON object"),
        (b"{}", "application/json; charset=rot13", "the body must be a JSON object"),
        (b'{"owner": "bob"}', "application/json", "unknown field(s): owner"),
        (b'{"projects": "mine"}', "application/json", "'projects' must be a list of names"),
        (b'{"projects": [["mine"]]}', "application/json", "'projects' must be a list of names"),
        (b'{"indexes": ["dev"]}', "application/json", "is not in the form user/index"),
        (b'{"expires": true}', "application/json", "'expires' must be seconds or an ISO"),
        (b'{"expires": 1.5}', "application/json", "'expires' must be seconds or an ISO"),
        (b'{"expires": -1}', "application/json", "'expires' in seconds must be positive"),
        (b'{"expires": "soon"}', "application/json", "'expires' must be seconds or an ISO"),
        (b'{"description": ["x"]}', "application/json", "'description' must be a string"),
        (b'{"description": "a\\u0000b"}', "application/json", "cannot contain NUL characters"),
        (
            json.dumps({"expires": 2 * ONE_DAY}).encode(),
            "application/json",
            "tokens on this server must expire within 86400 seconds",
        ),
    ],
    ids=lambda v: v[:30] if isinstance(v, (bytes, str)) else None,
)
def test_bad_bodies_are_400_with_a_reason(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(_BadRequest) as info:
        _mint_arguments(api_request(body, content_type), max_expiry=ONE_DAY)
    assert reason in str(info.value)


def test_a_good_body_is_read() -> None:
    """The positive control for the table above."""
    body = {
        "projects": ["mine"],
        "indexes": ["alice/dev"],
        "expires": 600,
        "actions": ["upload"],
        "description": "ci",
    }
    args = _mint_arguments(api_request(json.dumps(body).encode()), max_expiry=ONE_DAY)
    assert args == {**body, "expires": 600}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.lists(
        st.sampled_from(["mine", "alice/dev", "upload", "download", "delete", "x/y/z", ""]),
        max_size=3,
    ),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from(
        [
            "2030-01-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31",
            "2030-01-01T00:00:00+14:00",
        ]
    ),
)
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(
        st.sampled_from(["projects", "indexes", "expires", "actions", "description", "x"]),
        FIELD_VALUES,
        max_size=5,
    ),
)


@given(BODIES, st.sampled_from([0, ONE_DAY]))
def test_any_json_body_is_minted_or_refused_as_a_bad_request(body, max_expiry) -> None:
    try:
        args = _mint_arguments(api_request(json.dumps(body).encode()), max_expiry)
    except _BadRequest:
        return
    store = MemoryStore()
    store.add_user("alice")
    service = TokenService(store, b"s" * 32, ownership="external", allow_delete=True)
    try:
        service.mint("alice", **args)
    except PyPITokenException:
        pass
