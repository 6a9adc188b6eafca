"""The app factory: `create_app(config)` builds one independent oss-connect instance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, before_render_template, request
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_mailman import Mail
from huey import crontab
from markupsafe import Markup, escape

from core import __version__
from core.access_policy import access_tables
from core.accounts import register_account_jobs
from core.archive.deposits import register_archive_jobs
from core.config import LoadedConfig, load_config
from core.config.loader import read_secret_key
from core.db import bind_database, database
from core.ids import IdConverter
from core.jobs import JobQueue, create_huey
from core.logging_redaction import install_redaction
from core.mail import SEND_EMAIL_JOB, send_email_job
from core.matching.invitations import EXPIRE_INVITATIONS_JOB, expire_due
from core.migrate import migration_sets
from core.platform import Platform
from core.plugins_loader import StartupError, build_plugin_manager, call_each, collect_providers
from core.providers import PROVIDER_KINDS
from core.realtime import create_socketio
from core.recording.processing import register_recording_jobs
from core.room.events import register_room_events
from core.scheduling.live import PAIR_LIVE_SESSIONS_JOB, pair_due_sessions
from core.scheduling.reminders import register_reminder_jobs
from core.security import csrf, install_security_headers, session_cookie_settings
from core.session_cookies import install as install_sessions
from core.sessions import sweep_expired
from core.template_cache import TEMPLATE_CACHE
from core.themes import activate_theme, template_loader
from core.throttle import register_throttle_jobs
from core.timezones import time_zone_notice, usable_time_zone
from core.views import register_core_blueprints
from core.views.errors import register_error_handlers
from core.views.filters import register_filters
from core.views.utf8 import install_utf8_check

CORE_DIR = Path(__file__).resolve().parent
SWEEP_SESSIONS_JOB = "sweep_expired_sessions"


def create_app(config: LoadedConfig | str | os.PathLike[str] | None = None, *,
               extra_plugins: dict[str, Any] | None = None, testing: bool = False,
               check_database: bool = True) -> Flask:
    """Build the app from a loaded config or a config path (default: $OSS_CONNECT_CONFIG).

    Raises ConfigError or StartupError (both exit code 2 in the CLI) with a message for people.
    """
    if not isinstance(config, LoadedConfig):
        from core.config import resolve_config_path

        config = load_config(resolve_config_path(config), extra_plugins=extra_plugins)
    settings = config.settings
    production = settings.site.environment == "production"

    app = Flask("core", root_path=str(CORE_DIR), instance_path=str(config.instance_path),
                static_folder="static", template_folder=None)
    app.url_map.converters["int"] = IdConverter  # before any blueprint: every <int:...> takes ids only
    install_utf8_check(app)  # before any other hook reads the body
    app.config.update(
        SECRET_KEY=read_secret_key(config),
        TESTING=testing,
        PREFERRED_URL_SCHEME="https" if production else "http",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=production,
        BABEL_DEFAULT_LOCALE=settings.site.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.site.default_time_zone,
        RATELIMIT_STORAGE_URI=settings.accounts.rate_limits.storage_url,
        OSS_CONNECT_OUTBOX=str(config.instance_file(settings.mail.outbox_folder)),
        **session_cookie_settings(production, settings.accounts.remember_days),
        **_mail_settings(settings.mail),
    )

    bind_database(settings.database.url, config.instance_path, check=check_database)
    plugin_manager = build_plugin_manager(config.plugins)
    theme = activate_theme(settings.theme.name, config.instance_path, settings.theme.tokens)
    jobs = JobQueue(app, create_huey(settings.jobs, config.instance_file))
    plugin_models = call_each(plugin_manager, "register_models")
    platform = Platform(config, plugin_manager, theme, jobs, migration_sets(plugin_models))
    app.extensions["oss_connect"] = platform

    plugin_dirs = [Path(folder) for _, folders in call_each(plugin_manager, "register_template_dirs")
                   for folder in folders]
    app.jinja_loader = template_loader(theme, config.instance_file(settings.theme.templates_folder), plugin_dirs)
    app.jinja_env.autoescape = True
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE

    _init_extensions(app, platform)
    install_security_headers(app, production)
    install_redaction(app.logger.name)  # "Exception on /reset/TOKEN" would otherwise log a live link
    register_filters(app)
    register_error_handlers(app)
    register_core_blueprints(app, platform)
    jobs.task(SEND_EMAIL_JOB, retries=5, retry_delay=60)(send_email_job)
    jobs.periodic(EXPIRE_INVITATIONS_JOB, crontab(minute="*/10"))(expire_due)
    jobs.periodic(PAIR_LIVE_SESSIONS_JOB, crontab(minute="*"))(pair_due_sessions)
    jobs.periodic(SWEEP_SESSIONS_JOB, crontab(minute="23"))(sweep_expired)
    register_reminder_jobs(jobs)
    register_recording_jobs(jobs)
    register_archive_jobs(jobs)
    register_throttle_jobs(jobs)
    register_account_jobs(jobs)

    for plugin_name, blueprints in call_each(plugin_manager, "register_blueprints", app=app):
        for blueprint in blueprints if isinstance(blueprints, list | tuple) else [blueprints]:
            try:
                app.register_blueprint(blueprint)
            except (ValueError, AssertionError) as error:
                raise StartupError(f"plugin '{plugin_name}' registered a blueprint that clashes: {error}; "
                                   "give it a unique name and url_prefix") from error
    for kind, (hook_name, base_class) in PROVIDER_KINDS.items():
        platform.providers[kind] = collect_providers(plugin_manager, hook_name, kind, base_class)
    _check_call_providers(platform)
    call_each(plugin_manager, "register_jobs", queue=jobs)
    call_each(plugin_manager, "register_socketio_handlers", socketio=app.extensions["socketio"])
    platform.access = access_tables(plugin_manager)
    _install_template_context(app, platform)
    _install_request_database(app)
    call_each(plugin_manager, "startup", app=app)
    return app


def _check_call_providers(platform: Platform) -> None:
    """Refuse a call provider that declares capabilities core does not know (a typo would silently hide a
    control); an unavailable `room.call_provider` is reported on the room page and by `oss-connect check`."""
    from core.providers import CALL_CAPABILITIES

    for name, provider in platform.providers.get("call_provider", {}).items():
        unknown = set(provider.capabilities) - CALL_CAPABILITIES
        if unknown:
            raise StartupError(f"call provider '{name}' declares unknown capabilities {sorted(unknown)}; "
                               f"use only {sorted(CALL_CAPABILITIES)} (docs/call-providers.md)")


def _mail_settings(mail: Any) -> dict[str, Any]:
    base = {"MAIL_DEFAULT_SENDER": mail.from_address}
    if mail.backend == "outbox":
        return {**base, "MAIL_BACKEND": "core.mail.OutboxEmailBackend"}  # module.ClassEndingInEmailBackend
    smtp = mail.smtp
    return {**base, "MAIL_BACKEND": "smtp", "MAIL_SERVER": smtp.host, "MAIL_PORT": smtp.port,
            "MAIL_USERNAME": smtp.username,
            "MAIL_PASSWORD": smtp.password.get_secret_value() if smtp.password else None,
            "MAIL_USE_TLS": smtp.use_tls, "MAIL_USE_SSL": smtp.use_ssl, "MAIL_TIMEOUT": smtp.timeout}


def _init_extensions(app: Flask, platform: Platform) -> None:
    settings = platform.settings
    csrf.init_app(app)
    Mail().init_app(app)

    login_manager = LoginManager()
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.session_protection = "basic"
    login_manager.init_app(app)
    install_sessions(app, login_manager)

    def user_time_zone() -> str | None:
        """The viewer's own zone; None (the site's) when they have none or it is unknown here."""
        if current_user and current_user.is_authenticated and current_user.time_zone:
            return usable_time_zone(current_user.time_zone, "") or None
        return None

    Babel(app, timezone_selector=user_time_zone)
    socketio = create_socketio(app, settings)
    register_room_events(socketio)


def _install_template_context(app: Flask, platform: Platform) -> None:
    settings = platform.settings

    def slot(name: str, **context: Any) -> Markup:
        pieces = platform.hook.render_slot(slot=name, context=context)
        return Markup("").join(piece if isinstance(piece, Markup) else escape(piece)
                               for piece in pieces if piece)  # pluggy answers in config order

    @app.context_processor
    def core_variables() -> dict[str, Any]:
        return {"site": settings.site, "program": settings.program, "theme": platform.theme,
                "time_zone_notice": time_zone_notice(current_user, settings.site.default_time_zone),
                "slot": slot, "oss_connect_version": __version__,
                "signup_open": settings.accounts.allow_signup,
                "password_min_length": settings.accounts.password_min_length}

    def add_plugin_variables(sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
        for plugin_name, variables in call_each(platform.plugins, "extra_template_vars",
                                                template=template.name, request=request):
            for key, value in dict(variables).items():
                if key in context:
                    raise StartupError(f"plugin '{plugin_name}' extra_template_vars tried to replace "
                                       f"'{key}', which the page already defines; choose another name")
                context[key] = value

    before_render_template.connect(add_plugin_variables, app, weak=False)


def _install_request_database(app: Flask) -> None:
    @app.before_request
    def open_connection() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def close_connection(exception: BaseException | None) -> None:
        if not database.is_closed():
            database.close()
