"""Token: create / load / restrict / dump / restrictions / check, as documented.

The seed API (pypitoken 7.1.1) first, then the documented differences, then tokens as
pypi.org writes them (built here with pymacaroons directly), then the no-foreign-exception
and no-secret-in-messages guarantees.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import traceback
import uuid

import pymacaroons
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
    PyPITokenException,
    Token,
    UserIDRestriction,
    ValidationError,
    _macaroon,
)
from pypitoken_core import (
    token as token_module,
)
from pypitoken_core.restrictions import MAX_CAVEAT_BYTES

VECTOR = "pre-AgELZXhhbXBsZS5jb20CBjEyM2ZvbwAABiCK4TytWvy17_Up7TvhdVDhFx8cjU_ne_6wtOqxPUZmxw"
KEY = "ohsosecret"
NOW = 1_700_000_000
UUID_P = "8b1d4a3c-7f58-4b5c-9d0e-2f3a4b5c6d7e"
UUID_U = "0f2e4d6c-8b0a-4c2e-8f1a-3b5c7d9e1f20"
INVALID = "Error while validating token: "
BAD_SIGNATURE = "Signatures do not match: the token was not signed with this key, or it was altered"
MISSING = "The restriction couldn't be checked because the context is missing required values"


#: One of each restriction ``restrict`` can write.
EVERY_RESTRICTION = {
    "not_before": 1,
    "not_after": 2,
    "project_names": ["a"],
    "project_ids": ["b"],
    "user_id": "c",
    "legacy_noop": True,
    "legacy_project_names": ["d"],
    "legacy_not_before": 3,
    "legacy_not_after": 4,
    "actions": ["upload"],
    "indexes": ["root/dev"],
}


def new(**restrict) -> Token:
    token = Token.create("example.com", "123foo", KEY, prefix="pre")
    return token.restrict(**restrict) if restrict else token


def caveats(token: Token) -> list[str]:
    return [c.decode() for c in token._raw.caveats]


def raw_token(caveats: list[bytes], *, key: bytes = b"k", identifier: bytes = b"id") -> str:
    raw = _macaroon.RawMacaroon(
        b"loc", identifier, tuple(caveats), _macaroon.sign(key, identifier, caveats)
    )
    return "pypi-" + _macaroon.b64encode(_macaroon.encode(raw))


# --- create ------------------------------------------------------------------------------


def test_create_reproduces_pypitoken_test_vector():
    assert new().dump() == VECTOR


def test_create_attributes():
    token = Token.create("pypi.org", "some-id", "key")
    assert token.prefix == "pypi" == token_module.PREFIX
    assert token.domain == "pypi.org"
    assert token.identifier == "some-id"
    assert token.dump().startswith("pypi-AgE")
    assert token.restrictions == []


def test_create_accepts_bytes_identifier_and_key():
    a = Token.create("d", b"id", b"key").dump()
    assert a == Token.create("d", "id", "key").dump()
    assert Token.create("d", "id", bytearray(b"key").decode()).dump() == a


def test_create_domain_none_is_empty():
    token = Token.create(None, "id", "key")  # type: ignore[arg-type]
    assert token.domain == ""
    assert token.dump() == Token.create("", "id", "key").dump()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": ""}, "key must be a non-empty"),
        ({"key": b""}, "key must be a non-empty"),
        ({"key": None}, "key must be a non-empty"),
        ({"key": 5}, "key must be a non-empty"),
        ({"key": "\ud800"}, "key must be encodable"),
        ({"identifier": ""}, "identifier must be a non-empty"),
        ({"identifier": b""}, "identifier must be a non-empty"),
        ({"identifier": None}, "identifier must be a non-empty"),
        ({"identifier": 5}, "identifier must be a non-empty"),
        ({"identifier": b"\xff\xfe"}, "not UTF-8"),
        ({"identifier": "\udc80"}, "encodable as UTF-8"),
        ({"domain": 5}, "domain must be a string"),
        ({"domain": b"pypi.org"}, "domain must be a string"),
        ({"domain": "\ud800"}, "encodable as UTF-8"),
        ({"prefix": ""}, "prefix must be"),
        ({"prefix": "py-pi"}, "prefix must be"),
        ({"prefix": None}, "prefix must be"),
        ({"version": 3}, "version must be 1 or 2"),
        ({"version": 0}, "version must be 1 or 2"),
    ],
)
def test_create_refuses(kwargs, message):
    params = {"domain": "d", "identifier": "id", "key": "key"} | kwargs
    with pytest.raises(LoaderError, match=message):
        Token.create(**params)


def test_create_v1_matches_pymacaroons():
    token = Token.create("d", "id", "key", version=1).restrict(project_names=["foo"])
    expected = pymacaroons.Macaroon(location="d", identifier="id", key="key", version=1)
    expected.add_first_party_caveat('[1, ["foo"]]')
    assert token.dump() == "pypi-" + expected.serialize()
    loaded = Token.load(token.dump())
    assert loaded.dump() == token.dump()
    assert loaded._macaroon.version == 1
    loaded.check("key", project_name="foo")
    with pytest.raises(ValidationError, match="Signatures do not match"):
        loaded.check("other", project_name="foo")


# --- load --------------------------------------------------------------------------------


def test_load_vector():
    token = Token.load(VECTOR)
    assert (token.prefix, token.domain, token.identifier) == ("pre", "example.com", "123foo")
    assert token.dump() == VECTOR
    token.check(KEY)


def test_load_accepts_any_prefix_and_splits_on_the_first_dash():
    tokens = (new(user_id=str(i)).dump() for i in range(100))
    dumped = next(t for t in tokens if "-" in t[4:])
    body = dumped.split("-", 1)[1]
    assert "-" in body  # base64url bodies contain '-' themselves
    for prefix in ("pypi", "foo", "", "PYPI", "é"):
        token = Token.load(f"{prefix}-{body}")
        assert token.prefix == prefix
        assert token.dump() == f"{prefix}-{body}"


def test_load_accepts_padding_and_standard_alphabet():
    body = VECTOR.split("-", 1)[1]
    for variant in (body + "=", body.replace("-", "+").replace("_", "/")):
        token = Token.load("pre-" + variant)
        assert token.dump() == VECTOR  # dumped canonically
        token.check(KEY)


def test_load_does_not_check_the_signature_or_parse_caveats():
    text = raw_token([b"not json", b"[99]"], key=b"whatever")
    token = Token.load(text)
    assert token.identifier == "id"
    with pytest.raises(LoaderError, match=r"^Error while loading caveat: Expecting value"):
        _ = token.restrictions


def test_checks_share_caveat_readings_that_callers_never_get() -> None:
    # A server checks the same caveats on every request: their readings are kept, but
    # a restriction handed out is the caller's own, and changing it changes no check.
    raw = Token.create("example.com", "id", "key").restrict(project_names=["foo"]).dump()
    first = Token.load(raw)
    first.check("key", project_name="foo")
    handed_out = first.restrictions[0]
    assert isinstance(handed_out, ProjectNamesRestriction)
    handed_out.project_names.append("bar")
    second = Token.load(raw)
    assert second.restrictions == [ProjectNamesRestriction(project_names=["foo"])]
    with pytest.raises(ValidationError, match=r"can only be used for project\(s\): foo\. "):
        second.check("key", project_name="bar")
    second.check("key", project_name="foo")


def test_load_round_trips_what_restrict_writes():
    token = new(**EVERY_RESTRICTION)
    assert Token.load(token.dump()).dump() == token.dump()
    assert Token.load(token.dump()).restrictions == token.restrictions


_BODY = VECTOR.split("-", 1)[1]
_DATA = _macaroon.b64decode(_BODY)

LOAD_ERRORS = [
    ("", "Token is missing a prefix"),
    ("pypi", "Token is missing a prefix"),
    ("AgELZXhhbXBsZS5jb20", "Token is missing a prefix"),
    ("pypi-", "Deserialization error: Must supply serialized macaroon."),
    ("-", "Deserialization error: Must supply serialized macaroon."),
    ("pypi-AgEL ZXhh", "Deserialization error: token is not valid base64"),
    ("pypi-" + _BODY + "!", "Deserialization error: token is not valid base64"),
    ("pypi-" + _BODY + "\n", "Deserialization error: token is not valid base64"),
    ("pypi-" + _BODY[:-1], "Deserialization error"),
    ("pypi-" + _BODY + "A", "Deserialization error"),
    ("pypi-" + _BODY + "AAAA", "Deserialization error: trailing data"),
    ("pypi-" + _BODY[:-8], "Deserialization error: field data extends past end of buffer"),
    ("pypi-é", "Deserialization error: token contains non-ASCII characters"),
    ("pypi-\ud800", "Deserialization error: token contains non-ASCII characters"),
    ("pypi-" + _macaroon.b64encode(b"\x01" + _DATA[1:]), "cannot determine data format"),
    ("pypi-" + _macaroon.b64encode(b"\xff" + _DATA[1:]), "cannot determine data format"),
    ("pypi-" + _macaroon.b64encode(b"0000"), "Deserialization error"),  # v1 garbage
    ("pypi-" + _macaroon.b64encode(b"0fffidentifier x\n"), "no valid signature"),
    ("pypi-" + _macaroon.b64encode(b"0011identifier x\n0012signature abc\n"), "no valid signature"),
    ("pypi-" + _macaroon.b64encode(b"\x02\x02\x02\xff\xfe\x00\x00\x06 " + b"s" * 32), "not UTF-8"),
    ("pypi-" + _macaroon.b64encode(b"\x02\x01\x01\xff\x02\x01i\x00\x00\x06 " + b"s" * 32), "UTF-8"),
    (
        "pypi-"
        + _macaroon.b64encode(b"\x02\x02\x02id\x00\x02\x01c\x04\x01v\x00\x00\x06\x20" + b"s" * 32),
        "third-party caveats are not supported",
    ),
]


@pytest.mark.parametrize(("text", "message"), LOAD_ERRORS)
def test_load_refuses(text, message):
    with pytest.raises(LoaderError) as info:
        Token.load(text)
    assert message in str(info.value)


@pytest.mark.parametrize("value", [None, 5, b"pypi-AgEL", bytearray(b"x-y"), ["pypi-x"], object()])
def test_load_non_str(value):
    with pytest.raises(LoaderError, match="Token must be a string"):
        Token.load(value)  # type: ignore[arg-type]


def test_load_ten_megabytes_is_refused_by_its_size():
    # Refused by the size check, before any decoding (what that costs:
    # benchmarks/bench_core.py); a string at the limit is read, and refused for what it is.
    for huge in ("pypi-" + "A" * 10_000_000, "x" * 10_000_000):
        with pytest.raises(LoaderError, match=r"^Token is longer than 8192 characters$"):
            Token.load(huge)
    with pytest.raises(LoaderError, match=r"^Token is longer than 8192 characters$"):
        Token.load("x" * 8193)
    with pytest.raises(LoaderError, match=r"^Token is missing a prefix$"):
        Token.load("x" * 8192)


def _token_of_length(length: int) -> str:
    # Two big caveats, the second grown one byte at a time, until the dump has `length` chars.
    for size in range(2000, 4090):
        text = raw_token([b'[3, "' + b"u" * 4000 + b'"]', b'[3, "' + b"v" * size + b'"]'])
        if len(text) >= length:
            return text
    raise AssertionError("unreachable")


def test_token_length_limit():
    limit = token_module.MAX_TOKEN_LENGTH
    assert limit == 8192
    at_limit = _token_of_length(limit)
    assert len(at_limit) in (limit, limit + 1)
    at_limit = at_limit if len(at_limit) == limit else _token_of_length(limit - 1)
    assert len(at_limit) <= limit
    Token.load(at_limit)
    with pytest.raises(LoaderError, match="longer than 8192 characters"):
        Token.load(at_limit + "A" * (limit + 1 - len(at_limit)))


def test_caveat_count_limit():
    limit = token_module.MAX_CAVEATS
    assert limit == 64
    ok = Token.load(raw_token([b'[3, "u"]'] * limit))
    assert len(ok.restrictions) == limit
    with pytest.raises(LoaderError, match="more than 64 caveats"):
        Token.load(raw_token([b'[3, "u"]'] * (limit + 1)))


# --- restrict ----------------------------------------------------------------------------

RESTRICT = [
    ({"not_before": 1000, "not_after": 2000}, ["[0, 2000, 1000]"]),
    ({"not_before": 0, "not_after": 2000}, ["[0, 2000, 0]"]),  # 0 is a timestamp
    ({"not_before": 0, "not_after": 0}, ["[0, 0, 0]"]),
    ({"not_before": -5, "not_after": 7}, ["[0, 7, -5]"]),
    (
        {
            "not_before": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            "not_after": datetime.datetime(2024, 1, 2, 0, 0, 0, 999, tzinfo=datetime.UTC),
        },
        ["[0, 1704153600, 1704067200]"],
    ),
    ({"project_names": ["foo", "bar"]}, ['[1, ["foo", "bar"]]']),
    ({"project_names": ["Foo_Bar", "a.b"]}, ['[1, ["foo-bar", "a-b"]]']),
    ({"project_names": (x for x in "ab")}, ['[1, ["a", "b"]]']),
    ({"project_names": ("a",)}, ['[1, ["a"]]']),
    ({"project_names": []}, ["[1, []]"]),
    ({"project_ids": [UUID_P]}, [f'[2, ["{UUID_P}"]]']),
    ({"project_ids": ["ABC", "any id"]}, ['[2, ["ABC", "any id"]]']),  # not normalised
    ({"user_id": UUID_U}, [f'[3, "{UUID_U}"]']),
    ({"user_id": "alice"}, ['[3, "alice"]']),
    ({"user_id": "é"}, ['[3, "\\u00e9"]']),  # json.dumps default: ASCII
    ({"legacy_noop": True}, ['{"version": 1, "permissions": "user"}']),
    ({"legacy_noop": False}, []),
    ({"legacy_noop": 1}, []),  # only `True` itself, as pypitoken
    ({"legacy_project_names": ["Foo"]}, ['{"version": 1, "permissions": {"projects": ["foo"]}}']),
    ({"legacy_not_before": 1, "legacy_not_after": 2}, ['{"nbf": 1, "exp": 2}']),
    ({"actions": ["upload"]}, ['["ptc.actions", ["upload"]]']),
    ({"indexes": ["root/dev"]}, ['["ptc.indexes", ["root/dev"]]']),
    ({"oidc_publisher_id": "pub-1"}, ['[4, "pub-1", null]']),  # as Warehouse writes it
    ({}, []),
    ({"project_names": None, "user_id": None}, []),
]


@pytest.mark.parametrize(("kwargs", "expected"), RESTRICT)
def test_restrict_writes(kwargs, expected):
    token = new()
    assert token.restrict(**kwargs) is token
    assert caveats(token) == expected
    assert Token.load(token.dump()).dump() == token.dump()


def test_restrict_fixed_order_whatever_the_keyword_order():
    token = new().restrict(
        indexes=["i"],
        oidc_publisher_id="p",
        actions=["delete"],
        legacy_not_after=4,
        legacy_not_before=3,
        legacy_project_names=["d"],
        legacy_noop=True,
        user_id="c",
        project_ids=["b"],
        project_names=["a"],
        not_after=2,
        not_before=1,
    )
    assert caveats(token) == [
        "[0, 2, 1]",
        '[1, ["a"]]',
        '[2, ["b"]]',
        '[3, "c"]',
        '[4, "p", null]',
        '{"version": 1, "permissions": "user"}',
        '{"version": 1, "permissions": {"projects": ["d"]}}',
        '{"nbf": 3, "exp": 4}',
        '["ptc.actions", ["delete"]]',
        '["ptc.indexes", ["i"]]',
    ]


def test_restrict_accumulates_and_chains():
    token = new().restrict(project_names=["a"]).restrict(project_names=["b"], user_id="u")
    assert caveats(token) == ['[1, ["a"]]', '[1, ["b"]]', '[3, "u"]']
    assert token.restrictions == [
        ProjectNamesRestriction(["a"]),
        ProjectNamesRestriction(["b"]),
        UserIDRestriction("u"),
    ]


def test_restrict_signature_is_the_chain():
    token = new().restrict(project_names=["a"], user_id="u")
    expected = _macaroon.sign(KEY.encode(), b"123foo", [b'[1, ["a"]]', b'[3, "u"]'])
    assert token._raw.signature == expected


def test_restrict_after_restrictions_were_read():
    token = Token.load(new(project_names=["a"]).dump())
    assert token.restrictions == [ProjectNamesRestriction(["a"])]
    token.restrict(user_id="u")
    assert token.restrictions == [ProjectNamesRestriction(["a"]), UserIDRestriction("u")]
    token.check(KEY, project_name="a", user_id="u")
    with pytest.raises(ValidationError) as info:
        token.check(KEY, project_name="a", user_id="v")
    assert info.value.reasons == ("This token can only be used by user with id: u. Received: v",)


_AWARE = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

RESTRICT_ERRORS = [
    (
        {"not_before": 1},
        "`not_before` and `not_after` parameters must be used together. Either define both or "
        "neither. Received not_before=1 and not_after=None",
    ),
    ({"not_after": 1}, "`not_before` and `not_after` parameters must be used together"),
    ({"legacy_not_before": 1}, "`legacy_not_before` and `legacy_not_after` parameters must be"),
    ({"legacy_not_after": 1}, "`legacy_not_before` and `legacy_not_after` parameters must be"),
    ({"not_before": 2, "not_after": 1}, "`not_before` (2) must not be later than `not_after` (1)"),
    ({"legacy_not_before": 2, "legacy_not_after": 1}, "`legacy_not_before` (2) must not be later"),
    ({"not_before": 1.0, "not_after": 2}, "`not_before` must be an integer timestamp"),
    ({"not_before": 1, "not_after": 2.5}, "`not_after` must be an integer timestamp"),
    ({"not_before": True, "not_after": 2}, "`not_before` must be an integer timestamp"),
    ({"not_before": 0, "not_after": True}, "`not_after` must be an integer timestamp"),
    ({"not_before": "1", "not_after": 2}, "`not_before` must be an integer timestamp"),
    ({"legacy_not_before": 1.5, "legacy_not_after": 2}, "`legacy_not_before` must be an integer"),
    (
        {"not_before": datetime.datetime(2024, 1, 1), "not_after": _AWARE},
        "Cannot use a naive datetime. Either provide a timezone or the timestamp directly. "
        "Received a naive datetime for `not_before`",
    ),
    ({"not_before": _AWARE, "not_after": datetime.datetime(2025, 1, 1)}, "for `not_after`"),
    (
        {"legacy_not_before": _AWARE, "legacy_not_after": datetime.datetime(2025, 1, 1)},
        "for `legacy_not_after`",
    ),
    (
        {"project_names": "foo"},
        "project_names should be an iterable of strings. Received a single string not wrapped "
        "in an iterable.",
    ),
    ({"project_ids": "foo"}, "project_ids should be an iterable of strings. Received a single"),
    ({"legacy_project_names": "foo"}, "legacy_project_names should be an iterable of strings."),
    ({"actions": "upload"}, "actions should be an iterable of strings. Received a single"),
    ({"indexes": "root/dev"}, "indexes should be an iterable of strings. Received a single"),
    ({"project_names": b"foo"}, "project_names should be an iterable of strings."),
    ({"project_names": 5}, "project_names should be an iterable of strings."),
    ({"project_names": [5]}, "project_names should be an iterable of non-empty strings"),
    ({"project_names": [""]}, "project_names should be an iterable of non-empty strings"),
    ({"project_names": [b"foo"]}, "project_names should be an iterable of non-empty strings"),
    ({"project_names": ["-"]}, "project_names: '-' is not a valid project name"),
    ({"project_names": ["_foo"]}, "project_names: '-foo' is not a valid project name"),
    ({"project_names": ["foo!"]}, "is not a valid project name"),
    ({"project_names": ["café"]}, "is not a valid project name"),
    ({"project_names": ["a b"]}, "is not a valid project name"),
    ({"legacy_project_names": ["a b"]}, "legacy_project_names: 'a b' is not a valid project"),
    ({"project_ids": [""]}, "project_ids should be an iterable of non-empty strings"),
    ({"project_ids": [uuid.UUID(UUID_P)]}, "project_ids should be an iterable of non-empty"),
    ({"project_ids": [None]}, "project_ids should be an iterable of non-empty strings"),
    ({"user_id": ""}, "user_id should be a non-empty string."),
    ({"user_id": 5}, "user_id should be a non-empty string."),
    ({"user_id": uuid.UUID(UUID_U)}, "user_id should be a non-empty string."),
    ({"actions": ["publish"]}, "actions: unknown action(s) publish; expected upload, download"),
    ({"actions": ["upload", "Upload"]}, "unknown action(s) Upload"),
    ({"indexes": [""]}, "indexes should be an iterable of non-empty strings"),
    ({"oidc_publisher_id": ""}, "oidc_publisher_id should be a non-empty string."),
    ({"oidc_publisher_id": 4}, "oidc_publisher_id should be a non-empty string."),
    ({"project_ids": ["x" * 5000]}, f"at most {MAX_CAVEAT_BYTES} bytes of JSON"),
]


@pytest.mark.parametrize(("kwargs", "message"), RESTRICT_ERRORS)
def test_restrict_refuses(kwargs, message):
    token = new(project_names=["already"])
    before = token.dump()
    with pytest.raises(InvalidRestriction) as info:
        token.restrict(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    assert token.dump() == before  # all or nothing


def test_restrict_is_all_or_nothing_across_parameters():
    token = new()
    with pytest.raises(InvalidRestriction, match=r"^indexes should be an iterable of strings"):
        token.restrict(project_names=["fine"], user_id="ok", indexes="not-a-list")
    assert caveats(token) == []
    token.restrict(project_names=["fine"], user_id="ok", indexes=["a/list"])
    assert len(caveats(token)) == 3


def test_restrict_caveat_count_limit():
    token = new()
    for _ in range(token_module.MAX_CAVEATS):
        token.restrict(user_id="u")
    with pytest.raises(InvalidRestriction, match="at most 64 caveats"):
        token.restrict(user_id="u")
    assert len(Token.load(token.dump()).restrictions) == 64


def test_restrict_token_length_limit():
    token = new()
    with pytest.raises(InvalidRestriction, match="longer than 8192 characters"):
        for _ in range(10):
            token.restrict(project_ids=["x" * 1000])
    Token.load(token.dump()).check(KEY, project_id="x" * 1000)


def test_restrict_v1_token_length_limit():
    token = Token.create("d", "i", KEY, version=1)
    with pytest.raises(InvalidRestriction, match="longer than 8192 characters"):
        for _ in range(10):
            token.restrict(project_ids=["x" * 1000])
    Token.load(token.dump())


# --- restrictions ------------------------------------------------------------------------


def test_restrictions_property():
    token = new(**EVERY_RESTRICTION)
    assert Token.load(token.dump()).restrictions == [
        DateRestriction(not_before=1, not_after=2),
        ProjectNamesRestriction(["a"]),
        ProjectIDsRestriction(["b"]),
        UserIDRestriction("c"),
        LegacyNoopRestriction(),
        LegacyProjectNamesRestriction(["d"]),
        LegacyDateRestriction(not_before=3, not_after=4),
        ActionsRestriction(["upload"]),
        IndexesRestriction(["root/dev"]),
    ]


@pytest.mark.parametrize(
    ("caveat", "message"),
    [
        (b"[99]", "Could not find matching Restriction for [99]"),
        (b'{"version": 13}', "Could not find matching Restriction for {'version': 13}"),
        (b"nope", "Error while loading caveat: Expecting value"),
        (b"\xff", "Error while loading caveat: not valid UTF-8"),
    ],
)
def test_restrictions_refuses_an_unknown_caveat(caveat, message):
    token = Token.load(raw_token([b'[3, "u"]', caveat]))
    with pytest.raises(LoaderError) as info:
        _ = token.restrictions
    assert str(info.value).startswith(message)
    assert isinstance(info.value.__cause__, LoaderError)


def test_inspect_shows_every_caveat_and_never_raises():
    token = Token.load(raw_token([b'[3, "u"]', b"[99]", b'[1, ["a"]]']))
    first, unknown, last = token.inspect()
    assert (first, last) == (UserIDRestriction("u"), ProjectNamesRestriction(["a"]))
    assert type(unknown) is LoaderError
    assert str(unknown) == "Could not find matching Restriction for [99]"
    # the control: a readable token inspects as its restrictions
    readable = new(**EVERY_RESTRICTION)
    assert readable.inspect() == readable.restrictions
    assert new().inspect() == []


# --- check -------------------------------------------------------------------------------

FULL = {
    "not_before": NOW - 10,
    "not_after": NOW + 10,
    "project_names": ["foo"],
    "project_ids": [UUID_P],
    "user_id": UUID_U,
}
FULL_CONTEXT = {"project_name": "foo", "project_id": UUID_P, "user_id": UUID_U, "now": NOW}


def test_check_passes():
    token = Token.load(new(**FULL).dump())
    token.check(KEY, **FULL_CONTEXT)
    token.check(KEY.encode(), **FULL_CONTEXT)
    token.check(bytearray(KEY.encode()), **FULL_CONTEXT)
    token.check(KEY, "foo", UUID_P, UUID_U, NOW)  # positional, as in pypitoken
    token.check(KEY, **FULL_CONTEXT | {"project_name": "Foo"})  # Context normalises


def test_check_now_defaults_to_the_current_time():
    now = int(time.time())
    new(not_before=now - 100, not_after=now + 100).check(KEY)
    with pytest.raises(ValidationError, match="can only be used between timestamps"):
        new(not_before=now + 100, not_after=now + 200).check(KEY)


def test_check_aware_datetime_now():
    token = new(not_before=NOW, not_after=NOW + 1)
    token.check(KEY, now=datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC))


def test_check_with_a_wrong_key():
    token = new(**FULL)
    for key in ("wrong", b"ohsosecre", KEY + " ", "OHSOSECRET"):
        with pytest.raises(ValidationError) as info:
            token.check(key, **FULL_CONTEXT)
        assert type(info.value) is ValidationError
        assert str(info.value) == (
            INVALID + "Signatures do not match: the token was not signed with this key, "
            "or it was altered"
        )


@pytest.mark.parametrize("key", [None, 5, ["k"], "\ud800"])
def test_check_unusable_key(key):
    with pytest.raises(ValidationError, match="the key"):
        new().check(key)


def test_check_empty_key_never_verifies():
    with pytest.raises(ValidationError, match="Signatures do not match"):
        new().check("")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"project_name": "bar"}, "This token can only be used for project(s): foo. Received: bar"),
        (
            {"project_id": UUID_U},
            f"This token can only be used for project(s): {UUID_P}. Received: {UUID_U}",
        ),
        (
            {"user_id": UUID_P},
            f"This token can only be used by user with id: {UUID_U}. Received: {UUID_P}",
        ),
        (
            {"now": NOW + 10},
            f"This token can only be used between timestamps {NOW - 10} (incl) and {NOW + 10} "
            f"(excl). Received: {NOW + 10}",
        ),
    ],
)
def test_check_one_failure(context, message):
    with pytest.raises(ValidationError) as info:
        new(**FULL).check(KEY, **FULL_CONTEXT | context)
    assert type(info.value) is ValidationError
    assert str(info.value) == INVALID + message
    assert info.value.reasons == (message,)


@pytest.mark.parametrize("field", ["project_name", "project_id", "user_id"])
def test_check_missing_context(field):
    with pytest.raises(MissingContextError) as info:
        new(**FULL).check(KEY, **FULL_CONTEXT | {field: None})
    assert str(info.value) == f"{INVALID}{MISSING}: {field}"


def test_check_reports_every_failure():
    # pypitoken 7.1.1 raises a bare ValueError here (formats.md 1.4).
    with pytest.raises(ValidationError) as info:
        new(**FULL).check(KEY, project_name="bar", user_id="someone", now=NOW)
    assert type(info.value) is ValidationError  # not MissingContextError: several reasons
    assert info.value.reasons == (
        "This token can only be used for project(s): foo. Received: bar",
        f"{MISSING}: project_id",
        f"This token can only be used by user with id: {UUID_U}. Received: someone",
    )
    assert str(info.value) == INVALID + ", ".join(info.value.reasons)


def test_check_failing_restriction_reported_before_a_bad_signature():
    with pytest.raises(ValidationError) as info:
        new(**FULL).check("wrong key", **FULL_CONTEXT | {"project_name": "bar"})
    assert "This token can only be used for project(s): foo" in str(info.value)


def test_check_a_tampered_token_fails():
    token = new(project_names=["foo"], user_id="u")
    raw = token._raw
    token.check(KEY, project_name="foo", user_id="u")
    for tampered, allowed in (
        (raw._replace(caveats=raw.caveats[:1]), "foo"),  # a restriction dropped
        (raw._replace(caveats=(b'[1, ["bar"]]', raw.caveats[1])), "bar"),  # one widened
        (raw._replace(identifier=b"123fop"), "foo"),
        (raw._replace(signature=raw.signature[:-1] + bytes([raw.signature[-1] ^ 1])), "foo"),
    ):
        text = "pre-" + _macaroon.b64encode(_macaroon.encode(tampered))
        for project in ("bar", "foo"):
            with pytest.raises(ValidationError) as info:
                Token.load(text).check(KEY, project_name=project, user_id="u")
            # A caveat it fails is its reason; where its caveats pass, the signature is.
            refused = f"This token can only be used for project(s): {allowed}. Received: {project}"
            want = INVALID + BAD_SIGNATURE if project == allowed else refused
            assert info.value.reasons == (want,)


def test_check_compares_signatures_in_constant_time(monkeypatch):
    calls = []
    real = _macaroon.hmac.compare_digest

    def spy(a, b):
        calls.append(len(a))
        return real(a, b)

    monkeypatch.setattr(_macaroon.hmac, "compare_digest", spy)
    token = new(project_names=["foo"])
    token.check(KEY, project_name="foo")
    with pytest.raises(ValidationError, match=f"^{INVALID}{BAD_SIGNATURE}$"):
        token.check("wrong", project_name="foo")
    assert calls == [32, 32]


def test_check_verifies_the_signature_even_when_restrictions_fail(monkeypatch):
    # No early exit: the work done does not depend on which caveat failed.
    calls = []
    real = _macaroon.sign
    monkeypatch.setattr(_macaroon, "sign", lambda *a: calls.append(1) or real(*a))
    with pytest.raises(ValidationError) as info:
        new(**FULL).check(KEY, project_name="bar", project_id=UUID_P, user_id=UUID_U, now=NOW)
    assert info.value.reasons == ("This token can only be used for project(s): foo. Received: bar",)
    assert calls == [1]


def test_check_context_errors_are_invalid_restriction():
    token = new()
    with pytest.raises(InvalidRestriction, match="`now`"):
        token.check(KEY, now=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidRestriction, match="naive datetime for `now`"):
        token.check(KEY, now=datetime.datetime(2024, 1, 1))
    with pytest.raises(InvalidRestriction, match="`project_name`"):
        token.check(KEY, project_name=5)  # type: ignore[arg-type]


def test_check_context():
    token = new(**FULL)
    token.check_context(KEY, Context(**FULL_CONTEXT))
    with pytest.raises(ValidationError) as info:
        token.check_context(KEY, Context(**FULL_CONTEXT | {"project_name": "x"}))
    assert info.value.reasons == ("This token can only be used for project(s): foo. Received: x",)


def test_legacy_noop_restricts_nothing():
    new(legacy_noop=True).check(KEY)


def test_legacy_restrictions_check():
    token = new(legacy_project_names=["Foo"], legacy_not_before=NOW, legacy_not_after=NOW + 1)
    token.check(KEY, project_name="foo", now=NOW)
    with pytest.raises(ValidationError) as info:
        token.check(KEY, project_name="foo", now=NOW + 1)
    assert info.value.reasons == (
        f"This token can only be used between timestamps {NOW} (incl) and {NOW + 1} (excl)."
        f" Received: {NOW + 1}",
    )
    with pytest.raises(MissingContextError, match=f"{MISSING}: project_name$"):
        token.check(KEY, now=NOW)


def test_not_before_zero_is_a_valid_timestamp():
    token = new(not_before=0, not_after=10)
    token.check(KEY, now=0)
    with pytest.raises(ValidationError, match=r"between timestamps 0 \(incl\) and 10 \(excl\)"):
        token.check(KEY, now=10)


def test_contradictory_restrictions_never_pass():
    token = new(project_names=["a"]).restrict(project_names=["b"])
    for name, other in (("a", "b"), ("b", "a")):
        with pytest.raises(ValidationError) as info:
            token.check(KEY, project_name=name)
        assert info.value.reasons == (
            f"This token can only be used for project(s): {other}. Received: {name}",
        )
    new(project_names=["a"]).check(KEY, project_name="a")


def test_empty_project_list_never_passes():
    with pytest.raises(ValidationError) as info:
        new(project_names=[]).check(KEY, project_name="a")
    assert info.value.reasons == ("This token can only be used for project(s): . Received: a",)


# --- extension caveats -------------------------------------------------------------------


def test_actions_restriction():
    token = new(actions=["upload", "download"])
    token.check(KEY, action="upload")
    token.check(KEY, action="download")
    with pytest.raises(ValidationError, match=r"action\(s\): upload, download\. Received: delete"):
        token.check(KEY, action="delete")
    with pytest.raises(MissingContextError, match=r": action$"):
        token.check(KEY)


def test_indexes_restriction():
    token = new(indexes=["root/dev"])
    token.check(KEY, index="root/dev")
    with pytest.raises(ValidationError, match=r"on index\(es\): root/dev\. Received: root/prod"):
        token.check(KEY, index="root/prod")
    with pytest.raises(MissingContextError, match=r": index$"):
        token.check(KEY)


def test_extras_are_keyword_only():
    with pytest.raises(TypeError, match="positional arguments but 7 were given"):
        new().check(KEY, None, None, None, NOW, "upload")  # type: ignore[misc]
    new().check(KEY, None, None, None, NOW, action="upload")


# --- tokens as pypi.org (Warehouse) writes them ---------------------------------------------


def warehouse_token(*caveats: object, key: bytes = b"\x01" * 32, legacy: bool = False) -> str:
    """Mint like Warehouse's create_macaroon: v2, compact sorted JSON, uuid identifier."""
    mac = pymacaroons.Macaroon(
        location="pypi.org",
        identifier=str(uuid.UUID(int=7)),
        key=key,
        version=pymacaroons.MACAROON_V2,
    )
    for caveat in caveats:
        mac.add_first_party_caveat(json.dumps(caveat, sort_keys=True, separators=(",", ":")))
    return f"pypi-{mac.serialize()}"


