"""testkit_crash: refuses to start, as a plugin does whose service is unreachable."""

from __future__ import annotations

from typing import Any

from core.api import hookimpl


@hookimpl
def startup(app: Any) -> None:
    """Fail the way a plugin fails when its credentials are wrong."""
    raise ConnectionError("the testkit service at https://testkit.invalid refused the API key")
