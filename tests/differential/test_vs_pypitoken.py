"""Differential tests against pypitoken 7.1.1 (the test-only dependency, run live).

Outside the documented differences (tested at the bottom, as behaviour, with what
pypitoken does next to what we do):

- the same ``create``/``restrict`` calls write the same token string;
- the same token and context give the same pass/fail from both ``check``s, with the same
  message for a single failure;
- each library loads the other's tokens and reads the same restrictions;
- a caveat pypitoken reads, we read as the same restriction.
"""

from __future__ import annotations

import datetime
import json

import pymacaroons
import pypitoken
import pypitoken.restrictions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pypitoken_core
from pypitoken_core import _macaroon
from pypitoken_core._time import MAX_TIMESTAMP

THEIRS = pypitoken
OURS = pypitoken_core
VECTOR = "pre-AgELZXhhbXBsZS5jb20CBjEyM2ZvbwAABiCK4TytWvy17_Up7TvhdVDhFx8cjU_ne_6wtOqxPUZmxw"
NOW = 1_700_000_000
KEY = "differential-key"
UTC = datetime.UTC

# pypitoken only reads lowercase UUIDs as ids and normalised names: the common domain.
# pypitoken's check costs milliseconds per caveat (jsonschema): fewer examples where it runs.
SLOW = settings(max_examples=max(10, settings.default.max_examples // 4))
MEDIUM = settings(max_examples=max(10, settings.default.max_examples // 2))

UUIDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
NAMES = ["a", "foo", "foo-bar", "x1"]


def outcome(func, *args, **kwargs):
    """("ok", result) or (exception class name, message)."""
    try:
        return ("ok", func(*args, **kwargs))
    except Exception as exc:
        return (type(exc).__name__, str(exc))


# --- the public surface ---


def test_every_pypitoken_name_exists_with_the_same_kind():
    for name in THEIRS.__all__:
        theirs, ours = getattr(THEIRS, name), getattr(OURS, name)
        assert type(theirs) is type(ours), name
        if isinstance(theirs, type) and issubclass(theirs, BaseException):
            for base in theirs.__mro__[1:]:
                if base.__module__.startswith("pypitoken"):
                    assert issubclass(ours, getattr(OURS, base.__name__)), (name, base)
                else:
                    assert issubclass(ours, base), (name, base)
    assert OURS.token.PREFIX == THEIRS.token.PREFIX
    assert callable(OURS.restrictions.timestamp_from_parameter)


def test_restrict_and_check_signatures_are_compatible():
    import inspect

    theirs = inspect.signature(THEIRS.Token.restrict).parameters
    ours = inspect.signature(OURS.Token.restrict).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    theirs = inspect.signature(THEIRS.Token.check).parameters
    ours = inspect.signature(OURS.Token.check).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    assert all(p.kind is p.KEYWORD_ONLY for p in list(ours.values())[len(theirs) :])
    theirs = inspect.signature(THEIRS.Token.create).parameters
    ours = inspect.signature(OURS.Token.create).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]


def test_the_test_vector():
    for lib in (THEIRS, OURS):
        assert (
            lib.Token.create("example.com", "123foo", "ohsosecret", prefix="pre").dump() == VECTOR
        )


# --- writing: byte-identical ---

# pypitoken reads 0 as "not given"; above MAX_TIMESTAMP (year 9999) is a documented
# difference (test_difference_times_beyond_year_9999_are_refused).
stamps = st.integers(min_value=1, max_value=MAX_TIMESTAMP)
aware = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1),
    max_value=datetime.datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, datetime.timezone(datetime.timedelta(hours=5, minutes=30))]),
)


def _ts(value: object) -> int:
    return int(value.timestamp()) if isinstance(value, datetime.datetime) else value  # type: ignore[return-value]


@st.composite
def ordered_pair(draw: st.DrawFn) -> tuple[object, object]:
    a, b = draw(st.one_of(stamps, aware)), draw(st.one_of(stamps, aware))
    return (a, b) if _ts(a) <= _ts(b) else (b, a)


common_names = st.lists(
    st.builds(
        "-".join, st.lists(st.text("abz019", min_size=1, max_size=4), min_size=1, max_size=3)
    ),
    max_size=3,
)
any_ids = st.lists(st.text(min_size=1, max_size=10), max_size=3)


