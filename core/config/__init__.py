"""Configuration: one YAML file, validated with pydantic, with every error reported at once."""

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import LoadedConfig, load_config, resolve_config_path
from core.config.schema import Settings

__all__ = ["ConfigError", "ConfigIssue", "LoadedConfig", "Settings", "load_config", "resolve_config_path"]
