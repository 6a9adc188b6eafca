"""Admin → Archive: each conversation's choices, deposits per destination, retry, withdraw, tell by hand."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("admin_archive", __name__)
