"""Read a YAML document other than the instance config (a theme manifest, a questionnaire, ...)
into a pydantic model, reporting every problem as FILE:LINE: key: problem; fix."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pydantic
from pydantic import BaseModel

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import issue_from_validation_error
from core.config.yaml_source import LocatedYaml, read_yaml_file

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml_document(path: Path, model: type[ModelT]) -> tuple[ModelT, LocatedYaml]:
    """Parse and validate `path` as `model`; raise ConfigError with the file, line and key of each issue."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([ConfigIssue(str(path), None, "(file)", "the file does not exist",
                                       fix="check the path, or copy the example from the project's config/ folder")])
    located, issues = read_yaml_file(path)
    if located is None:
        raise ConfigError(issues)
    try:
        document = model.model_validate(located.data)
    except pydantic.ValidationError as error:
        raise ConfigError(issues + [issue_from_validation_error(item, located, (), model)
                                    for item in error.errors()]) from None
    if issues:
        raise ConfigError(issues)
    return document, located