WH_KEY = b"\x01" * 32


def test_warehouse_user_token():
    token = Token.load(warehouse_token([3, UUID_U]))
    assert token.identifier == str(uuid.UUID(int=7))
    assert token.domain == "pypi.org"
    assert token.restrictions == [UserIDRestriction(UUID_U)]
    assert token._raw.caveats == (f'[3,"{UUID_U}"]'.encode(),)
    token.check(WH_KEY, user_id=UUID_U)
    with pytest.raises(ValidationError) as info:
        token.check(WH_KEY, user_id=UUID_P)
    assert info.value.reasons == (
        f"This token can only be used by user with id: {UUID_U}. Received: {UUID_P}",
    )


def test_warehouse_project_token():
    token = Token.load(warehouse_token([1, ["foo", "bar"]], [2, [UUID_P]]))
    assert token.restrictions == [
        ProjectNamesRestriction(["foo", "bar"]),
        ProjectIDsRestriction([UUID_P]),
    ]
    token.check(WH_KEY, project_name="Bar", project_id=UUID_P)
    with pytest.raises(ValidationError) as info:
        token.check(WH_KEY, project_name="baz", project_id=UUID_P)
    assert info.value.reasons == (
        "This token can only be used for project(s): foo, bar. Received: baz",
    )


def test_warehouse_trusted_publisher_token():
    text = warehouse_token([4, "pub-id", None], [2, [UUID_P]], [0, NOW + 900, NOW])
    token = Token.load(text)
    assert token.restrictions == [
        OIDCPublisherRestriction("pub-id"),
        ProjectIDsRestriction([UUID_P]),
        DateRestriction(not_before=NOW, not_after=NOW + 900),
    ]
    token.check(WH_KEY, project_id=UUID_P, oidc_publisher_id="pub-id", now=NOW)
    with pytest.raises(MissingContextError, match=r": oidc_publisher_id$"):
        token.check(WH_KEY, project_id=UUID_P, now=NOW)  # fails closed without the extra
    with pytest.raises(ValidationError, match=r"trusted publisher: pub-id\. Received: other"):
        token.check(WH_KEY, project_id=UUID_P, oidc_publisher_id="other", now=NOW)
    with pytest.raises(ValidationError, match=rf"\(excl\)\. Received: {NOW + 900}$"):
        token.check(WH_KEY, project_id=UUID_P, oidc_publisher_id="pub-id", now=NOW + 900)