@st.composite
def common_restrict_kwargs(draw: st.DrawFn) -> dict[str, object]:
    """restrict() arguments on which both libraries agree (no documented difference)."""
    kwargs: dict[str, object] = {}
    if draw(st.booleans()):
        kwargs["not_before"], kwargs["not_after"] = draw(ordered_pair())
    if draw(st.booleans()):
        kwargs["project_names"] = draw(common_names)
    if draw(st.booleans()):
        kwargs["project_ids"] = draw(any_ids)
    if draw(st.booleans()):
        kwargs["user_id"] = draw(st.text(min_size=1, max_size=10))
    if draw(st.booleans()):
        kwargs["legacy_noop"] = draw(st.sampled_from([True, False, None]))
    if draw(st.booleans()):
        kwargs["legacy_project_names"] = draw(common_names)
    if draw(st.booleans()):
        kwargs["legacy_not_before"], kwargs["legacy_not_after"] = draw(ordered_pair())
    return kwargs


@given(
    domain=st.text(max_size=20),
    identifier=st.text(min_size=1, max_size=40) | st.binary(min_size=1, max_size=20).map(bytes.hex),
    key=st.text(min_size=1, max_size=20) | st.binary(min_size=1, max_size=40),
    prefix=st.text(st.characters(blacklist_characters="-"), min_size=1, max_size=6),
    version=st.sampled_from([2, 2, 1]),
    calls=st.lists(common_restrict_kwargs(), max_size=3),
)
def test_same_calls_write_the_same_token(domain, identifier, key, prefix, version, calls):
    tokens = [
        lib.Token.create(domain, identifier, key, prefix=prefix, version=version)
        for lib in (THEIRS, OURS)
    ]
    for kwargs in calls:
        for token in tokens:
            token.restrict(**kwargs)
    theirs, ours = (token.dump() for token in tokens)
    assert ours == theirs
    assert (tokens[1].prefix, tokens[1].domain, tokens[1].identifier) == (
        tokens[0].prefix,
        tokens[0].domain,
        tokens[0].identifier,
    )


RESTRICTION_PAIRS = [
    ("DateRestriction", {"not_before": 1000, "not_after": 2000}),
    ("ProjectNamesRestriction", {"project_names": ["a", "b-c"]}),
    ("ProjectIDsRestriction", {"project_ids": UUIDS[:2]}),
    ("UserIDRestriction", {"user_id": UUIDS[3]}),
    ("LegacyNoopRestriction", {}),
    ("LegacyProjectNamesRestriction", {"project_names": ["a"]}),
    ("LegacyDateRestriction", {"not_before": 1000, "not_after": 2000}),
]


@pytest.mark.parametrize(("name", "fields"), RESTRICTION_PAIRS)
def test_restriction_classes_dump_the_same(name, fields):
    theirs = getattr(THEIRS, name)(**fields)
    ours = getattr(OURS, name)(**fields)
    assert ours.dump() == theirs.dump()
    assert ours.dump_json() == theirs.dump_json()
    assert OURS.Restriction.load_json(theirs.dump_json()) == ours
    assert THEIRS.Restriction.load_json(ours.dump_json()) == theirs
    assert ours.dump_json() == json.dumps(theirs.dump())


# --- reading: each loads the other's tokens ---


def as_comparable(restrictions) -> list[tuple[str, object]]:
    return [(type(r).__name__, r.dump()) for r in restrictions]


@st.composite
def readable_kwargs(draw: st.DrawFn) -> dict[str, object]:
    """restrict() arguments whose caveats both libraries can read back (UUID ids)."""
    kwargs = draw(common_restrict_kwargs())
    if "project_ids" in kwargs:
        kwargs["project_ids"] = draw(st.lists(st.sampled_from(UUIDS), max_size=3))
    if "user_id" in kwargs:
        kwargs["user_id"] = draw(st.sampled_from(UUIDS))
    return kwargs


