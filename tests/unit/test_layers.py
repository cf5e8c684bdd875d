"""Imports flow one way (STYLE 6.1), and the plugins use only public core modules.

Every module of ``pypitoken_core`` sits in a layer and imports only from layers below it
(a package's own modules may import each other). A new module goes into ``LAYERS``: where
it lands says what it may use, and what may use it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pypitoken_core

CORE = Path(pypitoken_core.__file__).parent
PLUGINS = CORE.parent / "plugins"

LAYERS: list[set[str]] = [
    {"names", "_text", "exceptions"},
    {"_time", "_macaroon"},
    {"restrictions"},
    {"_parameters"},
    {"token"},
    {"store"},
    {"_keys", "_ownership", "_checks", "_audit", "_identity", "display"},
    {"_claims", "_minting"},
    {"service"},
    {"api"},
    {"cli"},
]
LAYER = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def top(module: str) -> str:
    """``pypitoken_core.restrictions._core`` -> ``restrictions``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def core_imports(path: Path) -> set[str]:
    """The ``pypitoken_core`` modules that the file at ``path`` imports, absolute."""
    package = ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
                names = [f"{module}.{alias.name}" for alias in node.names]
                found.update([module] if node.module else names)
            elif node.module and node.module.startswith("pypitoken_core"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pypitoken_core"))
    return {module for module in found if module.startswith("pypitoken_core")}


MODULES = sorted(p for p in CORE.rglob("*.py") if p.name != "__init__.py" or p.parent != CORE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_imports_flow_one_way(path: Path) -> None:
    own = top(".".join(path.relative_to(CORE.parent).with_suffix("").parts))
    assert own in LAYER, f"put {own!r} into a layer of LAYERS"
    for module in core_imports(path):
        used = top(module)
        if used in ("", own):
            continue
        assert used in LAYER, f"{own} imports {module}, which is in no layer"
        assert LAYER[used] < LAYER[own], f"{own} (layer {LAYER[own]}) imports {module}"


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    assert "pypitoken_core.service" in core_imports(CORE / "cli" / "_common.py")
    assert "pypitoken_core.restrictions._core" in core_imports(CORE / "token.py")
    assert "pypitoken_core.display" in core_imports(PLUGINS / "pypitoken_devpi" / "server.py")


@pytest.mark.parametrize(
    "path", sorted(PLUGINS.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGINS))
)
def test_plugins_use_only_public_core_modules(path: Path) -> None:
    for module in core_imports(path):
        private = [part for part in module.split(".") if part.startswith("_")]
        assert not private, f"{path.name} imports the private {module}"