@pytest.mark.parametrize(
    ("caveat", "restriction", "context"),
    [
        ({"project_ids": [UUID_P]}, LegacyProjectIDsRestriction([UUID_P]), {"project_id": UUID_P}),
        ({"version": 1, "permissions": "user"}, LegacyNoopRestriction(), {}),
        (
            {"version": 1, "permissions": {"projects": ["foo"]}},
            LegacyProjectNamesRestriction(["foo"]),
            {"project_name": "foo"},
        ),
        ({"nbf": NOW, "exp": NOW + 1}, LegacyDateRestriction(NOW, NOW + 1), {"now": NOW}),
    ],
)
def test_warehouse_legacy_caveats(caveat, restriction, context):
    token = Token.load(warehouse_token(caveat))
    assert token.restrictions == [restriction]
    token.check(WH_KEY, **context)


def test_warehouse_legacy_project_ids_fails_for_another_project():
    token = Token.load(warehouse_token({"project_ids": [UUID_P]}))
    token.check(WH_KEY, project_id=UUID_P)
    with pytest.raises(ValidationError) as info:
        token.check(WH_KEY, project_id=UUID_U)
    assert info.value.reasons == (
        f"This token can only be used for project(s): {UUID_P}. Received: {UUID_U}",
    )
    with pytest.raises(MissingContextError, match=f"{MISSING}: project_id$"):
        token.check(WH_KEY)


