"""Suite-wide set-up: hypothesis profiles and the throwaway PostgreSQL cluster.

Hypothesis: ``ci`` (the default) keeps example counts moderate so that the core suite runs
in well under a minute on two cores; ``dev`` is quicker still, ``thorough`` is for a long
local run. Select one with ``HYPOTHESIS_PROFILE=thorough``.

PostgreSQL: one cluster for the whole session (the store and service suites share it),
stopped by ``pg_ctl``, then by PID. Each test gets a fresh schema (``pg_url``) or a fresh
database (``pg_database_url``). Without the server binaries the PostgreSQL tests skip with
the reason, except when ``PYPITOKEN_REQUIRE_POSTGRES=1`` (``.ci/run`` sets it), where a
missing PostgreSQL fails the run.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests.pgcluster import REQUIRE_ENV, SCHEMA_DB, Cluster, find_bindir, start_cluster

if TYPE_CHECKING:
    from tests.oidc_issuer import Issuer

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: PostgreSQL is required)", pytrace=False)
    pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to make this a failure")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A running PostgreSQL cluster for the whole session."""
    if importlib.util.find_spec("psycopg") is None:
        _unavailable("psycopg is not installed (pip install 'pypitoken-core[postgres]')")
    bindir = find_bindir()
    if bindir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found in"
            " /usr/lib/postgresql/*/bin; install the Debian 'postgresql' package"
        )
        raise AssertionError("unreachable")
    cluster = start_cluster(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """The URL of a new, empty schema (via ``search_path``), dropped after the test."""
    name = pg_cluster.create_schema()
    try:
        yield pg_cluster.url(SCHEMA_DB, schema=name)
    finally:
        pg_cluster.drop_schema(name)


@pytest.fixture
def pg_database_url(pg_cluster: Cluster) -> Iterator[str]:
    """The URL of a new, empty database (tables in ``public``), dropped after the test."""
    name = pg_cluster.create_database()
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """The local OIDC issuer (:class:`tests.oidc_issuer.Issuer`), one per test module."""
    from tests.oidc_issuer import Issuer

    made = Issuer()
    try:
        yield made
    finally:
        made.stop()