@SLOW
@given(calls=st.lists(readable_kwargs(), max_size=3), writer=st.sampled_from([THEIRS, OURS]))
def test_each_reads_the_others_tokens(calls, writer):
    token = writer.Token.create("pypi.org", "some-id", KEY)
    for kwargs in calls:
        token.restrict(**kwargs)
    text = token.dump()
    theirs, ours = THEIRS.Token.load(text), OURS.Token.load(text)
    assert ours.dump() == theirs.dump() == text
    assert (ours.prefix, ours.domain, ours.identifier) == (
        theirs.prefix,
        theirs.domain,
        theirs.identifier,
    )
    assert as_comparable(ours.restrictions) == as_comparable(theirs.restrictions)
    assert ours._macaroon.serialize() == theirs._macaroon.serialize()


def test_warehouse_style_user_and_project_tokens_read_alike():
    # Compact JSON, as pypi.org writes: both libraries read them (tag 4 is a difference).
    mac = pymacaroons.Macaroon(location="pypi.org", identifier=UUIDS[0], key=b"k" * 32, version=2)
    mac.add_first_party_caveat(json.dumps([1, ["foo"]], separators=(",", ":")))
    mac.add_first_party_caveat(json.dumps([2, [UUIDS[1]]], separators=(",", ":")))
    mac.add_first_party_caveat(json.dumps([3, UUIDS[2]], separators=(",", ":")))
    text = "pypi-" + mac.serialize()
    theirs, ours = THEIRS.Token.load(text), OURS.Token.load(text)
    assert as_comparable(ours.restrictions) == as_comparable(theirs.restrictions)
    for context in (
        {"project_name": "foo", "project_id": UUIDS[1], "user_id": UUIDS[2]},
        {"project_name": "bar", "project_id": UUIDS[1], "user_id": UUIDS[2]},
    ):
        a = outcome(theirs.check, b"k" * 32, **context)
        b = outcome(ours.check, b"k" * 32, **context)
        assert a == b


# --- checking: same pass/fail ---

contexts = st.fixed_dictionaries(
    {"now": st.integers(NOW - 3, NOW + 3)},
    optional={
        "project_name": st.sampled_from(NAMES),
        "project_id": st.sampled_from(UUIDS),
        "user_id": st.sampled_from(UUIDS),
    },
)


@st.composite
def pooled_kwargs(draw: st.DrawFn) -> dict[str, object]:
    """Small pools, so that random contexts satisfy random tokens often enough."""
    kwargs: dict[str, object] = {}
    if draw(st.booleans()):
        start = draw(st.integers(NOW - 3, NOW + 3))
        kwargs["not_before"], kwargs["not_after"] = start, start + draw(st.integers(0, 3))
    if draw(st.booleans()):
        kwargs["project_names"] = draw(st.lists(st.sampled_from(NAMES), max_size=2))
    if draw(st.booleans()):
        kwargs["project_ids"] = draw(st.lists(st.sampled_from(UUIDS), max_size=2))
    if draw(st.booleans()):
        kwargs["user_id"] = draw(st.sampled_from(UUIDS))
    if draw(st.booleans()):
        kwargs["legacy_noop"] = True
    if draw(st.booleans()):
        kwargs["legacy_project_names"] = draw(st.lists(st.sampled_from(NAMES), max_size=2))
    if draw(st.booleans()):
        start = draw(st.integers(NOW - 3, NOW + 3))
        kwargs["legacy_not_before"], kwargs["legacy_not_after"] = (
            start,
            start + draw(st.integers(0, 3)),
        )
    return kwargs


@MEDIUM
@given(
    calls=st.lists(pooled_kwargs(), min_size=1, max_size=2),
    context=contexts,
    key=st.sampled_from([KEY, KEY.encode(), "wrong"]),
)
def test_same_token_and_context_same_verdict(calls, context, key):
    token = THEIRS.Token.create("pypi.org", "id", KEY)
    for kwargs in calls:
        token.restrict(**kwargs)
    text = token.dump()
    try:
        THEIRS.Token.load(text).check(key, **context)
        theirs = ("ok", None)
    except THEIRS.ValidationError as exc:
        # pypitoken wraps a MissingContextError in a plain ValidationError (as its cause);
        # we raise the MissingContextError itself, a ValidationError too.
        missing = isinstance(exc.__cause__, THEIRS.MissingContextError)
        theirs = ("MissingContextError" if missing else "ValidationError", str(exc))
    except ValueError as exc:
        theirs = ("ValueError", str(exc))
    try:
        OURS.Token.load(text).check(key, **context)
        ours = ("ok", None)
    except OURS.ValidationError as exc:
        ours = (type(exc).__name__, str(exc))
        reasons = exc.reasons

    if theirs[0] == "ValueError":
        # pypitoken's multi-failure crash (formats.md 1.4): we report every reason instead.
        assert theirs[1] == "too many values to unpack (expected 1)"
        assert ours[0] == "ValidationError" and len(reasons) >= 2
        return
    assert ours[0] == theirs[0]  # ok / ValidationError / MissingContextError alike
    if theirs[0] == "ok":
        return
    if theirs[0] == "MissingContextError":
        assert ours[1].startswith(theirs[1] + ": ")  # we also name the missing field
    elif "Signatures do not match" in theirs[1]:
        assert ours[1].startswith(theirs[1])  # we also say what it means
    else:
        assert ours[1] == theirs[1]


