"""questionnaire_import: bring in answers collected elsewhere, from a CSV upload or a signed webhook.

An admin uploads a CSV file at /admin/import/ (columns mapped to question ids in the config), or a
form tool posts JSON to /import/webhook signed with `webhook_secret`. Each person becomes (or updates)
a participant, who is invited by email to choose a password and confirm consent. See
docs/questionnaire-import.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import url_for

from core.api import (
    ADMIN,
    INTERNAL,
    Markup,
    PluginModels,
    Questionnaire,
    QuestionnaireSource,
    StartupError,
    active_questionnaire,
    hookimpl,
    plugin_settings,
)

from .convert import mapping_problems
from .models import WebhookDelivery
from .settings import ImportSettings

TEMPLATES = Path(__file__).resolve().parent / "templates"


class ImportSource(QuestionnaireSource):
    """Imports answers into the active questionnaire; it defines no questionnaire of its own."""

    name = "import"
    label = "Answers imported from a CSV file or a form tool"

    def questionnaire(self) -> Questionnaire | None:
        """None: answers go into the questionnaire of another source (e.g. questionnaire_yaml)."""
        return None


@hookimpl
def register_config_schema() -> type[ImportSettings]:
    """questionnaire_import's settings."""
    return ImportSettings


@hookimpl
def register_models() -> PluginModels:
    """The webhook deliveries seen recently (replay protection), with the plugin's own migrations."""
    return PluginModels(models=[WebhookDelivery], migrations=Path(__file__).resolve().parent / "migrations")


@hookimpl
def register_questionnaire_sources() -> list[Any]:
    """The import source."""
    return [ImportSource()]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    """The admin page and the webhook."""
    from .views import blueprint as admin_pages
    from .webhook import blueprint as webhook

    return [admin_pages, webhook]


@hookimpl
def register_access_policies() -> dict[str, Any]:
    """The import page is for admins; the webhook for a form tool that signs its body with the shared secret."""
    return {"GET questionnaire_import.upload": ADMIN, "POST questionnaire_import.upload": ADMIN,
            "GET questionnaire_import.template": ADMIN, "POST questionnaire_import_webhook.receive": INTERNAL}


@hookimpl
def register_template_dirs() -> list[Path]:
    """The admin page's template."""
    return [TEMPLATES]


@hookimpl
def startup(app: Any) -> None:
    """Refuse to start when the column mapping names questions the questionnaire does not have."""
    with app.app_context():
        questionnaire = active_questionnaire()
        if questionnaire is None:
            return  # the admin page says so; there is nothing to check against
        problems = mapping_problems(plugin_settings("questionnaire_import").columns, questionnaire)
    if problems:
        raise StartupError("plugins.questionnaire_import.columns: " + "; ".join(problems)
                           + "; fix the mapping in the config")


@hookimpl
def render_slot(slot: str) -> Markup | None:
    """On the admin overview, a link to the import page."""
    if slot != "admin_index":
        return None
    return Markup('<h2>Import answers</h2><p><a href="{}">Import participants\' answers</a> from a CSV file '
                  "(a paper form typed into a spreadsheet, an online form tool).</p>").format(
        url_for("questionnaire_import.upload"))
