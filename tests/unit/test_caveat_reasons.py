"""The reason a user-id or trusted-publisher caveat is not understood, kept as the cause.

``Restriction.load`` refuses with one message for every caveat it cannot read and chains the
class's own reason, which says what is wrong; each refused shape is paired with the one it
differs from that loads.
"""

from __future__ import annotations

import pytest

from pypitoken_core.exceptions import LoaderError
from pypitoken_core.restrictions import OIDCPublisherRestriction, Restriction, UserIDRestriction


@pytest.mark.parametrize(
    ("caveat", "reason"),
    [
        ([3], "user id caveat must be [3, user_id]"),
        ([3, ""], "user id caveat must be [3, user_id]"),
        ([3, "u", "v"], "user id caveat must be [3, user_id]"),
        ([4], "trusted publisher caveat must be [4, publisher_id, claims]"),
        ([4, "", None], "trusted publisher caveat must be [4, publisher_id, claims]"),
        ([4, "pub", None, None], "trusted publisher caveat must be [4, publisher_id, claims]"),
        ([4, "pub", []], "trusted publisher claims must be an object or null"),
        ([4, "pub", "x"], "trusted publisher claims must be an object or null"),
    ],
)
def test_a_bad_caveat_says_what_is_wrong(caveat: list, reason: str) -> None:
    with pytest.raises(LoaderError, match=r"^Could not find matching Restriction for ") as info:
        Restriction.load(caveat)
    assert str(info.value.__cause__) == reason


@pytest.mark.parametrize(
    ("caveat", "expected"),
    [
        ([3, "u"], UserIDRestriction("u")),
        ([4, "pub"], OIDCPublisherRestriction("pub")),
        ([4, "pub", None], OIDCPublisherRestriction("pub")),
        ([4, "pub", {"sub": "x"}], OIDCPublisherRestriction("pub", {"sub": "x"})),
    ],
)
def test_a_good_caveat_loads(caveat: list, expected: Restriction) -> None:
    assert Restriction.load(caveat) == expected
