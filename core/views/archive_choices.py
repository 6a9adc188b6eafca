"""After a recorded conversation: each participant's choices and the description both approve."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("archive_choices", __name__)
