"""Properties of the token library, checked with hypothesis.

- ``load(t.dump())`` round-trips, for any ``create``/``restrict`` calls;
- adding a restriction never turns a failing check into a passing one;
- no context makes a token with two contradictory restrictions pass;
- a restriction's JSON round-trips through ``Restriction.load_json``.
"""

from __future__ import annotations

import datetime
import json

from hypothesis import given
from hypothesis import strategies as st

from pypitoken_core import (
    InvalidRestriction,
    LoaderError,
    Restriction,
    Token,
    ValidationError,
    names,
)
from pypitoken_core import _macaroon as m
from pypitoken_core._time import MAX_TIMESTAMP, MIN_TIMESTAMP

KEY = b"property-key"
NOW = 1_700_000_000

# Small pools, so that random contexts often satisfy random restrictions.
PROJECTS = ["a", "b", "foo-bar"]
PROJECT_IDS = ["p1", "p2"]
USERS = ["u1", "u2"]
ACTIONS = ["upload", "download", "delete"]
INDEXES = ["root/dev", "root/prod"]
PUBLISHERS = ["pub1", "pub2"]

# --- restrict() arguments ------------------------------------------------------------------

_word = st.text(alphabet="abcxyz0189", min_size=1, max_size=4)
normalised_names = st.builds("-".join, st.lists(_word, min_size=1, max_size=3))
# What restrict() accepts and normalises: any separators, any case.
raw_names = st.builds(
    lambda parts, seps, upper: "".join(
        (p.upper() if upper else p) + s for p, s in zip(parts, seps, strict=False)
    ).rstrip("-_."),
    st.lists(_word, min_size=1, max_size=3),
    st.lists(st.sampled_from(["-", "_", ".", "__", "-."]), min_size=3, max_size=3),
    st.booleans(),
)
ids = st.text(min_size=1, max_size=12)
# Every time a datetime can hold; restrict refuses the others (tested in tests/unit).
stamps = st.integers(min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP)
aware = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1),
    max_value=datetime.datetime(2200, 1, 1),
    timezones=st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=-5))]),
)


@st.composite
def date_pair(draw: st.DrawFn, stamp: st.SearchStrategy) -> tuple[object, object]:
    a, b = draw(stamp), draw(stamp)
    if isinstance(a, datetime.datetime) or isinstance(b, datetime.datetime):
        ta = int(a.timestamp()) if isinstance(a, datetime.datetime) else a
        tb = int(b.timestamp()) if isinstance(b, datetime.datetime) else b
        return (a, b) if ta <= tb else (b, a)
    return (min(a, b), max(a, b))


@st.composite
def restrict_kwargs(draw: st.DrawFn, *, pools: bool = False) -> dict[str, object]:
    """Arguments for one restrict() call; with ``pools``, values come from the small pools."""
    kwargs: dict[str, object] = {}
    name = st.sampled_from(PROJECTS) if pools else st.one_of(normalised_names, raw_names)
    if draw(st.booleans()):
        stamp = st.integers(NOW - 5, NOW + 5) if pools else st.one_of(stamps, aware)
        kwargs["not_before"], kwargs["not_after"] = draw(date_pair(stamp))
    if draw(st.booleans()):
        kwargs["project_names"] = draw(st.lists(name, max_size=3))
    if draw(st.booleans()):
        project_id = st.sampled_from(PROJECT_IDS) if pools else ids
        kwargs["project_ids"] = draw(st.lists(project_id, max_size=3))
    if draw(st.booleans()):
        kwargs["user_id"] = draw(st.sampled_from(USERS) if pools else ids)
    if draw(st.booleans()):
        kwargs["legacy_noop"] = draw(st.sampled_from([True, False, None]))
    if draw(st.booleans()):
        kwargs["legacy_project_names"] = draw(st.lists(name, max_size=3))
    if draw(st.booleans()):
        stamp = st.integers(NOW - 5, NOW + 5) if pools else stamps
        kwargs["legacy_not_before"], kwargs["legacy_not_after"] = draw(date_pair(stamp))
    if draw(st.booleans()):
        kwargs["actions"] = draw(st.lists(st.sampled_from(ACTIONS), max_size=3))
    if draw(st.booleans()):
        kwargs["indexes"] = draw(st.lists(st.sampled_from(INDEXES) if pools else ids, max_size=2))
    return kwargs


contexts = st.fixed_dictionaries(
    {},
    optional={
        "project_name": st.sampled_from([*PROJECTS, "Foo_Bar", "FOO.bar"]),
        "project_id": st.sampled_from(PROJECT_IDS),
        "user_id": st.sampled_from(USERS),
        "now": st.integers(NOW - 6, NOW + 6),
        "action": st.sampled_from(ACTIONS),
        "index": st.sampled_from(INDEXES),
        "oidc_publisher_id": st.sampled_from(PUBLISHERS),
    },
)


def passes(token: Token, key: bytes, context: dict[str, object]) -> bool:
    context = {"now": NOW} | context
    try:
        token.check(key, **context)  # type: ignore[arg-type]
    except ValidationError:
        return False
    return True


# --- properties ------------------------------------------------------------------------------


@given(
    domain=st.text(max_size=20),
    identifier=st.text(min_size=1, max_size=40),
    key=st.binary(min_size=1, max_size=64),
    prefix=st.text(alphabet="pyiabc_", min_size=1, max_size=8),
    calls=st.lists(restrict_kwargs(), max_size=3),
)
def test_load_dump_round_trip(domain, identifier, key, prefix, calls):
    token = Token.create(domain, identifier, key, prefix=prefix)
    for kwargs in calls:
        token.restrict(**kwargs)
    text = token.dump()
    loaded = Token.load(text)
    assert loaded.dump() == text
    assert (loaded.prefix, loaded.domain, loaded.identifier) == (prefix, domain, identifier)
    assert loaded._raw == token._raw
    assert loaded.restrictions == token.restrictions
    assert Token.load(loaded.dump()).dump() == text


