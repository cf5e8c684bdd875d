"""Reading what twine printed when an index refused an upload."""

from __future__ import annotations

import re
import subprocess


def twine_refusal(proc: subprocess.CompletedProcess[str]) -> str:
    """The reason phrase of the 403 that twine printed for a refused upload.

    twine colours its output and wraps long lines: the colour codes are dropped and the
    lines joined, so the phrase reads as the server sent it.
    """
    assert proc.returncode != 0, proc.stdout
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).split())
    found = re.search(r"HTTPError: 403 Forbidden from \S+ (.*)$", text)
    assert found is not None, text
    return found.group(1)
