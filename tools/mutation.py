"""Helpers for `make mutation` (docs/mutation-testing.md), run inside mutmut's staging directory.

``sample N [PATTERN ...]`` generates mutmut's mutants (as ``mutmut run`` would, without running
anything) and prints the names of a reproducible 1-in-N sample of them: those whose SHA-256 is
0 modulo N, so the same mutant is in or out of the sample whatever else changed in its file.
PATTERNs (fnmatch, as ``mutmut run`` takes them) narrow the candidates first.

``table [PATTERN ...]`` prints, per mutated module, how many of the checked mutants were killed,
survived, timed out or had no test, and lists the survivors: the table docs/mutation-testing.md
shows.

Both use mutmut's own functions and status table, so mutmut is pinned in the Makefile.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
from collections import Counter
from pathlib import Path

COLUMNS = ("killed", "survived", "timeout", "no tests")


def _mutants() -> dict[str, int | None]:
    """Every generated mutant's name and exit code (None: not checked yet)."""
    found: dict[str, int | None] = {}
    for meta in sorted(Path("mutants").rglob("*.meta")):
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    return found


def _matching(names: list[str], patterns: list[str]) -> list[str]:
    if not patterns:
        return names
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]


def sample(every: int, patterns: list[str]) -> list[str]:
    """Generate the mutants; the sampled names among those matching ``patterns``."""
    from mutmut.__main__ import create_mutants, store_lines_covered_by_tests
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

    os.makedirs("mutants", exist_ok=True)
    # mutmut prints what it copies; keep stdout for the names.
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        copy_src_dir()
        copy_also_copy_files()
        setup_source_paths()
        store_lines_covered_by_tests()
        create_mutants(2)
    finally:
        sys.stdout = real_stdout
    names = _matching(sorted(_mutants()), patterns)
    return [n for n in names if int(hashlib.sha256(n.encode()).hexdigest(), 16) % every == 0]


def _module(name: str) -> str:
    # pypitoken_core.service.xǁTokenServiceǁmint__mutmut_6 -> pypitoken_core.service
    return name.split(".x", 1)[0]


def table(patterns: list[str]) -> str:
    """The per-module counts of the checked mutants matching ``patterns``, and the survivors."""
    from mutmut.stats import status_by_exit_code

    checked = {
        name: status_by_exit_code[code]
        for name, code in _mutants().items()
        if code is not None and (not patterns or _matching([name], patterns))
    }
    counts: dict[str, Counter[str]] = {}
    for name, status in checked.items():
        counts.setdefault(_module(name), Counter())[status] += 1
    total: Counter[str] = Counter()
    header = "| module | checked | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|---" * (len(COLUMNS) + 2) + "|"]
    for module, count in sorted(counts.items()):
        total.update(count)
        cells = " | ".join(str(count[c]) for c in COLUMNS)
        lines.append(f"| {module} | {sum(count.values())} | {cells} |")
    cells = " | ".join(str(total[c]) for c in COLUMNS)
    lines.append(f"| all | {sum(total.values())} | {cells} |")
    others = sorted({s for s in total if s not in COLUMNS})
    if others:
        lines.append(f"\nother statuses: {', '.join(f'{s} {total[s]}' for s in others)}")
    lines.append("")
    lines += [f"{status}: {name}" for name, status in sorted(checked.items()) if status != "killed"]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """``sample N [PATTERN ...]`` or ``table [PATTERN ...]``; see the module's docstring."""
    if argv[:1] == ["sample"] and len(argv) >= 2:
        print("\n".join(sample(int(argv[1]), argv[2:])))
    elif argv[:1] == ["table"]:
        print(table(argv[1:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
