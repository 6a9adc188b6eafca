"""The tech check: camera, microphone, speakers, browser support and connection, any time before a call."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, render_template
from flask_login import login_required

blueprint = Blueprint("tech_check", __name__)

CORE_CHECKS = ("camera", "microphone", "speaker", "browser", "socket", "peer")


@blueprint.route("/tech-check")
@login_required
def tech_check() -> Any:
    """The tech check page; its checks run in core/static/js/tech_check.js."""
    ice_servers: list[dict[str, Any]] = []
    return render_template("scheduling/tech_check.html", checks=" ".join(CORE_CHECKS),
                           ice_servers=json.dumps(ice_servers))
