"""Load the instance configuration: YAML, environment, core schema and each plugin's schema."""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefinedType

from core.config.errors import ConfigError, ConfigIssue, describe_value
from core.config.schema import Settings
from core.config.yaml_source import (
    LocatedYaml,
    apply_environment_overrides,
    dotted_path,
    read_yaml_file,
    substitute_environment,
)
from core.plugins_loader import PluginInfo, installed_plugins, load_entry_point, new_plugin_manager

DEFAULT_CONFIG = Path("instance") / "oss-connect.yaml"
CONFIG_VARIABLE = "OSS_CONNECT_CONFIG"


@dataclass
class LoadedConfig:
    """A validated configuration, ready for `create_app`."""

    path: Path
    settings: Settings
    plugins: list[PluginInfo] = field(default_factory=list)
    located: LocatedYaml | None = None
    guide: Any = None

    @property
    def instance_path(self) -> Path:
        """The instance folder: the folder that holds the config file."""
        return self.path.parent

    def instance_file(self, relative: str) -> Path:
        """A path inside the instance folder (absolute paths are kept as they are)."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.instance_path / candidate

    def plugin_settings(self, name: str) -> Any:
        """The validated settings of an enabled plugin, or None."""
        for info in self.plugins:
            if info.name == name:
                return info.settings
        return None


def resolve_config_path(option: str | os.PathLike[str] | None, environ: dict[str, str] | None = None) -> Path:
    """--config, else $OSS_CONNECT_CONFIG, else ./instance/oss-connect.yaml."""
    environ = os.environ if environ is None else environ
    chosen = option or environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def load_config(path: str | os.PathLike[str], environ: dict[str, str] | None = None,
                extra_plugins: dict[str, Any] | None = None) -> LoadedConfig:
    """Read, substitute, override and validate; raise ConfigError listing every problem at once.

    `extra_plugins` maps names to plugin objects that count as installed (used by tests and by
    applications that embed oss-connect).
    """
    environ = dict(os.environ if environ is None else environ)
    config_path = Path(path).expanduser().resolve()
    located, issues = read_yaml_file(config_path)
    if located is None:
        raise ConfigError(issues)
    if not isinstance(located.data, dict):
        raise ConfigError([ConfigIssue(located.source, 1, "(top level)",
                                       "the file must be a mapping of sections",
                                       expected="lines such as `site:` and `database:`",
                                       got=describe_value(located.data),
                                       fix="start each section at the left margin with its name and a colon, "
                                           "as in config/oss-connect.example.yaml")])
    unset = substitute_environment(located, environ)
    apply_environment_overrides(located, environ)

    settings = None
    try:
        settings = Settings.model_validate(located.data)
    except pydantic.ValidationError as error:
        issues += [issue_from_validation_error(item, located, (), Settings) for item in error.errors()]

    plugins, plugin_issues = _load_plugins(located, extra_plugins or {})
    issues += plugin_issues
    if settings is not None:
        issues += _secret_key_issues(located, settings, config_path.parent)
    # an unset ${NAME} is the cause; what its empty value then fails is not worth a second line
    issues = [issue for issue in issues if issue.path not in {cause.path for cause in unset}] + unset
    if settings is not None:
        issues += _theme_issues(located, settings, config_path.parent)
        guide, guide_issues = _load_guide(located, settings, config_path.parent)
        issues += guide_issues
    if issues or settings is None:
        raise ConfigError(issues)
    return LoadedConfig(config_path, settings, plugins, located, guide)


def read_secret_key(loaded: LoadedConfig) -> str:
    """The secret key from the config, or else from the instance folder's secret_key file."""
    if loaded.settings.site.secret_key is not None:
        return loaded.settings.site.secret_key.get_secret_value()
    return loaded.instance_file("secret_key").read_text(encoding="utf-8").strip()


def _secret_key_issues(located: LocatedYaml, settings: Settings, instance_path: Path) -> list[ConfigIssue]:
    """A secret key that is too short, or none at all (neither in the config nor in the instance)."""
    secret = settings.site.secret_key
    if secret is not None:
        if len(secret.get_secret_value()) < 32:
            source, line = located.source_for(("site", "secret_key"))
            return [ConfigIssue(source, line, "site.secret_key", "the secret key is too short",
                                expected="at least 32 random characters",
                                got=f"{len(secret.get_secret_value())} characters",
                                fix="generate one with: python3 -c 'import secrets; "
                                    "print(secrets.token_urlsafe(48))'")]
        return []
    key_file = instance_path / "secret_key"
    if not key_file.is_file() or len(key_file.read_text(encoding="utf-8").strip()) < 32:
        return [ConfigIssue(
            located.source, located.line_for(("site",)), "site.secret_key",
            "no secret key is configured", expected=f"site.secret_key or the file {key_file}",
            got="neither", fix="run `oss-connect init` to write one, or set "
                               "site.secret_key: ${OSS_CONNECT_SECRET_KEY}")]
    return []


