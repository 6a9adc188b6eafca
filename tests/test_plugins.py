"""Plugins in-process: enabling and priority, what is refused at start-up, and what every hook can do.

Test plugins are plain objects with `@hookimpl` methods, passed to `load_config(..., extra_plugins=...)`
as if installed; the config's `plugins:` section decides which are active and in what order. The
real entry-point discovery and the CLI are tested in test_plugin_distribution.py.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import flask
import pytest
import yaml
from click.testing import CliRunner

from core.api import (
    CallProvider,
    Field,
    Markup,
    Section,
    StartupError,
    hookimpl,
    platform,
    plugin_settings,
)
from core.app import create_app
from core.config import ConfigError, load_config
from core.testing import base_test_config as instance_config
from core.testing import empty_tables
from tests.plugins.fakes import (
    FakeArchiveDestination,
    FakeCallProvider,
    FakeMatchingStrategy,
    FakeProviders,
    FakeQuestionnaireSource,
)

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_TEMPLATES = Path(__file__).resolve().parent / "plugins" / "templates"

AppFactory = Callable[..., flask.Flask]


@pytest.fixture
def make_app(tmp_path: Path, database_url: str) -> Iterator[AppFactory]:
    """make_app(enabled, settings=None, installed=None): an app whose config enables `enabled` in order.

    `enabled` maps plugin names to plugin objects; `installed` adds plugins that are available but
    not in the config; `settings` maps plugin names to their config section.
    """
    counter = iter(range(1000))

    def make(enabled: dict[str, Any], settings: dict[str, Any] | None = None,
             installed: dict[str, Any] | None = None) -> flask.Flask:
        path = write_config(tmp_path / f"instance{next(counter)}", database_url,
                            {name: (settings or {}).get(name) for name in enabled})
        return create_app(load_config(path, extra_plugins={**(installed or {}), **enabled}), testing=True)

    yield make
    from core.db import database

    with database.connection_context():
        empty_tables()


def write_config(folder: Path, database_url: str, plugins: dict[str, Any]) -> Path:
    """Write an instance config on the test database with this `plugins:` section."""
    folder.mkdir(parents=True, exist_ok=True)
    config = instance_config(database_url, folder, {"plugins": plugins})
    path = folder / "oss-connect.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of `path` that is exactly `text`."""
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


class Recorder:
    """A plugin that records the hooks it was called for."""

    def __init__(self, label: str = "recorder") -> None:
        self.label = label
        self.calls: list[str] = []

    @hookimpl
    def startup(self, app: Any) -> None:
        self.calls.append("startup")

    @hookimpl
    def register_blueprints(self, app: Any) -> None:
        self.calls.append("register_blueprints")

    @hookimpl
    def render_slot(self, slot: str) -> Markup:
        self.calls.append(f"render_slot:{slot}")
        return Markup('<span class="by-{}">{} in {}</span>').format(self.label, self.label, slot)

    @hookimpl
    def extra_template_vars(self, template: str) -> None:
        self.calls.append(f"extra_template_vars:{template}")


class Settings1(Section):
    """One plugin's settings."""

    colour: str = "red"


class Settings2(Section):
    """Another plugin's settings."""

    size: int = 3


class DeclaresSettings1:
    """register_config_schema -> Settings1."""

    @hookimpl
    def register_config_schema(self) -> type[Section]:
        return Settings1


class DeclaresSettings2:
    """register_config_schema -> Settings2."""

    @hookimpl
    def register_config_schema(self) -> type[Section]:
        return Settings2


def named_provider(base: type, name: str) -> Any:
    """A minimal provider of kind `base` called `name`."""
    return type(f"{base.__name__}Named", (base,), {"name": name})()


