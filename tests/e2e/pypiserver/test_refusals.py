"""Issue 8 against a real ``pypitoken-pypiserver``: refused requests must not fill the store
(part 2), and must not tell a forger anything about a token (part 3).

The reviewer's abuse, replayed over HTTP: ``GET /simple/<250 000 x "b">/`` with an
upload-only token and with an expired one, forged signatures on a known token id, unknown
ids, a fresh long project name every time. The SQLite store is measured before and after
(file size after a WAL checkpoint, and lines in the audit trail): a burst may add one line
per kind of refusal, whatever its length. The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pypitoken_core import Token

from .client import Response, basic, connect, request
from .conftest import TOKEN_USER, Index, pypiserver_running

pytestmark = pytest.mark.e2e

HUGE = "b" * 250_000
#: What a burst of refusals may add to the store file, whatever its length: a few pages
#: for the new audit lines (one per kind of refusal and token).
BURST_BYTES = 16 * 1024


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """Reads need a token too (-a update,download,list), as on the reviewer's server."""
    with pypiserver_running(
        tmp_path_factory.mktemp("refusals"), "-a", "update,download,list"
    ) as idx:
        idx.admin.user("dora")
        yield idx


@dataclass(frozen=True)
class Size:
    """The store as it is on disk once the WAL is folded in, and its audit lines."""

    bytes: int
    lines: int


def measure(index: Index) -> Size:
    path = Path(index.admin.db.removeprefix("sqlite:///"))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the server held a read transaction open"
        (lines,) = conn.execute("SELECT count(*) FROM events").fetchone()
    wal = path.with_name(path.name + "-wal")
    return Size(path.stat().st_size + (wal.stat().st_size if wal.exists() else 0), lines)


def get(index: Index, path: str, token: str, conn: object = None) -> Response:
    return request(index.url, "GET", path, auth=basic(TOKEN_USER, token), conn=conn)  # type: ignore[arg-type]


def burst(index: Index, paths_and_tokens: list[tuple[str, str]]) -> list[Response]:
    """Send every request on one keep-alive connection (as an attacker would)."""
    conn = connect(index.url)
    try:
        return [get(index, path, token, conn) for path, token in paths_and_tokens]
    finally:
        conn.close()


def report(what: str, before: Size, after: Size, requests: int) -> None:
    per_request = (after.bytes - before.bytes) / requests
    print(
        f"\n[store growth] {what}: {requests} refused requests, "
        f"+{after.bytes - before.bytes} bytes ({per_request:.1f} per request), "
        f"+{after.lines - before.lines} audit lines"
    )


def audit_lines(index: Index) -> list[dict[str, object]]:
    return json.loads(index.admin("audit", "list", "--json", "--limit", "1000").stdout)


def kind_of(reason: str) -> str:
    """A reason without what varies from one request to the next (names, times)."""
    invalid = "Invalid API Token: invalid project name 'bbbb"
    return invalid if reason.startswith(invalid) else reason.split(" at ")[0]


def forged(token_id: str) -> str:
    return Token.create("localhost", token_id, b"a guessed key, not the server's").dump()


def expired_token(index: Index) -> str:
    raw = index.admin.mint("dora", expires="1s")
    time.sleep(1.5)
    assert get(index, "/simple/", raw).reason.startswith("Invalid API Token: token expired at ")
    return raw


# -- part 2: the reproductions ------------------------------------------------------------------


def test_huge_project_names_with_an_upload_only_token(index: Index) -> None:
    """20 x GET /simple/<250 000 x "b">/ added 10 MB."""
    token = index.admin.mint("dora", actions="upload")
    before = measure(index)
    answers = burst(index, [(f"/simple/{HUGE}/", token)] * 20)
    after = measure(index)
    report("250 000-character names, upload-only token", before, after, 20)
    assert {r.status for r in answers} == {403}
    assert answers[0].reason.startswith("Invalid API Token: invalid project name 'bbbbbbbb")
    assert len(answers[0].reason) <= 400
    # Refused once the token is known genuine: recorded under it, folded, without the name.
    assert after.lines - before.lines <= 1
    assert after.bytes - before.bytes <= BURST_BYTES
    token_id = index.admin.token_id(token)
    (line,) = [e for e in audit_lines(index) if (e["event"], e["token_id"]) == ("denied", token_id)]
    assert (line["reason"], line["count"]) == ("invalid project name (250000 characters)", 20)
    # Positive control: the same token is refused, and recorded, for a real name.
    assert get(index, "/simple/dl-proj/", token).reason == (
        "Invalid API Token: not valid for action 'download'"
    )
    assert measure(index).lines == after.lines + 1


