"""A gunicorn logger class that keeps single-use link tokens out of its access and error logs.

`oss-connect serve` passes `--logger-class core.gunicorn_logging.RedactingLogger`; a custom
`--access-logformat` cannot do this, since the request line is one atom.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from core.logging_redaction import install_redaction


class RedactingLogger(Logger):
    """gunicorn's logger, with link tokens redacted from every access and error line."""

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's logging up as usual, then add the redacting filter to both of its loggers."""
        super().setup(cfg)
        install_redaction(self.access_log.name, self.error_log.name)
