"""The public listening pages ("Hear real conversations"), their audio and podcast feed; private listening."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("listen", __name__)
