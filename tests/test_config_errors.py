"""Every kind of configuration mistake an admin can make, as the admin reads it.

Each test writes a broken config into an empty folder, runs the real `oss-connect` command in a
separate process, and checks the exact message (`FILE:LINE: key.path: what is wrong (expected X,
got Y); how to fix it`), the exit code 2, and that nothing was created: no database, no job queue,
no outbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
OSS_CONNECT = Path(sys.executable).parent / "oss-connect"
SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
CONFIG_NAME = "oss-connect.yaml"
DB_HINT = "check database.url in the config and that the database server is running and accepts connections"


@dataclass
class Outcome:
    """What one `oss-connect` run printed and how it ended."""

    code: int
    stdout: str
    errors: list[str]


def run_cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> Outcome:
    """Run `oss-connect ARGS` in `folder` with no OSS_CONNECT* variable except those in `env`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OSS_CONNECT")}
    environment.update(env or {})
    done = subprocess.run([str(OSS_CONNECT), *args], cwd=folder, env=environment, capture_output=True,
                          text=True, timeout=60)
    return Outcome(done.returncode, done.stdout, done.stderr.splitlines())


def write_config(folder: Path, text: str) -> Path:
    """Write `text` (dedented) as the folder's config file and return its resolved path."""
    path = folder / CONFIG_NAME
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path.resolve()


def check(folder: Path, text: str, env: dict[str, str] | None = None) -> tuple[Path, Outcome]:
    """Write a config and run `oss-connect check --config` on it."""
    config = write_config(folder, text)
    return config, run_cli(folder, "check", "--config", str(config), env=env)


def assert_refused(outcome: Outcome, folder: Path, *lines: str) -> None:
    """Exit code 2, exactly these message lines under the heading, and no file created."""
    heading = f"Configuration error{'s' if len(lines) != 1 else ''} ({len(lines)}):"
    assert outcome.errors == [heading, *lines]
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert_nothing_created(folder)


def assert_nothing_created(folder: Path) -> None:
    """The folder holds at most the config the test wrote: no database, queue, outbox or key."""
    assert sorted(path.name for path in folder.iterdir()) in ([], [CONFIG_NAME])


def installed_plugins() -> str:
    """The plugin names the message lists: every `oss_connect` entry point of this environment."""
    return ", ".join(sorted({entry.name for entry in entry_points(group="oss_connect")}))


def not_installed(config: Path, line: int, name: str, hint: str) -> str:
    """The message for plugin `name`, enabled on `line`, that no installed distribution provides."""
    return (f"{config}:{line}: plugins.{name}: plugin '{name}' is enabled but not installed (expected one of: "
            f"{installed_plugins()}, got '{name}'); {hint}pip install the package that provides it, or remove the line")


def bundled_themes() -> str:
    """The theme names the message lists, read from the themes/ folder."""
    return ", ".join(sorted(path.parent.name for path in (ROOT / "themes").glob("*/theme.yaml")))


# --- the control: a valid file passes ---------------------------------------------------------

def test_a_valid_config_passes_check_and_creates_nothing(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          call_webrtc:
    """)
    assert outcome.code == 0
    assert outcome.stdout == f"{config}: OK (theme default; plugins: call_webrtc)\n"
    assert_nothing_created(tmp_path)


def test_a_config_without_any_call_provider_passes_with_a_note(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
    """)
    assert outcome.code == 0 and outcome.stdout == f"{config}: OK (theme default; plugins: none)\n"
    assert outcome.errors == ["note: no call provider is enabled, so conversation rooms cannot start a call; "
                              "enable call_webrtc under `plugins:` (the example config does)"]


def test_a_call_provider_without_its_plugin_names_the_plugin_to_enable(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        room:
          call_provider: livekit
        plugins:
          call_webrtc:
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: room.call_provider: no enabled plugin provides the call provider 'livekit' "
                   "(expected webrtc, got 'livekit'); enable its plugin under `plugins:` (call_livekit for the "
                   "bundled ones), or name one of the available providers")


# --- the file itself --------------------------------------------------------------------------

def test_missing_config_file_names_the_path_and_how_to_create_one(tmp_path):
    outcome = run_cli(tmp_path, "check", "--config", "nowhere.yaml")
    assert_refused(outcome, tmp_path,
                   f"{tmp_path.resolve() / 'nowhere.yaml'}: (file): the file does not exist; "
                   "run `oss-connect init` to create one, or pass --config FILE")


def test_unclosed_quote_is_reported_on_the_line_where_it_opens(tmp_path):
    config, outcome = check(tmp_path, """
        site:
          name: "Talk Across
          organisation: Riverbend Public Library
        jobs:
          workers: 2
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:2: site.name: the file is not valid YAML: a quoted value starts on this line "
                   "but its closing quote is missing; add the closing quote at the end of the value")


def test_tab_indentation_is_reported_with_its_line(tmp_path):
    config, outcome = check(tmp_path, "site:\n\tname: Talk Across\n")
    assert_refused(outcome, tmp_path,
                   f"{config}:2: site.name: the file is not valid YAML: a tab character "
                   "(YAML indents with spaces only); replace the tab with spaces")


def test_uneven_indentation_is_reported_with_its_line(tmp_path):
    config, outcome = check(tmp_path, """
        site:
          name: Talk Across
         organisation: Riverbend Public Library
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: site.organisation: the file is not valid YAML: the indentation of this line "
                   "does not match the lines above it; indent the keys of one section by the same number of spaces")


