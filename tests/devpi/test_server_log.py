"""devpi keeps no audit trail of ours: the plugin's audit events go to devpi's own log.

An operator of devpi-server reads refusals (at debug level, folded nowhere) and other token
events (at info level) there, one line each.
"""

from __future__ import annotations

import logging

import pytest

from .conftest import App


def test_a_refused_token_is_a_line_in_devpis_log(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    token_id, token = app.mint(projects=["otherpkg"])
    with caplog.at_level(logging.DEBUG):
        response = app.upload("alice/dev", "tinypkg", "1.0", auth=("__token__", token))
        assert response.status == "403 Invalid API Token: not valid for project 'tinypkg'"
    lines = [r.getMessage() for r in caplog.records if "pypitoken: denied" in r.getMessage()]
    assert lines, [r.getMessage() for r in caplog.records]
    assert all(f"token={token_id} user=alice" in line for line in lines)
    assert any("reason=not valid for project 'tinypkg'" in line for line in lines)
