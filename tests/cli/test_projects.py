"""Ownership from the admin CLI: transfer, remove a maintainer, remove a project, and
``user remove`` that no longer strands a project (issue 13 point 9)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Invoke
from tests.cli.test_admin_errors import failed


def ok(result: object) -> str:
    assert result.exit_code == 0, (result.output, result.exception)  # type: ignore[attr-defined]
    return result.stdout  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def store(invoke: Invoke) -> Invoke:
    for args in (
        ("user", "add", "alice"),
        ("user", "add", "bob"),
        ("user", "add", "carol"),
        ("project", "add", "foo", "--owner", "alice"),
        ("project", "add", "bar", "--owner", "alice"),
        ("project", "add-maintainer", "foo", "carol"),
    ):
        ok(invoke(*args))
    return invoke


def roles(invoke: Invoke) -> dict[str, str]:
    lines = ok(invoke("project", "list")).splitlines()
    return {line.split("\t")[0]: line.split("\t")[2] for line in lines}


def test_transfer_and_remove_maintainer(store: Invoke) -> None:
    assert ok(store("project", "transfer", "foo", "bob")) == "foo now belongs to bob\n"
    assert roles(store)["foo"] == "alice (Maintainer), bob (Owner), carol (Maintainer)"
    assert ok(store("project", "remove-maintainer", "foo", "alice")) == (
        "alice no longer maintains foo\n"
    )
    assert roles(store)["foo"] == "bob (Owner), carol (Maintainer)"
    stderr = failed(store("project", "remove-maintainer", "foo", "bob"))
    assert stderr == "Error: user bob owns project 'foo'; transfer it to another user first\n"
    stderr = failed(store("project", "remove-maintainer", "foo", "alice"))
    assert stderr == "Error: user alice does not maintain project 'foo'\n"


def test_remove_project(store: Invoke) -> None:
    assert ok(store("project", "remove", "bar")) == "removed project bar\n"
    assert "bar" not in roles(store)
    assert failed(store("project", "remove", "bar")) == "Error: unknown project 'bar'\n"


def test_user_remove_refuses_a_sole_owner(store: Invoke) -> None:
    """It used to succeed and leave foo and bar without an owner: no uploads, ever."""
    stderr = failed(store("user", "remove", "alice"))
    assert stderr == (
        "Error: user alice is the only owner of projects 'bar', 'foo': name the user who"
        " takes them over, or transfer or remove them first (add --transfer-to USER, or run"
        " `pypitoken project transfer PROJECT USER` or `pypitoken project remove PROJECT`)\n"
    )
    assert "alice" in ok(store("user", "list"))
    out = ok(store("user", "remove", "alice", "--transfer-to", "bob"))
    assert out == (
        "bar now belongs to bob\nfoo now belongs to bob\n"
        "removed user alice; their tokens are revoked\n"
    )
    assert roles(store) == {"bar": "bob (Owner)", "foo": "bob (Owner), carol (Maintainer)"}
    assert ok(store("user", "remove", "carol")) == "removed user carol; their tokens are revoked\n"


def test_project_add_on_an_existing_project_says_what_to_run(store: Invoke) -> None:
    stderr = failed(store("project", "add", "Foo", "--owner", "bob"))
    assert stderr == (
        "Error: project foo already exists (owned by alice); to give it to bob:"
        " pypitoken project transfer foo bob\n"
    )
    ok(store("project", "transfer", "foo", "bob"))  # what it says works
    assert roles(store)["foo"].startswith("alice (Maintainer), bob (Owner)")
