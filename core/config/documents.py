"""Read a YAML document other than the instance config (a theme manifest, a questionnaire, ...)
into a pydantic model, reporting every problem as FILE:LINE: key: problem; fix."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pydantic
from pydantic import BaseModel

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import issue_from_validation_error
from core.config.yaml_source import LocatedYaml, read_yaml_file

ModelT = TypeVar("ModelT", bound=BaseModel)


GENERIC_FIX = "see its entry in docs/configuration.md"


def load_yaml_document(path: Path, model: type[ModelT], reference: str) -> tuple[ModelT, LocatedYaml]:
    """Parse and validate `path` as `model`; raise ConfigError with the file, line and key of each issue.

    `reference` names the guide that documents the file's format (used in the fixes offered). A file
    read before and unchanged since (same size and modification time) is not parsed again: every app
    built in one process (the tests build hundreds) shares the validated document, which nobody mutates.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError([ConfigIssue(str(path), None, "(file)", "the file does not exist",
                                       fix="check the path, or copy the example from the project's config/ folder")])
    stat = path.stat()
    return _load_unchanged(str(path), stat.st_mtime_ns, stat.st_size, model, reference)


@functools.lru_cache(maxsize=64)
def _load_unchanged(path_text: str, mtime_ns: int, size: int, model: type[ModelT],
                    reference: str) -> tuple[ModelT, LocatedYaml]:
    """load_yaml_document's work for one version of a file (errors are raised, never cached)."""
    path = Path(path_text)
    located, issues = read_yaml_file(path)
    if located is None:
        raise ConfigError(issues)
    try:
        document = model.model_validate(located.data)
    except pydantic.ValidationError as error:
        found = [issue_from_validation_error(item, located, (), model) for item in error.errors()]
        raise ConfigError(issues + [replace(issue, fix=f"see {reference}") if issue.fix == GENERIC_FIX else issue
                                    for issue in found]) from None
    if issues:
        raise ConfigError(issues)
    return document, located
