"""pypitoken-core: PyPI-style scoped API tokens for self-hosted package indexes.

The public API is pypitoken's (``Token``, the restriction classes, the exceptions),
re-implemented to be wire-compatible with pypi.org, fail closed, and fast.
"""

from .exceptions import AlreadyExists as AlreadyExists
from .exceptions import ConfigurationError as ConfigurationError
from .exceptions import InvalidInput as InvalidInput
from .exceptions import InvalidRestriction as InvalidRestriction
from .exceptions import LoaderError as LoaderError
from .exceptions import MissingContextError as MissingContextError
from .exceptions import NotFound as NotFound
from .exceptions import PyPITokenException as PyPITokenException
from .exceptions import StoreError as StoreError
from .exceptions import ValidationError as ValidationError
from .restrictions import ActionsRestriction as ActionsRestriction
from .restrictions import Context as Context
from .restrictions import DateRestriction as DateRestriction
from .restrictions import IndexesRestriction as IndexesRestriction
from .restrictions import LegacyDateRestriction as LegacyDateRestriction
from .restrictions import LegacyNoopRestriction as LegacyNoopRestriction
from .restrictions import LegacyProjectIDsRestriction as LegacyProjectIDsRestriction
from .restrictions import LegacyProjectNamesRestriction as LegacyProjectNamesRestriction
from .restrictions import OIDCPublisherRestriction as OIDCPublisherRestriction
from .restrictions import ProjectIDsRestriction as ProjectIDsRestriction
from .restrictions import ProjectNamesRestriction as ProjectNamesRestriction
from .restrictions import Restriction as Restriction
from .restrictions import UserIDRestriction as UserIDRestriction
from .token import Token as Token

__all__ = [
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
