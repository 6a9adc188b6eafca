"""Configuration errors written for the people who fix them: file, line, key, problem and fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration source, located as precisely as the source allows."""

    source: str
    line: int | None
    path: str
    problem: str
    expected: str | None = None
    got: str | None = None
    fix: str | None = None

    def format(self) -> str:
        """Render as `FILE:LINE: key.path: problem (expected X, got Y); fix`."""
        where = f"{self.source}:{self.line}" if self.line else self.source
        text = f"{where}: {self.path or '(top level)'}: {self.problem}"
        details = []
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if self.got is not None:
            details.append(f"got {self.got}")
        if details:
            text += f" ({', '.join(details)})"
        if self.fix:
            text += f"; {self.fix}"
        return text


class ConfigError(Exception):
    """Raised with every issue found, so an admin fixes them all in one pass. Exit code 2."""

    exit_code = 2

    def __init__(self, issues: list[ConfigIssue]):
        # the same problem can be found twice (core schema and plugin schema): report it once
        self.issues = sorted(set(issues), key=lambda i: (i.source, i.line or 0, i.path, i.problem))
        super().__init__(self.format())

    def format(self) -> str:
        """All issues, one per line, with a heading that counts them."""
        count = len(self.issues)
        heading = f"Configuration error{'s' if count != 1 else ''} ({count}):"
        return "\n".join([heading, *(issue.format() for issue in self.issues)])


def describe_value(value: object) -> str:
    """A short, human description of a YAML value for the `got ...` part of a message."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"{shown!r} (text)"
    if isinstance(value, dict):
        return "a mapping (key: value lines)"
    if isinstance(value, list):
        return "a list (- item lines)"
    return type(value).__name__