@given(calls=st.lists(restrict_kwargs(), max_size=3))
def test_restrict_writes_only_what_load_reads_back(calls):
    token = Token.create("d", "id", KEY)
    for kwargs in calls:
        token.restrict(**kwargs)
    for restriction, caveat in zip(token.restrictions, token._raw.caveats, strict=True):
        assert restriction.dump_json().encode() == caveat
        assert Restriction.load_json(caveat) == restriction


@given(calls=st.lists(restrict_kwargs(), min_size=1, max_size=3))
def test_project_names_are_written_normalised(calls):
    token = Token.create("d", "id", KEY)
    for kwargs in calls:
        token.restrict(**kwargs)
    for restriction in token.restrictions:
        for name in getattr(restriction, "project_names", []):
            assert names.is_normalized(name)


@given(
    before=st.lists(restrict_kwargs(pools=True), max_size=2),
    extra=restrict_kwargs(pools=True),
    context=contexts,
)
def test_restricting_never_turns_a_failure_into_a_pass(before, extra, context):
    token = Token.create("d", "id", KEY)
    for kwargs in before:
        token.restrict(**kwargs)
    passed_before = passes(token, KEY, context)
    token.restrict(**extra)
    if passes(token, KEY, context):
        assert passed_before
    # ... and the same through a round trip, as the holder would do it offline.
    again = Token.load(token.dump())
    assert passes(again, KEY, context) == passes(token, KEY, context)


@given(
    calls=st.lists(restrict_kwargs(pools=True), max_size=3),
    context=contexts,
    wrong=st.binary(min_size=1, max_size=16).filter(lambda k: k != KEY),
)
def test_a_wrong_key_never_passes(calls, context, wrong):
    token = Token.create("d", "id", KEY)
    for kwargs in calls:
        token.restrict(**kwargs)
    assert not passes(token, wrong, context)


CONTRADICTIONS = [
    ({"project_names": ["a"]}, {"project_names": ["b"]}),
    ({"project_names": ["a", "b"]}, {"legacy_project_names": ["foo-bar"]}),
    ({"project_names": []}, {}),
    ({"project_ids": ["p1"]}, {"project_ids": ["p2"]}),
    ({"user_id": "u1"}, {"user_id": "u2"}),
    ({"not_before": NOW - 6, "not_after": NOW}, {"not_before": NOW, "not_after": NOW + 6}),
    (
        {"not_before": NOW - 6, "not_after": NOW},
        {"legacy_not_before": NOW, "legacy_not_after": NOW + 7},
    ),
    ({"not_before": NOW, "not_after": NOW}, {}),  # an empty window
    ({"actions": ["upload"]}, {"actions": ["download", "delete"]}),
    ({"indexes": ["root/dev"]}, {"indexes": ["root/prod"]}),
]


@given(
    pair=st.sampled_from(CONTRADICTIONS),
    noise=st.lists(restrict_kwargs(pools=True), max_size=2),
    context=contexts,
    order=st.booleans(),
)
def test_contradictory_restrictions_never_pass(pair, noise, context, order):
    first, second = pair if order else pair[::-1]
    token = Token.create("d", "id", KEY)
    for kwargs in [noise[0] if noise else {}, first, *noise[1:], second]:
        token.restrict(**kwargs)
    assert not passes(token, KEY, context)
    assert not passes(Token.load(token.dump()), KEY, context)


@given(kwargs=restrict_kwargs(), context=contexts)
def test_check_is_deterministic_and_reports_reasons(kwargs, context):
    token = Token.create("d", "id", KEY).restrict(**kwargs)
    outcomes = []
    for candidate in (token, Token.load(token.dump())):
        try:
            candidate.check(KEY, **({"now": NOW} | context))  # type: ignore[arg-type]
            outcomes.append(None)
        except ValidationError as exc:
            assert exc.reasons
            assert str(exc) == "Error while validating token: " + ", ".join(exc.reasons)
            outcomes.append(exc.reasons)
    assert outcomes[0] == outcomes[1]


@given(kwargs=restrict_kwargs())
def test_restrict_is_all_or_nothing(kwargs):
    token = Token.create("d", "id", KEY)
    before = token.dump()
    bad = dict(kwargs, user_id=5)
    try:
        token.restrict(**bad)
    except InvalidRestriction:
        pass
    assert token.dump() == before


@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
))
def test_any_json_value_loads_or_raises_loader_error(value):
    attempts = (lambda: Restriction.load(value), lambda: Restriction.load_json(json.dumps(value)))
    for attempt in attempts:
        try:
            restriction = attempt()
        except LoaderError:
            continue
        assert Restriction.load_json(restriction.dump_json()) == restriction


@given(
    tag=st.integers(min_value=5) | st.integers(max_value=-1),
    rest=st.lists(st.integers(), max_size=3),
)
def test_unknown_integer_tags_fail_closed(tag, rest):
    caveat = str([tag, *rest]).encode()
    raw = m.RawMacaroon(b"", b"id", (caveat,), m.sign(KEY, b"id", [caveat]))
    token = Token.load("pypi-" + m.b64encode(m.encode(raw)))
    try:
        _ = token.restrictions
    except LoaderError:
        pass
    else:
        raise AssertionError("an unknown tag loaded")
    assert not passes(token, KEY, {"project_name": "a", "project_id": "p1", "user_id": "u1"})