def test_a_key_written_twice_is_refused_instead_of_silently_using_the_last(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
          name: Talk Across
          name: Talk Together
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: site.name: the key is written twice (first on line 3); "
                   "keep one of them: YAML would silently use only the last")


def test_top_level_that_is_not_a_mapping_is_refused(tmp_path):
    config, outcome = check(tmp_path, """
        - site
        - database
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:1: (top level): the file must be a mapping of sections (expected lines such as "
                   "`site:` and `database:`, got a list (- item lines)); start each section at the left margin "
                   "with its name and a colon, as in config/oss-connect.example.yaml")


# --- keys and values --------------------------------------------------------------------------

def test_unknown_key_suggests_the_closest_one(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
          nmae: Talk Across
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: site.nmae: unknown key (expected one of: base_url, contact_email, default_locale, "
                   "default_time_zone, environment, name, organisation, secret_key, tagline, got 'nmae'); "
                   "did you mean 'name'?")


def test_unknown_section_suggests_the_closest_one(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        databse:
          url: sqlite:///oss-connect.sqlite3
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: databse: unknown key (expected one of: accounts, archive, database, jobs, mail, "
                   "matching, plugins, program, realtime, recording, room, scheduling, site, storage, theme, "
                   "got 'databse'); "
                   "did you mean 'database'?")


def test_wrong_type_names_the_expected_type_and_an_example(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        jobs:
          workers: many
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: jobs.workers: wrong type (expected a whole number, got 'many' (text)); "
                   "write for example `workers: 2` (the default)")


def test_number_out_of_range_names_both_bounds(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        jobs:
          workers: 0
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: jobs.workers: out of range (expected a whole number from 1 to 64, got 0 (a number)); "
                   "write for example `workers: 2` (the default)")


def test_value_outside_its_allowed_set_lists_the_allowed_values(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
          environment: staging
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: site.environment: not one of the allowed values (expected one of 'development' or "
                   "'production', got 'staging' (text)); write for example `environment: development` (the default)")


def test_required_key_missing_says_where_to_add_it(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        mail:
          backend: smtp
          smtp:
            port: 587
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:5: mail.smtp.host: a required key is missing (expected the SMTP server's host name, "
                   "got nothing); add `host:` under `mail.smtp`")


def test_a_rule_between_two_keys_names_the_section_and_the_fix(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        jobs:
          backend: redis
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: jobs: backend is redis but redis_url is empty; "
                   "set jobs.redis_url: redis://127.0.0.1:6379/0")


def test_invalid_time_zone_gives_examples_of_valid_ones(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
          default_time_zone: Mars/Olympus_Mons
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: site.default_time_zone: invalid value (expected an IANA time zone name such as "
                   "Europe/Berlin or America/Chicago, got 'Mars/Olympus_Mons' (text)); "
                   "write for example `default_time_zone: UTC` (the default)")


def test_base_url_without_scheme_is_refused(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
          base_url: talk.example.org
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:3: site.base_url: invalid value (expected an absolute http(s) address such as "
                   "https://talk.example.org, got 'talk.example.org' (text)); "
                   "write for example `base_url: http://127.0.0.1:5000` (the default)")


def test_unsupported_database_scheme_is_refused(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        database:
          url: mysql://talk@db.example.org/talk
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: database.url: invalid value (expected a database URL starting with sqlite:/// or "
                   "postgresql://, got 'mysql://talk@db.example.org/talk' (text)); "
                   "write for example `url: sqlite:///oss-connect.sqlite3` (the default)")


def test_unknown_theme_lists_the_themes_there_are(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        theme:
          name: midnight
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: theme.name: there is no theme called 'midnight' (expected one of: "
                   f"{bundled_themes()}, got 'midnight'); use one of those, or create "
                   f"{tmp_path.resolve()}/themes/midnight/theme.yaml")


# --- secrets ----------------------------------------------------------------------------------

def test_unset_environment_variable_is_named_with_how_to_set_it(tmp_path):
    config, outcome = check(tmp_path, """
        site:
          secret_key: ${TALK_SECRET_KEY_NOT_SET}
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:2: site.secret_key: environment variable TALK_SECRET_KEY_NOT_SET is not set "
                   "(expected ${TALK_SECRET_KEY_NOT_SET} to name a variable that is set, got nothing); "
                   "export TALK_SECRET_KEY_NOT_SET=... before starting, or write ${TALK_SECRET_KEY_NOT_SET:-default} "
                   "for a default")


