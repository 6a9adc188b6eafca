"""questionnaire_yaml: the questionnaire participants answer, declared in a YAML file.

Enabled by the default config. The file (`plugins: questionnaire_yaml: {file: questionnaire.yaml}`,
relative to the instance folder; the bundled default when empty) is read and checked when the
config is loaded, so `oss-connect check` reports its mistakes with file, line and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import PrivateAttr, ValidationInfo, model_validator

from core.api import Field, Questionnaire, QuestionnaireSource, Section, hookimpl, load_questionnaire, plugin_settings

BUNDLED_QUESTIONNAIRE = Path(__file__).resolve().parent.parent.parent / "config" / "questionnaire.yaml"


class QuestionnaireYamlSettings(Section):
    """Settings under `plugins: questionnaire_yaml:`."""

    file: str | None = Field(None, description="The questionnaire YAML, relative to the instance folder; "
                                               "empty: the bundled default questionnaire.")
    _questionnaire: Questionnaire | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> QuestionnaireYamlSettings:
        instance = Path((info.context or {}).get("instance_path") or ".")
        path = BUNDLED_QUESTIONNAIRE if not self.file else Path(self.file)
        if not path.is_absolute():
            path = instance / path
        self._questionnaire = load_questionnaire(path)  # ConfigError: reported with the config's own issues
        return self

    @property
    def questionnaire(self) -> Questionnaire:
        """The loaded questionnaire."""
        return self._questionnaire


class YamlQuestionnaire(QuestionnaireSource):
    """The questionnaire from the YAML file named in the settings."""

    name = "yaml"
    label = "Questionnaire from YAML"

    def questionnaire(self) -> Questionnaire | None:
        """The questionnaire read at start-up."""
        settings = plugin_settings("questionnaire_yaml")
        return settings.questionnaire if settings is not None else None


@hookimpl
def register_config_schema() -> type[QuestionnaireYamlSettings]:
    """questionnaire_yaml's settings."""
    return QuestionnaireYamlSettings


@hookimpl
def register_questionnaire_sources() -> list[Any]:
    """The YAML questionnaire source."""
    return [YamlQuestionnaire()]
