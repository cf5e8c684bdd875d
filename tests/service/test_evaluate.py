"""TokenService.evaluate: several uses of one token answered at the cost of one.

Each answer is what ``authenticate`` says for that use (None, or its refusal's message);
the call loads the token once, reads the store once, checks the signature once, writes at
most one "denied" line and touches ``last_used`` only when a use is allowed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pypitoken_core import Context, Token, ValidationError, _macaroon
from pypitoken_core.service import INVALID_TOKEN, TokenService
from pypitoken_core.store import TokenStore
from tests.service.conftest import delete, download, upload


class CountingStore:
    """Wraps a store and counts the calls the service makes."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return counted


@pytest.fixture
def counting(store: TokenStore) -> CountingStore:
    return CountingStore(store)


@pytest.fixture
def svc(counting: CountingStore, secret: bytes) -> TokenService:
    """alice owns foo, bob maintains nothing; delete is enabled."""
    service = TokenService(counting, secret, allow_delete=True)  # type: ignore[arg-type]
    service.add_user("alice")
    service.add_user("bob")
    service.add_project("foo", owner="alice")
    service.add_project("bar", owner="alice")
    counting.calls.clear()
    return service


def told(service: TokenService, raw: str, context: Context) -> str | None:
    """What authenticate says for one use: None if allowed, else its reason."""
    try:
        service.authenticate(raw, context)
    except ValidationError as exc:
        return str(exc)
    return None


def forged(raw: str) -> str:
    token = Token.load(raw)
    return Token._from_raw(token.prefix, token._raw._replace(signature=b"\x00" * 32)).dump()


ACTIONS = [upload("foo"), download("foo"), delete("foo")]

# (whose token and how it is minted or spoiled, the uses asked about)
CASES: list[tuple[str, Callable[[TokenService], str], list[Context]]] = [
    ("alice, any action", lambda s: s.mint("alice", actions=ACTION_NAMES)[0], ACTIONS),
    ("alice, upload only", lambda s: s.mint("alice", actions=["upload"])[0], ACTIONS),
    ("alice, scoped to foo", lambda s: s.mint("alice", projects=["foo"])[0], ACTIONS),
    ("bob, no rights on foo", lambda s: s.mint("bob", actions=ACTION_NAMES)[0], ACTIONS),
    (
        "alice, two projects",
        lambda s: s.mint("alice", projects=["foo"])[0],
        [upload("foo"), upload("bar"), download("new"), download(None)],
    ),
    ("alice, a bad name", lambda s: s.mint("alice")[0], [upload("bad name!"), upload("foo")]),
    ("forged", lambda s: forged(s.mint("alice")[0]), ACTIONS),
    ("forged, a bad name", lambda s: forged(s.mint("alice")[0]), [upload("-x"), upload("foo")]),
    ("malformed", lambda s: "pypi-not a token", ACTIONS),
    ("another prefix", lambda s: "other-" + s.mint("alice")[0][5:], ACTIONS),
    (
        "unknown id",
        lambda s: Token.create("d", "3b4f8c2e-5d6a-4e7b-9c1d-2f3a4b5c6d7e", "k").dump(),
        ACTIONS,
    ),
]
ACTION_NAMES = ["upload", "download", "delete"]


@pytest.mark.parametrize(("label", "make", "uses"), CASES, ids=[c[0] for c in CASES])
def test_each_answer_is_what_authenticate_says(
    svc: TokenService, label: str, make: Callable[[TokenService], str], uses: list[Context]
) -> None:
    raw = make(svc)
    expected = [told(svc, raw, use) for use in uses]
    assert svc.evaluate(raw, uses) == expected


def test_the_table_has_both_answers(svc: TokenService) -> None:
    raw, _ = svc.mint("alice", actions=["upload"])
    assert svc.evaluate(raw, ACTIONS) == [
        None,
        "not valid for action 'download'",
        "not valid for action 'delete'",
    ]
    assert svc.evaluate(forged(raw), ACTIONS) == [INVALID_TOKEN] * 3
    assert svc.evaluate(raw, []) == []


