"""Times a mint takes (issue 8, part 5): what a datetime cannot hold is refused, and a
server may cap how long a token lives (``max_lifetime``, saved in the store)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from pypitoken_core import ConfigurationError, DateRestriction, InvalidRestriction, Token
from pypitoken_core._time import MAX_TIMESTAMP
from pypitoken_core.service import TokenService
from tests.service.conftest import MakeService, upload

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"expires": 10**30}, "expires"),
        ({"expires": MAX_TIMESTAMP}, "expires"),  # seconds from now: beyond year 9999
        ({"expires": datetime.timedelta.max}, "expires"),
        (
            {
                "expires": datetime.datetime(
                    9999, 12, 31, 23, tzinfo=datetime.timezone(-datetime.timedelta(hours=2))
                )
            },
            "expires",
        ),
        ({"expires": 60, "not_before": -(10**30)}, "not_before"),
        ({"expires": 60, "not_before": -(10**12)}, "not_before"),  # before year 1
    ],
    ids=[
        "10**30",
        "max-from-now",
        "timedelta.max",
        "aware-past-9999",
        "nbf-huge",
        "nbf-before-year-1",
    ],
)
def test_times_a_datetime_cannot_hold_are_refused(
    service: TokenService, kwargs: dict[str, object], name: str
) -> None:
    before = service.store.list_events(limit=100)
    with pytest.raises(InvalidRestriction, match=f"`{name}` is out of range"):
        service.mint("alice", **kwargs)  # type: ignore[arg-type]
    assert service.list_tokens() == []
    assert service.store.list_events(limit=100) == before


def test_the_last_second_of_year_9999_is_fine(service: TokenService) -> None:
    end = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    raw, record = service.mint("alice", expires=end)
    assert record.expires == MAX_TIMESTAMP
    (date,) = [r for r in Token.load(raw).restrictions if isinstance(r, DateRestriction)]
    assert date.not_after == MAX_TIMESTAMP
    assert service.authenticate(raw, upload("foo")).user_name == "alice"


# -- max_lifetime ------------------------------------------------------------------------------


def test_max_lifetime_refuses_longer_and_endless_tokens(make_service: MakeService) -> None:
    svc = make_service(max_lifetime=3600)
    svc.add_user("alice")
    for kwargs in ({}, {"expires": 3601}, {"expires": datetime.timedelta(days=2)}):
        with pytest.raises(InvalidRestriction, match="must expire within 3600 seconds"):
            svc.mint("alice", **kwargs)  # type: ignore[arg-type]
    assert svc.list_tokens() == []
    _, record = svc.mint("alice", expires=3600)
    assert record.expires == record.created + 3600
    _, record = svc.mint("alice", expires=datetime.timedelta(minutes=5))
    assert record.expires == record.created + 300


@pytest.mark.parametrize("value", [-1, 1.5, "3600", True, MAX_TIMESTAMP + 1])
def test_max_lifetime_must_be_seconds(make_service: MakeService, value: object) -> None:
    with pytest.raises(ConfigurationError, match="maximum token lifetime"):
        make_service(max_lifetime=value)


def test_zero_or_none_means_no_limit(make_service: MakeService) -> None:
    for value in (0, None):
        svc = make_service(max_lifetime=value)
        assert svc.max_lifetime is None
    svc.add_user("alice")
    assert svc.mint("alice")[1].expires is None


def test_max_lifetime_is_kept_in_the_store(tmp_path: Path) -> None:
    """What an index starts with, the admin CLI (a later from_url without it) follows."""
    url = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    index = TokenService.from_url(url, max_lifetime=86400)
    try:
        index.add_user("alice")
        assert index.max_lifetime == 86400
    finally:
        index.close()
    admin = TokenService.from_url(url)
    try:
        assert admin.max_lifetime == 86400
        with pytest.raises(InvalidRestriction, match="within 86400 seconds"):
            admin.mint("alice")
        assert admin.mint("alice", expires=3600)[1].expires is not None
    finally:
        admin.close()
    # Started again with 0: no limit, for the index and, from then on, for the CLI too.
    TokenService.from_url(url, max_lifetime=0).close()
    admin = TokenService.from_url(url)
    try:
        assert admin.max_lifetime is None
        assert admin.mint("alice")[1].expires is None
    finally:
        admin.close()


def test_a_damaged_lifetime_setting_is_a_store_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    service = TokenService.from_url(url)
    service.store.set_setting("max_lifetime", "one day")
    service.close()
    with pytest.raises(ConfigurationError, match="maximum token lifetime 'one day'"):
        TokenService.from_url(url)
