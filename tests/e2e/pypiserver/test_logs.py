"""No credential reaches a log line, even with ``--log-req-frmt %s -v``.

With that format pypiserver logs the whole WSGI environ of every request, the
Authorization header included; the adapter's log filter must mask it.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.e2e.twine_output import twine_refusal

from .client import basic, request, upload_body
from .conftest import TOKEN_USER, pypiserver_running, write_htpasswd

pytestmark = pytest.mark.e2e


def test_tokens_and_passwords_never_reach_the_logs(tmp_path: Path, dists) -> None:
    password = "log-password-1234"
    write_htpasswd(tmp_path / "htpasswd", {"lou": password})
    log_file = tmp_path / "pypiserver.log"
    options = (
        "-a",
        "update,download,list",
        "-P",
        str(tmp_path / "htpasswd"),
        "--log-req-frmt",
        "%s",
        "--log-res-frmt",
        "%s",
        "-v",
        "--log-file",
        str(log_file),
    )
    with pypiserver_running(tmp_path / "run", *options) as idx:
        lea = idx.admin.user("log-lea")
        token = idx.admin.mint(lea)
        scoped = idx.admin.restrict(token, "--project", "log-proj")
        wheel, sdist = dists("log-proj")
        other = dists("log-other")[0]

        assert idx.twine(TOKEN_USER, token, wheel, sdist).returncode == 0
        refused = idx.twine(TOKEN_USER, scoped, other)  # a refusal is logged too
        assert twine_refusal(refused) == (
            "Invalid API Token: This token can only be used for project(s): log-proj."
            " Received: log-other"
        )
        assert idx.twine("lou", password, dists("log-lou")[0]).returncode == 0
        assert idx.pip_download("log-proj", tmp_path / "dl", TOKEN_USER, token).returncode == 0
        body, ctype = upload_body(other, "log-proj")  # spoofed
        spoofed = request(idx.url, "POST", "/", auth=basic(TOKEN_USER, token), body=body,
                          content_type=ctype)  # fmt: skip
        assert (spoofed.status, spoofed.reason) == (
            403,
            "Forbidden: file 'log_other-0.1-py3-none-any.whl' does not belong to project"
            " 'log-proj'",
        )
        listing = request(idx.url, "GET", "/simple/", auth=basic("", scoped))
        assert (listing.status, listing.reason) == (
            403,
            "Invalid API Token: The restriction couldn't be checked because the context is"
            " missing required values: project_name",
        )
        assert request(idx.url, "GET", "/simple/", auth=basic("", token)).status == 200
        idx.server.stop()  # flush every handler
        logs = {"stdout": idx.server.log_text(), "log file": log_file.read_text()}

    secrets = {
        "token": token,
        "narrowed token": scoped,
        "token signature": token[-30:],
        "password": password,
    }
    credentials = ((TOKEN_USER, token), (TOKEN_USER, scoped), ("lou", password), ("", scoped))
    for user, secret in credentials:
        header = base64.b64encode(f"{user}:{secret}".encode()).decode()
        secrets[f"Authorization of {user or 'empty user'}"] = header[:40]
    for where, text in logs.items():
        # The format really logged the environ, with the header's slot masked.
        assert "'HTTP_AUTHORIZATION': '<redacted>'" in text, where
        assert "stored 'log_proj-0.1-py3-none-any.whl'" in text, where
        for what, secret in secrets.items():
            assert secret not in text, f"{what} found in the {where}"
