"""Ownership policies: who may mint for, act on and claim a project, per mode (a table)."""

from __future__ import annotations

import pytest

from pypitoken_core import ConfigurationError
from pypitoken_core._ownership import (
    OWNERSHIP_CHOICES,
    OWNERSHIP_MODES,
    bad_project_name,
    is_user_name,
    ownership_policy,
)
from pypitoken_core.store import Project, User

BOB = User("00000000-0000-4000-8000-000000000001", "bob", 0)
FOO = Project("00000000-0000-4000-8000-000000000002", "foo", 0)
NO = "user bob may not upload to project 'foo'"
NO_DELETE = "user bob may not delete from project 'foo'"
MISSING = "project 'foo' does not exist"

# (mode, action, registered?, role, refusal or None)
USES = [
    # downloads and uses that name no project are everyone's, in every mode
    *((mode, "download", True, None, None) for mode in OWNERSHIP_MODES),
    # a first upload may go ahead (it claims the name only once its file is stored)
    ("pypi", "upload", False, None, None),
    ("open", "upload", False, None, None),
    ("pypi", "delete", False, None, MISSING),
    ("open", "delete", False, "Owner", MISSING),
    # pypi: owners and maintainers upload, owners delete
    ("pypi", "upload", True, None, NO),
    ("pypi", "upload", True, "Maintainer", None),
    ("pypi", "upload", True, "Owner", None),
    ("pypi", "delete", True, "Maintainer", NO_DELETE),
    ("pypi", "delete", True, "Owner", None),
    ("pypi", None, True, None, NO),
    # open: anyone uploads, only owners delete
    ("open", "upload", True, None, None),
    ("open", "delete", True, None, NO_DELETE),
    ("open", "delete", True, "Maintainer", NO_DELETE),
    ("open", "delete", True, "Owner", None),
    # external: the index decides
    ("external", "upload", True, None, None),
    ("external", "delete", False, None, None),
]


@pytest.mark.parametrize(("mode", "action", "registered", "role", "refusal"), USES)
def test_use(mode, action, registered, role, refusal):
    policy = ownership_policy(mode)
    project = FOO if registered else None
    assert policy.use_refusal(BOB, action, "foo", project, role) == refusal


@pytest.mark.parametrize("mode", OWNERSHIP_MODES)
def test_a_use_naming_no_project_is_everyones(mode):
    assert ownership_policy(mode).use_refusal(BOB, "upload", None, None, None) is None


@pytest.mark.parametrize(
    ("mode", "role", "refusal"),
    [
        ("pypi", None, NO),
        ("pypi", "Maintainer", None),
        ("open", None, None),
    ],
)
def test_mint(mode, role, refusal):
    assert ownership_policy(mode).mint_refusal(BOB, FOO, role) == refusal


def test_unowned_files():
    assert ownership_policy("pypi").unowned_refusal("foo") == (
        "project 'foo' has files on this index but no owner; "
        "an admin must run: pypitoken project add foo --owner USER"
    )
    assert ownership_policy("open").unowned_refusal("foo") is None


def test_modes():
    assert OWNERSHIP_MODES == ("pypi", "open", "external")
    assert set(OWNERSHIP_CHOICES) < set(OWNERSHIP_MODES)
    assert [ownership_policy(m).keeps_projects for m in OWNERSHIP_MODES] == [True, True, False]
    for bad in ("anarchy", "", "PYPI", None):
        with pytest.raises(ConfigurationError, match="ownership must be one of pypi, open"):
            ownership_policy(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("alice", True),
        ("Alice Smith", True),
        ("x" * 200, True),
        ("", False),
        (" alice", False),
        ("alice\n", False),
        ("__token__", False),
        ("x" * 201, False),
        ("a\x00b", False),
        (5, False),
    ],
)
def test_user_names(name, valid):
    assert is_user_name(name) is valid


def test_project_names():
    assert bad_project_name("Foo.Bar_baz") is None
    assert bad_project_name("-foo") == (
        "invalid project name '-foo' (a project name has letters, digits and '-_.', starts"
        " and ends with a letter or digit, and has at most 200 characters)"
    )
    assert bad_project_name("x" * 5000).startswith("invalid project name 'xxx")  # type: ignore[union-attr]
