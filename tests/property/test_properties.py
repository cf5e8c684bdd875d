"""Properties of the token library, checked with hypothesis.

- ``load(t.dump())`` round-trips, for any ``create``/``restrict`` calls;
- adding a restriction never turns a failing check into a passing one (and a token
  passes exactly when each of its restrictions does); the generator makes tokens that
  mostly pass before the narrowing, so the assertion is reached in most examples;
- no context makes a token with two contradictory restrictions pass;
- a restriction's JSON round-trips through ``Restriction.load_json``.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter

from hypothesis import event, given, settings
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


#: restrict() parameters that take a list, with the context field they are checked
#: against and the pool their values come from.
MEMBERSHIPS = {
    "project_names": ("project_name", PROJECTS),
    "legacy_project_names": ("project_name", PROJECTS),
    "project_ids": ("project_id", PROJECT_IDS),
    "actions": ("action", ACTIONS),
    "indexes": ("index", INDEXES),
}


def _window(context: dict[str, object], *, fits: bool) -> st.SearchStrategy[tuple[int, int]]:
    """A (not_before, not_after) window that holds ``now`` or, with ``fits`` false, does not."""
    now = int(context.get("now", NOW))  # type: ignore[call-overload]
    if fits:
        return st.tuples(st.integers(NOW - 10, now), st.integers(now + 1, NOW + 10))
    later = st.integers(now + 1, NOW + 10).flatmap(
        lambda start: st.tuples(st.just(start), st.integers(start, NOW + 11))
    )
    earlier = st.integers(NOW - 10, now).flatmap(
        lambda end: st.tuples(st.integers(NOW - 11, end), st.just(end))
    )
    return later | earlier


def _one_field(
    draw: st.DrawFn, context: dict[str, object], param: str, *, fits: bool
) -> dict[str, object]:
    """restrict() arguments for one parameter: met in ``context``, or (``fits`` false) not."""
    if param in ("dates", "legacy_dates"):
        prefix = "" if param == "dates" else "legacy_"
        not_before, not_after = draw(_window(context, fits=fits))
        return {f"{prefix}not_before": not_before, f"{prefix}not_after": not_after}
    if param == "user_id":
        others = [u for u in USERS if u != context.get("user_id")]
        return {"user_id": context["user_id"] if fits else draw(st.sampled_from(others))}
    field, pool = MEMBERSHIPS[param]
    if not fits:
        # Without the field in the context, any list fails (MissingContextError).
        others = [v for v in pool if v != names.normalize(str(context.get(field, "")))]
        return {param: draw(st.lists(st.sampled_from(others), max_size=2))}
    value = str(context[field])
    if field == "project_name":  # restrict() normalises: either spelling fits
        value = draw(st.sampled_from([value, names.normalize(value)]))
    return {param: draw(_containing(value, pool))}


def _containing(value: str, pool: list[str]) -> st.SearchStrategy[list[str]]:
    """Lists from ``pool`` that hold ``value``, in any order."""
    return st.lists(st.sampled_from(pool), max_size=2).flatmap(
        lambda others: st.permutations([value, *others])
    )


@st.composite
def fitting_kwargs(draw: st.DrawFn, context: dict[str, object]) -> dict[str, object]:
    """Arguments for one restrict() call whose every restriction holds in ``context``."""
    kwargs: dict[str, object] = {}
    if draw(st.booleans()):
        kwargs["legacy_noop"] = draw(st.sampled_from([True, False, None]))
    for param in ("dates", "legacy_dates", "user_id", *MEMBERSHIPS):
        field = MEMBERSHIPS[param][0] if param in MEMBERSHIPS else param
        # A field the context lacks cannot be met (MissingContextError): leave it out.
        if (param.endswith("dates") or field in context) and draw(st.booleans()):
            kwargs |= _one_field(draw, context, param, fits=True)
    return kwargs


SPOILABLE = ["dates", "legacy_dates", "user_id", *MEMBERSHIPS]


@st.composite
def spoiling_kwargs(draw: st.DrawFn, context: dict[str, object]) -> dict[str, object]:
    """Arguments for one restrict() call with exactly one restriction ``context`` fails."""
    return _one_field(draw, context, draw(st.sampled_from(SPOILABLE)), fits=False)


@st.composite
def narrowings(
    draw: st.DrawFn,
) -> tuple[dict[str, object], list[dict[str, object]], dict[str, object]]:
    """A context, a token's restrict() calls, and one more call that narrows it.

    The token mostly passes in the context before the narrowing: its calls fit the
    context, and one time in four a call that fails it (on exactly one restriction) is
    slipped in. The narrowing fits two times in three, else is any call from the pools;
    after a spoiling call, a fitting narrowing often restricts the same field. So each
    case that matters comes up often: a passing token that stays passing or starts
    failing, and a failing token narrowed by a restriction that, alone, would pass (where
    a "last one wins" bug would widen the token).
    """
    context = draw(contexts)
    before = draw(st.lists(fitting_kwargs(context), max_size=2))
    spoil = draw(st.sampled_from([False, False, True]))
    spoiled = draw(st.sampled_from(SPOILABLE)) if spoil else None
    if spoiled is not None:
        spoiler = _one_field(draw, context, spoiled, fits=False)
        before.insert(draw(st.integers(0, len(before))), spoiler)
    if not draw(st.sampled_from([True, True, False])):
        return context, before, draw(restrict_kwargs(pools=True))
    extra = draw(fitting_kwargs(context))
    field = MEMBERSHIPS[spoiled][0] if spoiled in MEMBERSHIPS else spoiled
    if spoiled is not None and (spoiled.endswith("dates") or field in context):
        if draw(st.booleans()):
            extra |= _one_field(draw, context, spoiled, fits=True)
    return context, before, extra


def _restricted(calls: list[dict[str, object]]) -> Token:
    token = Token.create("d", "id", KEY)
    for kwargs in calls:
        token.restrict(**kwargs)
    return token


@given(contexts.flatmap(lambda context: st.tuples(st.just(context), fitting_kwargs(context))))
def test_fitting_restrictions_pass(case):
    context, kwargs = case
    assert passes(_restricted([kwargs]), KEY, context)


@given(contexts.flatmap(lambda context: st.tuples(st.just(context), spoiling_kwargs(context))))
def test_spoiling_restrictions_fail(case):
    context, kwargs = case
    assert not passes(_restricted([kwargs]), KEY, context)


@given(narrowings())
def test_restricting_never_turns_a_failure_into_a_pass(case):
    context, before, extra = case
    token = _restricted(before)
    passed_before = passes(token, KEY, context)
    extra_alone = passes(_restricted([extra]), KEY, context)
    token.restrict(**extra)
    passes_after = passes(token, KEY, context)
    event(f"passes before narrowing: {passed_before}")
    event(f"passes after narrowing (the assertion below is reached): {passes_after}")
    if not passed_before and extra_alone:
        event("a failing token, narrowed by a restriction that alone would pass")
    if passes_after:
        assert passed_before
    # Stronger: a token passes exactly when each of its restrictions does.
    assert passes_after == (passed_before and extra_alone)
    # ... and the same through a round trip, as the holder would do it offline.
    again = Token.load(token.dump())
    assert passes(again, KEY, context) == passes_after


def test_the_narrowing_property_mostly_reaches_its_assertion():
    """Guard the generator: a property whose assertion is rarely reached proves little."""
    seen: Counter[tuple[bool, bool, bool]] = Counter()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(narrowings())
    def count(case):
        context, before, extra = case
        token = _restricted(before)
        passed_before = passes(token, KEY, context)
        extra_alone = passes(_restricted([extra]), KEY, context)
        seen[passed_before, passes(token.restrict(**extra), KEY, context), extra_alone] += 1

    count()
    total = sum(seen.values())
    passed_before = sum(n for (before, _, _), n in seen.items() if before)
    reached = sum(n for (_, after, _), n in seen.items() if after)
    failing_then_fitting = sum(n for (before, _, alone), n in seen.items() if alone and not before)
    assert passed_before >= 0.6 * total, seen
    assert reached >= 0.4 * total, seen
    assert failing_then_fitting >= 0.1 * total, seen


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


@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )
)
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