@pytest.mark.parametrize(
    "caveat",
    [
        [5, "future caveat"],
        [0, 2.0, 1.0],  # Warehouse StrictInt refuses it too
        [0, NOW + 1, NOW, 99],  # Warehouse ignores extra elements; we fail closed
        {"version": 1, "permissions": "user", "extra": 1},
        {"version": 1},
        "a string",
        [],
    ],
)
def test_warehouse_caveats_we_do_not_fully_understand_fail_closed(caveat):
    token = Token.load(warehouse_token(caveat))
    with pytest.raises(LoaderError, match=r"^Could not find matching Restriction"):
        _ = token.restrictions
    with pytest.raises(ValidationError) as info:
        token.check(WH_KEY, project_name="a", project_id="b", user_id="c", now=NOW)
    assert "Could not find matching Restriction" in str(info.value)


def test_unknown_caveat_plus_other_failures_all_reported():
    token = Token.load(warehouse_token([99], [1, ["foo"]]))
    with pytest.raises(ValidationError) as info:
        token.check(WH_KEY, project_name="bar")
    assert info.value.reasons == (
        "Could not find matching Restriction for [99]",
        "This token can only be used for project(s): foo. Received: bar",
    )


def test_warehouse_token_restricted_by_us_still_verifies_in_pymacaroons():
    token = Token.load(warehouse_token([3, UUID_U])).restrict(project_names=["foo"])
    verifier = pymacaroons.Verifier()
    seen = []
    verifier.satisfy_general(lambda caveat: seen.append(caveat) or True)
    assert verifier.verify(token._macaroon, WH_KEY)
    assert seen == [f'[3,"{UUID_U}"]', '[1, ["foo"]]']