def test_huge_and_ever_new_names_with_an_expired_token(index: Index) -> None:
    """An expired token did the same."""
    token = expired_token(index)
    before = measure(index)
    requests = [(f"/simple/{HUGE}/", token)] * 20
    requests += [(f"/simple/n{i:03d}-{'q' * 195}/", token) for i in range(200)]
    answers = burst(index, requests)
    after = measure(index)
    report("expired token, huge and new 200-character names", before, after, len(requests))
    assert {r.status for r in answers} == {403}
    # The token's own state comes before what the URL names, whatever it names.
    assert {r.reason.split(" at ")[0] for r in answers} == {"Invalid API Token: token expired"}
    assert after.lines - before.lines <= 1
    assert after.bytes - before.bytes <= BURST_BYTES


def test_forged_signatures_on_a_known_id(index: Index) -> None:
    """200 forged-signature requests with a known token id wrote 200 rows."""
    live = index.admin.mint("dora")
    fake = forged(index.admin.token_id(live))
    before = measure(index)
    answers = burst(index, [(f"/simple/p{i}/", fake) for i in range(200)])
    after = measure(index)
    report("forged signatures, one known id", before, after, 200)
    assert {r.reason for r in answers} == {"Invalid API Token: invalid or unknown token"}
    assert after.lines - before.lines <= 1
    assert after.bytes - before.bytes <= BURST_BYTES
    # The security team still sees them, folded, with their count.
    live_id = index.admin.token_id(live)
    (line,) = [e for e in audit_lines(index) if (e["event"], e["token_id"]) == ("denied", live_id)]
    assert line["count"] == 200 and line["reason"].startswith("bad signature")
    # Positive control: the genuine token still works.
    assert get(index, "/simple/", live).status == 200


def test_the_whole_abuse_twice_stays_bounded(index: Index) -> None:
    """Every kind at once, 1 220 requests; then again: the second burst adds nothing."""
    upload_only = index.admin.mint("dora", actions="upload")
    expired = expired_token(index)
    live_id = index.admin.token_id(index.admin.mint("dora"))
    revoked = index.admin.mint("dora")
    revoked_id = index.admin.token_id(revoked)
    index.admin("token", "revoke", revoked_id)

    def abuse() -> list[tuple[str, str]]:
        requests = [(f"/simple/{HUGE}/", upload_only), (f"/simple/{HUGE}/", expired)] * 10
        for _ in range(200):
            name = f"/simple/{uuid.uuid4().hex}-{'z' * 160}/"
            requests += [
                (name, upload_only),
                (name, expired),
                (name, forged(live_id)),
                (name, forged(str(uuid.uuid4()))),
                (name, revoked),
                (name, forged(revoked_id)),
            ]
        return requests

    start = measure(index)
    first = burst(index, abuse())
    middle = measure(index)
    second = burst(index, abuse())
    end = measure(index)
    report("every kind, first burst", start, middle, len(first))
    report("every kind, second burst", middle, end, len(second))
    assert {r.status for r in first + second} == {403}
    assert {kind_of(r.reason) for r in first + second} == {
        "Invalid API Token: invalid project name 'bbbb",
        "Invalid API Token: not valid for action 'download'",
        "Invalid API Token: token expired",
        "Invalid API Token: invalid or unknown token",
        "Invalid API Token: token revoked",
    }
    # One line per kind of refusal and token: invalid name, action, expiry, forged,
    # unknown, revoked, forged revoked.
    assert middle.lines - start.lines <= 7
    assert middle.bytes - start.bytes <= BURST_BYTES
    # The same again folds into the same lines (a page may be rewritten, never added to).
    assert end.lines == middle.lines
    assert end.bytes - middle.bytes <= 4096


