"""The reason a caveat is not understood, kept as the cause: every class's own words.

``Restriction.load`` refuses with one message for every caveat it cannot read and chains the
class's own reason, which says what is wrong; each refused shape is paired with the one it
differs from that loads.
"""

from __future__ import annotations

import pytest

from pypitoken_core.exceptions import LoaderError
from pypitoken_core.restrictions import (
    ActionsRestriction,
    DateRestriction,
    IndexesRestriction,
    LegacyDateRestriction,
    LegacyNoopRestriction,
    LegacyProjectNamesRestriction,
    OIDCPublisherRestriction,
    ProjectIDsRestriction,
    ProjectNamesRestriction,
    Restriction,
    UserIDRestriction,
)


@pytest.mark.parametrize(
    ("caveat", "reason"),
    [
        ([0, 1], "date caveat must be [0, not_after, not_before]"),
        ([1], "project names caveat must be [1, [names]]"),
        ([2, [], []], "project ids caveat must be [2, [ids]]"),
        (["ptc.actions"], 'actions caveat must be ["ptc.actions", [actions]]'),
        (["ptc.indexes", [], []], 'indexes caveat must be ["ptc.indexes", [indexes]]'),
        ({"version": True, "permissions": "user"}, "not a legacy noop caveat"),
        ({"version": 2, "permissions": {"projects": []}}, "not a legacy project names caveat"),
        ({"nbf": 1, "exp": "2"}, "not a legacy date caveat"),
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
def test_a_bad_caveat_says_what_is_wrong(caveat: list | dict, reason: str) -> None:
    with pytest.raises(LoaderError, match=r"^Could not find matching Restriction for ") as info:
        Restriction.load(caveat)
    assert str(info.value.__cause__) == reason


@pytest.mark.parametrize(
    ("caveat", "expected"),
    [
        ([0, 2, 1], DateRestriction(1, 2)),
        ([1, []], ProjectNamesRestriction([])),
        ([2, []], ProjectIDsRestriction([])),
        (["ptc.actions", []], ActionsRestriction([])),
        (["ptc.indexes", []], IndexesRestriction([])),
        ({"version": 1, "permissions": "user"}, LegacyNoopRestriction()),
        ({"version": 1, "permissions": {"projects": []}}, LegacyProjectNamesRestriction([])),
        ({"nbf": 1, "exp": 2}, LegacyDateRestriction(1, 2)),
        ([3, "u"], UserIDRestriction("u")),
        ([4, "pub"], OIDCPublisherRestriction("pub")),
        ([4, "pub", None], OIDCPublisherRestriction("pub")),
        ([4, "pub", {"sub": "x"}], OIDCPublisherRestriction("pub", {"sub": "x"})),
    ],
)
def test_a_good_caveat_loads(caveat: list | dict, expected: Restriction) -> None:
    assert Restriction.load(caveat) == expected