# --- pymacaroons interoperability ------------------------------------------------------------


def test_underlying_macaroon_is_pymacaroons():
    token = new(**FULL)
    mac = token._macaroon
    assert isinstance(mac, pymacaroons.Macaroon)
    assert mac.serialize() == token.dump().split("-", 1)[1]
    assert mac.identifier_bytes == b"123foo"
    assert mac.location == "example.com"
    assert [c.caveat_id_bytes.decode() for c in mac.caveats] == caveats(token)
    assert token._macaroon is mac  # cached
    token.restrict(user_id="x")
    assert token._macaroon is not mac
    assert token._macaroon.serialize() == token.dump().split("-", 1)[1]


def test_pymacaroons_verifier_accepts_our_tokens():
    token = Token.load(new(**FULL).dump())
    verifier = pymacaroons.Verifier()
    verifier.satisfy_general(lambda caveat: True)
    assert verifier.verify(token._macaroon, KEY)
    with pytest.raises(
        pymacaroons.exceptions.MacaroonInvalidSignatureException, match="Signatures do not match"
    ):
        verifier.verify(token._macaroon, "wrong key")


def test_construct_from_a_pymacaroons_macaroon():
    mac = pymacaroons.Macaroon(location="d", identifier="id", key="k", version=2)
    mac.add_first_party_caveat('[1, ["foo"]]')
    token = Token("pypi", mac)
    assert token._macaroon is mac
    assert token.dump() == "pypi-" + mac.serialize()
    assert token.restrictions == [ProjectNamesRestriction(["foo"])]
    token.check("k", project_name="foo")


