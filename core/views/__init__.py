"""Core blueprints: public pages, accounts, admin area and theme assets."""

from __future__ import annotations

from typing import Any

from flask import Flask


def register_core_blueprints(app: Flask, platform: Any) -> None:
    """Register core's blueprints and apply the configured rate limits to their endpoints."""
    from core.views import admin, assets, auth, cohorts, matching, public, questionnaire, safety
    from core.views.limits import apply_rate_limits

    for module in (public, auth, admin, assets, questionnaire, safety, cohorts, matching):
        app.register_blueprint(module.blueprint)
    limiter = apply_rate_limits(app, platform.settings.accounts.rate_limits)
    matching.apply_invitation_limit(app, limiter, platform.settings.matching)
