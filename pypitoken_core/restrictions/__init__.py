"""Restrictions (macaroon caveats): one small class per caveat, a registry keyed by tag.

Wire format. A caveat is JSON. The current format is an array whose first element is a
tag and whose other elements are the fields, in declaration order: ``[1, ["foo"]]``.
The legacy format (pre-2022 Warehouse) is a JSON object, told apart by its keys. Writing
uses :func:`json.dumps` with its default separators, so that tokens are byte-identical to
pypitoken 7.1.1; reading accepts any separators (pypi.org writes compact JSON).

Tags. Integer tags belong to pypi.org (Warehouse ``caveats/__init__.py``): 0 date, 1 project
names, 2 project ids, 3 user id, 4 trusted publisher. This project's own caveats use
*string* tags (``"ptc.actions"``, ``"ptc.indexes"``): Warehouse only ever registers
integers, so they can never collide with a future pypi.org tag, and every other reader
(pypitoken, pypi.org) fails closed on them.

Reading is strict (exact array length, integer timestamps that are not bools, normalised
project names, no unknown keys): anything this package does not fully understand raises
:class:`LoaderError`, and a token carrying it never passes :meth:`Token.check`.

Layout: ``_context`` (:class:`Context`, what every check reads), ``_core`` (the base
class, the registry and decoding), and the catalogue: ``_pypi`` (tags 0 to 4), ``_legacy``
(the JSON objects), ``_extensions`` (this project's tags). A new caveat is one class in
one catalogue module, registered with ``@_register(tag)``.
"""

from __future__ import annotations

from .._time import timestamp_from_parameter as timestamp_from_parameter
from ._context import Context as Context
from ._core import MAX_CAVEAT_BYTES as MAX_CAVEAT_BYTES
from ._core import Restriction as Restriction
from ._extensions import ACTIONS as ACTIONS
from ._extensions import ActionsRestriction as ActionsRestriction
from ._extensions import IndexesRestriction as IndexesRestriction
from ._legacy import LegacyDateRestriction as LegacyDateRestriction
from ._legacy import LegacyNoopRestriction as LegacyNoopRestriction
from ._legacy import LegacyProjectIDsRestriction as LegacyProjectIDsRestriction
from ._legacy import LegacyProjectNamesRestriction as LegacyProjectNamesRestriction
from ._pypi import DateRestriction as DateRestriction
from ._pypi import OIDCPublisherRestriction as OIDCPublisherRestriction
from ._pypi import ProjectIDsRestriction as ProjectIDsRestriction
from ._pypi import ProjectNamesRestriction as ProjectNamesRestriction
from ._pypi import UserIDRestriction as UserIDRestriction

__all__ = [
    "ACTIONS",
    "ActionsRestriction",
    "Context",
    "DateRestriction",
    "IndexesRestriction",
    "LegacyDateRestriction",
    "LegacyNoopRestriction",
    "LegacyProjectIDsRestriction",
    "LegacyProjectNamesRestriction",
    "OIDCPublisherRestriction",
    "ProjectIDsRestriction",
    "ProjectNamesRestriction",
    "Restriction",
    "UserIDRestriction",
    "timestamp_from_parameter",
]