def test_construct_refuses_third_party_caveats_and_non_macaroons():
    mac = pymacaroons.Macaroon(location="d", identifier="id", key="k", version=2)
    mac.add_third_party_caveat("elsewhere", "caveat key", "tp-id")
    with pytest.raises(LoaderError, match="Third-party"):
        Token("pypi", mac)
    with pytest.raises(LoaderError, match="Not a usable macaroon"):
        Token("pypi", object())  # type: ignore[arg-type]


def test_pymacaroons_third_party_token_is_refused_at_load():
    mac = pymacaroons.Macaroon(location="d", identifier="id", key="k", version=2)
    mac.add_third_party_caveat("elsewhere", "caveat key", "tp-id")
    with pytest.raises(LoaderError, match="third-party"):
        Token.load("pypi-" + mac.serialize())
    mac = pymacaroons.Macaroon(location="d", identifier="id", key="k", version=1)
    mac.add_third_party_caveat("elsewhere", "caveat key", "tp-id")
    with pytest.raises(LoaderError, match="third-party"):
        Token.load("pypi-" + mac.serialize())


# --- no foreign exception, whatever the input ---------------------------------------------------

HOSTILE_TEXTS = [
    "",
    "-",
    "--",
    "pypi-",
    "pypi--",
    "pypi-=",
    "pypi-====",
    "pypi-A",
    "pypi-AA",
    "pypi-AAA",
    "pypi-AAAA",
    "pypi-Ag",
    "pypi-AgE",
    "pypi-MDAw",
    "pypi-MDAwMA",
    "\x00-\x00",
    "pypi-\x00",
    "pypi-\ud800",
    "pypi-" + "A" * 8187,
    "pypi-" + "/" * 8000,
    "x" * 10_000_000,
    "pypi-" + _macaroon.b64encode(_DATA + b"\x00"),
    "pypi-" + _macaroon.b64encode(_DATA[:-33]),
    "pypi-" + _macaroon.b64encode(b"\x02" + b"\xff" * 40),
    "pypi-" + _macaroon.b64encode(b"\x02\x02\x80\x80\x80\x80\x80\x01"),
    "pypi-" + _macaroon.b64encode(b"0" * 64),
    "pypi-" + _macaroon.b64encode(b"0004" * 16),
    "pypi-" + _macaroon.b64encode(b"ffffidentifier x\n"),
    "pypi-" + _macaroon.b64encode(b"000avid x\n"),
    "pypi-" + _macaroon.b64encode(b"000acid x\n"),
    "pypi-" + _macaroon.b64encode(b"0011identifier \xff\n"),
]


