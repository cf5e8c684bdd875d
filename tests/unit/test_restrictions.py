"""Restriction classes, the tag registry and Context: exact bytes and invalid-input tables."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import time

import pytest

from pypitoken_core import (
    ActionsRestriction,
    Context,
    DateRestriction,
    IndexesRestriction,
    InvalidRestriction,
    LegacyDateRestriction,
    LegacyNoopRestriction,
    LegacyProjectIDsRestriction,
    LegacyProjectNamesRestriction,
    LoaderError,
    MissingContextError,
    OIDCPublisherRestriction,
    ProjectIDsRestriction,
    ProjectNamesRestriction,
    Restriction,
    Token,
    UserIDRestriction,
    ValidationError,
    restrictions,
)
from pypitoken_core._time import MAX_TIMESTAMP, MIN_TIMESTAMP
from pypitoken_core.restrictions import _core

UUID0 = "00000000-0000-0000-0000-000000000000"
UUID3 = "00000000-0000-0000-0000-000000000003"
MISSING = "The restriction couldn't be checked because the context is missing required values"

# (restriction, the exact caveat it writes). pypitoken's seven match pypitoken 7.1.1
# byte for byte (formats.md 1.2; tests/differential compares them live).
WRITTEN = [
    (DateRestriction(not_before=1000, not_after=2000), "[0, 2000, 1000]"),
    (DateRestriction(1000, 2000), "[0, 2000, 1000]"),  # positional: not_before, not_after
    (ProjectNamesRestriction(["a", "b"]), '[1, ["a", "b"]]'),
    (ProjectNamesRestriction([]), "[1, []]"),
    (ProjectIDsRestriction([UUID0]), f'[2, ["{UUID0}"]]'),
    (UserIDRestriction(UUID3), f'[3, "{UUID3}"]'),
    (OIDCPublisherRestriction("pub-id"), '[4, "pub-id", null]'),
    (LegacyNoopRestriction(), '{"version": 1, "permissions": "user"}'),
    (LegacyProjectNamesRestriction(["a"]), '{"version": 1, "permissions": {"projects": ["a"]}}'),
    (LegacyDateRestriction(not_before=1000, not_after=2000), '{"nbf": 1000, "exp": 2000}'),
    (LegacyProjectIDsRestriction(["x"]), '{"project_ids": ["x"]}'),
    (ActionsRestriction(["upload", "download"]), '["ptc.actions", ["upload", "download"]]'),
    (IndexesRestriction(["root/pypi"]), '["ptc.indexes", ["root/pypi"]]'),
]


@pytest.mark.parametrize(("restriction", "caveat"), WRITTEN)
def test_dump_json_exact_bytes(restriction, caveat):
    assert restriction.dump_json() == caveat
    assert restriction.dump() == json.loads(caveat)


@pytest.mark.parametrize(("restriction", "caveat"), WRITTEN)
def test_load_what_is_written(restriction, caveat):
    assert Restriction.load_json(caveat) == restriction
    assert Restriction.load_json(caveat.encode()) == restriction
    assert Restriction.load(json.loads(caveat)) == restriction
    assert type(restriction).load_json(caveat) == restriction


# Everything pypi.org writes (compact JSON, tag 4, legacy objects) and a few legal variants.
READ = [
    ("[0,2000,1000]", DateRestriction(not_before=1000, not_after=2000)),
    ("[0, -5, -10]", DateRestriction(not_before=-10, not_after=-5)),
    (f"[0, {2**70}, 0]", DateRestriction(not_before=0, not_after=2**70)),
    ('[1,["foo","bar"]]', ProjectNamesRestriction(["foo", "bar"])),
    ('  [1 , [ "foo" ] ]  ', ProjectNamesRestriction(["foo"])),
    (f'[2,["{UUID0}"]]', ProjectIDsRestriction([UUID0])),
    ('[2,["not-a-uuid","ABC"]]', ProjectIDsRestriction(["not-a-uuid", "ABC"])),
    ("[2,[]]", ProjectIDsRestriction([])),
    ('[3,"any user id"]', UserIDRestriction("any user id")),
    ('[4,"pubid",null]', OIDCPublisherRestriction("pubid")),
    ('[4,"pubid"]', OIDCPublisherRestriction("pubid")),
    ('[4,"pubid",{"sub":"x"}]', OIDCPublisherRestriction("pubid", {"sub": "x"})),
    ('{"permissions":"user","version":1}', LegacyNoopRestriction()),
    (
        '{"version":1,"permissions":{"projects":["Foo_Bar"]}}',
        LegacyProjectNamesRestriction(["Foo_Bar"]),
    ),
    ('{"exp":2000,"nbf":1000}', LegacyDateRestriction(not_before=1000, not_after=2000)),
    ('{"project_ids":["a","b"]}', LegacyProjectIDsRestriction(["a", "b"])),
    ('["ptc.actions",["delete"]]', ActionsRestriction(["delete"])),
    ('["ptc.actions",[]]', ActionsRestriction([])),
    ('["ptc.indexes",["alice/dev","root/pypi"]]', IndexesRestriction(["alice/dev", "root/pypi"])),
    ('[1, ["caf\\u00e9"]]', None),  # escaped non-ASCII: valid JSON, not a normalised name
]


@pytest.mark.parametrize(("caveat", "expected"), [r for r in READ if r[1] is not None])
def test_load_reads(caveat, expected):
    assert Restriction.load_json(caveat) == expected
    assert type(Restriction.load_json(caveat)) is type(expected)


UNREADABLE = [
    # not a tagged array or a known object
    "null", "1", "true", '"str"', "[]", "{}", "[null]", "[[]]", "[{}]", "[1.0, []]",
    "[true, 2000, 1000]", "[false]", "[5, 1]", "[99]", "[-1, 1]", '["0", 2000, 1000]',
    '["ptc.unknown", []]', '["PTC.ACTIONS", ["upload"]]', '["ptc", []]',
    # date
    "[0]", "[0, 2000]", "[0, 2000, 1000, 5]", "[0, 2.0, 1.0]", "[0, 2000, 1000.5]",
    '[0, "2000", 1000]', "[0, true, false]", "[0, null, 1000]", "[0, [2000], 1000]",
    # project names: must be normalised
    "[1]", '[1, "foo"]', '[1, ["Foo"]]', '[1, ["foo_bar"]]', '[1, ["foo.bar"]]',
    '[1, ["-foo"]]', '[1, ["foo-"]]', '[1, [""]]', "[1, [1]]", "[1, [null]]",
    '[1, ["a"], 2]', '[1, ["foo\\n"]]', '[1, ["caf\\u00e9"]]', '[1, {"a": 1}]',
    # project ids
    "[2]", '[2, "x"]', "[2, [1]]", '[2, [""]]', '[2, ["x"], 3]', "[2, null]",
    # user id
    "[3]", '[3, ["u"]]', '[3, ""]', "[3, 1]", '[3, "u", 2]', "[3, null]",
    # trusted publisher
    "[4]", "[4, 1, null]", '[4, "", null]', '[4, "p", []]', '[4, "p", null, 1]',
    '[4, "p", "claims"]', "[4, null]",
    # extensions
    '["ptc.actions"]', '["ptc.actions", "upload"]', '["ptc.actions", ["publish"]]',
    '["ptc.actions", ["Upload"]]', '["ptc.actions", ["upload"], 1]',
    '["ptc.indexes"]', '["ptc.indexes", [""]]', '["ptc.indexes", [1]]', '["ptc.indexes", "x"]',
    # legacy objects: exact key sets, integer version 1
    '{"version": 1}', '{"permissions": "user"}', '{"version": 2, "permissions": "user"}',
    '{"version": 1.0, "permissions": "user"}', '{"version": true, "permissions": "user"}',
    '{"version": "1", "permissions": "user"}', '{"version": 1, "permissions": "admin"}',
    '{"version": 1, "permissions": "user", "x": 1}',
    '{"version": 1, "permissions": {"projects": "a"}}',
    '{"version": 1, "permissions": {"projects": ["a"], "x": 1}}',
    '{"version": 1, "permissions": {"projects": [1]}}',
    '{"version": 1, "permissions": {"projects": [""]}}',
    '{"version": 1, "permissions": {}}', '{"version": 1, "permissions": []}',
    '{"version": 1, "permissions": null}',
    '{"version": 2, "permissions": {"projects": ["a"]}}',
    '{"version": true, "permissions": {"projects": ["a"]}}',
    '{"nbf": 1}', '{"exp": 2}', '{"nbf": 1, "exp": 2.0}', '{"nbf": 1.0, "exp": 2}',
    '{"nbf": 1, "exp": 2, "x": 3}', '{"nbf": true, "exp": 2}', '{"nbf": "1", "exp": 2}',
    '{"project_ids": "x"}', '{"project_ids": ["x"], "y": 1}', '{"project_ids": [1]}',
    '{"project_ids": null}', '{"projects": ["a"]}',
]


@pytest.mark.parametrize("caveat", UNREADABLE)
def test_load_refuses(caveat):
    with pytest.raises(LoaderError) as info:
        Restriction.load_json(caveat)
    assert str(info.value) == f"Could not find matching Restriction for {json.loads(caveat)!r}"
    with pytest.raises(LoaderError) as info:
        Restriction.load(json.loads(caveat))
    assert str(info.value) == f"Could not find matching Restriction for {json.loads(caveat)!r}"


@pytest.mark.parametrize(
    ("caveat", "message"),
    [
        ("", "Error while loading caveat: Expecting value"),
        ("nope", "Error while loading caveat: Expecting value"),
        ('[1, ["a"]', "Error while loading caveat: Expecting ',' delimiter"),
        ('[1, ["a"]] x', "Error while loading caveat: Extra data"),
        # Python's json accepts NaN: then it is an unknown tag
        ("[NaN]", "Could not find matching Restriction for [nan]"),
        (b"\xff\xfe", "Error while loading caveat: not valid UTF-8"),
        (b'[1, ["\xe9"]]', "Error while loading caveat: not valid UTF-8"),
        ("[" * 2000 + "]" * 2000, "Error while loading caveat: JSON nested too deeply"),
        ("[" * 4097, "Error while loading caveat: longer than 4096 bytes"),
        (b"[" * 4097, "Error while loading caveat: longer than 4096 bytes"),
        ('[3, "' + "x" * 5000 + '"]', "Error while loading caveat: longer than 4096 bytes"),
        (None, "Error while loading caveat: expected str or bytes, got NoneType"),
        (1, "Error while loading caveat: expected str or bytes, got int"),
        ([0, 2, 1], "Error while loading caveat: expected str or bytes, got list"),
    ],
)
def test_load_json_refuses(caveat, message):
    with pytest.raises(LoaderError) as info:
        Restriction.load_json(caveat)
    assert str(info.value).startswith(message)


def test_caveat_size_limit_is_inclusive():
    caveat = '[3, "' + "x" * (restrictions.MAX_CAVEAT_BYTES - 7) + '"]'
    assert len(caveat) == restrictions.MAX_CAVEAT_BYTES
    assert Restriction.load_json(caveat) == UserIDRestriction("x" * 4089)
    with pytest.raises(LoaderError, match=r"^Error while loading caveat: longer than 4096 bytes"):
        Restriction.load_json(caveat[:-2] + 'x"]')


def test_size_limit_counts_bytes_not_characters():
    caveat = '[3, "' + "é" * 2100 + '"]'  # 2107 characters, 4207 UTF-8 bytes
    assert Restriction.load_json(caveat) == UserIDRestriction("é" * 2100)  # str: characters
    with pytest.raises(LoaderError, match="longer than"):
        Restriction.load_json(caveat.encode())


class _HostileRepr:
    def __repr__(self) -> str:
        raise RuntimeError("boom")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = object.__hash__


def _deep(depth: int) -> list:
    top: list = []
    current = top
    for _ in range(depth):
        current.append([])
        current = current[0]
    return top


@pytest.mark.parametrize(
    "caveat",
    [
        None, 0, "[0, 2, 1]", b"[0, 2, 1]", (0, 2, 1), {0, 1}, object(), 1.5,
        _HostileRepr(), [_HostileRepr()], {"version": _HostileRepr(), "permissions": "user"},
        {"version": 1, "permissions": _HostileRepr()}, _deep(100_000), [0, _deep(100_000), 1],
        {1: 2}, {("a",): 1},
    ],
    ids=lambda caveat: type(caveat).__name__,
)
def test_load_any_python_object_raises_loader_error(caveat):
    with pytest.raises(LoaderError, match=r"^Could not find matching Restriction for "):
        Restriction.load(caveat)


def test_load_message_is_truncated():
    caveat = [1, ["A" * 500]]
    with pytest.raises(LoaderError) as info:
        Restriction.load(caveat)
    assert len(str(info.value)) < 200
    assert str(info.value).endswith("...")


def test_subclass_load_only_returns_that_subclass():
    assert DateRestriction.load([0, 2, 1]) == DateRestriction(1, 2)
    with pytest.raises(LoaderError, match="Could not find matching Restriction"):
        DateRestriction.load([1, ["a"]])
    with pytest.raises(LoaderError, match=re.escape("Could not find matching Restriction for [0")):
        ProjectNamesRestriction.load_json("[0, 2, 1]")
    assert ProjectNamesRestriction.load_json('[1, ["a"]]') == ProjectNamesRestriction(["a"])


# --- check ---------------------------------------------------------------------------------

NOW = 1_700_000_000


def ctx(**kwargs) -> Context:
    kwargs.setdefault("now", NOW)
    return Context(**kwargs)


PASSES = [
    (DateRestriction(NOW, NOW + 1), ctx()),
    (DateRestriction(NOW - 10, NOW + 10), ctx()),
    (LegacyDateRestriction(NOW, NOW + 1), ctx()),
    (ProjectNamesRestriction(["a", "foo-bar"]), ctx(project_name="foo-bar")),
    (ProjectNamesRestriction(["foo-bar"]), ctx(project_name="Foo_Bar")),  # Context normalises
    (ProjectNamesRestriction(["foo-bar"]), ctx(project_name="foo.bar")),
    (LegacyProjectNamesRestriction(["foo-bar"]), ctx(project_name="FOO__bar")),
    (ProjectIDsRestriction(["x", UUID0]), ctx(project_id=UUID0)),
    (LegacyProjectIDsRestriction([UUID0]), ctx(project_id=UUID0)),
    (UserIDRestriction(UUID3), ctx(user_id=UUID3)),
    (OIDCPublisherRestriction("pub"), ctx(oidc_publisher_id="pub")),
    (LegacyNoopRestriction(), ctx()),
    (ActionsRestriction(["upload", "delete"]), ctx(action="delete")),
    (IndexesRestriction(["root/dev"]), ctx(index="root/dev")),
]


@pytest.mark.parametrize(("restriction", "context"), PASSES)
def test_check_passes(restriction, context):
    assert restriction.check(context) is None
    assert restriction._verify(context) is _core.SUCCESS


FAILS = [
    (
        DateRestriction(NOW + 1, NOW + 10),
        ctx(),
        f"This token can only be used between timestamps {NOW + 1} (incl) and {NOW + 10} "
        f"(excl). Received: {NOW}",
    ),
    (
        DateRestriction(NOW - 10, NOW),  # not_after is excluded
        ctx(),
        f"This token can only be used between timestamps {NOW - 10} (incl) and {NOW} "
        f"(excl). Received: {NOW}",
    ),
    (
        LegacyDateRestriction(0, NOW),
        ctx(),
        f"This token can only be used between timestamps 0 (incl) and {NOW} (excl). "
        f"Received: {NOW}",
    ),
    (
        ProjectNamesRestriction(["a", "b"]),
        ctx(project_name="c"),
        "This token can only be used for project(s): a, b. Received: c",
    ),
    (
        ProjectNamesRestriction([]),
        ctx(project_name="c"),
        "This token can only be used for project(s): . Received: c",
    ),
    (
        LegacyProjectNamesRestriction(["Foo_Bar"]),  # not normalised in the token: never matches
        ctx(project_name="Foo_Bar"),
        "This token can only be used for project(s): Foo_Bar. Received: foo-bar",
    ),
    (
        ProjectIDsRestriction([UUID0]),
        ctx(project_id=UUID3),
        f"This token can only be used for project(s): {UUID0}. Received: {UUID3}",
    ),
    (
        LegacyProjectIDsRestriction(["x"]),
        ctx(project_id="y"),
        "This token can only be used for project(s): x. Received: y",
    ),
    (
        UserIDRestriction(UUID3),
        ctx(user_id=UUID0),
        f"This token can only be used by user with id: {UUID3}. Received: {UUID0}",
    ),
    (
        OIDCPublisherRestriction("pub"),
        ctx(oidc_publisher_id="other"),
        "This token can only be used by trusted publisher: pub. Received: other",
    ),
    (
        ActionsRestriction(["download"]),
        ctx(action="upload"),
        "This token can only be used for action(s): download. Received: upload",
    ),
    (
        IndexesRestriction(["root/dev", "root/prod"]),
        ctx(index="alice/dev"),
        "This token can only be used on index(es): root/dev, root/prod. Received: alice/dev",
    ),
]


@pytest.mark.parametrize(("restriction", "context", "message"), FAILS)
def test_check_fails(restriction, context, message):
    with pytest.raises(ValidationError) as info:
        restriction.check(context)
    assert type(info.value) is ValidationError
    assert str(info.value) == message
    assert info.value.reasons == (message,)
    assert restriction._verify(context) == _core.Failure(message)


MISSING_CONTEXT = [
    (ProjectNamesRestriction(["a"]), "project_name"),
    (LegacyProjectNamesRestriction(["a"]), "project_name"),
    (ProjectIDsRestriction(["a"]), "project_id"),
    (LegacyProjectIDsRestriction(["a"]), "project_id"),
    (UserIDRestriction("u"), "user_id"),
    (OIDCPublisherRestriction("p"), "oidc_publisher_id"),
    (ActionsRestriction(["upload"]), "action"),
    (IndexesRestriction(["root/dev"]), "index"),
]


@pytest.mark.parametrize(("restriction", "field"), MISSING_CONTEXT)
def test_check_missing_context(restriction, field):
    with pytest.raises(MissingContextError) as info:
        restriction.check(ctx())
    assert str(info.value) == f"{MISSING}: {field}"
    assert restriction._verify(ctx()) == _core.Failure(f"{MISSING}: {field}", missing=field)


def test_missing_context_even_with_empty_allow_list():
    with pytest.raises(MissingContextError) as info:
        ProjectNamesRestriction([]).check(ctx())
    assert str(info.value) == f"{MISSING}: project_name"


def test_empty_strings_in_context_are_values_not_missing():
    with pytest.raises(ValidationError) as info:
        ProjectIDsRestriction(["a"]).check(ctx(project_id=""))
    assert type(info.value) is ValidationError


# --- registry --------------------------------------------------------------------------------


def test_registry_tags():
    assert _core._REGISTRY == {
        0: DateRestriction,
        1: ProjectNamesRestriction,
        2: ProjectIDsRestriction,
        3: UserIDRestriction,
        4: OIDCPublisherRestriction,
        "ptc.actions": ActionsRestriction,
        "ptc.indexes": IndexesRestriction,
    }
    for tag, cls in _core._REGISTRY.items():
        assert cls.tag == tag


def test_extension_tags_can_never_collide_with_integer_tags():
    for tag in _core._REGISTRY:
        if type(tag) is str:
            assert tag.startswith("ptc.")
            with pytest.raises(ValueError, match="invalid literal for int"):
                int(tag)


def test_legacy_classes_have_no_tag():
    for cls in (
        LegacyNoopRestriction,
        LegacyProjectNamesRestriction,
        LegacyDateRestriction,
        LegacyProjectIDsRestriction,
    ):
        assert cls.tag is None


@pytest.mark.parametrize("tag", [0, 4, "ptc.actions"])
def test_register_refuses_a_taken_tag(tag):
    before = dict(_core._REGISTRY)
    with pytest.raises(RuntimeError, match="already registered"):

        @_core._register(tag)
        @dataclasses.dataclass(frozen=True, slots=True)
        class Clash(Restriction):
            pass

    assert _core._REGISTRY == before


def test_only_one_legacy_picker_registers():
    with pytest.raises(RuntimeError, match="legacy caveat picker is already registered"):
        _core._register_legacy(lambda value: None)
    assert Restriction.load({"nbf": 1, "exp": 2}) == LegacyDateRestriction(1, 2)


@pytest.mark.parametrize(
    ("caveat", "detail"),
    [
        ([0, "x", 1], "date caveat must be [0, not_after, not_before]"),
        ([1, ["Not_Normal"]], "expected a list of strings"),
        ({"nbf": 1, "exp": True}, "not a legacy date caveat"),
    ],
)
def test_a_refused_caveat_keeps_the_class_reason_as_its_cause(caveat, detail):
    with pytest.raises(LoaderError, match=r"^Could not find matching Restriction for ") as info:
        Restriction.load(caveat)
    assert type(info.value.__cause__) is LoaderError
    assert str(info.value.__cause__) == detail
    # Token.restrictions raises its own LoaderError from the caveat's: the chain goes on.
    empty = Token.create("d", "i", "k")
    raw = empty._raw._replace(caveats=(json.dumps(caveat).encode(),))
    with pytest.raises(LoaderError) as through_token:
        _ = Token._from_raw("pypi", raw).restrictions
    assert str(through_token.value.__cause__.__cause__) == detail


DESCRIBED = [
    (
        DateRestriction(0, 86400),
        "valid from 1970-01-01T00:00:00Z until 1970-01-02T00:00:00Z (excl)",
    ),
    (
        LegacyDateRestriction(0, 10**30),
        f"valid from 1970-01-01T00:00:00Z until timestamp {10**30} (excl, legacy)",
    ),
    (ProjectNamesRestriction(["a", "b"]), "projects: a, b"),
    (ProjectNamesRestriction([]), "projects: (none)"),
    (LegacyProjectNamesRestriction(["a"]), "projects: a (legacy)"),
    (ProjectIDsRestriction([UUID0]), f"project ids: {UUID0}"),
    (LegacyProjectIDsRestriction([UUID0]), f"project ids: {UUID0} (legacy)"),
    (UserIDRestriction(UUID3), f"user id: {UUID3}"),
    (OIDCPublisherRestriction("pub"), "trusted publisher: pub"),
    (LegacyNoopRestriction(), "no restriction (legacy noop)"),
    (ActionsRestriction(["upload"]), "actions: upload"),
    (IndexesRestriction(["root/dev", "alice/prod"]), "indexes: root/dev, alice/prod"),
]


@pytest.mark.parametrize(("restriction", "words"), DESCRIBED)
def test_each_restriction_describes_itself(restriction, words):
    assert restriction.describe() == words


def test_every_class_has_its_own_words():
    described = {type(restriction) for restriction, _ in DESCRIBED}
    classes = set(_core._REGISTRY.values()) | {
        LegacyNoopRestriction,
        LegacyProjectNamesRestriction,
        LegacyDateRestriction,
        LegacyProjectIDsRestriction,
    }
    assert described == classes
    for cls in classes:
        assert cls.describe is not Restriction.describe, cls


def test_a_class_without_words_shows_its_caveat():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Plain(Restriction):
        tag = "test.plain"
        value: int

    assert Plain(5).describe() == 'Plain: ["test.plain", 5]'


def test_restrictions_are_frozen_values():
    r = ProjectNamesRestriction(["a"])
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field"):
        r.project_names = ["b"]  # type: ignore[misc]
    assert r == ProjectNamesRestriction(["a"])
    assert r != ProjectNamesRestriction(["b"])
    assert r != ProjectIDsRestriction(["a"])
    assert DateRestriction(1, 2) != LegacyDateRestriction(1, 2)


def test_date_restriction_attributes():
    r = DateRestriction(not_before=1, not_after=2)
    assert (r.not_before, r.not_after) == (1, 2)
    assert Restriction.load([0, 2, 1]).not_before == 1


# --- Context ---------------------------------------------------------------------------------


def test_context_defaults():
    before = int(time.time())
    context = Context()
    after = int(time.time())
    assert context.project_name is None
    assert context.project_id is None
    assert context.user_id is None
    assert context.action is None
    assert context.index is None
    assert context.oidc_publisher_id is None
    assert before <= context.now <= after


def test_context_positional_order_is_pypitoken_s():
    context = Context("Foo", "pid", "uid", 5)
    assert (context.project_name, context.project_id, context.user_id, context.now) == (
        "foo",
        "pid",
        "uid",
        5,
    )
    with pytest.raises(TypeError, match="positional arguments but 6 were given"):
        Context("a", "b", "c", 5, "upload")  # type: ignore[misc]  # extensions: keyword-only


def test_context_now_zero_is_a_timestamp():
    assert Context(now=0).now == 0


def test_context_normalises_project_name():
    assert Context(project_name="Django_REST.framework").project_name == "django-rest-framework"


def test_context_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'now'"):
        Context(now=1).now = 2  # type: ignore[misc]


def test_context_aware_datetime():
    moment = datetime.datetime(2024, 1, 1, 0, 0, 0, 900_000, tzinfo=datetime.UTC)
    assert Context(now=moment).now == 1704067200  # truncated


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": 1.5}, "`now` must be an integer timestamp"),
        ({"now": True}, "`now` must be an integer timestamp"),
        ({"now": "5"}, "`now` must be an integer timestamp"),
        ({"now": datetime.datetime(2024, 1, 1)}, "naive datetime for `now`"),
        ({"project_name": 5}, "`project_name` must be a string"),
        ({"project_name": b"foo"}, "`project_name` must be a string"),
        ({"project_id": 5}, "`project_id` must be a string"),
        ({"user_id": object()}, "`user_id` must be a string"),
        ({"action": ["upload"]}, "`action` must be a string"),
        ({"index": 1}, "`index` must be a string"),
        ({"oidc_publisher_id": 1}, "`oidc_publisher_id` must be a string"),
    ],
)
def test_context_refuses(kwargs, message):
    with pytest.raises(InvalidRestriction, match=message.replace("(", r"\(")):
        Context(**kwargs)


# --- timestamp_from_parameter ---------------------------------------------------------------

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (-1, -1),
        (MAX_TIMESTAMP, MAX_TIMESTAMP),
        (MIN_TIMESTAMP, MIN_TIMESTAMP),
        (datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), MAX_TIMESTAMP),
        (datetime.datetime(1, 1, 1, tzinfo=UTC), MIN_TIMESTAMP),
        (datetime.datetime(1970, 1, 1, tzinfo=UTC), 0),
        (
            datetime.datetime(2024, 1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
            1704067200,
        ),
        (datetime.datetime(2024, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC), 1704067200),
    ],
)
def test_timestamp_from_parameter(value, expected):
    assert restrictions.timestamp_from_parameter(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        *(1.0, 1.5, True, False, None, "1", b"1"),
        datetime.date(2024, 1, 1),
        datetime.datetime(2024, 1, 1),
    ],
)
def test_timestamp_from_parameter_refuses(value):
    with pytest.raises(InvalidRestriction, match="`when`"):
        restrictions.timestamp_from_parameter(value, "when")


_PLUS_2H = datetime.timezone(datetime.timedelta(hours=2))
_MINUS_2H = datetime.timezone(-datetime.timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "received"),
    [
        (MAX_TIMESTAMP + 1, str(MAX_TIMESTAMP + 1)),
        (MIN_TIMESTAMP - 1, str(MIN_TIMESTAMP - 1)),
        (10**30, str(10**30)),
        (-(10**30), str(-(10**30))),
        (10**4000, "a number of over 40 digits"),
        (-(10**4000), "a negative number of over 40 digits"),
        # Aware datetimes whose UTC time falls outside years 1 to 9999.
        (datetime.datetime(9999, 12, 31, 23, tzinfo=_MINUS_2H), "9999-12-31T23:00:00-02:00"),
        (datetime.datetime(1, 1, 1, tzinfo=_PLUS_2H), "0001-01-01T00:00:00+02:00"),
    ],
)
def test_timestamp_beyond_what_a_datetime_holds_is_refused(value, received):
    with pytest.raises(InvalidRestriction, match="`when` is out of range") as info:
        restrictions.timestamp_from_parameter(value, "when")
    assert str(info.value).endswith(f"Received {received}")


@pytest.mark.parametrize(
    "name", ["not_before", "not_after", "legacy_not_before", "legacy_not_after"]
)
def test_restrict_refuses_times_beyond_year_9999(name):
    pair = "legacy_not_" if name.startswith("legacy") else "not_"
    kwargs = {f"{pair}before": MIN_TIMESTAMP, f"{pair}after": MAX_TIMESTAMP}
    assert Token.create("d", "i", "k").restrict(**kwargs).restrictions  # the edges are fine
    kwargs[name] = 10**30 if name.endswith("after") else -(10**30)
    token = Token.create("d", "i", "k")
    with pytest.raises(InvalidRestriction, match=f"`{name}` is out of range"):
        token.restrict(**kwargs)
    assert token.restrictions == []


def test_context_and_check_refuse_now_beyond_year_9999():
    assert Context(now=MAX_TIMESTAMP).now == MAX_TIMESTAMP
    with pytest.raises(InvalidRestriction, match="`now` is out of range"):
        Context(now=MAX_TIMESTAMP + 1)
    token = Token.create("d", "i", "k")
    token.check("k", now=MAX_TIMESTAMP)
    with pytest.raises(InvalidRestriction, match="`now` is out of range"):
        token.check("k", now=10**30)


def test_naive_datetime_with_a_tzinfo_that_returns_none():
    class Floating(datetime.tzinfo):
        def utcoffset(self, dt):
            return None

    with pytest.raises(InvalidRestriction, match="naive datetime"):
        restrictions.timestamp_from_parameter(datetime.datetime(2024, 1, 1, tzinfo=Floating()))


# --- the JSON fast path is json.loads ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[0, 2, 1]",
        "[0,2,1]",
        " [0, 2, 1]",
        "[0, 2, 1] ",
        "\n[0, 2, 1]\t",
        "\ufeff[0, 2, 1]",
        "[0, 2, 1] x",
        "[0, 2, 1][1]",
        "[0, 2, 1",
        "",
        " ",
        "1",
        "1 2",
        "NaN",
        "-Infinity",
        '"str"',
        '{"a": 1, "a": 2}',
        "[1e400]",
        "[" * 2000 + "]" * 2000,
        '["\\ud800"]',
        '["\x00"]',  # a raw control character: refused in strict mode
        "[0, 2, 1]\x00",
        "tru",
        "true",
        "null",
    ],
)
def test_json_fast_path_is_json_loads(text):
    def outcome(func):
        try:
            return ("ok", repr(func(text)))
        except Exception as exc:
            return ("error", type(exc), str(exc))

    assert outcome(_core._json_loads) == outcome(json.loads)
