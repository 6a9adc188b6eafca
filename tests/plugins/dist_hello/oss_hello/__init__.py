"""oss_hello: a greeting in the site's footer, a `hello` command and a one-question questionnaire.

The complete example of docs/plugins.md: a settings model, a slot, a CLI command, a provider and
the startup hook, importing only from core.api.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.api import Field, Markup, QuestionnaireSource, Section, cli_app, hookimpl, platform, plugin_settings


class HelloSettings(Section):
    """Settings under `plugins: hello:` in the instance config."""

    greeting: str = Field("Hello", min_length=1, max_length=40, description="The word the footer starts with.")


@hookimpl
def register_config_schema() -> type[HelloSettings]:
    """Declare the settings model; the config is validated against it at start-up."""
    return HelloSettings


@hookimpl
def render_slot(slot: str) -> Markup | None:
    """Greet visitors in the footer of every page."""
    if slot != "footer":
        return None
    settings = plugin_settings("hello")
    return Markup('<p class="hello">{}, friends of {}!</p>').format(settings.greeting,
                                                                    platform().settings.site.name)


class HelloQuestionnaire(QuestionnaireSource):
    """A questionnaire with one question, to show the shape of a provider."""

    name = "hello"
    label = "Hello questionnaire"

    def questionnaire(self) -> dict[str, Any]:
        """Version 1: one free-text question."""
        return {"version": "1", "sections": [{"title": "About you", "questions": [
            {"id": "greeting", "type": "text", "text": "How do you greet a stranger?"}]}]}


@hookimpl
def register_questionnaire_sources() -> list[QuestionnaireSource]:
    """Offer the questionnaire above under the name 'hello'."""
    return [HelloQuestionnaire()]


@hookimpl
def register_cli_commands(cli: Any) -> None:
    """Add `oss-connect hello`."""

    @cli.command("hello")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help="The instance config.")
    @click.pass_context
    def hello(ctx: click.Context, config_path: str | None) -> None:
        """Print the greeting for this instance."""
        app = cli_app(ctx, config_path)
        with app.app_context():
            click.echo(f"{plugin_settings('hello').greeting} from {platform().settings.site.name}")


@hookimpl
def startup(app: Any) -> None:
    """Leave a file in the instance folder, so you can see that the plugin started."""
    Path(app.instance_path, "hello-started.txt").write_text("oss_hello started\n", encoding="utf-8")
