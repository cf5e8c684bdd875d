"""Every scale benchmark's short mode runs to its end, as ``python benchmarks/<name>``.

No timing is asserted here (figures on a shared machine are the benchmarks' business, in
their README section). What is asserted: the run completes, prints its verdict line, and
what is a correctness count, not a time, holds (the load test's wrong decisions, 5xx and
lost uploads; the cluster's stale answers).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.e2e


def bench(name: str, *args: str, timeout: float = 600) -> str:
    """Run one benchmark; its output (the test fails with it if the benchmark failed)."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"{name} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n"
                    f"{proc.stderr[-3000:]}")  # fmt: skip
    return proc.stdout


@pytest.mark.postgres
def test_load_short_mode_decides_every_answer_right(pg_database_url: str) -> None:
    out = bench("bench_load.py", "--short", "--pg", pg_database_url)
    summaries = re.findall(
        r"^(\S+): \d+ operations .*wrong decisions (\d+), 5xx (\d+), lost uploads (\d+),"
        r" other errors (\d+);", out, re.M,
    )  # fmt: skip
    assert [name for name, *_ in summaries] == [
        "pypiserver-sqlite", "pypiserver-postgresql", "devpi"
    ]  # fmt: skip
    assert all(counts == ["0", "0", "0", "0"] for _, *counts in summaries), out
    assert "target (0 wrong decisions, 0 5xx, 0 lost uploads): met" in out


@pytest.mark.postgres
def test_processes_short_mode_has_no_stale_answer(pg_cluster: object) -> None:
    out = bench("bench_processes.py", "--short")
    rows = re.findall(r"^(sqlite|postgresql)\s+(\d+)\s+(\d+)\s", out, re.M)
    assert [(store, stale) for store, _, stale in rows] == [("sqlite", "0"), ("postgresql", "0")]
    assert all(int(answers) == 50 for _, answers, _ in rows)


@pytest.mark.postgres
def test_tokens_short_mode_measures_both_stores(pg_cluster: object) -> None:
    out = bench("bench_tokens.py", "--short")
    for backend in ("sqlite", "postgresql"):
        assert f"\n{backend}: 1000 against 20000 tokens (2000 users)" in out
    assert re.search(r"^target \(authenticate at 20000 tokens <= 1\.2x", out, re.M)


def test_pypiserver_short_mode_measures_every_auther() -> None:
    out = bench("bench_pypiserver.py", "--short")
    for auther in ("token", "trivial", "apr1", "bcrypt"):
        assert re.search(rf"^{auther}\s+\d+", out, re.M)
    assert re.search(r"^target \(token >= 0\.90 x trivial and > apr1\): (met|NOT met)", out, re.M)