def test_short_secret_key_is_refused_without_printing_it(tmp_path):
    config, outcome = check(tmp_path, """
        site:
          secret_key: hunter2hunter2
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:2: site.secret_key: the secret key is too short (expected at least 32 random "
                   "characters, got 14 characters); generate one with: python3 -c 'import secrets; "
                   "print(secrets.token_urlsafe(48))'")
    assert "hunter2" not in "\n".join(outcome.errors)


def test_missing_secret_key_points_to_init_and_the_variable(tmp_path):
    config, outcome = check(tmp_path, """
        site:
          name: Talk Across
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:1: site.secret_key: no secret key is configured (expected site.secret_key or the file "
                   f"{tmp_path.resolve()}/secret_key, got neither); run `oss-connect init` to write one, "
                   "or set site.secret_key: ${OSS_CONNECT_SECRET_KEY}")


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        mail:
          backend: smtp
          smtp:
            host: mail.example.org
            password: 918273645
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:7: mail.smtp.password: wrong type (expected text, got a value (not shown: it is "
                   "secret)); see its entry in docs/configuration.md")
    assert "918273645" not in "\n".join(outcome.errors)


def test_environment_override_error_names_the_variable(tmp_path):
    _, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
    """, env={"OSS_CONNECT__JOBS__WORKERS": "abc"})
    assert_refused(outcome, tmp_path,
                   "environment variable OSS_CONNECT__JOBS__WORKERS: jobs.workers: wrong type (expected a whole "
                   "number, got 'abc' (text)); set for example OSS_CONNECT__JOBS__WORKERS=2 (the default)")


# --- plugins ----------------------------------------------------------------------------------

def test_enabled_plugin_that_is_not_installed_suggests_the_closest(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          demo_dta: {{}}
    """)
    assert_refused(outcome, tmp_path, not_installed(config, 4, "demo_dta", "did you mean 'demo_data'? "))


def test_invalid_plugin_setting_is_reported_under_the_plugins_key_path(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          demo_data:
            participants: 0
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:5: plugins.demo_data.participants: out of range (expected a whole number from 1 to "
                   "500, got 0 (a number)); write for example `participants: 12` (the default)")


# --- all at once ------------------------------------------------------------------------------

def test_every_error_is_reported_at_once_sorted_by_line(tmp_path):
    config, outcome = check(tmp_path, f"""
        plugins:
          no_such_plugin_here: {{}}
        jobs:
          workers: many
        site:
          secret_key: {SECRET}
          base_url: ${{TALK_BASE_URL_NOT_SET}}
    """)
    assert_refused(
        outcome, tmp_path,
        not_installed(config, 2, "no_such_plugin_here", ""),
        f"{config}:4: jobs.workers: wrong type (expected a whole number, got 'many' (text)); "
        "write for example `workers: 2` (the default)",
        f"{config}:7: site.base_url: environment variable TALK_BASE_URL_NOT_SET is not set "
        "(expected ${TALK_BASE_URL_NOT_SET} to name a variable that is set, got nothing); "
        "export TALK_BASE_URL_NOT_SET=... before starting, or write ${TALK_BASE_URL_NOT_SET:-default} for a default",
    )


# --- a database that cannot be reached (check does not connect; run and db upgrade do) --------

def unreachable_postgres_config(folder: Path) -> Path:
    return write_config(folder, f"""
        site:
          secret_key: {SECRET}
        database:
          url: postgresql://user:secretpw@127.0.0.1:1/x
    """)


def assert_one_database_line(outcome: Outcome, url_shown: str) -> None:
    """Exit 2 and one line: the URL with its password hidden, the driver's reason, the fix."""
    assert outcome.code == 2
    assert len(outcome.errors) == 1
    line = outcome.errors[0]
    assert line.startswith(f"cannot connect to the database at {url_shown}: ")
    assert line.endswith(f"; {DB_HINT}")
    assert "secretpw" not in line


def test_unreachable_postgresql_stops_db_upgrade_with_one_line_and_hidden_password(tmp_path):
    config = unreachable_postgres_config(tmp_path)
    outcome = run_cli(tmp_path, "db", "upgrade", "--config", str(config))
    assert_one_database_line(outcome, "postgresql://user:***@127.0.0.1:1/x")
    assert "Connection refused" in outcome.errors[0]
    assert_nothing_created(tmp_path)


def test_unreachable_postgresql_stops_run_before_serving(tmp_path):
    config = unreachable_postgres_config(tmp_path)
    outcome = run_cli(tmp_path, "run", "--config", str(config), "--port", str(free_port()))
    assert_one_database_line(outcome, "postgresql://user:***@127.0.0.1:1/x")
    assert "serving" not in outcome.stdout
    assert_nothing_created(tmp_path)


def test_sqlite_file_in_a_missing_folder_is_reported_exactly(tmp_path):
    database = tmp_path.resolve() / "no-such-folder" / "talk.sqlite3"
    config = write_config(tmp_path, f"""
        site:
          secret_key: {SECRET}
        database:
          url: sqlite:///{database}
    """)
    outcome = run_cli(tmp_path, "db", "upgrade", "--config", str(config))
    assert outcome.errors == [f"cannot connect to the database at sqlite:///{database}: unable to open database file; "
                              f"{DB_HINT}"]
    assert outcome.code == 2
    assert_nothing_created(tmp_path)
