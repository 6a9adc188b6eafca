"""Read a YAML file into plain data while remembering the line of every key and value."""

from __future__ import annotations

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

    def variable_for(self, path: Path_) -> str | None:
        """The OSS_CONNECT__... variable that set `path` (or one of its ancestors), if any."""
        for end in range(len(path), 0, -1):
            variable = self.overridden.get(tuple(path[:end]))
            if variable:
                return variable
        return None

    def source_for(self, path: Path_) -> tuple[str, int | None]:
        """Where a value came from: the environment variable that overrode it, or FILE and line."""
        variable = self.variable_for(path)
        if variable:
            return f"environment variable {variable}", None
        return self.source, self.line_for(path)


def parse_yaml_text(text: str, source: str) -> tuple[LocatedYaml | None, list[ConfigIssue]]:
    """Parse YAML text; on a syntax error return the issue with its line instead of raising.

    A key written twice in one mapping is reported as an issue beside the (still usable) data.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_issue(error, text, source)]
    except yaml.YAMLError as error:
        return None, [ConfigIssue(source, None, "(yaml)", f"the file is not valid YAML: {error}",
                                  fix="compare it with config/oss-connect.example.yaml")]
    located = LocatedYaml(source, data if data is not None else {})
    issues: list[ConfigIssue] = []
    if node is not None:
        _record_lines(node, (), located.lines, issues, source)
    return located, issues


# PyYAML's wording -> (what is wrong, how to fix it), for the mistakes people make most.
_SYNTAX_HINTS = [
    ("quoted scalar", "a quoted value starts on this line but its closing quote is missing",
     "add the closing quote at the end of the value"),
    ("'\\t'", "a tab character (YAML indents with spaces only)", "replace the tab with spaces"),
    ("flow sequence", "a list in [ ] starts on this line but is not closed properly",
     "close it with ] and separate its items with commas, or quote the value"),
    ("flow mapping", "a mapping in { } starts on this line but is not closed properly",
     "close it with } and separate its items with commas, or quote the value"),
    ("mapping values are not allowed", "a colon where none may be",
     "indent this line like the keys beside it, make sure the line above ends its key with a colon, "
     "and quote a value that contains ': '"),
    ("<block end>", "the indentation of this line does not match the lines above it",
     "indent the keys of one section by the same number of spaces"),
]


def _syntax_issue(error: yaml.MarkedYAMLError, text: str, source: str) -> ConfigIssue:
    """A YAML syntax error as an issue: the line, the key there, what is wrong and how to fix it."""
    raw = f"{error.context or ''} {error.problem or ''}"
    hint = next((item for item in _SYNTAX_HINTS if item[0] in raw), None)
    mark = error.problem_mark or error.context_mark
    if hint is None:
        problem = (error.problem or "invalid YAML").strip()
        fix = "check indentation (spaces, not tabs), colons after keys and matching quotes"
    else:
        needle, problem, fix = hint
        if needle in _STARTS_HERE and error.context_mark is not None:
            mark = error.context_mark  # report where the unclosed quote or bracket opens
    line = mark.line + 1 if mark else None
    return ConfigIssue(source, line, _key_path_at(text, line) if line else "(yaml)",
                       f"the file is not valid YAML: {problem}", fix=fix)


_STARTS_HERE = ("quoted scalar", "flow sequence", "flow mapping")
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([^\s#'\"\[{:-][^:#]*?)\s*:(?:\s|$)")


def _key_path_at(text: str, line: int) -> str:
    """Best effort: the dotted key path in effect at `line` of a file that does not parse."""
    stack: list[tuple[int, str]] = []
    for number, content in enumerate(text.splitlines(), start=1):
        match = _KEY_LINE.match(content.replace("\t", " "))
        if match:
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
        if number >= line:
            break
    return ".".join(key for _, key in stack) or "(yaml)"


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


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], issues: list[ConfigIssue],
                  source: str) -> None:
    """Remember the line of every key and item; report a key written twice in one mapping."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key_path in lines:
                issues.append(ConfigIssue(
                    source, line, _dotted(key_path), f"the key is written twice (first on line {lines[key_path]})",
                    fix="keep one of them: YAML would silently use only the last"))
                continue
            lines[key_path] = line
            _record_lines(value_node, key_path, lines, issues, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, issues, source)


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
    """Apply `OSS_CONNECT__SECTION__KEY=value` variables (values as `parse_override` reads them)."""
    if not isinstance(located.data, dict):
        return
    for variable in sorted(environ):
        if not variable.startswith(prefix):
            continue
        keys = [part.lower() for part in variable[len(prefix):].split("__") if part]
        if not keys:
            continue
        value = parse_override(environ[variable])
        target = located.data
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = value
        located.overridden[tuple(keys)] = variable


def parse_override(text: str) -> Any:
    """An override's value: the text itself, except `[lists]`, `{mappings}` and 'quoted' text as YAML reads them.

    Numbers and booleans stay text here; the schema parses `7` or `false` for a number or a
    true/false option, and `#1a4f8b`, `Talk: Across` or a password of digits stay what they are.
    An empty value or `null` is empty text.
    """
    stripped = text.strip()
    if stripped in ("", "null", "~"):
        return ""
    if stripped[:1] in ("[", "{", "'", '"'):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    return text


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


dotted_path = _dotted