# --- caveats: what pypitoken reads, we read alike ---

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([1.0, 2.5])
    | st.sampled_from(["", "a", "foo-bar", "Foo", UUIDS[0], UUIDS[0].upper(), "user"])
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["version", "permissions", "projects", "nbf", "exp", "x"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=6,
)
caveat_like = st.one_of(
    json_value,
    st.tuples(st.integers(-1, 5), json_value).map(list),
    st.tuples(st.integers(0, 3), json_value, json_value).map(list),
    st.tuples(st.sampled_from([0]), st.integers(-5, 5), st.integers(-5, 5)).map(list),
    st.tuples(st.sampled_from([1, 2]), st.lists(json_leaf, max_size=3)).map(list),
    st.fixed_dictionaries({"version": json_leaf, "permissions": json_value}),
    st.fixed_dictionaries(
        {
            "version": st.just(1),
            "permissions": st.fixed_dictionaries({"projects": st.lists(json_leaf, max_size=2)}),
        }
    ),
    st.fixed_dictionaries({"nbf": json_leaf, "exp": json_leaf}),
)


def documented_difference(caveat: object) -> bool:
    """Caveats pypitoken reads and we refuse on purpose (fail closed, Warehouse-strict).

    jsonschema counts 1.0 as an integer, so pypitoken reads float tags, versions and
    timestamps ([1.0, ["a"]], [0, 2.0, 1.0], {"version": 1.0, ...}); Warehouse's StrictInt
    and we do not. pypitoken also reads "" in legacy project name lists; we do not.
    """
    if isinstance(caveat, list):
        return type(caveat[0]) is float or (caveat[0] == 0 and float in map(type, caveat[1:]))
    assert isinstance(caveat, dict)
    if float in map(type, caveat.values()):
        return True
    projects = caveat.get("permissions", {}).get("projects", [])
    return "" in projects


@given(caveat=caveat_like)
def test_caveats_pypitoken_reads_we_read_the_same(caveat):
    text = json.dumps(caveat)
    theirs = outcome(THEIRS.Restriction.load_json, text)
    ours = outcome(OURS.Restriction.load_json, text)
    if theirs[0] == "ok":
        if documented_difference(caveat):
            assert ours[0] == "LoaderError"
            return
        assert ours[0] == "ok", (text, ours)
        assert (type(ours[1]).__name__, ours[1].dump()) == (
            type(theirs[1]).__name__,
            theirs[1].dump(),
        )
    elif ours[0] == "ok":
        # The superset we read on purpose: non-UUID ids and user ids (any non-empty string),
        # tag 4 and pypi.org's legacy {"project_ids": [...]}.
        assert type(ours[1]).__name__ in {
            "ProjectIDsRestriction",
            "UserIDRestriction",
            "OIDCPublisherRestriction",
            "LegacyProjectIDsRestriction",
        }, text
    else:
        assert ours[0] == "LoaderError"
        # Same wording for arrays and objects (a bare JSON string shows as its repr, and
        # ours shortens long reprs).
        if isinstance(caveat, list | dict) and len(ours[1]) < 100:
            assert ours[1] == theirs[1]  # "Could not find matching Restriction for [...]"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pypi",
        "pypi-",
        "pypi-" + _macaroon.b64encode(b"\x01" + _macaroon.b64decode(VECTOR[4:])[1:]),
        "pypi-" + _macaroon.b64encode(_macaroon.b64decode(VECTOR[4:])[:-8]),
        "pypi-" + _macaroon.b64encode(_macaroon.b64decode(VECTOR[4:])[:10]),
    ],
)
def test_load_errors_have_pypitoken_s_wording(text):
    assert outcome(OURS.Token.load, text) == outcome(THEIRS.Token.load, text)


