"""Read a YAML file into plain data while remembering the line of every key and value."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.config.errors import ConfigIssue

Path_ = tuple[str | int, ...]
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class LocatedYaml:
    """Parsed data plus a map from key paths to 1-based line numbers."""

    source: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    overridden: dict[Path_, str] = field(default_factory=dict)

    def line_for(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor when the key is absent."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def source_for(self, path: Path_) -> tuple[str, int | None]:
        """Where a value came from: the environment variable that overrode it, or FILE and line."""
        for end in range(len(path), 0, -1):
            variable = self.overridden.get(tuple(path[:end]))
            if variable:
                return f"environment variable {variable}", None
        return self.source, self.line_for(path)


def parse_yaml_text(text: str, source: str) -> tuple[LocatedYaml | None, list[ConfigIssue]]:
    """Parse YAML text; on a syntax error return the issue with its line instead of raising."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = (error.problem or "invalid YAML").strip()
        return None, [
            ConfigIssue(
                source, line, "(yaml)", f"the file is not valid YAML: {problem}",
                fix="check indentation (spaces, not tabs), colons after keys and matching quotes",
            )
        ]
    except yaml.YAMLError as error:
        return None, [ConfigIssue(source, None, "(yaml)", f"the file is not valid YAML: {error}")]
    located = LocatedYaml(source, data if data is not None else {})
    if node is not None:
        _record_lines(node, (), located.lines)
    return located, []


def read_yaml_file(path: Path) -> tuple[LocatedYaml | None, list[ConfigIssue]]:
    """Read and parse a YAML file, reporting a missing or unreadable file as an issue."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [ConfigIssue(str(path), None, "(file)", "the file does not exist",
                                  fix="run `oss-connect init` to create one, or pass --config FILE")]
    except (OSError, UnicodeDecodeError) as error:
        return None, [ConfigIssue(str(path), None, "(file)", f"the file cannot be read: {error}")]
    return parse_yaml_text(text, str(path))


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, str(key_node.value))
            lines[key_path] = key_node.start_mark.line + 1
            _record_lines(value_node, key_path, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines)


def substitute_environment(located: LocatedYaml, environ: dict[str, str]) -> list[ConfigIssue]:
    """Replace `${NAME}` and `${NAME:-default}` in every string, in place; report unset names."""
    issues: list[ConfigIssue] = []

    def visit(value: Any, path: Path_) -> Any:
        if isinstance(value, dict):
            return {key: visit(item, (*path, str(key))) for key, item in value.items()}
        if isinstance(value, list):
            return [visit(item, (*path, index)) for index, item in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            issues.append(ConfigIssue(
                located.source, located.line_for(path), _dotted(path),
                f"environment variable {name} is not set",
                expected=f"${{{name}}} to name a variable that is set", got="nothing",
                fix=f"export {name}=... before starting, or write ${{{name}:-default}} for a default",
            ))
            return ""

        return _ENV_REFERENCE.sub(replace, value)

    located.data = visit(located.data, ())
    return issues


def apply_environment_overrides(located: LocatedYaml, environ: dict[str, str],
                                prefix: str = "OSS_CONNECT__") -> None:
    """Apply `OSS_CONNECT__SECTION__KEY=value` variables; values are parsed as YAML scalars."""
    if not isinstance(located.data, dict):
        return
    for variable in sorted(environ):
        if not variable.startswith(prefix):
            continue
        keys = [part.lower() for part in variable[len(prefix):].split("__") if part]
        if not keys:
            continue
        try:
            value = yaml.safe_load(environ[variable])
        except yaml.YAMLError:
            value = environ[variable]
        if value is None:
            value = ""
        target = located.data
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = value
        located.overridden[tuple(keys)] = variable


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


dotted_path = _dotted