class CallProviders:
    """A plugin registering call providers with the given names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def register_call_providers(self) -> list[CallProvider]:
        return [named_provider(CallProvider, name) for name in self.names]


# --- enabling and priority --------------------------------------------------------------------


def test_plugin_installed_but_not_enabled_is_never_called(make_app):
    enabled, disabled = Recorder("enabled"), Recorder("disabled")
    app = make_app({"enabled": enabled}, installed={"disabled": disabled})

    page = app.test_client().get("/").get_data(as_text=True)

    assert disabled.calls == []
    assert "disabled in footer" not in page


def test_enabled_plugin_hooks_are_called(make_app):
    enabled = Recorder("enabled")
    app = make_app({"enabled": enabled})

    page = app.test_client().get("/").get_data(as_text=True)

    assert enabled.calls[:2] == ["register_blueprints", "startup"]
    assert "extra_template_vars:public/landing.html" in enabled.calls
    assert "render_slot:footer" in enabled.calls
    assert '<span class="by-enabled">enabled in footer</span>' in page


@pytest.mark.parametrize("order", [["first", "second"], ["second", "first"]])
def test_config_order_decides_firstresult_hooks(make_app, order):
    plugins = {"first": DeclaresSettings1(), "second": DeclaresSettings2()}
    app = make_app({name: plugins[name] for name in order})

    winner = app.extensions["oss_connect"].hook.register_config_schema()

    assert winner is {"first": Settings1, "second": Settings2}[order[0]]


@pytest.mark.parametrize("order", [["alpha", "beta"], ["beta", "alpha"]])
def test_config_order_decides_the_order_of_slot_content(make_app, order):
    app = make_app({name: Recorder(name) for name in order})

    page = app.test_client().get("/").get_data(as_text=True)

    positions = [page.index(f'<span class="by-{name}">{name} in footer</span>') for name in order]
    assert positions == sorted(positions)


def test_config_order_decides_the_order_of_providers(make_app):
    app = make_app({"later": CallProviders("zeta"), "earlier": CallProviders("alpha", "beta")})

    assert list(app.extensions["oss_connect"].providers["call_provider"]) == ["zeta", "alpha", "beta"]


def test_each_plugin_validates_its_own_settings_section(make_app):
    app = make_app({"one": DeclaresSettings1(), "two": DeclaresSettings2()},
                   settings={"one": {"colour": "blue"}, "two": {"size": 7}})

    with app.app_context():
        assert plugin_settings("one") == Settings1(colour="blue")
        assert plugin_settings("two") == Settings2(size=7)


def test_two_apps_side_by_side_do_not_share_plugin_managers(make_app):
    first, second = Recorder("first"), Recorder("second")
    app_one = make_app({"first": first})
    app_two = make_app({"second": second})

    page_one = app_one.test_client().get("/").get_data(as_text=True)

    assert app_one.extensions["oss_connect"].plugins is not app_two.extensions["oss_connect"].plugins
    assert "first in footer" in page_one and "second in footer" not in page_one
    assert "render_slot:footer" not in second.calls


# --- refused at start-up ----------------------------------------------------------------------


def test_duplicate_provider_name_is_refused_naming_both_plugins_and_the_fix(make_app):
    with pytest.raises(StartupError) as refused:
        make_app({"video_a": CallProviders("video"), "video_b": CallProviders("video")})

    assert str(refused.value) == (
        "call_provider name 'video' is registered twice, by plugin 'video_a' and by plugin 'video_b'; "
        "disable one of them in the config's plugins: section, or rename the provider in one of them")


def test_enabled_but_not_installed_plugin_is_refused_with_file_line_and_suggestion(tmp_path, database_url):
    path = write_config(tmp_path, database_url, {"recordr": None})

    with pytest.raises(ConfigError) as refused:
        load_config(path, extra_plugins={"recorder": Recorder()})

    [issue] = refused.value.issues
    assert issue.format().startswith(f"{path}:{line_of(path, '  recordr: null')}: plugins.recordr: "
                                     "plugin 'recordr' is enabled but not installed (expected one of: ")
    assert issue.format().endswith("got 'recordr'); did you mean 'recorder'? pip install the package that "
                                   "provides it, or remove the line")


def test_plugin_raising_at_startup_stops_start_up_naming_the_plugin_and_the_fix(make_app):
    class FailsAtStartup:
        @hookimpl
        def startup(self, app: Any) -> None:
            raise RuntimeError("the API key was refused")

    with pytest.raises(StartupError) as refused:
        make_app({"broken": FailsAtStartup()})

    assert str(refused.value) == ("plugin 'broken' failed in startup: RuntimeError: the API key was refused; "
                                  "fix the plugin, or disable it by removing 'broken' from plugins: in the config")


def test_plugin_implementing_a_misspelled_hook_is_refused(make_app):
    class Misspelled:
        @hookimpl
        def register_blueprint(self, app: Any) -> list[Any]:
            return []

    with pytest.raises(StartupError) as refused:
        make_app({"typo": Misspelled()})

    assert str(refused.value) == ("plugin 'typo' implements a hook that does not exist: register_blueprint "
                                  "(did you mean 'register_blueprints'?); check the hook names against "
                                  "docs/plugins.md")


def test_hook_implementation_asking_for_an_argument_the_hook_lacks_is_refused(tmp_path, database_url):
    class WrongArguments:
        @hookimpl
        def render_slot(self, slot: str, page: Any) -> None:
            return None

    path = write_config(tmp_path, database_url, {"wrongargs": None})

    with pytest.raises(ConfigError) as refused:
        load_config(path, extra_plugins={"wrongargs": WrongArguments()})

    [issue] = refused.value.issues
    assert issue.format().startswith(f"{path}:{line_of(path, '  wrongargs: null')}: plugins.wrongargs: "
                                     "plugin 'wrongargs' ")
    assert "render_slot" in issue.format() and "'page'" in issue.format()


def test_provider_that_is_not_a_subclass_of_the_base_class_is_refused(make_app):
    class NotAProvider:
        name = "imposter"

    class ReturnsWrongKind:
        @hookimpl
        def register_call_providers(self) -> list[Any]:
            return [NotAProvider()]

    with pytest.raises(StartupError) as refused:
        make_app({"wrong": ReturnsWrongKind()})

    assert re.fullmatch(r"plugin 'wrong' returned <.*NotAProvider object at 0x[0-9a-f]+> from "
                        r"register_call_providers, which is not a CallProvider; subclass core\.api\.CallProvider",
                        str(refused.value))


def test_provider_without_a_name_is_refused(make_app):
    class Nameless:
        @hookimpl
        def register_call_providers(self) -> list[CallProvider]:
            return [CallProvider()]

    with pytest.raises(StartupError, match=r"^plugin 'nameless' registered a call_provider without a name; "
                                           r"set the class attribute name = '\.\.\.'$"):
        make_app({"nameless": Nameless()})


class CounterSettings(Section):
    """Settings with a bound and a required key."""

    every: int = Field(1, ge=1, description="How often.")
    label: str = Field(..., min_length=1, description="What to call it.")


class Counter:
    """A plugin with settings."""

    @hookimpl
    def register_config_schema(self) -> type[Section]:
        return CounterSettings


def test_plugin_settings_are_validated_with_file_and_line(tmp_path, database_url):
    path = write_config(tmp_path, database_url, {"counter": {"every": 0, "colour": "red"}})

    with pytest.raises(ConfigError) as refused:
        load_config(path, extra_plugins={"counter": Counter()})

    reported = [issue.format() for issue in refused.value.issues]
    assert len(reported) == 3
    assert reported[0].startswith(f"{path}:{line_of(path, '  counter:')}: plugins.counter.label: "
                                  "a required key is missing")
    assert reported[1].startswith(f"{path}:{line_of(path, '    every: 0')}: plugins.counter.every: out of range")
    assert reported[2].startswith(f"{path}:{line_of(path, '    colour: red')}: plugins.counter.colour: unknown key")


def test_settings_for_a_plugin_that_declares_none_are_refused(tmp_path, database_url):
    path = write_config(tmp_path, database_url, {"recorder": {"loud": True}})

    with pytest.raises(ConfigError) as refused:
        load_config(path, extra_plugins={"recorder": Recorder()})

    [issue] = refused.value.issues
    assert issue.format().startswith(f"{path}:{line_of(path, '  recorder:')}: plugins.recorder: "
                                     "plugin 'recorder' takes no settings (expected an empty value")


# --- generic hooks ----------------------------------------------------------------------------


class PluginPage:
    """A blueprint, a template folder and a template variable, as a page-adding plugin has."""

    def __init__(self, variables: dict[str, Any] | None = None) -> None:
        self.variables = {"shout": "HELLO FROM A PLUGIN"} if variables is None else variables
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def register_blueprints(self, app: Any) -> list[flask.Blueprint]:
        blueprint = flask.Blueprint("plugin_page", __name__, url_prefix="/plugin-page")

        @blueprint.route("/")
        def hello() -> str:
            return flask.render_template("plugin_page/hello.html")

        @blueprint.route("/plain")
        def plain() -> str:
            return "plain answer from a plugin blueprint"

        return [blueprint]

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        return [PLUGIN_TEMPLATES]

    @hookimpl
    def extra_template_vars(self, template: str, request: Any) -> dict[str, Any] | None:
        self.seen.append((template, request.path))
        return self.variables if template == "plugin_page/hello.html" else None


def test_register_blueprints_adds_a_route_that_answers(make_app):
    client = make_app({"page": PluginPage()}).test_client()

    response = client.get("/plugin-page/plain")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "plain answer from a plugin blueprint"


def test_plugin_blueprint_that_clashes_with_core_is_refused(make_app):
    class Clashing:
        @hookimpl
        def register_blueprints(self) -> flask.Blueprint:
            return flask.Blueprint("public", __name__)

    with pytest.raises(StartupError, match=r"^plugin 'clash' registered a blueprint that clashes: .*"
                                           r"; give it a unique name and url_prefix$"):
        make_app({"clash": Clashing()})


def test_plugin_template_is_found_before_core_templates(make_app):
    client = make_app({"page": PluginPage()}).test_client()

    page = client.get("/").get_data(as_text=True)

    assert '<p id="plugin-landing">The landing page from a plugin\'s template folder.</p>' in page


def test_theme_template_is_found_before_plugin_templates(make_app):
    app = make_app({"page": PluginPage()})

    base = Path(app.jinja_env.get_template("base.html").filename)
    page = app.test_client().get("/").get_data(as_text=True)

    assert base == ROOT / "themes" / "default" / "templates" / "base.html"
    assert "plugin-base" not in page and '<main id="main"' in page


def test_core_prefix_still_reaches_the_core_template_a_plugin_replaces(make_app):
    app = make_app({"page": PluginPage()})

    original = Path(app.jinja_env.get_template("core:public/landing.html").filename)

    assert original == ROOT / "core" / "templates" / "public" / "landing.html"


def test_extra_template_vars_reach_the_template(make_app):
    client = make_app({"page": PluginPage()}).test_client()

    page = client.get("/plugin-page/").get_data(as_text=True)

    assert '<p id="shout">HELLO FROM A PLUGIN</p>' in page


def test_extra_template_vars_receive_the_template_name_and_the_request(make_app):
    plugin = PluginPage()
    client = make_app({"page": plugin}).test_client()

    client.get("/plugin-page/")

    assert ("plugin_page/hello.html", "/plugin-page/") in plugin.seen
    assert ("base.html", "/plugin-page/") not in plugin.seen  # one call per rendered page, not per parent


def test_extra_template_vars_may_not_shadow_a_core_variable(make_app):
    app = make_app({"sneaky": PluginPage({"site": "replaced"})})

    with app.test_request_context("/plugin-page/"), pytest.raises(StartupError) as refused:
        flask.render_template("plugin_page/hello.html")

    assert str(refused.value) == ("plugin 'sneaky' extra_template_vars tried to replace 'site', which the "
                                  "page already defines; choose another name")


class SlotFiller:
    """Fills slots with a plain string and with Markup."""

    @hookimpl
    def render_slot(self, slot: str, context: Any) -> str | Markup | None:
        if slot == "after_header":
            return '<script>alert("plain strings are escaped")</script>'
        if slot == "footer":
            return Markup('<p class="from-slot">Markup is inserted as it is</p>')
        return None


def test_render_slot_inserts_markup_at_the_named_slot(make_app):
    page = make_app({"filler": SlotFiller()}).test_client().get("/").get_data(as_text=True)

    footer = page[page.index('<footer class="site-footer">'):]
    assert '<p class="from-slot">Markup is inserted as it is</p>' in footer


def test_render_slot_escapes_plain_strings(make_app):
    page = make_app({"filler": SlotFiller()}).test_client().get("/").get_data(as_text=True)

    assert "&lt;script&gt;alert(&#34;plain strings are escaped&#34;)&lt;/script&gt;" in page
    assert "<script>alert(" not in page


def test_register_cli_commands_adds_a_command_that_runs(make_app):
    class Commands:
        @hookimpl
        def register_cli_commands(self, cli: click.Group) -> None:
            @cli.command("greet")
            @click.argument("name")
            def greet(name: str) -> None:
                """Say hello."""
                click.echo(f"hello, {name}")

    app = make_app({"commands": Commands()})
    group = click.Group("oss-connect")

    app.extensions["oss_connect"].hook.register_cli_commands(cli=group)
    result = CliRunner().invoke(group, ["greet", "Ada"])

    assert result.exit_code == 0
    assert result.output == "hello, Ada\n"


def test_register_jobs_job_runs_with_the_immediate_backend(make_app):
    done: list[tuple[int, str]] = []

    class Jobs:
        @hookimpl
        def register_jobs(self, queue: Any) -> None:
            @queue.task("jobs_plugin.record", retries=0)
            def record(number: int) -> None:
                done.append((number, platform().settings.site.name))

    app = make_app({"jobs_plugin": Jobs()})

    app.extensions["oss_connect"].jobs.enqueue("jobs_plugin.record", 7)

    assert done == [(7, "Test Conversations")]


def test_register_socketio_handlers_registers_the_handler(make_app):
    def ping(data: Any) -> str:
        return "pong"

    class Realtime:
        @hookimpl
        def register_socketio_handlers(self, socketio: Any) -> None:
            socketio.on_event("realtime_plugin.ping", ping)

    app = make_app({"realtime_plugin": Realtime()})

    handlers = app.extensions["socketio"].server.handlers["/"]
    assert "realtime_plugin.ping" in handlers
    assert handlers["realtime_plugin.ping"].__wrapped__ is ping


def test_register_models_adds_the_plugin_migrations_with_its_own_history_table(make_app, tmp_path):
    from core.api import PluginModels
    from core.db import database

    class Models:
        @hookimpl
        def register_models(self) -> PluginModels:
            return PluginModels(models=[], migrations=tmp_path)

    migrations = make_app({"models_plugin": Models()}).extensions["oss_connect"].migrations

    assert [(item.owner, item.directory) for item in migrations][1:] == [("models_plugin", tmp_path)]
    assert migrations[1].runner(database.obj).table_name == "schema_migrations_models_plugin"


@pytest.mark.parametrize(("kind", "provider_class"), [
    ("questionnaire_source", FakeQuestionnaireSource),
    ("matching_strategy", FakeMatchingStrategy),
    ("call_provider", FakeCallProvider),
    ("archive_destination", FakeArchiveDestination),
])
def test_domain_hooks_collect_providers_by_name(make_app, kind, provider_class):
    app = make_app({"fakes": FakeProviders()})

    found = app.extensions["oss_connect"].provider(kind, "fake")

    assert type(found) is provider_class


def test_looking_up_an_unknown_provider_names_the_known_ones(make_app):
    app = make_app({"fakes": FakeProviders()})

    with pytest.raises(LookupError, match=r"^no call provider named 'zoom' \(registered: fake\)$"):
        app.extensions["oss_connect"].provider("call_provider", "zoom")


class Listener:
    """Implements the event hooks of the journey and records what they received."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def questionnaire_submitted(self, participant: Any, questionnaire: Any, answers: Any) -> None:
        self.heard.append(("questionnaire_submitted", {"participant": participant, "questionnaire": questionnaire,
                                                       "answers": answers}))

    @hookimpl
    def match_made(self, match: Any) -> None:
        self.heard.append(("match_made", {"match": match}))

    @hookimpl
    def call_status_changed(self, conversation: Any, status: str) -> None:
        self.heard.append(("call_status_changed", {"conversation": conversation, "status": status}))

    @hookimpl
    def conversation_ended(self, conversation: Any) -> None:
        self.heard.append(("conversation_ended", {"conversation": conversation}))

    @hookimpl
    def item_archived(self, conversation: Any, destination: str, receipt: Any) -> None:
        self.heard.append(("item_archived", {"conversation": conversation, "destination": destination,
                                             "receipt": receipt}))

    @hookimpl
    def filter_match_candidates(self, participant: Any, candidates: Any) -> list[Any]:
        return [candidate for candidate in candidates if candidate % 2 == 0]

    @hookimpl
    def before_archive(self, package: Any) -> dict[str, Any]:
        return {"listener": f"saw {package}"}


