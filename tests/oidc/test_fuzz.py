"""Whatever a client sends to the mint endpoint: never an exception, always a 4xx problem."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pypitoken_core.oidc import CODES, TrustedPublishingSettings
from pypitoken_core.service import TokenService
from pypitoken_core.store import open_store
from tests.oidc.conftest import AUDIENCE

# Module-level: hypothesis runs each example without function-scoped fixtures.
_FUZZ_SERVICE = TokenService(open_store("memory://"), b"f" * 32, domain=AUDIENCE)
_FUZZ_ENDPOINTS = _FUZZ_SERVICE.trusted_publishing(TrustedPublishingSettings())


@settings(max_examples=150)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=40),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["token", "features", "x"]), inner, max_size=3)
            ),
            max_leaves=10,
        ).map(lambda value: json.dumps(value).encode()),
        st.text(alphabet="abcXYZ012-_.=", max_size=120).map(
            lambda text: json.dumps({"token": text}).encode()
        ),
    )
)
def test_whatever_the_body_a_4xx_problem(body: bytes) -> None:
    """Arbitrary bodies (bytes, JSON of any shape, token-ish strings): never an exception,
    always a 4xx problem document with one of the codes."""
    response = _FUZZ_ENDPOINTS.mint(body)
    assert 400 <= response.status < 500, response
    assert response.body["errors"][0]["code"] in CODES
