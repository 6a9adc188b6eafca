"""How a config is found and read: ${NAME} secrets, OSS_CONNECT__ overrides, file resolution,
paths relative to the instance folder, the secret key, and the order of plugins."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from core.api import hookimpl
from core.config import ConfigError, load_config, resolve_config_path
from core.config.loader import read_secret_key
from core.plugins_loader import build_plugin_manager

OSS_CONNECT = Path(sys.executable).parent / "oss-connect"
SECRET = "a-test-secret-key-that-is-long-enough-0123456789"


def write(folder: Path, text: str, name: str = "oss-connect.yaml") -> Path:
    """Write a dedented YAML file into `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def minimal(folder: Path, extra: str = "") -> Path:
    """A valid config with a secret key, then `extra` (indented lines continue `site:`)."""
    return write(folder, f"site:\n  secret_key: {SECRET}\n" + extra)


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `oss-connect` in `cwd` with no OSS_CONNECT* variable except those in `env`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OSS_CONNECT")}
    environment.update(env or {})
    return subprocess.run([str(OSS_CONNECT), *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=120)


# --- ${NAME} substitution ---------------------------------------------------------------------

def test_a_variable_reference_is_replaced_by_its_value(tmp_path):
    config = minimal(tmp_path, "database:\n  url: ${TALK_DATABASE_URL}\n")
    loaded = load_config(config, environ={"TALK_DATABASE_URL": "postgresql://talk@db.example.org/talk"})
    assert loaded.settings.database.url == "postgresql://talk@db.example.org/talk"


def test_a_reference_inside_a_longer_value_replaces_only_itself(tmp_path):
    config = minimal(tmp_path, "database:\n  url: postgresql://talk:${TALK_DB_PASSWORD}@db.example.org/talk\n")
    loaded = load_config(config, environ={"TALK_DB_PASSWORD": "s3cret"})
    assert loaded.settings.database.url == "postgresql://talk:s3cret@db.example.org/talk"


def test_the_default_after_colon_dash_is_used_when_the_variable_is_unset(tmp_path):
    config = minimal(tmp_path, "  name: ${TALK_NAME:-Talk Across}\n")
    loaded = load_config(config, environ={})
    assert loaded.settings.site.name == "Talk Across"


def test_a_set_variable_wins_over_its_default(tmp_path):
    config = minimal(tmp_path, "  name: ${TALK_NAME:-Talk Across}\n")
    loaded = load_config(config, environ={"TALK_NAME": "Riverbend Talks"})
    assert loaded.settings.site.name == "Riverbend Talks"


def test_an_empty_default_leaves_the_secret_key_to_the_instance_file(tmp_path):
    config = write(tmp_path, "site:\n  secret_key: ${OSS_CONNECT_SECRET_KEY:-}\n")
    (tmp_path / "secret_key").write_text("f" * 48 + "\n", encoding="utf-8")
    loaded = load_config(config, environ={})
    assert loaded.settings.site.secret_key is None
    assert read_secret_key(loaded) == "f" * 48


def test_references_are_substituted_in_plugin_settings_too(tmp_path):
    config = minimal(tmp_path, "plugins:\n  demo_data:\n    password: ${DEMO_PASSWORD}\n")
    loaded = load_config(config, environ={"DEMO_PASSWORD": "a-long-demo-password"})
    assert loaded.plugin_settings("demo_data").password == "a-long-demo-password"


# --- OSS_CONNECT__SECTION__KEY overrides ------------------------------------------------------

def test_an_override_replaces_the_value_in_the_file(tmp_path):
    config = minimal(tmp_path, "database:\n  url: sqlite:///oss-connect.sqlite3\n")
    loaded = load_config(config, environ={"OSS_CONNECT__DATABASE__URL": "postgresql://talk@db/talk"})
    assert loaded.settings.database.url == "postgresql://talk@db/talk"


def test_an_override_of_a_number_option_becomes_a_number(tmp_path):
    loaded = load_config(minimal(tmp_path), environ={"OSS_CONNECT__JOBS__WORKERS": "7"})
    assert loaded.settings.jobs.workers == 7


@pytest.mark.parametrize(("text", "expected"), [("false", False), ("true", True), ("0", False), ("yes", True)])
def test_an_override_of_a_true_false_option_becomes_a_boolean(tmp_path, text, expected):
    loaded = load_config(minimal(tmp_path), environ={"OSS_CONNECT__ACCOUNTS__ALLOW_SIGNUP": text})
    assert loaded.settings.accounts.allow_signup is expected


def test_an_override_reaches_nested_sections_the_file_does_not_have(tmp_path):
    loaded = load_config(minimal(tmp_path), environ={
        "OSS_CONNECT__ACCOUNTS__RATE_LIMITS__LOGIN": "5 per minute",
        "OSS_CONNECT__MAIL__BACKEND": "smtp",
        "OSS_CONNECT__MAIL__SMTP__HOST": "mail.example.org",
        "OSS_CONNECT__MAIL__SMTP__PORT": "465",
    })
    assert loaded.settings.accounts.rate_limits.login == "5 per minute"
    assert (loaded.settings.mail.smtp.host, loaded.settings.mail.smtp.port) == ("mail.example.org", 465)


def test_override_values_that_look_like_yaml_comments_or_mappings_stay_text(tmp_path):
    loaded = load_config(minimal(tmp_path), environ={
        "OSS_CONNECT__THEME__TOKENS__COLORS__PRIMARY": "#1a4f8b",
        "OSS_CONNECT__SITE__NAME": "Talk: Across the River",
        "OSS_CONNECT__MAIL__BACKEND": "smtp",
        "OSS_CONNECT__MAIL__SMTP__HOST": "mail.example.org",
        "OSS_CONNECT__MAIL__SMTP__PASSWORD": "12345678",
    })
    assert loaded.settings.theme.tokens.colors.primary == "#1a4f8b"
    assert loaded.settings.site.name == "Talk: Across the River"
    assert loaded.settings.mail.smtp.password.get_secret_value() == "12345678"


def test_an_override_in_brackets_is_read_as_a_list(tmp_path):
    loaded = load_config(minimal(tmp_path), environ={
        "OSS_CONNECT__REALTIME__ALLOWED_ORIGINS": "[https://a.example.org, https://b.example.org]"})
    assert loaded.settings.realtime.allowed_origins == ["https://a.example.org", "https://b.example.org"]


def test_an_override_sets_a_plugin_setting(tmp_path):
    config = minimal(tmp_path, "plugins:\n  demo_data: {participants: 12}\n")
    loaded = load_config(config, environ={"OSS_CONNECT__PLUGINS__DEMO_DATA__PARTICIPANTS": "3"})
    assert loaded.plugin_settings("demo_data").participants == 3


def test_the_secret_key_can_come_from_an_override_alone(tmp_path):
    config = write(tmp_path, "site:\n  name: Talk Across\n")
    loaded = load_config(config, environ={"OSS_CONNECT__SITE__SECRET_KEY": SECRET})
    assert read_secret_key(loaded) == SECRET


def test_an_invalid_override_is_reported_under_the_variable_name(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(minimal(tmp_path), environ={"OSS_CONNECT__ACCOUNTS__REMEMBER_DAYS": "999"})
    [issue] = raised.value.issues
    assert (issue.source, issue.line, issue.path) == (
        "environment variable OSS_CONNECT__ACCOUNTS__REMEMBER_DAYS", None, "accounts.remember_days")


# --- which file: --config, OSS_CONNECT_CONFIG, ./instance/oss-connect.yaml --------------------

def test_the_option_wins_over_the_environment_variable(tmp_path):
    chosen = resolve_config_path(tmp_path / "a.yaml", environ={"OSS_CONNECT_CONFIG": str(tmp_path / "b.yaml")})
    assert chosen == (tmp_path / "a.yaml").resolve()


def test_the_environment_variable_is_used_without_the_option(tmp_path):
    chosen = resolve_config_path(None, environ={"OSS_CONNECT_CONFIG": str(tmp_path / "b.yaml")})
    assert chosen == (tmp_path / "b.yaml").resolve()


def test_without_either_the_instance_folder_of_the_working_directory_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(None, environ={}) == (tmp_path / "instance" / "oss-connect.yaml").resolve()


def test_check_reads_the_file_named_by_oss_connect_config(tmp_path):
    config = minimal(tmp_path / "elsewhere")
    done = run_cli(tmp_path, "check", env={"OSS_CONNECT_CONFIG": str(config)})
    assert (done.returncode, done.stdout) == (0, f"{config.resolve()}: OK (theme default; plugins: none)\n")


def test_check_config_option_wins_over_oss_connect_config(tmp_path):
    good = minimal(tmp_path / "good")
    broken = write(tmp_path / "broken", "site: [\n")
    done = run_cli(tmp_path, "check", "--config", str(good), env={"OSS_CONNECT_CONFIG": str(broken)})
    assert (done.returncode, done.stdout) == (0, f"{good.resolve()}: OK (theme default; plugins: none)\n")


def test_the_group_config_option_works_before_the_command(tmp_path):
    good = minimal(tmp_path / "good")
    done = run_cli(tmp_path, "--config", str(good), "check")
    assert (done.returncode, done.stdout) == (0, f"{good.resolve()}: OK (theme default; plugins: none)\n")


def test_check_without_any_config_looks_in_the_instance_folder(tmp_path):
    done = run_cli(tmp_path, "check")
    assert done.returncode == 2
    assert f"{tmp_path.resolve() / 'instance' / 'oss-connect.yaml'}: (file): the file does not exist" in done.stderr


# --- paths and the secret key -----------------------------------------------------------------

def test_a_relative_sqlite_path_lands_in_the_instance_folder_not_the_working_directory(tmp_path):
    instance = tmp_path / "instance"
    config = minimal(instance, "database:\n  url: sqlite:///data/talk.sqlite3\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli(elsewhere, "db", "upgrade", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert (instance / "data" / "talk.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []


def test_relative_instance_files_resolve_against_the_config_folder(tmp_path):
    loaded = load_config(minimal(tmp_path / "instance", "mail:\n  outbox_folder: mail/out\n"), environ={})
    assert loaded.instance_file(loaded.settings.mail.outbox_folder) == (tmp_path / "instance" / "mail" / "out")
    assert loaded.instance_file("/var/mail/out") == Path("/var/mail/out")


def test_the_secret_key_comes_from_the_instance_file_when_the_config_has_none(tmp_path):
    config = write(tmp_path, "site:\n  name: Talk Across\n")
    (tmp_path / "secret_key").write_text("i" * 40 + "\n", encoding="utf-8")
    assert read_secret_key(load_config(config, environ={})) == "i" * 40


def test_the_secret_key_in_the_config_wins_over_the_instance_file(tmp_path):
    (tmp_path / "secret_key").write_text("i" * 40 + "\n", encoding="utf-8")
    assert read_secret_key(load_config(minimal(tmp_path), environ={})) == SECRET


def test_a_short_instance_secret_key_file_is_refused(tmp_path):
    config = write(tmp_path, "site:\n  name: Talk Across\n")
    (tmp_path / "secret_key").write_text("short\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config, environ={})
    assert [issue.problem for issue in raised.value.issues] == ["no secret key is configured"]


# --- plugins ----------------------------------------------------------------------------------

class NamedPlugin:
    """A plugin that answers register_template_dirs with its own name, to show call order."""

    def __init__(self, name: str):
        self.name = name

    @hookimpl
    def register_template_dirs(self) -> list[str]:
        return [self.name]


def three_plugins(tmp_path: Path, order: list[str]) -> Any:
    config = minimal(tmp_path, "plugins:\n" + "".join(f"  {name}:\n" for name in order))
    return load_config(config, environ={}, extra_plugins={name: NamedPlugin(name) for name in sorted(order)})


@pytest.mark.parametrize("order", [["zeta", "alpha", "mid"], ["alpha", "mid", "zeta"], ["mid", "zeta", "alpha"]])
def test_plugins_keep_the_order_of_the_config(tmp_path, order):
    assert [info.name for info in three_plugins(tmp_path, order).plugins] == order


def test_the_first_plugin_in_the_config_is_called_first(tmp_path):
    manager = build_plugin_manager(three_plugins(tmp_path, ["zeta", "alpha", "mid"]).plugins)
    assert manager.hook.register_template_dirs() == [["zeta"], ["alpha"], ["mid"]]


def test_a_plugin_not_listed_is_not_enabled(tmp_path):
    loaded = load_config(minimal(tmp_path), environ={}, extra_plugins={"quiet": NamedPlugin("quiet")})
    assert loaded.plugins == []
