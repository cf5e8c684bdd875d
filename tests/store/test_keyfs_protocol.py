"""The devpi keyfs store keeps the TokenStore protocol (its data needs a running devpi-server,
which tests/e2e/devpi drives; here: the shape, and where its audit events go)."""

from __future__ import annotations

import inspect
import logging

import pytest
from pypitoken_devpi._store import KeyfsStore

from pypitoken_core.store import AuditEvent, TokenStore


def _protocol_methods() -> list[str]:
    return sorted(
        name
        for name, member in vars(TokenStore).items()
        if not name.startswith("_") and callable(member)
    )


def _shape(method: object) -> list[tuple[object, ...]]:
    # The service passes positional parameters by position, so only keyword-only ones
    # must match by name.
    return [
        (p.name if p.kind is p.KEYWORD_ONLY else None, p.kind, p.default)
        for p in inspect.signature(method).parameters.values()  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("name", _protocol_methods())
def test_every_protocol_method_has_the_protocol_signature(name: str) -> None:
    assert _shape(getattr(KeyfsStore, name)) == _shape(getattr(TokenStore, name))


def test_the_protocol_lists_the_audit_methods() -> None:
    assert {"add_event", "list_events", "prune_events"} <= set(_protocol_methods())
    assert isinstance(KeyfsStore(xom=None), TokenStore)


def test_events_go_to_devpis_log_one_line_each(caplog: pytest.LogCaptureFixture) -> None:
    store = KeyfsStore(xom=None, log=logging.getLogger("test.keyfs"))
    denied = AuditEvent(1000, "denied", "t1", "alice", "foo", "upload", "token revoked")
    with caplog.at_level(logging.DEBUG, logger="test.keyfs"):
        store.add_event(denied, merge_key="k", merge_window=60, keep=5)
        store.add_event(denied, merge_key="k", merge_window=60, keep=5)
        store.add_event(AuditEvent(1001, "minted", "t2", "alice", None, None, "ci"))
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (logging.DEBUG, "pypitoken: denied token=t1 user=alice project=foo action=upload "
                        "reason=token revoked"),
        (logging.DEBUG, "pypitoken: denied token=t1 user=alice project=foo action=upload "
                        "reason=token revoked"),
        (logging.INFO, "pypitoken: minted token=t2 user=alice project=None action=None "
                       "reason=ci"),
    ]  # fmt: skip
    # Nothing is kept in the store itself: the log is the trail.
    assert store.list_events() == []
    assert store.prune_events(before=2000, keep=0) == 0
