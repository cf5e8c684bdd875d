"""Fenced code blocks of the Markdown docs: what the docs harness runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "SHELL", "Block", "doc_files", "fenced_blocks"]

ROOT = Path(__file__).resolve().parents[2]
#: Block languages whose contents are commands.
SHELL = frozenset({"sh", "bash", "console", "shell"})
_FENCE = re.compile(r"^(```|~~~)\s*([\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its file (relative to the repository), first line number,
    language (``""`` when untagged) and text (without the fences)."""

    path: str
    line: int
    lang: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and every Markdown file under docs/ and examples/."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "examples").rglob("*.md")),
    ]


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, in order."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    relative = str(path.relative_to(ROOT))
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        fence, lang = opened.groups()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == fence)
        blocks.append(Block(relative, i + 1, lang, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return blocks
