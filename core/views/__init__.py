"""Core blueprints: public pages, accounts, admin area and theme assets."""

from __future__ import annotations

from typing import Any

from flask import Flask


def register_core_blueprints(app: Flask, platform: Any) -> None:
    """Register core's blueprints and apply the configured rate limits to their endpoints."""
    from core.views import (
        admin,
        admin_archive,
        admin_conversations,
        admin_recordings,
        archive_choices,
        assets,
        auth,
        cohorts,
        listen,
        matching,
        password,
        public,
        questionnaire,
        reauth,
        safety,
        scheduling,
        second_factor,
        security,
        sessions,
    )
    from core.views import live as live_views
    from core.views import recording as recording_views
    from core.views import room as room_views
    from core.views.limits import apply_rate_limits

    for module in (public, auth, admin, assets, questionnaire, safety, cohorts, matching, scheduling, live_views,
                   room_views, recording_views, admin_conversations, admin_recordings, listen, archive_choices,
                   admin_archive, sessions, second_factor, security, reauth, password):
        app.register_blueprint(module.blueprint)
    from core.views import calendar

    app.register_blueprint(calendar.blueprint)
    from core.views import no_shows, tech_check, unlock

    app.register_blueprint(no_shows.blueprint)
    app.register_blueprint(tech_check.blueprint)
    app.register_blueprint(unlock.blueprint)
    limiter = apply_rate_limits(app, platform.settings.accounts.rate_limits)
    matching.apply_invitation_limit(app, limiter, platform.settings.matching)