def _exercise(text: object) -> list[BaseException]:
    """Load, read and check ``text``; return every exception, failing on undocumented ones.

    ``load`` and ``restrictions`` may raise a LoaderError, ``check`` a ValidationError,
    ``repr`` and ``dump`` nothing: any other exception escapes and fails the test.
    """
    seen: list[BaseException] = []
    try:
        token = Token.load(text)  # type: ignore[arg-type]
    except LoaderError as exc:
        seen.append(exc)
        return seen
    for action, documented in (
        (lambda: token.restrictions, LoaderError),
        (lambda: token.check(KEY), ValidationError),
        (
            lambda: token.check(b"k", project_name="a", project_id="b", user_id="c", now=0),
            ValidationError,
        ),
        (
            lambda: token.check(KEY, action="upload", index="i", oidc_publisher_id="p"),
            ValidationError,
        ),
        (lambda: repr(token), ()),
        (lambda: token.dump(), ()),
    ):
        try:
            action()
        except documented as exc:
            seen.append(exc)
    return seen


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=lambda t: repr(t)[:40])
def test_hostile_inputs_raise_only_library_exceptions(text):
    _exercise(text)


@pytest.mark.parametrize(
    "caveat",
    [
        b"",
        b"\xff",
        b"[",
        b"[" * 3000,
        b"[" * 2000 + b"]" * 2000,
        b'{"a":' * 1000 + b"1" + b"}" * 1000,
        b"[0, " + b"9" * 4000 + b", 1]",
        b"[0, 1e999, 1]",
        b"[NaN]",
        b"[Infinity, 1, 2]",
        b"1" * 4096,
        b"x" * 5000,
        b'"\\ud800"',
        b'[3, "\\ud800"]',
        b'[1, ["a"], ' + b"0, " * 1000 + b"0]",
        b"\x00",
        json.dumps([4, "p", {"deep": [[[[]]]]}]).encode(),
        b'{"version": 1, "permissions": {"projects": {"a": 1}}}',
        b'{"nbf": [], "exp": {}}',
        b'{"project_ids": {"a": 1}}',
        b'["ptc.actions", [{"a": 1}]]',
    ],
)
def test_hostile_caveats_raise_only_library_exceptions(caveat):
    text = raw_token([caveat])
    errors = _exercise(text)
    assert errors  # nothing here is an understood caveat: every check fails closed
    assert all(isinstance(e, PyPITokenException) for e in errors)