# --- the documented differences, as behaviour ---


def both(func):
    return outcome(func, THEIRS), outcome(func, OURS)


def test_difference_project_names_are_normalised_when_written():
    theirs, ours = both(
        lambda lib: lib.Token.create("d", "i", "k").restrict(project_names=["Foo_Bar"])
    )
    assert theirs[1]._macaroon.caveats[0].caveat_id_bytes == b'[1, ["Foo_Bar"]]'
    assert ours[1]._raw.caveats == (b'[1, ["foo-bar"]]',)
    # ... because pypitoken's own token can never pass:
    assert outcome(theirs[1].check, "k", project_name="foo-bar")[0] == "ValidationError"
    assert outcome(theirs[1].check, "k", project_name="Foo_Bar")[0] == "ValidationError"
    ours[1].check("k", project_name="Foo_Bar")


def test_difference_check_context_project_name_is_normalised():
    text = THEIRS.Token.create("d", "i", "k").restrict(project_names=["foo-bar"]).dump()
    assert (
        outcome(THEIRS.Token.load(text).check, "k", project_name="Foo.Bar")[0] == "ValidationError"
    )
    OURS.Token.load(text).check("k", project_name="Foo.Bar")


def test_difference_not_before_zero_is_a_timestamp():
    theirs, ours = both(
        lambda lib: lib.Token.create("d", "i", "k").restrict(not_before=0, not_after=10)
    )
    assert theirs[0] == "InvalidRestriction"
    assert ours[1]._raw.caveats == (b"[0, 10, 0]",)


def test_difference_not_before_after_not_after_is_refused():
    theirs, ours = both(
        lambda lib: lib.Token.create("d", "i", "k").restrict(not_before=10, not_after=5)
    )
    assert theirs[0] == "ok"
    assert ours[0] == "InvalidRestriction"


@pytest.mark.parametrize(
    ("kwargs", "theirs_raises"),
    [
        ({"not_before": 1.5, "not_after": 10}, "AttributeError"),
        ({"not_before": True, "not_after": 10}, None),  # written as [0, 10, 1]
        ({"legacy_not_before": 1, "legacy_not_after": 2.0}, "AttributeError"),
    ],
)
def test_difference_floats_and_bools_are_refused(kwargs, theirs_raises):
    theirs, ours = both(lambda lib: lib.Token.create("d", "i", "k").restrict(**kwargs))
    assert theirs[0] == (theirs_raises or "ok")
    assert ours[0] == "InvalidRestriction"
    assert next(iter(kwargs)) in ours[1] or "not_after" in ours[1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"not_before": 1, "not_after": MAX_TIMESTAMP + 1},
        {"not_before": 1, "not_after": 10**30},
        {"legacy_not_before": 1, "legacy_not_after": 10**30},
    ],
    ids=["year-10000", "10**30", "legacy-10**30"],
)
def test_difference_times_beyond_year_9999_are_refused(kwargs):
    theirs, ours = both(lambda lib: lib.Token.create("d", "i", "k").restrict(**kwargs))
    assert theirs[0] == "ok"
    assert ours[0] == "InvalidRestriction"
    assert "out of range" in ours[1] and "not_after`" in ours[1]
    # A token pypitoken wrote with such a time still loads and is checked (and expires never).
    token = OURS.Token.load(theirs[1].dump())
    assert [type(r).__name__ for r in token.restrictions] in (
        ["DateRestriction"],
        ["LegacyDateRestriction"],
    )
    token.check("k", now=NOW)
    assert outcome(THEIRS.Token.load(theirs[1].dump()).check, "k", now=NOW)[0] == "ok"


def test_difference_check_now_beyond_year_9999_is_refused():
    theirs_token = THEIRS.Token.create("d", "i", "k")
    assert outcome(theirs_token.check, "k", now=10**30)[0] == "ok"
    kind, message = outcome(OURS.Token.create("d", "i", "k").check, "k", now=10**30)
    assert kind == "InvalidRestriction" and "`now` is out of range" in message