def _load_guide(located: LocatedYaml, settings: Settings, instance_path: Path) -> tuple[Any, list[ConfigIssue]]:
    """The conversation guide named by room.guide, checked against scheduling.recorded_minutes."""
    from core.room.guide import guide_path, load_guide

    path = guide_path(settings.room.guide, instance_path)
    if not path.is_file():
        source, line = located.source_for(("room", "guide"))
        return None, [ConfigIssue(source, line, "room.guide", f"the conversation guide {path} does not exist",
                                  fix="run `oss-connect init` to copy the default guide into the instance folder, "
                                      "or leave room.guide empty to use the bundled one")]
    try:
        return load_guide(path, settings.scheduling.recorded_minutes), []
    except ConfigError as error:
        return None, list(error.issues)


def _theme_issues(located: LocatedYaml, settings: Settings, instance_path: Path) -> list[ConfigIssue]:
    """theme.name must name a theme folder (in the instance's themes/ or the bundled ones)."""
    from core.themes import theme_folders  # late: core.themes imports this module

    name = settings.theme.name
    folders = theme_folders(instance_path)
    if any((folder / name / "theme.yaml").is_file() for folder in folders):
        return []
    available = sorted({manifest.parent.name for folder in folders if folder.is_dir()
                        for manifest in folder.glob("*/theme.yaml")})
    hint = difflib.get_close_matches(name, available, n=1)
    source, line = located.source_for(("theme", "name"))
    return [ConfigIssue(source, line, "theme.name", f"there is no theme called '{name}'",
                        expected="one of: " + ", ".join(available), got=repr(name),
                        fix=(f"did you mean '{hint[0]}'? " if hint else "")
                        + f"use one of those, or create {instance_path / 'themes' / name / 'theme.yaml'}")]


def _load_plugins(located: LocatedYaml, extra: dict[str, Any]) -> tuple[list[PluginInfo], list[ConfigIssue]]:
    section = located.data.get("plugins") or {}
    if not isinstance(section, dict):
        return [], []  # the core schema already reported the wrong type
    available = installed_plugins()
    infos: list[PluginInfo] = []
    issues: list[ConfigIssue] = []
    for name, raw_settings in section.items():
        name = str(name)
        path = ("plugins", name)
        source, line = located.source_for(path)
        if name in extra:
            info = PluginInfo(name, extra[name], "test", "(registered in-process)")
        elif name in available:
            try:
                plugin, dist, version = load_entry_point(available[name])
            except Exception as error:  # an import error inside the plugin's own code
                issues.append(ConfigIssue(source, line, f"plugins.{name}",
                                          f"plugin '{name}' is installed but failed to import: "
                                          f"{type(error).__name__}: {error}",
                                          fix="reinstall or upgrade the plugin's package, or remove the line"))
                continue
            info = PluginInfo(name, plugin, version, dist)
        else:
            known = sorted({*available, *extra})
            hint = difflib.get_close_matches(name, known, n=1)
            issues.append(ConfigIssue(
                source, line, f"plugins.{name}", f"plugin '{name}' is enabled but not installed",
                expected="one of: " + (", ".join(known) or "(no plugin is installed)"), got=repr(name),
                fix=(f"did you mean '{hint[0]}'? " if hint else "")
                + "pip install the package that provides it, or remove the line"))
            continue
        settings, setting_issues = _validate_plugin_settings(info, raw_settings, located, path)
        issues += setting_issues
        info.settings = settings
        infos.append(info)
    return infos, issues


def _validate_plugin_settings(info: PluginInfo, raw: Any, located: LocatedYaml,
                              path: tuple[str, ...]) -> tuple[Any, list[ConfigIssue]]:
    manager = new_plugin_manager()
    try:
        manager.register(info.plugin, name=info.name)
        schema = manager.hook.register_config_schema()
    except Exception as error:
        source, line = located.source_for(path)
        return None, [ConfigIssue(source, line, ".".join(path),
                                  f"plugin '{info.name}' failed to declare its settings: {error}",
                                  fix="fix or upgrade the plugin, or remove the line")]
    if schema is None:
        if raw not in (None, {}):
            source, line = located.source_for(path)
            return None, [ConfigIssue(source, line, ".".join(path), f"plugin '{info.name}' takes no settings",
                                      expected="an empty value", got=describe_value(raw),
                                      fix=f"write `{info.name}: {{}}` or `{info.name}:` alone")]
        return None, []
    try:
        return schema.model_validate(raw or {}, context={"instance_path": Path(located.source).parent}), []
    except pydantic.ValidationError as error:
        return None, [issue_from_validation_error(item, located, path, schema) for item in error.errors()]
    except ConfigError as error:  # a file the plugin reads (e.g. a questionnaire) has problems of its own
        return None, list(error.issues)


# --- pydantic errors as sentences --------------------------------------------------------------

_EXPECTATIONS = {
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)", "model_attributes_type": "a mapping (key: value lines)",
    "list_type": "a list (- item lines)",
}


