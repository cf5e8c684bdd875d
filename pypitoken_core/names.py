"""Project names: PEP 503 normalisation and the one validity rule, shared by everything.

A project name that comes from outside (a request URL or form, a mint, the admin CLI)
must be a PEP 508 name of at most :data:`MAX_LENGTH` characters before it reaches a
store query or an audit row: :func:`is_valid` is that check, everywhere.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LENGTH", "is_normalized", "is_valid", "normalize"]

#: Longest project name accepted from outside. pypi.org's longest names are under 100
#: characters; the limit keeps what a request can make the server look up or record
#: small, whatever the request carries.
MAX_LENGTH = 200

_SEPARATORS = re.compile(r"[-_.]+")
# What pypitoken's ProjectNamesRestriction schema accepts, and what normalize() produces
# for any valid distribution name.
_NORMALIZED = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$")
# PEP 508 names, spelled out in ASCII: with re.IGNORECASE, [A-Z] would also match the
# Kelvin sign and three other non-ASCII letters.
_PEP508 = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")


def normalize(name: str) -> str:
    """Return the PEP 503 normalised form of a project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return _SEPARATORS.sub("-", name).lower()


def is_normalized(name: str) -> bool:
    """Tell whether ``name`` is a valid, already normalised project name (of any length).

    This is the pattern of the project-name caveat, which has no length limit on pypi.org;
    names from outside are checked with :func:`is_valid` as well.
    """
    return type(name) is str and _NORMALIZED.fullmatch(name) is not None


def is_valid(name: object) -> bool:
    """Tell whether ``name`` is a PEP 508 project name of at most :data:`MAX_LENGTH` characters.

    The length is checked first, so a megabyte of letters costs nothing.
    """
    return type(name) is str and len(name) <= MAX_LENGTH and _PEP508.fullmatch(name) is not None