def test_difference_naive_datetime_message_names_the_parameter():
    naive = datetime.datetime(2024, 1, 1)
    aware_ = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    theirs, ours = both(
        lambda lib: lib.Token.create("d", "i", "k").restrict(not_before=naive, not_after=aware_)
    )
    assert theirs == (
        "InvalidRestriction",
        "Cannot use a naive datetime. Either provide a timezone or the timestamp directly. "
        "Received {param}",  # sic: a missing f-prefix
    )
    assert ours[0] == "InvalidRestriction" and ours[1].endswith("for `not_before`")


def test_difference_ids_may_be_any_non_empty_string():
    theirs, ours = both(
        lambda lib: lib.Token.create("d", "i", "k").restrict(project_ids=["ABC"], user_id="alice")
    )
    text = theirs[1].dump()
    assert ours[1].dump() == text  # written alike ...
    assert (
        outcome(lambda: THEIRS.Token.load(text).restrictions)[0] == "LoaderError"
    )  # ... read by us only
    OURS.Token.load(text).check("k", project_id="ABC", user_id="alice")
    theirs, ours = both(lambda lib: lib.Token.create("d", "i", "k").restrict(user_id=""))
    assert theirs[0] == "ok" and ours[0] == "InvalidRestriction"


def test_difference_multiple_failures_are_all_reported():
    text = THEIRS.Token.create("d", "i", "k").restrict(project_names=["a"], user_id=UUIDS[0]).dump()
    theirs = outcome(THEIRS.Token.load(text).check, "k", project_name="b", user_id=UUIDS[1])
    ours = outcome(OURS.Token.load(text).check, "k", project_name="b", user_id=UUIDS[1])
    assert theirs == ("ValueError", "too many values to unpack (expected 1)")
    assert ours == (
        "ValidationError",
        "Error while validating token: This token can only be used for project(s): a. Received: b, "
        f"This token can only be used by user with id: {UUIDS[0]}. Received: {UUIDS[1]}",
    )


def _pymacaroons_token(*caveats: str, key: bytes = b"k") -> str:
    mac = pymacaroons.Macaroon(location="pypi.org", identifier="i", key=key, version=2)
    for caveat in caveats:
        mac.add_first_party_caveat(caveat)
    return "pypi-" + mac.serialize()


@pytest.mark.parametrize(
    ("caveat", "context"),
    [
        ('[4,"pub",null]', {"oidc_publisher_id": "pub"}),
        ('{"project_ids":["p1"]}', {"project_id": "p1"}),
    ],
)
def test_difference_pypi_org_caveats_are_readable(caveat, context):
    text = _pymacaroons_token(caveat)
    assert outcome(lambda: THEIRS.Token.load(text).restrictions)[0] == "LoaderError"
    assert outcome(THEIRS.Token.load(text).check, b"k")[0] == "ValidationError"
    OURS.Token.load(text).check(b"k", **context)
    assert outcome(OURS.Token.load(text).check, b"k")[0] == "MissingContextError"


@pytest.mark.parametrize(
    "caveat",
    ["[0, 2000000000.0, 1.0]", '{"nbf": 1.0, "exp": 2000000000}', '[1, ["foo\\n"]]'],
)
def test_difference_caveats_pypitoken_reads_and_we_refuse(caveat):
    text = _pymacaroons_token(caveat)
    THEIRS.Token.load(text).check(b"k", project_name="foo\n", now=NOW)
    assert (
        outcome(OURS.Token.load(text).check, b"k", project_name="foo", now=NOW)[0]
        == "ValidationError"
    )


def test_difference_junk_in_base64_is_refused():
    text = VECTOR[:20] + " \n\t!" + VECTOR[20:]
    assert THEIRS.Token.load(text).dump() == VECTOR  # the junk silently dropped
    assert outcome(OURS.Token.load, text)[0] == "LoaderError"


def test_difference_trailing_binary_is_refused():
    text = "pre-" + _macaroon.b64encode(_macaroon.b64decode(VECTOR[4:]) + b"\x00")
    assert THEIRS.Token.load(text).dump() == VECTOR
    assert outcome(OURS.Token.load, text)[0] == "LoaderError"