def issue_from_validation_error(error: dict[str, Any], located: LocatedYaml, prefix: tuple[str, ...],
                                model: type[BaseModel]) -> ConfigIssue:
    """One pydantic error as a ConfigIssue located in the YAML, worded for people (shared by themes)."""
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    full = (*prefix, *loc)
    source, line = located.source_for(full)
    key = dotted_path(full)
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    field_info = _field_at(model, loc)
    got = "a value (not shown: it is secret)" if _is_secret(field_info, loc) else describe_value(value)
    example = _example_fix(located, full, field_info)
    if kind == "extra_forbidden":
        allowed = sorted(_fields_at(model, loc[:-1]))
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return ConfigIssue(source, line, key, "unknown key",
                           expected="one of: " + ", ".join(allowed), got=repr(str(loc[-1])),
                           fix=f"did you mean '{hint[0]}'?" if hint else "remove it or check the spelling")
    if kind == "missing":
        return ConfigIssue(source, line, key, "a required key is missing",
                           expected=_describe_field(model, loc), got="nothing",
                           fix=f"add `{loc[-1]}:` under `{dotted_path(full[:-1]) or 'the top level'}`")
    if kind == "literal_error":
        return ConfigIssue(source, line, key, "not one of the allowed values",
                           expected=f"one of {ctx.get('expected')}", got=got, fix=example)
    if kind in _EXPECTATIONS:
        return ConfigIssue(source, line, key, "wrong type", expected=_EXPECTATIONS[kind], got=got, fix=example)
    if kind in _BOUNDS:
        return ConfigIssue(source, line, key, "out of range", expected=_describe_range(field_info, kind, ctx),
                           got=got, fix=example)
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        if kind == "string_too_long" and isinstance(value, str):
            got = f"{len(value)} characters"
        elif kind in ("too_short", "too_long") and isinstance(value, list | dict):
            got = _count(len(value), "item")
        return ConfigIssue(source, line, key, "wrong length", expected=_describe_length(kind, ctx), got=got,
                           fix=example)
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        expected = f"text matching {pattern}" if len(pattern) <= 30 else "text in the format of the example"
        return ConfigIssue(source, line, key, "wrong format", expected=expected, got=got, fix=example)
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        if message.startswith("must be "):
            return ConfigIssue(source, line, key, "invalid value", expected=message[len("must be "):],
                               got=got, fix=example)
        problem, _, fix = message.partition("; ")
        return ConfigIssue(source, line, key, problem, fix=fix or example)
    return ConfigIssue(source, line, key, error["msg"], got=got, fix=example)


_BOUNDS = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _describe_range(field_info: FieldInfo | None, kind: str, ctx: dict[str, Any]) -> str:
    """`a whole number from 1 to 64` when both bounds are known, else `a number >= 1`."""
    noun = "a whole number" if field_info is not None and field_info.annotation is int else "a number"
    bounds = {type(item).__name__: item for item in (field_info.metadata if field_info else [])}
    low, high = bounds.get("Ge"), bounds.get("Le")
    if low is not None and high is not None:
        return f"{noun} from {low.ge} to {high.le}"
    return f"{noun} {_BOUNDS[kind]} {next(iter(ctx.values()), '?')}"


def _describe_length(kind: str, ctx: dict[str, Any]) -> str:
    noun = "character" if kind.startswith("string") else "item"
    if kind.endswith("too_short"):
        return f"at least {_count(int(ctx.get('min_length', 1)), noun)}"
    return f"at most {_count(int(ctx.get('max_length', 0)), noun)}"


def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo | None:
    """The pydantic field a location points at (None for list items and unknown keys)."""
    if not loc or isinstance(loc[-1], int):
        return None
    parent = _model_at(model, loc[:-1])
    return parent.model_fields.get(str(loc[-1])) if parent else None


def _is_secret(field_info: FieldInfo | None, loc: tuple[Any, ...]) -> bool:
    if field_info is not None and "SecretStr" in str(field_info.annotation):
        return True
    return any(word in str(loc[-1]).lower() for word in ("password", "secret")) if loc else False


def _example_fix(located: LocatedYaml, full: tuple[Any, ...], field_info: FieldInfo | None) -> str:
    """`write for example `workers: 2` (the default)`, or where to read about the option."""
    default = None if field_info is None else field_info.get_default(call_default_factory=False)
    if isinstance(default, bool | int | float | str) and not isinstance(default, PydanticUndefinedType):
        shown = yaml.safe_dump(default, default_flow_style=True, width=1000).split("\n")[0]
        variable = located.variable_for(full)
        if variable:
            return f"set for example {variable}={shown} (the default)"
        return f"write for example `{full[-1]}: {shown}` (the default)"
    if full and full[0] == "plugins" and len(full) > 1:
        return f"see the settings of the plugin '{full[1]}' in its documentation"
    return "see its entry in docs/configuration.md"


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as `Model`, `Model | None` or `list[Model]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _submodel(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field_info = current.model_fields.get(str(part))
        current = _submodel(field_info.annotation) if field_info else None
    return current


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    found = _model_at(model, loc)
    return list(found.model_fields) if found else []


def _describe_field(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """What a missing key should hold, from its description: `the SMTP server's host name`."""
    field_info = _field_at(model, loc)
    if field_info is None or not field_info.description:
        return "a value"
    text = field_info.description.split(". ")[0].rstrip(".")
    return text[0].lower() + text[1:] if text[:2] != text[:2].upper() else text
