"""The `oss-connect` command: init, check, run, serve, worker, plugins, db, create-admin.

Configuration and start-up errors print a message for people and exit with code 2.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from core import __version__
from core.config import ConfigError, LoadedConfig, load_config, resolve_config_path
from core.plugins_loader import StartupError, build_plugin_manager, call_each

EXIT_CONFIG = 2


class OssConnectGroup(click.Group):
    """A command group that adds the enabled plugins' commands (register_cli_commands)."""

    _loaded_for: set[Path] = set()

    def add_plugin_commands(self, config: str | None) -> None:
        """Let the plugins enabled in `config` add their commands (once per config file)."""
        path = resolve_config_path(config)
        if path in self._loaded_for or not path.is_file():
            return
        self._loaded_for.add(path)
        try:
            loaded = load_config(path)
            call_each(build_plugin_manager(loaded.plugins), "register_cli_commands", cli=self)
        except (ConfigError, StartupError):
            return  # built-in commands report it properly; plugin commands are simply absent

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.add_plugin_commands(ctx.find_root().params.get("config"))
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands(ctx.find_root().params.get("config"))
        return super().list_commands(ctx)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        """Find a plugin's command also when its --config comes after it (`oss-connect hello --config X`)."""
        if args and super().get_command(ctx, args[0]) is None:
            local = _config_among(args[1:])
            if local is not None:
                self.add_plugin_commands(local)
        return super().resolve_command(ctx, args)


def _config_among(args: list[str]) -> str | None:
    """The value of a `--config FILE` or `--config=FILE` among a command's arguments, or None."""
    for index, arg in enumerate(args):
        if arg == "--config" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                             help="The instance config (default: $OSS_CONNECT_CONFIG or instance/oss-connect.yaml).")


