"""Real distributions, pip-installed, found through the `oss_connect` entry point group by the real CLI.

tests/plugins/dist_hello is the complete example of docs/plugins.md; tests/plugins/dist_testkit
holds test-only plugins (one with its own table, two that must be refused). Both are installed once
per test session into a temporary --target folder, and `oss-connect` runs with it on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.db import open_database
from core.testing import base_test_config as instance_config
from tests.conftest import free_port

PLUGIN_SOURCES = Path(__file__).resolve().parent / "plugins"
OSS_CONNECT = str(Path(sys.executable).parent / "oss-connect")
HELLO_HOOKS = ["register_cli_commands", "register_config_schema", "register_questionnaire_sources",
               "render_slot", "startup"]


@pytest.fixture(scope="session")
def site_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed oss-hello and oss-testkit distributions (pip install --target)."""
    base = tmp_path_factory.mktemp("plugin-distributions")
    sources = []
    for name in ("dist_hello", "dist_testkit"):  # build from copies: building writes into the source
        copy = base / "src" / name
        shutil.copytree(PLUGIN_SOURCES / name, copy,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        sources.append(str(copy))
    target = base / "site"
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), *sources], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return target


def oss_connect(site: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real `oss-connect` console script with the test distributions importable."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    environment.update(PYTHONPATH=str(site), **env)
    return subprocess.run([OSS_CONNECT, *args], capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=60)


def write_config(folder: Path, database_url: str, plugins: dict[str, Any]) -> Path:
    """An instance config on the test database that enables `plugins` (name -> settings)."""
    config = instance_config(database_url, folder, {"plugins": plugins})
    path = folder / "oss-connect.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_installed_plugin_is_listed_with_version_hooks_and_providers(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"hello": {"greeting": "Howdy"}})

    result = oss_connect(site_packages, tmp_path, "plugins", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "hello 1.2.0 (oss-hello)",
        "  hooks: " + ", ".join(HELLO_HOOKS),
        "  providers: questionnaire_source:hello",
    ]


def test_plugins_json_output_describes_the_installed_distribution(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"hello": None})

    result = oss_connect(site_packages, tmp_path, "plugins", "--json", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{
        "name": "hello", "version": "1.2.0", "distribution": "oss-hello",
        "hooks": HELLO_HOOKS, "providers": ["questionnaire_source:hello"],
    }]


def test_enabled_plugin_startup_hook_runs(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"hello": None})

    result = oss_connect(site_packages, tmp_path, "plugins", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello-started.txt").read_text(encoding="utf-8") == "oss_hello started\n"


def test_installed_plugin_missing_from_the_config_is_not_active(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {})

    result = oss_connect(site_packages, tmp_path, "plugins", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No plugin is enabled. Add one under plugins: in the config."
    assert not (tmp_path / "hello-started.txt").exists(), "the startup hook of a disabled plugin ran"


def test_plugin_command_is_listed_in_help(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"hello": None})

    result = oss_connect(site_packages, tmp_path, "--help", OSS_CONNECT_CONFIG=str(config))

    assert result.returncode == 0, result.stderr
    assert "  hello " in result.stdout
    assert "Print the greeting for this instance." in result.stdout


def test_plugin_command_is_absent_when_the_plugin_is_disabled(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {})

    result = oss_connect(site_packages, tmp_path, "--config", str(config), "--help")

    assert result.returncode == 0, result.stderr
    assert "  hello " not in result.stdout


def test_plugin_command_runs_with_the_plugin_settings(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"hello": {"greeting": "Howdy"}})

    result = oss_connect(site_packages, tmp_path, "hello", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Howdy from Test Conversations\n"


def test_enabled_but_not_installed_plugin_is_refused_with_a_suggestion(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"helo": None})
    line = config.read_text(encoding="utf-8").splitlines().index("  helo: null") + 1

    result = oss_connect(site_packages, tmp_path, "check", "--config", str(config))

    assert result.returncode == 2
    assert result.stdout == ""
    problem = result.stderr.splitlines()[1]
    assert problem.startswith(f"{config}:{line}: plugins.helo: plugin 'helo' is enabled but not installed "
                              "(expected one of: ")
    assert "hello" in problem.split("expected one of: ")[1]
    assert problem.endswith("got 'helo'); did you mean 'hello'? pip install the package that provides it, "
                            "or remove the line")


def test_duplicate_provider_name_is_refused_naming_both_plugins(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"hello": None, "testkit_clash": None})

    result = oss_connect(site_packages, tmp_path, "plugins", "--config", str(config))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "questionnaire_source name 'hello' is registered twice, by plugin 'hello' and by plugin "
        "'testkit_clash'; disable one of them in the config's plugins: section, or rename the provider "
        "in one of them")


def test_plugin_failing_at_startup_stops_the_server_without_a_traceback(site_packages, tmp_path, database_url):
    config = write_config(tmp_path, database_url, {"testkit_crash": None})

    result = oss_connect(site_packages, tmp_path, "run", "--port", str(free_port()), "--config", str(config))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "plugin 'testkit_crash' failed in startup: ConnectionError: the testkit service at "
        "https://testkit.invalid refused the API key; fix the plugin, or disable it by removing "
        "'testkit_crash' from plugins: in the config")


def test_db_upgrade_applies_a_plugin_migrations_with_their_own_history(site_packages, tmp_path, test_databases):
    url = test_databases.new_url()
    config = write_config(tmp_path, url, {"testkit_notes": None})

    result = oss_connect(site_packages, tmp_path, "db", "upgrade", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", testkit_notes/0001_notes")
    database = open_database(url, tmp_path)
    with database.connection_context():
        assert [column.name for column in database.get_columns("testkit_note")] == ["id", "text", "created_at"]
        history = database.execute_sql('SELECT name FROM "schema_migrations_testkit_notes"').fetchall()
        core_history = [row[0] for row in database.execute_sql('SELECT name FROM "schema_migrations"')]
    assert [row[0] for row in history] == ["0001_notes"]
    assert "0001_notes" not in core_history


def test_db_status_lists_a_plugin_migration_after_upgrade(site_packages, tmp_path, test_databases):
    config = write_config(tmp_path, test_databases.new_url(), {"testkit_notes": None})
    assert oss_connect(site_packages, tmp_path, "db", "upgrade", "--config", str(config)).returncode == 0

    result = oss_connect(site_packages, tmp_path, "db", "status", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[x] testkit_notes/0001_notes"
