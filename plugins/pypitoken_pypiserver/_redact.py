"""Keep credentials out of every log line the pypiserver process writes.

pypiserver logs ``config.log_req_frmt % request.environ`` for each request. Its own help
suggests ``--log-req-frmt '%s'``, which prints the whole WSGI environ, Authorization header
included: the token, base64-encoded. The filter here is installed on the loggers of
pypiserver, bottle, waitress, gunicorn and this adapter. It formats each record once,
with the environ's Authorization value replaced, then masks anything credential-shaped
that is left, so no format string can bring a token back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["RedactingFilter", "install_log_redaction", "redact"]

#: Loggers that may see a request: pypiserver's own, bottle's error stream as pypiserver
#: routes it, the WSGI servers pypiserver runs under, and this adapter.
LOGGER_NAMES = (
    "pypiserver",
    "pypiserver._app",
    "pypiserver.backend",
    "pypiserver.main",
    "pypiserver.bottle_wrapper",
    "waitress",
    "waitress.queue",
    "gunicorn.error",
    "gunicorn.access",
    "pypitoken_pypiserver",
    # A filter applies to the records of its own logger only, never to a child's.
    "pypitoken_pypiserver.refusals",
)

MASK = "<redacted>"

# An Authorization-style value ("Basic X19...", "Bearer ...") wherever it was formatted.
_AUTH_VALUE = re.compile(r"(?i)\b(basic|bearer|token|macaroon)(\s+)[A-Za-z0-9+/=._~-]{4,}")
# A raw token: "<prefix>-" and a base64url macaroon v2 (first byte 0x02, so "Ag").
_RAW_TOKEN = re.compile(r"\b[A-Za-z0-9]+-Ag[A-Za-z0-9_-]{16,}")
# A JWT (a CI job's OIDC token, sent to the trusted-publishing exchange): base64url of a
# JSON header, so "eyJ", then payload and signature after dots.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """Return ``text`` with Authorization values, raw tokens and JWTs replaced by a mask."""
    text = _AUTH_VALUE.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return _JWT.sub(MASK, _RAW_TOKEN.sub(MASK, text))


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record into an already formatted, masked message.

    It never drops a record. A record whose arguments do not fit its format string is
    replaced by a fixed message: the logging module would otherwise print the raw
    arguments (the environ, with the header) to stderr.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping) and "HTTP_AUTHORIZATION" in args:
            # args is the live WSGI environ: replace, never mutate.
            record.args = {**args, "HTTP_AUTHORIZATION": MASK}
        try:
            message = record.getMessage()
        except Exception:
            message = "log record could not be formatted (redacted)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the filter to every logger in :data:`LOGGER_NAMES` (idempotent)."""
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(_FILTER)
