"""The public surface is pinned: an accidental export (or a lost one) fails here."""

from __future__ import annotations

import importlib

import pypitoken_core

EXPECTED = [
    "ActionsRestriction",
    "AlreadyExists",
    "ConfigurationError",
    "Context",
    "DateRestriction",
    "IndexesRestriction",
    "InvalidInput",
    "InvalidRestriction",
    "LegacyDateRestriction",
    "LegacyNoopRestriction",
    "LegacyProjectIDsRestriction",
    "LegacyProjectNamesRestriction",
    "LoaderError",
    "MissingContextError",
    "NotFound",
    "OIDCPublisherRestriction",
    "ProjectIDsRestriction",
    "ProjectNamesRestriction",
    "PyPITokenException",
    "Restriction",
    "StoreError",
    "Token",
    "UserIDRestriction",
    "ValidationError",
]

# pypitoken 7.1.1's ``__all__`` (formats.md 1.1): every name must exist here too.
PYPITOKEN_ALL = [
    "DateRestriction",
    "InvalidRestriction",
    "LegacyDateRestriction",
    "LegacyNoopRestriction",
    "LegacyProjectNamesRestriction",
    "LoaderError",
    "MissingContextError",
    "ProjectIDsRestriction",
    "ProjectNamesRestriction",
    "PyPITokenException",
    "Restriction",
    "Token",
    "UserIDRestriction",
    "ValidationError",
]


def test_all_is_pinned_and_sorted():
    assert pypitoken_core.__all__ == EXPECTED


def test_every_public_name_is_exported():
    public = {
        name
        for name, value in vars(pypitoken_core).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("pypitoken_core")
    }
    assert public == set(EXPECTED)


def test_pypitoken_surface_is_a_subset():
    assert set(PYPITOKEN_ALL) <= set(pypitoken_core.__all__)


def _public_module(module: str) -> str:
    """``pypitoken_core.restrictions._pypi`` -> ``pypitoken_core.restrictions``."""
    parts = module.split(".")
    while parts[-1].startswith("_"):
        parts.pop()
    return ".".join(parts)


def test_exports_come_from_their_submodules():
    for name in EXPECTED:
        value = getattr(pypitoken_core, name)
        module = _public_module(value.__module__)
        assert module in {
            "pypitoken_core.exceptions",
            "pypitoken_core.restrictions",
            "pypitoken_core.token",
        }, name
        assert getattr(importlib.import_module(module), name) is value


def test_submodules_as_in_pypitoken():
    from pypitoken_core import exceptions, restrictions, token

    assert token.PREFIX == "pypi"
    assert token.Token is pypitoken_core.Token
    assert restrictions.Context is pypitoken_core.Context
    assert callable(restrictions.timestamp_from_parameter)
    assert exceptions.LoaderError is pypitoken_core.LoaderError


def test_submodule_all_names_exist():
    for module_name in ("exceptions", "restrictions", "token", "names", "_macaroon"):
        module = importlib.import_module(f"pypitoken_core.{module_name}")
        for name in module.__all__:
            assert hasattr(module, name), (module_name, name)


def test_exception_tree():
    e = pypitoken_core
    for name in (
        "LoaderError",
        "ValidationError",
        "InvalidInput",
        "InvalidRestriction",
        "ConfigurationError",
        "StoreError",
    ):
        assert issubclass(getattr(e, name), e.PyPITokenException)
    assert issubclass(e.MissingContextError, e.ValidationError)
    assert issubclass(e.InvalidRestriction, ValueError)
    assert issubclass(e.InvalidRestriction, e.InvalidInput)
    assert not issubclass(e.ConfigurationError, e.StoreError)
    assert issubclass(e.NotFound, e.StoreError)
    assert issubclass(e.AlreadyExists, e.StoreError)
    assert issubclass(e.PyPITokenException, Exception)
    assert not issubclass(e.LoaderError, ValueError)


def test_restriction_classes_subclass_restriction():
    for name in EXPECTED:
        if name.endswith("Restriction") and name not in {"InvalidRestriction", "Restriction"}:
            assert issubclass(getattr(pypitoken_core, name), pypitoken_core.Restriction), name
