"""``pypitoken publisher add github|gitlab|oidc``, ``list [--json]``, ``remove ID``."""

from __future__ import annotations

import json
import re

from tests.cli.conftest import Invoke

ADDED = re.compile(r"^publisher ([0-9a-f-]{36}) \((.*)\) for (.*)$")


def _setup(invoke: Invoke) -> None:
    assert invoke("user", "add", "alice").exit_code == 0
    assert invoke("user", "add", "bob").exit_code == 0
    assert invoke("project", "add", "foo", "--owner", "alice").exit_code == 0


def test_add_list_remove(invoke: Invoke) -> None:
    _setup(invoke)
    result = invoke(
        "publisher", "add", "github", "--project", "foo", "--repository", "octo-org/octo-repo",
        "--workflow", "release.yml", "--environment", "Release", "--owner-id", "123456",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    match = ADDED.match(result.output.strip())
    assert match is not None, result.output
    github_id = match.group(1)
    assert match.group(2) == (
        "GitHub octo-org/octo-repo, workflow release.yml, environment release, owner id 123456"
    )
    assert match.group(3) == "foo"

    result = invoke(
        "publisher", "add", "gitlab", "--project", "New.Thing", "--repository", "grp/sub/proj",
        "--ci-config", "ci/release.yml", "--user", "bob",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    first, second = result.output.strip().splitlines()
    assert first.endswith(
        "(GitLab grp/sub/proj, CI file ci/release.yml) for new-thing (pending: its first"
        " publish creates it)"
    )
    assert second == "the job needs: id_tokens: {LOCALHOST_ID_TOKEN: {aud: localhost}}"

    result = invoke(
        "publisher", "add", "oidc", "--project", "foo", "--issuer", "https://ci.example.com",
        "--claim", "sub=repo:x", "--claim", "ref=refs/heads/main",
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    listed = json.loads(invoke("publisher", "list", "--json").output)
    kinds = {p["kind"]: p for p in listed}
    assert kinds["github"] == {
        "id": github_id, "kind": "github", "issuer": "https://token.actions.githubusercontent.com",
        "owner": "octo-org", "repository": "octo-repo", "workflow": "release.yml",
        "environment": "release", "owner_id": "123456", "projects": ["foo"], "index": None,
        "pending": [], "added_by": "alice", "created": kinds["github"]["created"],
    }  # fmt: skip
    assert kinds["gitlab"]["pending"] == ["new-thing"] and kinds["gitlab"]["added_by"] == "bob"
    assert kinds["oidc"]["claims"] == {"ref": "refs/heads/main", "sub": "repo:x"}
    lines = invoke("publisher", "list", "--user", "bob").output.strip().splitlines()
    assert len(lines) == 1 and lines[0].split("\t")[1:] == [
        "new-thing (pending: its first publish creates it)",
        "GitLab grp/sub/proj, CI file ci/release.yml", "by bob",
    ]  # fmt: skip

    # the same workflow for another project: one publisher for both
    result = invoke(
        "publisher", "add", "github", "--project", "bar", "--user", "alice", "--repository",
        "octo-org/octo-repo", "--workflow", "release.yml", "--environment", "release",
        "--owner-id", "123456",
    )  # fmt: skip
    assert result.output.startswith(f"publisher {github_id} (")
    assert result.output.endswith(" for foo, bar (pending: its first publish creates it)\n")
    result = invoke("publisher", "remove", github_id)
    assert (result.exit_code, result.output) == (
        0, f"removed publisher {github_id}; its tokens are revoked\n",
    )  # fmt: skip
    assert len(json.loads(invoke("publisher", "list", "--json").output)) == 2


def test_refusals(invoke: Invoke) -> None:
    _setup(invoke)
    for args, message in (
        (
            ["github", "--project", "foo", "--repository", "x", "--workflow", "r.yml"],
            "Error: repository 'x' must be given as OWNER/REPO",
        ),
        (
            ["github", "--project", "foo", "--repository", "o/r", "--workflow", "r.txt"],
            "Error: workflow 'r.txt' must be the file name of a workflow in .github/workflows/",
        ),
        (
            ["github", "--project", "foo", "--repository", "o/r", "--workflow", "r.yml",
             "--user", "bob"],
            "Error: user bob may not upload to project 'foo'",
        ),
        (
            ["github", "--project", "nope", "--repository", "o/r", "--workflow", "r.yml"],
            "Error: name the user on whose behalf the publisher uploads",
        ),
        (
            ["oidc", "--project", "foo", "--issuer", "http://ci.example.com", "--claim", "a=b"],
            "Error: issuer 'http://ci.example.com' must be an https URL",
        ),
        (
            ["oidc", "--project", "foo", "--issuer", "https://ci", "--claim", "a=b",
             "--claim", "a=c"],
            "Error: each claim may be given once",
        ),
    ):  # fmt: skip
        result = invoke("publisher", "add", *args)
        assert result.exit_code == 1, result.output
        assert result.output.startswith(message), result.output
    result = invoke("publisher", "add", "oidc", "--project", "foo", "--issuer", "https://x",
                    "--claim", "novalue")  # fmt: skip
    assert result.exit_code == 2 and "'novalue' is not KEY=VALUE" in result.output
    result = invoke("publisher", "remove", "0000")
    assert (result.exit_code, result.output) == (1, "Error: unknown publisher '0000'\n")
    assert invoke("publisher", "list").output == ""
