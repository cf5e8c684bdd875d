"""The claims of a generic OIDC publisher, as typed on the token page: one KEY=VALUE a line."""

from __future__ import annotations

import pytest
from pypitoken_web._publishers import claims_from_text


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("sub=repo:org/app\n", {"sub": "repo:org/app"}),
        ("  a = 1 \n\n\tb=x=y\r\n", {"a": "1", "b": "x=y"}),  # blanks skipped, first = splits
        ("empty=", {"empty": ""}),  # the core decides whether an empty value may match
        ("", {}),  # the core refuses a publisher with no claim
    ],
)
def test_claims_are_read_line_by_line(text: str, read: dict[str, str]) -> None:
    assert claims_from_text(text) == read


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("sub=x\nno equals sign", "claims: line 2 is not KEY=VALUE"),
        ("=value", "claims: line 1 is not KEY=VALUE"),
        ("sub=x\nsub=y", "claims: 'sub' is given twice"),
    ],
)
def test_a_line_that_is_no_claim_is_named(text: str, why: str) -> None:
    assert claims_from_text(text) == why