def test_difference_empty_key_and_bad_identifier_at_create():
    theirs, ours = both(lambda lib: lib.Token.create("d", "i", ""))
    assert theirs[0] == "ok" and ours[0] == "LoaderError"
    assert theirs[1].dump() == "pypi-AgEBZAIBaQAABgA"  # no signature at all: never verifies
    theirs, ours = both(lambda lib: lib.Token.create("d", 5, "k"))
    assert theirs[0] == "TypeError" and ours[0] == "LoaderError"
    theirs, ours = both(lambda lib: lib.Token.create("d", "i", "k", prefix="a-b"))
    assert theirs[0] == "ok" and ours[0] == "LoaderError"


def test_difference_non_utf8_identifier_is_refused_at_load():
    raw = _macaroon.RawMacaroon(b"d", b"\xff", (), b"s" * 32)
    text = "pypi-" + _macaroon.b64encode(_macaroon.encode(raw))
    token = THEIRS.Token.load(text)
    assert outcome(lambda: token.identifier)[0] == "UnicodeDecodeError"
    assert outcome(OURS.Token.load, text)[0] == "LoaderError"


def test_difference_third_party_caveats_are_refused_at_load():
    mac = pymacaroons.Macaroon(location="d", identifier="i", key="k", version=2)
    mac.add_third_party_caveat("elsewhere", "caveat key", "tp")
    text = "pypi-" + mac.serialize()
    assert outcome(THEIRS.Token.load, text)[0] == "ok"
    assert outcome(OURS.Token.load, text)[0] == "LoaderError"


def test_difference_size_limits():
    big = THEIRS.Token.create("d", "i", "k")
    for _ in range(12):
        big.restrict(project_ids=["x" * 1000])
    assert len(big.dump()) > 8192
    assert outcome(OURS.Token.load, big.dump())[0] == "LoaderError"
    many = THEIRS.Token.create("d", "i", "k")
    for _ in range(65):
        many.restrict(user_id="u")
    assert len(many.dump()) <= 8192
    assert outcome(OURS.Token.load, many.dump()) == (
        "LoaderError",
        "Token has more than 64 caveats",
    )
    huge = THEIRS.Token.create("d", "i", "k").restrict(project_ids=["x" * 5000])
    assert outcome(OURS.Token.load(huge.dump()).check, "k", project_id="x" * 5000) == (
        "ValidationError",
        "Error while validating token: Error while loading caveat: longer than 4096 bytes",
    )


def test_difference_non_str_load_and_check_inputs_raise_library_errors():
    assert outcome(THEIRS.Token.load, None)[0] == "AttributeError"
    assert outcome(OURS.Token.load, None)[0] == "LoaderError"
    token = OURS.Token.create("d", "i", "k")
    theirs_token = THEIRS.Token.create("d", "i", "k")
    assert outcome(theirs_token.check, "k", now=1.5)[0] == "AttributeError"
    assert outcome(token.check, "k", now=1.5)[0] == "InvalidRestriction"
    assert outcome(theirs_token.check, "k", now=True)[0] == "ok"
    assert outcome(token.check, "k", now=True)[0] == "InvalidRestriction"


def test_difference_subclass_load_returns_only_that_subclass():
    assert type(THEIRS.DateRestriction.load([1, ["a"]])).__name__ == "ProjectNamesRestriction"
    assert outcome(OURS.DateRestriction.load, [1, ["a"]])[0] == "LoaderError"


@pytest.mark.parametrize(
    "kwargs", [{"actions": ["upload"]}, {"indexes": ["root/dev"]}], ids=["actions", "indexes"]
)
def test_extension_caveats_fail_closed_in_pypitoken(kwargs):
    text = OURS.Token.create("d", "i", "k").restrict(**kwargs).dump()
    theirs = THEIRS.Token.load(text)
    assert outcome(lambda: theirs.restrictions)[0] == "LoaderError"
    for context in ({}, {"project_name": "a", "project_id": UUIDS[0], "user_id": UUIDS[1]}):
        assert outcome(theirs.check, "k", **context)[0] == "ValidationError"
    OURS.Token.load(text).check("k", action="upload", index="root/dev")
