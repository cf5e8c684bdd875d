"""``POST /{user}/+api-tokens`` with a time no date can hold (issue 8, part 5): it used to
mint a working token with ``"expires": 10**30`` (which ``pypitoken inspect`` then crashed
on); now it answers 400 with the reason and creates nothing."""

from __future__ import annotations

import pytest

from .conftest import Devpi

pytestmark = pytest.mark.e2e


def token_ids(devpi: Devpi) -> set[str]:
    reply = devpi.api("GET", "/alice/+api-tokens", user="alice")
    assert reply.status == 200, reply
    return {t["id"] for t in reply.body["result"]["tokens"]}


@pytest.mark.parametrize(
    "expires",
    [10**30, 253402300799, 10**400, "9999-12-31T23:00:00-02:00", "@253402300800"],
    ids=["10**30", "max-timestamp-from-now", "10**400", "aware-past-9999", "epoch-past-9999"],
)
def test_expires_beyond_year_9999_is_a_400(devpi: Devpi, expires: object) -> None:
    before = token_ids(devpi)
    # 10**400 is a valid JSON number too (Python's json writes and reads it).
    reply = devpi.api("POST", "/alice/+api-tokens", {"expires": expires}, user="alice")
    assert reply.status == 400, reply
    # A number is counted by the service; a string is read as every --expires is.
    expected = (
        "`expires` is out of range"
        if isinstance(expires, int)
        else f"'expires' {expires!r} is not a time between years 1 and 9999"
    )
    assert expected in reply.body["message"]
    assert token_ids(devpi) == before
    assert "Traceback" not in devpi.log_text()


def test_a_token_expiring_in_an_hour_is_still_minted(devpi: Devpi) -> None:
    before = token_ids(devpi)
    token_id, _ = devpi.mint(expires=3600)
    assert token_ids(devpi) == before | {token_id}
