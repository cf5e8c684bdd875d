"""The plugin's options, read from devpi's YAML config file and DEVPISERVER_* variables."""

from __future__ import annotations

import os
import time

import pypitoken
import pytest

from .conftest import PASSWORDS, Devpi, devpi_init, devpi_server, make_secret

pytestmark = pytest.mark.e2e


def test_options_from_config_file_and_environment(tmp_path, monkeypatch) -> None:
    secret = make_secret(tmp_path / "secret")
    devpi_init(tmp_path / "server", "--no-root-pypi", "--root-passwd", PASSWORDS["root"])
    config = tmp_path / "devpi-server.yml"
    config.write_text("devpi-server:\n  pypitoken-max-expiry: 3600\n  pypitoken-domain: idx.test\n")
    monkeypatch.setitem(os.environ, "DEVPISERVER_PYPITOKEN_PREFIX", "corp")
    with devpi_server(tmp_path / "server", secret, "-c", str(config)) as srv:
        d = Devpi(srv, tmp_path)
        d.create_user("alice")
        d.create_index("alice/dev")
        _, token = d.mint(projects=["tinypkg"])
        assert token.startswith("corp-")
        # The domain option is the location written into the token, as pypitoken reads it.
        assert pypitoken.Token.load(token).domain == "idx.test"
        (record,) = d.api("GET", "/alice/+api-tokens", user="alice").body["result"]["tokens"]
        assert abs(record["expires"] - (time.time() + 3600)) < 60
        too_long = d.api("POST", "/alice/+api-tokens", {"expires": 7200}, user="alice")
        assert (too_long.status, too_long.body["message"]) == (
            400,
            "tokens on this server must expire within 3600 seconds"
            " (1h, its maximum token lifetime)",
        )
        by_root = d.api("POST", "/alice/+api-tokens", {"expires": 7200}, user="root")
        assert by_root.status == 201
        d.tokens.append(by_root.body["result"]["token"])
        assert d.auth_status(auth=("__token__", token)) == ["ok", "alice", []]
        reply = d.upload("alice/dev", d.wheel("tinypkg", "1.0"), auth=("__token__", token))
        assert reply.status == 200, reply
        # a pypi- string is not this server's token any more: left to devpi (no user)
        assert d.auth_status(auth=("__token__", "pypi-" + token[5:])) == ["noauth", "", []]