# --- secrets never appear ------------------------------------------------------------------------


def test_reprs_and_messages_never_contain_the_token_or_the_key(caplog):
    key = "k3y-Th4t-Must-N0t-L3ak-" + "z" * 20
    token = Token.create("pypi.org", "visible-identifier", key).restrict(**FULL)
    text = token.dump()
    body = text.split("-", 1)[1]
    secrets = {
        key,
        repr(key.encode()),
        body,
        body[-43:],  # the base64 around the signature
        token._raw.signature.hex(),
        repr(token._raw.signature),
        _macaroon.b64encode(token._raw.signature),
    }

    captured: list[str] = []
    caplog.set_level(logging.DEBUG)

    def record(exc: BaseException) -> None:
        captured.extend(traceback.format_exception(exc))
        captured.append(repr(exc))
        captured.append(repr(getattr(exc, "reasons", None)))

    loaded = Token.load(text)
    captured += [repr(token), str(token), repr(loaded), repr(loaded.restrictions)]
    captured.append(repr(Context(**FULL_CONTEXT)))
    for wrong in ("wrong", key[:-1], key + "x", key.encode()[:-1], None, 5, "\ud800"):
        try:
            loaded.check(wrong, **FULL_CONTEXT)  # type: ignore[arg-type]
        except PyPITokenException as exc:
            record(exc)
    for context in ({}, {"project_name": "x"}, FULL_CONTEXT | {"now": 0}, {"now": 1.5}):
        try:
            loaded.check(key, **context)  # type: ignore[arg-type]
        except PyPITokenException as exc:
            record(exc)
    mutations = (text[:-1], text[:-2], text + "A", text + "!", text[:20], text.replace("-", "+", 2))
    for mutated in mutations:
        try:
            Token.load(mutated).check(key, **FULL_CONTEXT)
        except PyPITokenException as exc:
            record(exc)
    for bad_key in ("", "\ud800", None):
        try:
            Token.create("pypi.org", "id", bad_key)  # type: ignore[arg-type]
        except PyPITokenException as exc:
            record(exc)
    try:
        loaded.restrict(project_ids=[key * 200])
    except PyPITokenException as exc:
        record(exc)
    captured += [r.getMessage() for r in caplog.records]

    assert len(captured) > 30
    everything = "\n".join(captured)
    assert "visible-identifier" in everything  # the identifier is not a secret
    for secret in secrets:
        assert secret not in everything, secret