@pytest.mark.parametrize(("hook_name", "arguments"), [
    ("questionnaire_submitted", {"participant": 1, "questionnaire": "v1", "answers": {"q1": "yes"}}),
    ("match_made", {"match": 12}),
    ("call_status_changed", {"conversation": 5, "status": "joined"}),
    ("conversation_ended", {"conversation": 5}),
    ("item_archived", {"conversation": 5, "destination": "fake", "receipt": "receipt-1"}),
])
def test_event_hooks_reach_enabled_plugins_with_their_arguments(make_app, hook_name, arguments):
    listener = Listener()
    app = make_app({"listener": listener})

    getattr(app.extensions["oss_connect"].hook, hook_name)(**arguments)

    assert listener.heard == [(hook_name, arguments)]


def test_filter_match_candidates_returns_each_plugin_veto(make_app):
    app = make_app({"listener": Listener()})

    vetoes = app.extensions["oss_connect"].hook.filter_match_candidates(participant=1, candidates=[2, 3, 4])

    assert vetoes == [[2, 4]]


def test_before_archive_returns_each_plugin_metadata(make_app):
    app = make_app({"listener": Listener()})

    metadata = app.extensions["oss_connect"].hook.before_archive(package="bag-1")

    assert metadata == [{"listener": "saw bag-1"}]


# --- the house rule: plugins import only core.api ------------------------------------------------

PLUGIN_FILES = sorted(
    path for folder in (ROOT / "plugins", *(ROOT / "tests" / "plugins").glob("dist_*"))
    for path in folder.rglob("*.py")
    if "tests" not in path.relative_to(folder).parts and not path.name.startswith("test_")
    and "build" not in path.relative_to(folder).parts
)


def core_imports_other_than_api(source: str) -> list[str]:
    """Every `core` module a source file imports, except core.api."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "core"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "core":
                found += [f"core.{alias.name}" for alias in node.names]
            elif node.module.split(".")[0] == "core":
                found.append(node.module)
    return [name for name in found if name != "core.api"]


def test_the_import_scanner_catches_core_imports():
    source = ("import core.db\nfrom core.models import User\nfrom core import api, themes\n"
              "from core.api import hookimpl\n")

    assert core_imports_other_than_api(source) == ["core.db", "core.models", "core.themes"]


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_plugins_import_nothing_from_core_but_core_api(path):
    forbidden = core_imports_other_than_api(path.read_text(encoding="utf-8"))

    assert forbidden == [], f"{path.relative_to(ROOT)} imports {', '.join(forbidden)}; import from core.api only"
