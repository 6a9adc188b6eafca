"""Keep single-use link tokens out of logs: paths such as /verify/TOKEN are written as /verify/[redacted].

Emailed links carry their token in the path; the web servers' access logs (werkzeug's for `oss-connect
run`, gunicorn's for `serve`, see core.gunicorn_logging) would otherwise keep every one of them.
"""

from __future__ import annotations

import logging
import re

TOKEN_PATHS = ("verify", "reset", "magic", "welcome", "unlock", "newsletter/confirm", "newsletter/unsubscribe")
"""The first path segments of every route whose next segment is a token (tests check it against the routes)."""

NOT_TOKENS = ("resend",)  # /verify/resend is a page of its own
REDACTED = "[redacted]"

_TOKEN_IN_PATH = re.compile(
    r"(/(?:" + "|".join(re.escape(path) for path in TOKEN_PATHS) + r")/)"
    r"(?!(?:" + "|".join(NOT_TOKENS) + r")(?:[/?#\s\"']|$))"
    r"([^/?#\s\"']+)")


def redact(text: str) -> str:
    """`text` with the token of every link path replaced by [redacted]."""
    return _TOKEN_IN_PATH.sub(lambda match: match.group(1) + REDACTED, text)


class TokenRedactingFilter(logging.Filter):
    """A logging filter that redacts link tokens from a record's message (and passes every record on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted text when it holds a token."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction(*logger_names: str) -> None:
    """Add a redacting filter to each named logger (once)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(item, TokenRedactingFilter) for item in logger.filters):
            logger.addFilter(TokenRedactingFilter())