@click.group(cls=OssConnectGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), help="The instance config file.")
@click.version_option(__version__, prog_name="oss-connect")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """oss-connect: matched conversations across political divides, self-hosted."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


def _fail(error: Exception) -> None:
    click.echo(str(error), err=True)
    sys.exit(EXIT_CONFIG)


def _config_path(ctx: click.Context, local: str | None) -> Path:
    return resolve_config_path(local or (ctx.obj or {}).get("config"))


def _check_call_provider(loaded: LoadedConfig, manager: Any) -> None:
    """room.call_provider must name a provider of an enabled plugin (ConfigError naming the fix)."""
    from core.config.errors import ConfigIssue
    from core.plugins_loader import call_each

    names = sorted(getattr(provider, "name", "") for _, found in call_each(manager, "register_call_providers")
                   for provider in (found if isinstance(found, list | tuple) else [found]))
    wanted = loaded.settings.room.call_provider
    if wanted in names:
        return
    chosen = isinstance(loaded.located.data if loaded.located else None, dict) and \
        "call_provider" in (loaded.located.data.get("room") or {})
    if not names and not chosen:  # a minimal config: everything but the room works; say so, do not refuse
        click.echo(f"note: no call provider is enabled, so conversation rooms cannot start a call; enable "
                   f"call_{wanted} under `plugins:` (the example config does)", err=True)
        return
    source, line = loaded.located.source_for(("room", "call_provider")) if loaded.located else (str(loaded.path), None)
    raise ConfigError([ConfigIssue(
        source, line, "room.call_provider", f"no enabled plugin provides the call provider '{wanted}'",
        expected=", ".join(names) or "a call provider from an enabled plugin", got=repr(wanted),
        fix=f"enable its plugin under `plugins:` (call_{wanted} for the bundled ones), or name one of the "
            "available providers")])


def _check_storage(loaded: LoadedConfig) -> None:
    """The blob store of `storage:` must take a write, a read and a delete (ConfigError at its line)."""
    from core.blobs import BlobStoreError, blob_store_from_settings
    from core.config.errors import ConfigIssue

    storage = loaded.settings.storage
    try:
        if storage.backend == "local" and not Path(loaded.instance_file(storage.folder)).exists():
            _check_creatable(Path(loaded.instance_file(storage.folder)))  # check creates nothing
        else:
            blob_store_from_settings(storage, loaded.instance_file).check()
    except BlobStoreError as error:
        key = ("storage", "s3") if loaded.settings.storage.backend == "s3" else ("storage",)
        source, line = loaded.located.source_for(key) if loaded.located else (str(loaded.path), None)
        raise ConfigError([ConfigIssue(source, line, ".".join(key), str(error),
                                       fix="see docs/storage.md")]) from None


def _check_creatable(folder: Path) -> None:
    """A folder that does not exist yet can be made: its nearest existing parent is a writable folder."""
    from core.blobs import BlobStoreError

    parent = folder.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise BlobStoreError(f"the folder {folder} cannot be created ({parent} is not a writable folder); "
                             "fix the permissions or point storage.folder elsewhere")


def load_or_exit(ctx: click.Context, local: str | None) -> LoadedConfig:
    """Load the config, or print every problem and exit 2."""
    try:
        return load_config(_config_path(ctx, local))
    except ConfigError as error:
        _fail(error)
        raise  # unreachable; keeps type checkers content


def app_or_exit(ctx: click.Context, local: str | None, *, require_migrated: bool = True) -> Any:
    """Build the app, or print why not and exit 2."""
    from core.app import create_app
    from core.db import database
    from core.migrate import pending

    loaded = load_or_exit(ctx, local)
    try:
        app = create_app(loaded)
    except (ConfigError, StartupError) as error:
        _fail(error)
    if require_migrated:
        with database.connection_context():
            waiting = pending(database.obj, app.extensions["oss_connect"].migrations)
        if waiting:
            _fail(StartupError(f"the database has {len(waiting)} migration(s) to apply ({', '.join(waiting)}); "
                               f"run `oss-connect db upgrade --config {loaded.path}` first"))
    return app


@cli.command()
@click.option("--instance", "folder", type=click.Path(file_okay=False), default="instance", show_default=True,
              help="The instance folder to create.")
@click.option("--force", is_flag=True, help="Overwrite an existing config with the example.")
@click.option("--demo", is_flag=True, help="Enable the demo_data plugin and create demo participants.")
@click.pass_context
def init(ctx: click.Context, folder: str, force: bool, demo: bool) -> None:
    """Create an instance folder with a config, a secret key and a migrated database."""
    from core.instance import CONFIG_NAME, enable_demo, write_instance

    target = Path(folder).resolve()
    for path in write_instance(target, force=force):
        click.echo(f"wrote {path}")
    config_path = target / CONFIG_NAME
    if demo and enable_demo(config_path):
        click.echo(f"enabled the demo_data plugin in {config_path}")
    ctx.invoke(db_upgrade, config_path=str(config_path))
    if demo:
        cli.add_plugin_commands(str(config_path))
        command = cli.commands.get("demo-data")
        if command is not None:
            ctx.invoke(command, config_path=str(config_path))
    click.echo(f"ready: oss-connect run --config {config_path}")


@cli.command()
@config_option
@click.pass_context
def check(ctx: click.Context, config_path: str | None) -> None:
    """Validate the config (and its theme and plugins) without starting anything."""
    from core.themes import activate_theme

    loaded = load_or_exit(ctx, config_path)
    try:
        manager = build_plugin_manager(loaded.plugins)
        activate_theme(loaded.settings.theme.name, loaded.instance_path, loaded.settings.theme.tokens)
        _check_call_provider(loaded, manager)
        _check_storage(loaded)
    except (ConfigError, StartupError) as error:
        _fail(error)
    names = ", ".join(info.name for info in loaded.plugins) or "none"
    click.echo(f"{loaded.path}: OK (theme {loaded.settings.theme.name}; plugins: {names})")


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start the job consumer in this process.")
@click.option("--debug", is_flag=True, help="Flask debug mode (never on a public address).")
@click.pass_context
def run(ctx: click.Context, config_path: str | None, host: str, port: int, no_worker: bool, debug: bool) -> None:
    """Serve the site with the development server and an in-process job consumer."""
    from core.logging_redaction import install_redaction

    app = app_or_exit(ctx, config_path)
    platform = app.extensions["oss_connect"]
    consumer = None
    if not no_worker and platform.settings.jobs.backend != "immediate":
        consumer = platform.jobs.consumer(platform.settings.jobs.workers)
        consumer.start()
    served = f"http://{host}:{port}"
    if platform.settings.site.base_url != served:
        click.echo(f"note: site.base_url is {platform.settings.site.base_url}, so links in emails and the "
                   f"WebSocket Origin check use that address, not {served}; set site.base_url (or "
                   f"OSS_CONNECT__SITE__BASE_URL={served}) if people reach the site here", err=True)
    click.echo(f"serving {platform.settings.site.name} on {served}/ (Ctrl+C stops)")
    install_redaction("werkzeug")  # link tokens never reach the request log
    try:
        app.extensions["socketio"].run(app, host=host, port=port, debug=debug, use_reloader=False,
                                       allow_unsafe_werkzeug=True, log_output=debug)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


@cli.command()
@config_option
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="Address for gunicorn.")
@click.option("--threads", default=100, show_default=True, type=int,
              help="Threads of the single worker; above the number of concurrent sockets you expect.")
@click.pass_context
def serve(ctx: click.Context, config_path: str | None, bind: str, threads: int) -> None:
    """Serve with gunicorn: one worker (Socket.IO needs it) with many threads. Run `worker` beside it."""
    loaded = load_or_exit(ctx, config_path)
    app_or_exit(ctx, config_path)  # refuse to start on a broken config, plugin or database
    environment = dict(os.environ, OSS_CONNECT_CONFIG=str(loaded.path))
    arguments = [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
                 "--threads", str(threads), "--bind", bind, "--access-logfile", "-",
                 "--logger-class", "core.gunicorn_logging.RedactingLogger",
                 *_gunicorn_version_flags(), "core.wsgi:app"]
    click.echo("exec " + " ".join(arguments))
    os.execve(arguments[0], arguments, environment)


def _gunicorn_version_flags() -> list[str]:
    """gunicorn 25.1+ opens a control socket in $HOME by default; two instances would share it."""
    import gunicorn

    return ["--no-control-socket"] if tuple(gunicorn.version_info[:2]) >= (25, 1) else []


@cli.command()
@config_option
@click.option("--workers", type=int, default=None, help="Worker threads (default: jobs.workers).")
@click.pass_context
def worker(ctx: click.Context, config_path: str | None, workers: int | None) -> None:
    """Run the job consumer alone (beside `serve`, or on another machine with Redis)."""
    app = app_or_exit(ctx, config_path)
    platform = app.extensions["oss_connect"]
    if platform.settings.jobs.backend == "immediate":
        _fail(StartupError("jobs.backend is immediate: jobs run in-line and there is nothing to consume"))
    consumer = platform.jobs.consumer(workers or platform.settings.jobs.workers)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    consumer.start()
    click.echo(f"worker running with {consumer.workers} threads ({platform.settings.jobs.backend} queue)")
    stopped.wait()
    click.echo("stopping: finishing the jobs in progress")
    consumer.stop(graceful=True)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, config_path: str | None, as_json: bool) -> None:
    """List active plugins: version, hooks implemented and providers registered."""
    app = app_or_exit(ctx, config_path, require_migrated=False)
    platform = app.extensions["oss_connect"]
    owners = _provider_owners(platform)
    rows = [{"name": info.name, "version": info.version, "distribution": info.distribution,
             "hooks": info.hooks, "providers": owners.get(info.name, [])} for info in platform.config.plugins]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No plugin is enabled. Add one under plugins: in the config.")
    for row in rows:
        click.echo(f"{row['name']} {row['version']} ({row['distribution']})")
        click.echo(f"  hooks: {', '.join(row['hooks']) or '-'}")
        click.echo(f"  providers: {', '.join(row['providers']) or '-'}")


def _provider_owners(platform: Any) -> dict[str, list[str]]:
    from core.providers import PROVIDER_KINDS

    owners: dict[str, list[str]] = {}
    for kind, (hook_name, _) in PROVIDER_KINDS.items():
        for impl in getattr(platform.hook, hook_name).get_hookimpls():
            returned = impl.function() or []
            for provider in returned if isinstance(returned, list | tuple) else [returned]:
                owners.setdefault(impl.plugin_name, []).append(f"{kind}:{provider.name}")
    return owners


@cli.group()
def db() -> None:
    """Database schema: apply and list migrations."""


@db.command("upgrade")
@config_option
@click.pass_context
def db_upgrade(ctx: click.Context, config_path: str | None) -> None:
    """Apply every pending migration (core first, then each plugin's)."""
    from core.db import database
    from core.migrate import upgrade

    app = app_or_exit(ctx, config_path, require_migrated=False)
    with database.connection_context():
        applied = upgrade(database.obj, app.extensions["oss_connect"].migrations)
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@db.command("status")
@config_option
@click.pass_context
def db_status(ctx: click.Context, config_path: str | None) -> None:
    """List every migration and whether it is applied."""
    from core.db import database
    from core.migrate import status

    app = app_or_exit(ctx, config_path, require_migrated=False)
    with database.connection_context():
        for owner, name, done in status(database.obj, app.extensions["oss_connect"].migrations):
            click.echo(f"[{'x' if done else ' '}] {owner}/{name}")


@cli.command("create-admin")
@config_option
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def create_admin(ctx: click.Context, config_path: str | None, email: str, password_stdin: bool) -> None:
    """Create an admin account (or make an existing account admin)."""
    from core.accounts import create_admin as make_admin
    from core.db import database
    from core.passwords import context_words, password_problems

    app = app_or_exit(ctx, config_path)
    settings = app.extensions["oss_connect"].settings.accounts
    if "@" not in email or len(email) > 254:
        _fail(click.BadParameter(f"'{email}' is not an email address"))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat it: "):
            _fail(click.BadParameter("the two passwords differ"))
    problems = password_problems(password, [email], min_length=settings.password_min_length,
                                 min_score=settings.password_min_score,
                                 site_words=context_words(app.extensions["oss_connect"].settings))
    if problems:
        _fail(click.BadParameter(f"{problems[0]} (accounts.password_min_length and password_min_score set the rules)"))
    with app.app_context(), database.connection_context():
        user, created = make_admin(email, password)
    click.echo(f"{'created' if created else 'updated'} admin {user.email}")


@cli.command("set-role")
@config_option
@click.argument("email")
@click.argument("role", type=click.Choice(["participant", "facilitator", "admin"]))
@click.pass_context
def set_role(ctx: click.Context, config_path: str | None, email: str, role: str) -> None:
    """Give an existing account a role: participant, facilitator (may be assigned to conversations) or admin."""
    from core import audit, sessions
    from core.db import database
    from core.models import User

    app = app_or_exit(ctx, config_path)
    with app.app_context(), database.connection_context():
        user = User.by_email(email)
        if user is None:
            click.echo(f"no account with the address {email}; the person signs up first (or use create-admin)",
                       err=True)
            sys.exit(1)
        if user.role != role:
            with database.atomic():
                User.update(role=role).where(User.id == user.id).execute()
                audit.record_event(audit.ROLE_CHANGED, subject_id=user.id, details={"from": user.role, "to": role})
                sessions.end_all_for_user(user.id, sessions.ROLE_CHANGED)
    click.echo(f"{user.email} is now {'an' if role[0] in 'aeiou' else 'a'} {role}"
               + (" (signed out everywhere)" if user.role != role else ""))


@cli.command("reset-second-factor")
@config_option
@click.argument("email")
@click.pass_context
def reset_second_factor(ctx: click.Context, config_path: str | None, email: str) -> None:
    """Remove a person's second factor (authenticator app, passkeys, recovery codes); they are emailed and the
    reset is written to the audit record."""
    from core.db import database
    from core.mfa.factors import reset_second_factor as reset
    from core.models import User

    app = app_or_exit(ctx, config_path)
    with app.app_context(), database.connection_context():
        user = User.by_email(email)
        if user is None:
            click.echo(f"no account with the address {email}; check it for typing mistakes", err=True)
            sys.exit(1)
        done = reset(user, actor_id=None, via="cli")
    click.echo(f"the second factor of {user.email} is reset; they have been emailed" if done
               else f"{user.email} has no second factor: nothing changed")


@cli.group("sessions")
def sessions_group() -> None:
    """Sign-in sessions: sign a person, or everyone, out."""


@sessions_group.command("end")
@config_option
@click.argument("email", required=False)
@click.option("--all", "everyone", is_flag=True, help="Sign out every account on every device.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@click.pass_context
def sessions_end(ctx: click.Context, config_path: str | None, email: str | None, everyone: bool, yes: bool) -> None:
    """Sign the account with address EMAIL out on every device, or with --all everyone; their open pages and
    conversation rooms are closed, and it is written to the audit record."""
    from core import sessions
    from core.db import database
    from core.models import User

    if bool(email) == everyone:
        _fail(click.UsageError("name one account's address, or pass --all to sign everyone out"))
    app = app_or_exit(ctx, config_path)
    with app.app_context(), database.connection_context():
        if everyone:
            if not yes and not click.confirm("Sign out every account on every device?", err=True):
                click.echo("nothing changed", err=True)
                sys.exit(1)
            ended = sessions.end_everyone(sessions.ENDED_BY_ADMIN)
            click.echo(f"ended {ended} session{'s' if ended != 1 else ''} of every account")
            return
        user = User.by_email(email or "")
        if user is None:
            click.echo(f"no account with the address {email}; check it for typing mistakes", err=True)
            sys.exit(1)
        if not yes and not click.confirm(f"Sign {user.email} out on every device?", err=True):
            click.echo("nothing changed", err=True)
            sys.exit(1)
        ended = sessions.end_all_for_user(user.id, sessions.ENDED_BY_ADMIN)
    click.echo(f"ended {ended} session{'s' if ended != 1 else ''} of {user.email}")


@cli.command("process-recording")
@config_option
@click.argument("recording_ids", nargs=-1, type=int)
@click.option("--due", is_flag=True, help="Process every recording that is due (complete, or past its upload grace).")
@click.option("--retry", is_flag=True, help="Also process recordings whose processing failed before.")
@click.pass_context
def process_recording_command(ctx: click.Context, config_path: str | None, recording_ids: tuple[int, ...],
                              due: bool, retry: bool) -> None:
    """Make the master, FLAC and listening copy of recordings now, with a progress bar (the worker does this
    by itself; use this to watch it, to retry a failure, or to finish a run whose process died)."""
    from core.db import database
    from core.models.recording import Recording
    from core.recording.processing import due_recording_ids

    if not recording_ids and not due:
        _fail(click.UsageError("name the recordings to process (their numbers are on /admin/recordings), "
                               "or pass --due"))
    app = app_or_exit(ctx, config_path)
    failed = 0
    with app.app_context(), database.connection_context():
        ids = list(recording_ids) + (due_recording_ids() if due else [])
        if not ids:
            click.echo("no recording is due: each is processed, still waiting for uploads, or being processed")
        for recording_id in ids:
            recording = Recording.get_or_none(Recording.id == recording_id)
            if recording is None:
                click.echo(f"recording {recording_id}: there is no such recording", err=True)
                failed += 1
                continue
            if recording.status == "processed" or (recording.status == "failed" and not retry):
                click.echo(f"recording {recording_id}: nothing to do ({recording.status}"
                           f"{'; pass --retry to process it again' if recording.status == 'failed' else ''})")
                continue
            outcome = _process_with_progress_bar(recording_id, retry)
            recording = Recording.get_by_id(recording_id)
            if outcome == "failed":
                click.echo(f"recording {recording_id}: failed: {recording.error}", err=True)
                failed += 1
            elif outcome == "skipped":
                click.echo(f"recording {recording_id}: another process is working on it ({recording.progress_label})")
            else:
                click.echo(f"recording {recording_id}: processed")
    sys.exit(1 if failed else 0)


def _process_with_progress_bar(recording_id: int, retry: bool) -> str:
    """Process one recording, drawing a progress bar from the job's own reports; returns its outcome."""
    from core.recording.processing import process_recording

    with click.progressbar(length=1000, label=f"recording {recording_id}", show_percent=True) as bar:
        done = 0

        def advance(fraction: float, label: str) -> None:
            nonlocal done
            step = int(fraction * 1000) - done
            if step > 0:
                bar.update(step)
                done += step

        return process_recording(recording_id, retry_failed=retry, listener=advance)


@cli.group()
def match() -> None:
    """Matching: pair a partner event's cohort."""


@match.command("cohort")
@config_option
@click.argument("event")
@click.option("--dry-run", is_flag=True, help="Propose and print the pairs, then change nothing.")
@click.option("--keep-edits", is_flag=True,
              help="Use the proposal as it stands (edited in the admin area) instead of proposing again.")
@click.pass_context
def match_cohort(ctx: click.Context, config_path: str | None, event: str, dry_run: bool, keep_edits: bool) -> None:
    """Pair the cohort with event code EVENT, print the pairs, and send their invitations (unless --dry-run)."""
    from core.db import database
    from core.matching import cohorts
    from core.questionnaire.profiles import profile_for

    app = app_or_exit(ctx, config_path)
    with app.test_request_context(), database.connection_context():
        cohort = cohorts.by_code(event)
        if cohort is None:
            _fail(click.BadParameter(f"no cohort has the event code '{event}' (see /admin/cohorts for the codes)"))
        try:
            with database.atomic() as transaction:
                count = len(cohorts.member_ids(cohort))
                click.echo(f"{cohort.name} ({cohort.code}): {count} member(s); pairing with "
                           f"strategy '{cohorts.strategy_name()}'")
                if keep_edits:
                    pairs = [pair for pair in cohorts.proposal(cohort) if pair.status == "proposed"]
                else:
                    pairs = cohorts.propose_pairs(cohort)
                names = {}
                with click.progressbar(pairs, label="reading profiles", file=sys.stderr,
                                       show_pos=True) as shown_pairs:
                    for pair in shown_pairs:
                        for user_id in (pair.a_id, pair.b_id):
                            names[user_id] = profile_for(user_id, "partners").name
                for pair in pairs:
                    click.echo(f"  {names[pair.a_id]} (#{pair.a_id})  +  {names[pair.b_id]} (#{pair.b_id})"
                               f"  score {pair.score:.2f}")
                for item in cohorts.leftovers(cohort):
                    click.echo(f"  unpaired: {profile_for(item.user_id, 'partners').name} (#{item.user_id}): "
                               f"{item.reason}")
                if dry_run:
                    transaction.rollback()
                    click.echo(f"dry run: {len(pairs)} pair(s) proposed; nothing was saved or sent")
                    return
                if not pairs:
                    _fail(cohorts.CohortError("no pair could be made: nothing to confirm"))
                result = cohorts.confirm(cohort)
        except cohorts.CohortError as error:
            _fail(error)
        for pair, reason in result.failed:
            click.echo(f"  not invited: #{pair.a_id} + #{pair.b_id}: {reason}", err=True)
        click.echo(f"confirmed {len(result.created)} pair(s): their invitations are on their way")


def main() -> None:
    """Console-script entry point."""
    cli(obj={})


# Commands kept in their own modules; imported last because they import the group above.
from core.archive import commands as _archive_commands  # noqa: E402,F401