def test_one_read_and_one_signature_check(
    svc: TokenService, counting: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, _ = svc.mint("alice", actions=["upload"])
    checks = []
    real = _macaroon.signatures_match
    monkeypatch.setattr(
        _macaroon, "signatures_match", lambda *args: checks.append(1) or real(*args)
    )
    counting.calls.clear()
    svc.evaluate(raw, ACTIONS)
    reads = {k: v for k, v in counting.calls.items() if k.startswith("get_")}
    assert reads == {"get_token_grant": 1}
    assert len(checks) == 1
    # the control: the same answers from authenticate cost one of each per use
    counting.calls.clear()
    for use in ACTIONS:
        told(svc, raw, use)
    assert counting.calls["get_token_grant"] == 3
    assert len(checks) == 4


def test_other_projects_cost_a_read_each(svc: TokenService, counting: CountingStore) -> None:
    raw, _ = svc.mint("alice")
    counting.calls.clear()
    uses = [upload("foo"), upload("bar"), upload("foo"), download(None), upload("bar")]
    assert svc.evaluate(raw, uses) == [None] * 5
    # foo comes with the token, bar costs its own project and role reads, once
    assert (counting.calls["get_token_grant"], counting.calls["get_project"]) == (1, 1)
    assert counting.calls["get_role"] == 1


def test_at_most_one_denied_line_per_call(svc: TokenService, counting: CountingStore) -> None:
    raw, record = svc.mint("bob", actions=ACTION_NAMES)
    counting.calls.clear()
    # download is allowed; upload and delete are refused, for bob's rights
    assert svc.evaluate(raw, ACTIONS) == [
        "user bob may not upload to project 'foo'",
        None,
        "user bob may not delete from project 'foo'",
    ]
    assert counting.calls.get("add_event") == 1
    (line,) = [e for e in svc.list_events() if e.event == "denied"]
    assert (line.token_id, line.action, line.reason) == (
        record.id,
        "upload",
        "user bob may not upload to project 'foo'",
    )
    # the control: authenticate records each refusal
    counting.calls.clear()
    told(svc, raw, upload("foo"))
    told(svc, raw, delete("foo"))
    assert counting.calls.get("add_event") == 2


def test_a_token_refused_as_a_whole_is_recorded_once(
    svc: TokenService, counting: CountingStore
) -> None:
    raw, record = svc.mint("alice")
    svc.revoke(record.id)
    counting.calls.clear()
    assert svc.evaluate(raw, ACTIONS) == ["token revoked"] * 3
    assert counting.calls.get("add_event") == 1
    line = svc.list_events(limit=1)[0]
    # the uses share the project, not the action
    assert (line.event, line.token_id, line.project, line.action) == (
        "denied",
        record.id,
        "foo",
        None,
    )
    counting.calls.clear()
    assert svc.evaluate("pypi-garbage!", ACTIONS)[0].startswith("malformed token")  # type: ignore[union-attr]
    assert "add_event" not in counting.calls


def test_last_used_is_touched_only_when_a_use_is_allowed(svc: TokenService) -> None:
    raw, record = svc.mint("alice", actions=["upload"])
    t0 = record.created
    svc.evaluate(raw, [download("foo", now=t0), delete("foo", now=t0)])
    assert svc.get_token(record.id).last_used is None
    svc.evaluate(raw, [download("foo", now=t0 + 1), upload("foo", now=t0 + 2)])
    assert svc.get_token(record.id).last_used == t0 + 2


def test_no_read_when_every_name_is_refused(svc: TokenService, counting: CountingStore) -> None:
    raw, _ = svc.mint("alice")
    counting.calls.clear()
    answers = svc.evaluate(raw, [upload("bad name!"), download("-x")])
    assert [a.startswith("invalid project name ") for a in answers] == [True, True]  # type: ignore[union-attr]
    assert counting.calls == {}
