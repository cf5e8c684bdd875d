"""Tiny, valid distributions built in-process, for real twine uploads and pip installs.

Building with `python -m build` costs seconds per project; these files are what it would
produce for an empty package, written directly with zipfile and tarfile.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path

__all__ = ["make_sdist", "make_wheel"]


def _metadata(name: str, version: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        "Summary: pypitoken-core test package\n"
        "\n"
    )


def _dist_name(name: str) -> str:
    # Wheel and sdist file names use the name with runs of -_. turned into "_" (PEP 427/625).
    return re.sub(r"[-_.]+", "_", name)


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(directory: Path, name: str, version: str) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` with one module and return its path."""
    dist = _dist_name(name).lower()
    module = dist
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{info}/METADATA": _metadata(name, version).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: pypitoken-core-tests\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{info}/top_level.txt": f"{module}\n".encode(),
    }
    record = [_record_line(p, d) for p, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = Path(directory) / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, d in files.items():
            zf.writestr(p, d)
    return path


def make_sdist(directory: Path, name: str, version: str) -> Path:
    """Write ``<name>-<version>.tar.gz`` (PKG-INFO, pyproject.toml, one module); return its path."""
    dist = _dist_name(name).lower()
    root = f"{dist}-{version}"
    files = {
        f"{root}/PKG-INFO": _metadata(name, version).encode(),
        f"{root}/pyproject.toml": (
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ).encode(),
        f"{root}/{dist}/__init__.py": f"__version__ = {version!r}\n".encode(),
    }
    path = Path(directory) / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for p, d in files.items():
            ti = tarfile.TarInfo(p)
            ti.size = len(d)
            ti.mtime = 1_700_000_000
            tf.addfile(ti, io.BytesIO(d))
    return path
