"""Themes are data: a manifest (theme.yaml), templates and static files, with a parent chain."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pydantic import Field

from core.config.documents import load_yaml_document
from core.config.errors import ConfigError, ConfigIssue
from core.config.schema import BrandTokens, Section

BUNDLED_THEMES = Path(__file__).resolve().parent.parent / "themes"
CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"
ROOT_THEME = "default"


class ThemeManifest(Section):
    """The contents of a theme's theme.yaml."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Must equal the folder name.")
    label: str = Field("", max_length=80, description="A human name for the theme.")
    parent: str | None = Field(ROOT_THEME, pattern=r"^[a-z0-9][a-z0-9_-]*$",
                               description="The theme this one extends (default: default).")
    description: str = Field("", max_length=400, description="What the theme is for.")
    tokens: BrandTokens = Field(default_factory=BrandTokens, description="Brand tokens.")


@dataclass
class Theme:
    """A loaded theme: its manifest and folder."""

    manifest: ThemeManifest
    folder: Path
    parent_line: int | None = None  # where theme.yaml names its parent, for error messages

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def templates(self) -> Path:
        return self.folder / "templates"

    @property
    def static(self) -> Path:
        return self.folder / "static"


@dataclass
class ActiveTheme:
    """The active theme with its ancestors (most specific first) and the merged brand tokens."""

    chain: list[Theme]
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.chain[0].name

    def find_static(self, filename: str) -> Path | None:
        """The first theme in the chain that has `filename` under static/ (no path escapes)."""
        for theme in self.chain:
            root = theme.static.resolve()
            candidate = (root / filename).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None

    def css_variables(self) -> str:
        """The brand tokens as a :root block of CSS custom properties."""
        lines = [":root {"]
        for name, value in sorted(self.tokens.get("colors", {}).items()):
            lines.append(f"  --brand-{name.replace('_', '-')}: {value};")
        for name, value in sorted(self.tokens.get("fonts", {}).items()):
            lines.append(f"  --brand-font-{name}: {value};")
        if self.tokens.get("radius"):
            lines.append(f"  --brand-radius: {self.tokens['radius']};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def css_etag(self) -> str:
        """A validator for the generated CSS."""
        return hashlib.sha256(self.css_variables().encode()).hexdigest()[:16]


def theme_folders(instance_path: Path) -> list[Path]:
    """Where themes are looked for: the instance's themes/ first, then the bundled ones."""
    return [instance_path / "themes", BUNDLED_THEMES]


def find_manifest(name: str, folders: list[Path]) -> Path | None:
    """The theme.yaml of theme `name` in the first folder that has one."""
    for base in folders:
        manifest_path = base / name / "theme.yaml"
        if manifest_path.is_file():
            return manifest_path
    return None


def available_themes(folders: list[Path]) -> list[str]:
    """The names of every theme in `folders`."""
    return sorted({path.parent.name for base in folders if base.is_dir() for path in base.glob("*/theme.yaml")})


def load_theme(name: str, folders: list[Path], wanted_by: Theme | None = None) -> Theme:
    """Find and validate one theme by name; raise ConfigError naming theme.yaml and the line.

    `wanted_by` is the child theme whose `parent:` names this one, so that a missing parent is
    reported at that line.
    """
    manifest_path = find_manifest(name, folders)
    if manifest_path is None:
        expected = "one of: " + ", ".join(available_themes(folders))
        if wanted_by is not None:
            raise ConfigError([ConfigIssue(str(wanted_by.folder / "theme.yaml"), wanted_by.parent_line, "parent",
                                           f"there is no theme called '{name}'", expected=expected, got=repr(name),
                                           fix="add that theme to themes/, or extend default")])
        raise ConfigError([ConfigIssue("theme", None, "theme.name", f"there is no theme called '{name}'",
                                       expected=expected, got=repr(name),
                                       fix="check theme.name, or add themes/NAME/theme.yaml")])
    manifest, located = load_yaml_document(manifest_path, ThemeManifest, reference="docs/themes.md")
    if manifest.name != name:
        raise ConfigError([ConfigIssue(str(manifest_path), located.line_for(("name",)), "name",
                                       "the theme's name differs from its folder", expected=repr(name),
                                       got=repr(manifest.name))])
    return Theme(manifest, manifest_path.parent, located.line_for(("parent",)))


def activate_theme(name: str, instance_path: Path, overrides: BrandTokens | None = None) -> ActiveTheme:
    """Resolve the parent chain of theme `name` and merge tokens (root first, instance last)."""
    folders = theme_folders(instance_path)
    chain: list[Theme] = []
    current: str | None = name
    while current is not None:
        child = chain[-1] if chain else None
        if child is not None and any(theme.name == current for theme in chain):
            raise ConfigError([ConfigIssue(str(child.folder / "theme.yaml"), child.parent_line, "parent",
                                           f"themes form a loop through '{current}'",
                                           fix="make one of them extend default")])
        theme = load_theme(current, folders, wanted_by=child)
        chain.append(theme)
        current = None if theme.name == ROOT_THEME else (theme.manifest.parent or ROOT_THEME)
    tokens: dict[str, Any] = {}
    for theme in reversed(chain):
        _merge(tokens, theme.manifest.tokens.model_dump(exclude_none=True))
    if overrides is not None:
        _merge(tokens, overrides.model_dump(exclude_none=True))
    return ActiveTheme(chain, tokens)


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict):
            _merge(target.setdefault(key, {}), value)
        else:
            target[key] = value


def template_loader(theme: ActiveTheme, instance_templates: Path, plugin_dirs: list[Path]) -> jinja2.BaseLoader:
    """Search order: instance overrides, theme chain, plugin templates, core.

    `core:NAME` always loads core's template and `THEME:NAME` a given theme's, so an override
    can extend the template it replaces.
    """
    prefixed = {"core": jinja2.FileSystemLoader(str(CORE_TEMPLATES))}
    for item in theme.chain:
        prefixed.setdefault(item.name, jinja2.FileSystemLoader(str(item.templates)))
    search = [str(instance_templates)] if instance_templates.is_dir() else []
    search += [str(item.templates) for item in theme.chain if item.templates.is_dir()]
    search += [str(folder) for folder in plugin_dirs]
    search.append(str(CORE_TEMPLATES))
    return jinja2.ChoiceLoader([jinja2.PrefixLoader(prefixed, delimiter=":"), jinja2.FileSystemLoader(search)])
