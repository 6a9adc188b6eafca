"""The example config and the admin's reference stay complete: every option of the schema is
written in config/oss-connect.example.yaml (live or as a commented-out example) and described in
docs/configuration.md, and the example itself is a valid config."""

from __future__ import annotations

import re
import shutil
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.config import load_config
from core.config.loader import _submodel
from core.config.schema import Settings
from core.instance import enable_demo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "oss-connect.example.yaml"
REFERENCE = ROOT / "docs" / "configuration.md"
SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
KEY_LINE = re.compile(r"^(\s*)(-\s+)?([a-z_][a-z0-9_]*):(\s|$)")


def option_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every option of `model`, recursively: `site.name`, `program.steps[].title`, ..."""
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        nested = _submodel(field.annotation)
        if nested is not None:
            in_list = typing.get_origin(field.annotation) is list
            paths += option_paths(nested, path + ("[]." if in_list else "."))
    return paths


def documented_keys(text: str) -> set[str]:
    """Key paths written in a YAML text, counting commented-out lines such as `#   host: ...`."""
    keys: set[str] = set()
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"^(\s*)# ?", r"\1", raw)
        match = KEY_LINE.match(line)
        if not match:
            continue
        column = len(match.group(1)) + len(match.group(2) or "")
        while stack and stack[-1][0] >= column:
            stack.pop()
        stack.append((column, match.group(3)))
        keys.add(".".join(key for _, key in stack))
    return keys


CORE_OPTIONS = option_paths(Settings)


def test_the_walk_finds_nested_and_list_options():
    assert {"site.base_url", "mail.smtp.host", "theme.tokens.colors.primary", "program.steps[].title",
            "accounts.rate_limits.login", "plugins"} <= set(CORE_OPTIONS)


def copy_example(folder: Path) -> Path:
    """The example config and the questionnaire it names, copied as `oss-connect init` does."""
    shutil.copy(EXAMPLE, folder / "oss-connect.yaml")
    shutil.copy(ROOT / "config" / "questionnaire.yaml", folder / "questionnaire.yaml")
    shutil.copy(ROOT / "config" / "conversation_guide.yaml", folder / "conversation_guide.yaml")
    return folder / "oss-connect.yaml"


def test_the_example_is_a_valid_config(tmp_path):
    loaded = load_config(copy_example(tmp_path), environ={"OSS_CONNECT_SECRET_KEY": SECRET})
    assert loaded.settings.site.organisation == "Riverbend Public Library"
    assert [info.name for info in loaded.plugins] == ["questionnaire_yaml", "matching_bridge", "call_webrtc",
                                                      "archive_site", "archive_bagit"]
    assert loaded.plugin_settings("questionnaire_yaml").questionnaire.version >= 1


def test_the_example_is_valid_with_the_instance_secret_key_file_instead(tmp_path):
    copy_example(tmp_path)
    (tmp_path / "secret_key").write_text(SECRET + "\n", encoding="utf-8")
    loaded = load_config(tmp_path / "oss-connect.yaml", environ={})
    assert loaded.settings.site.secret_key is None


def test_the_example_with_the_demo_plugin_enabled_is_valid(tmp_path):
    config = copy_example(tmp_path)
    assert enable_demo(config)
    loaded = load_config(config, environ={"OSS_CONNECT_SECRET_KEY": SECRET})
    assert [info.name for info in loaded.plugins] == ["questionnaire_yaml", "matching_bridge", "call_webrtc",
                                                      "archive_site", "archive_bagit", "demo_data"]
    assert loaded.settings.accounts.mfa.required_roles == [], "the demo's staff must be able to sign in at once"


def test_every_option_has_a_description_to_document():
    def undescribed(model: type[BaseModel], prefix: str = "") -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(prefix + name)
            nested = _submodel(field.annotation)
            if nested is not None:
                missing += undescribed(nested, f"{prefix}{name}.")
        return missing

    assert undescribed(Settings) == []


@pytest.mark.parametrize("option", CORE_OPTIONS)
def test_every_option_is_written_in_the_example(option):
    assert option.replace("[]", "") in documented_keys(EXAMPLE.read_text(encoding="utf-8")), (
        f"{option} is missing from {EXAMPLE.relative_to(ROOT)}: add it with its default and a comment")


@pytest.mark.parametrize("option", CORE_OPTIONS)
def test_every_option_is_described_in_the_reference(option):
    assert f"`{option}`" in REFERENCE.read_text(encoding="utf-8"), (
        f"{option} is missing from {REFERENCE.relative_to(ROOT)}: add a row with its type, default and meaning")


def test_documented_keys_reads_commented_out_blocks():
    text = "mail:\n  smtp: null\n  # smtp:\n  #   host: mail.example.org\n# A sentence: not a key\n"
    assert documented_keys(text) == {"mail", "mail.smtp", "mail.smtp.host"}
