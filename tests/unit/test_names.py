"""PEP 503 normalisation, shared by restrict, Context and the adapters."""

from __future__ import annotations

import pytest

from pypitoken_core import names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("foo", "foo"),
        ("Foo", "foo"),
        ("Foo_Bar", "foo-bar"),
        ("foo.bar", "foo-bar"),
        ("foo-bar", "foo-bar"),
        ("Foo__Bar..baz--qux", "foo-bar-baz-qux"),
        ("foo-_.bar", "foo-bar"),
        ("FOO123", "foo123"),
        ("a", "a"),
        ("1", "1"),
        ("zope.interface", "zope-interface"),
        ("Django_REST.framework", "django-rest-framework"),
        # Leading/trailing separators stay (as one '-'): not a valid name, refused elsewhere.
        ("_foo_", "-foo-"),
        ("", ""),
    ],
)
def test_normalize(name, expected):
    assert names.normalize(name) == expected


def test_normalize_is_idempotent():
    for name in ("Foo_Bar", "a.b-c_d", "X"):
        once = names.normalize(name)
        assert names.normalize(once) == once


@pytest.mark.parametrize(
    "name", ["foo", "a", "0", "foo-bar", "foo-bar-baz", "a1-b2", "123", "x" * 200]
)
def test_is_normalized_accepts(name):
    assert names.is_normalized(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Foo",
        "foo_bar",
        "foo.bar",
        "-foo",
        "foo-",
        "-",
        "foo bar",
        "foo\n",
        "foo/bar",
        "héllo",
        "ſ",  # noqa: RUF001  (lowercase long s: not ASCII)
        None,
        5,
        b"foo",
        ["foo"],
    ],
)
def test_is_normalized_refuses(name):
    assert not names.is_normalized(name)


def test_is_normalized_matches_pypitoken_pattern():
    # The same regex as pypitoken's ProjectNamesRestriction schema.
    import re

    pattern = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$")
    for name in ("foo", "foo-bar", "a", "Foo", "foo_", "-a", "a--b", "a\n"):
        assert names.is_normalized(name) == (pattern.fullmatch(name) is not None), name


# --- is_valid: the one rule for names that come from outside --------------------------------


@pytest.mark.parametrize(
    "name",
    ["foo", "Foo_Bar.baz", "a", "0", "zope.interface", "Foo__Bar..baz--qux", "x" * 200],
)
def test_is_valid_accepts_pep508_names_up_to_the_limit(name):
    assert names.MAX_LENGTH == 200
    assert names.is_valid(name)
    assert names.is_normalized(names.normalize(name))


@pytest.mark.parametrize(
    "name",
    [
        "x" * 201,
        "b" * 250_000,
        "",
        "-foo",
        "foo.",
        "foo bar",
        "foo/bar",
        "foo\n",
        "héllo",
        "\u212a",  # the Kelvin sign: lowercases to "k", but is not an ASCII letter
        "\u017f",  # long s: the same trap with IGNORECASE
        None,
        b"foo",
        ["foo"],
    ],
)
def test_is_valid_refuses(name):
    assert not names.is_valid(name)