def test_invalid_names_are_refused_after_the_token_and_recorded_under_it(index: Index) -> None:
    """Red team round 2, H5: a GET naming an invalid project was refused before the token
    was looked up, so a forged, revoked or expired token left no trace, and an expired one
    read "invalid project name". Now: format, lookup and signature first; the refusal is
    the token's (forged, revoked, expired) or, for a genuine current one, the name's;
    recorded folded under the token, with the name's length, never the name."""
    genuine = index.admin.mint("dora")
    expired = expired_token(index)
    revoked = index.admin.mint("dora")
    index.admin("token", "revoke", index.admin.token_id(revoked))
    live_id = index.admin.token_id(genuine)
    tokens = {
        "genuine": genuine,
        "expired": expired,
        "revoked": revoked,
        "forged": forged(live_id),
        "unknown": forged(str(uuid.uuid4())),
    }
    names = [HUGE, "a" * 201, "-foo", "bad%20name", "x" * 199 + "_"]

    def abuse() -> list[tuple[str, str]]:
        return [(f"/simple/{n}/", t) for _ in range(20) for n in names for t in tokens.values()]

    start = measure(index)
    first = burst(index, abuse())
    middle = measure(index)
    second = burst(index, abuse())
    end = measure(index)
    report("invalid names, every kind of token, first burst", start, middle, len(first))
    report("invalid names, every kind of token, second burst", middle, end, len(second))
    reasons = {
        kind: {kind_of(r.reason) for r in first[i :: len(tokens)]} for i, kind in enumerate(tokens)
    }
    name_reasons = reasons.pop("genuine")
    assert len(name_reasons) == len(names)
    assert all(
        r.startswith("Invalid API Token: invalid project name ") and len(r) <= 400
        for r in name_reasons
    )
    assert reasons == {
        "expired": {"Invalid API Token: token expired"},
        "revoked": {"Invalid API Token: token revoked"},
        "forged": {"Invalid API Token: invalid or unknown token"},
        "unknown": {"Invalid API Token: invalid or unknown token"},
    }
    # One line per token and kind of refusal (the unknown id's is shared by all unknown
    # ids), a few pages at most; the same burst again folds into the same lines.
    assert middle.lines - start.lines <= len(tokens)
    assert middle.bytes - start.bytes <= BURST_BYTES
    assert end.lines == middle.lines
    assert end.bytes - middle.bytes <= 4096
    lines = [e for e in audit_lines(index) if e["event"] == "denied"]
    assert not [e for e in lines if "b" * 20 in json.dumps(e) or "a" * 20 in json.dumps(e)]
    ids = {kind: index.admin.token_id(tokens[kind]) for kind in ("expired", "revoked")}
    seen = {kind: {e["reason"] for e in lines if e["token_id"] == ids[kind]} for kind in ids}
    assert {r.split(" at ")[0] for r in seen["expired"]} == {"token expired"}
    assert seen["revoked"] == {"token revoked"}
    # The genuine token's id carries two lines: its own refusals (the name's length, the
    # latest folded in) and those of the forgeries of it.
    (signature, named) = sorted(e["reason"] for e in lines if e["token_id"] == live_id)
    assert re.fullmatch(r"invalid project name \(\d+ characters\)", named), named
    assert signature.startswith("bad signature (a forged or altered token")
    # Positive control: the genuine token reads a real project.
    assert get(index, "/simple/", genuine).status == 200


# -- part 3: a forger learns nothing from the reason -------------------------------------------


def test_forged_tokens_get_one_reason_whatever_the_id(index: Index) -> None:
    live = index.admin.mint("dora")
    revoked = index.admin.mint("dora")
    revoked_id = index.admin.token_id(revoked)
    index.admin("token", "revoke", revoked_id)
    ids = [str(uuid.uuid4()), index.admin.token_id(live), revoked_id]
    reasons = {get(index, "/simple/", forged(token_id)).reason for token_id in ids}
    assert reasons == {"Invalid API Token: invalid or unknown token"}
    # Positive controls: the genuine tokens hear the truth.
    assert get(index, "/simple/", revoked).reason == "Invalid API Token: token revoked"
    assert get(index, "/simple/", live).status == 200
