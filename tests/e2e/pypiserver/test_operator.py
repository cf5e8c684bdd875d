"""What an operator of ``pypitoken-pypiserver`` sees (issue 13 points 8 and 11), on a real
server: every refusal is one INFO line in its log by default (who, which token id, what,
why; never the token), ``pypitoken audit list`` reads the same refusals back by user,
token, project, kind and time, and the admin CLI follows the server's delete switch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .client import basic, form_body, request
from .conftest import pypiserver_running

pytestmark = pytest.mark.e2e

REFUSED = re.compile(r"pypitoken: refused user=(\S+) token=(\S+) project=(\S+) action=(\S+): (.*)")


def test_refusals_are_logged_at_info_by_default_without_secrets(tmp_path: Path, dists) -> None:
    """The reproduction: the server (run without -v) logged nothing for a refusal."""
    with pypiserver_running(tmp_path, users=["dora"]) as index:
        index.admin("project", "add", "dora-pkg", "--owner", "dora")
        token = index.admin.mint("dora", "dora-pkg")
        token_id = index.admin.token_id(token)
        wheel, _ = dists("other-pkg", "1.0")
        refused = index.twine("__token__", token, wheel)
        assert refused.returncode != 0
        mine, _ = dists("dora-pkg", "1.0")
        allowed = index.twine("__token__", token, mine)  # the positive control: no line
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        wrong = index.twine("dora", "not-a-password", mine)
        assert wrong.returncode != 0
        log = index.server.log_text()
        lines = [m.groups() for m in REFUSED.finditer(log)]
        assert lines == [
            ("dora", token_id, "other-pkg", "upload",
             "not valid for project 'other-pkg'"),
            ("dora", "-", "-", "-", "wrong password"),
        ]  # fmt: skip
        body = token.partition("-")[2]
        assert token not in log and body[:40] not in log and body[-40:] not in log
        secret = Path(index.admin.db.removeprefix("sqlite:///") + ".secret").read_text().strip()
        assert secret not in log
        # The same refusal, read back from the trail by each filter.
        for args in (
            ("--user", "dora"),
            ("--token", token_id[:8]),
            ("--project", "Other_Pkg"),
            ("--kind", "denied"),
            ("--since", "1h"),
        ):
            found = json.loads(index.admin("audit", "list", "--json", *args).stdout)
            denied = [e for e in found if e["event"] == "denied"]
            assert [(e["user"], e["token_id"], e["project"], e["action"]) for e in denied] == [
                ("dora", token_id, "other-pkg", "upload")
            ], args
        later = json.loads(index.admin("audit", "list", "--json", "--since", "@4102444800").stdout)
        assert later == []


def test_the_admin_cli_follows_the_servers_delete_switch(tmp_path: Path, dists) -> None:
    """The reproduction: with the server started with --allow-token-delete, the admin CLI
    still refused a delete token unless given its own --allow-delete, and did not say
    which switch to use."""
    delete = ("token", "create", "--user", "dora", "--actions", "upload,download,delete")
    with pypiserver_running(tmp_path / "off", users=["dora"]) as index:
        refused = index.admin(*delete, check=False)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.strip() == (
            "Error: the delete action is not enabled on this server (start"
            " pypitoken-pypiserver with --allow-token-delete)"
        )
    with pypiserver_running(tmp_path / "on", "--allow-token-delete", users=["dora"]) as index:
        made = index.admin(*delete)  # no --allow-delete: the store says what the server does
        token = made.stdout.strip()
        wheel, _ = dists("dora-del", "1.0")
        assert index.twine("__token__", token, wheel).returncode == 0
        # pypiserver finds the files by the name as the wheel spells it
        removal = {":action": "remove_pkg", "name": "dora_del", "version": "1.0"}
        body, content_type = form_body(removal)
        removed = request(
            index.url, "POST", "/", auth=basic("__token__", token), body=body,
            content_type=content_type,
        )  # fmt: skip
        assert removed.status == 200, removed
        assert not any(index.packages.iterdir())
