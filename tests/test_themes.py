"""Themes: a theme overrides one template, falls back to its parent and core, and its tokens reach the CSS.

Most tests run the example partner theme, themes/riverbend-radio, which extends themes/default
and replaces only the landing page's hero.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config.errors import ConfigError
from core.testing import base_test_config as config_for_tests
from core.themes import BUNDLED_THEMES, CORE_TEMPLATES, activate_theme

RADIO = BUNDLED_THEMES / "riverbend-radio"
DEFAULT = BUNDLED_THEMES / "default"
OSS_CONNECT = Path(sys.executable).with_name("oss-connect")


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The example partner theme."""
    return {"theme": {"name": "riverbend-radio"}}


def manifest_tokens(folder: Path) -> dict[str, Any]:
    """The tokens a bundled theme's theme.yaml sets itself."""
    return yaml.safe_load((folder / "theme.yaml").read_text(encoding="utf-8"))["tokens"]


def build_app(instance: Path) -> Any:
    """An app for an instance folder prepared by the test (templates or themes written first)."""
    from core.app import create_app
    from core.config import load_config

    return create_app(load_config(instance / "oss-connect.yaml"), testing=True)


def write(path: Path, text: str) -> Path:
    """Write a file, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- templates: the override, and the fallback to the parent theme and core ---------------------------


def test_example_theme_replaces_the_landing_page_hero(client):
    page = client.get("/").get_data(as_text=True)
    assert "Listen to each other." in page
    assert "88.5" in page
    assert "/theme/static/img/logo-reverse.svg" in page
    assert "Take part" not in page, "the default hero's call to action should be replaced"


def test_example_theme_keeps_the_rest_of_the_core_landing_page(client):
    page = client.get("/").get_data(as_text=True)
    assert "How it works" in page
    assert 'id="newsletter-title"' in page


def test_example_theme_adds_its_stylesheet_to_the_landing_page(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/theme/static/css/radio.css">' in page
    stylesheet = client.get("/theme/static/css/radio.css")
    assert stylesheet.status_code == 200
    assert stylesheet.mimetype == "text/css"


@pytest.mark.parametrize("path", ["/login", "/faq"])
def test_pages_the_theme_does_not_override_come_from_the_parent_theme(client, path):
    page = client.get(path).get_data(as_text=True)
    assert '<a class="skip-link" href="#main">' in page, "base.html should come from themes/default"
    assert '<img class="brand-logo" src="/theme/static/img/logo.svg" alt="Riverbend Public Radio"' in page
    assert "Listen to each other." not in page


def test_each_template_resolves_to_the_nearest_layer_that_has_it(app):
    def origin(name: str) -> Path:
        return Path(app.jinja_env.get_template(name).filename).resolve()

    assert origin("public/landing.html") == RADIO / "templates" / "public" / "landing.html"
    assert origin("base.html") == DEFAULT / "templates" / "base.html"
    assert origin("auth/login.html") == CORE_TEMPLATES / "auth" / "login.html"


def test_core_prefix_loads_the_core_template_even_when_a_theme_overrides_it(app):
    template = app.jinja_env.get_template("core:public/landing.html")
    assert Path(template.filename).resolve() == CORE_TEMPLATES / "public" / "landing.html"


# --- brand tokens -> /theme/tokens.css ------------------------------------------------------------------


def test_tokens_css_has_the_theme_colours_as_custom_properties(client):
    response = client.get("/theme/tokens.css")
    css = response.get_data(as_text=True)
    assert response.mimetype == "text/css"
    for name, value in manifest_tokens(RADIO)["colors"].items():
        assert f"--brand-{name.replace('_', '-')}: {value};" in css
    assert f"--brand-font-heading: {manifest_tokens(RADIO)['fonts']['heading']};" in css
    assert "--brand-radius: 10px;" in css


def test_tokens_css_takes_the_parent_value_of_every_token_the_theme_leaves_unset(client):
    css = client.get("/theme/tokens.css").get_data(as_text=True)
    radio, default = manifest_tokens(RADIO), manifest_tokens(DEFAULT)
    inherited = set(default["colors"]) - set(radio["colors"])
    assert inherited >= {"danger", "success"}, "the example theme should leave some colours to its parent"
    for name in inherited:
        assert f"--brand-{name}: {default['colors'][name]};" in css
    assert "body" not in radio["fonts"]
    assert f"--brand-font-body: {default['fonts']['body']};" in css


@pytest.mark.parametrize("oss_connect_settings", [{"theme": {
    "name": "riverbend-radio", "tokens": {"colors": {"primary": "#123456"}, "radius": "2px"}}}])
def test_instance_tokens_win_over_the_theme(client):
    css = client.get("/theme/tokens.css").get_data(as_text=True)
    assert "--brand-primary: #123456;" in css
    assert "--brand-radius: 2px;" in css
    assert manifest_tokens(RADIO)["colors"]["primary"] not in css


def test_tokens_css_can_be_revalidated_with_its_etag(client):
    first = client.get("/theme/tokens.css")
    again = client.get("/theme/tokens.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


# --- the instance's own templates folder and themes folder ----------------------------------------------


def test_instance_template_overrides_and_extends_the_core_template(instance):
    write(instance / "templates" / "public" / "faq.html",
          '{% extends "core:public/faq.html" %}{% block title %}Listener questions{% endblock %}'
          "{% block content %}{{ super() }}<p>Call the station on 555-0188.</p>{% endblock %}")
    page = build_app(instance).test_client().get("/faq").get_data(as_text=True)
    assert "<title>Listener questions · " in page
    assert "Is this a debate?" in page, "super() should keep core's questions"
    assert "Call the station on 555-0188." in page


def test_instance_template_can_extend_a_named_theme_template(instance):
    write(instance / "templates" / "public" / "landing.html",
          '{% extends "riverbend-radio:public/landing.html" %}'
          "{% block hero %}{{ super() }}<p>Pledge week starts Monday.</p>{% endblock %}")
    page = build_app(instance).test_client().get("/").get_data(as_text=True)
    assert "Listen to each other." in page
    assert "Pledge week starts Monday." in page


@pytest.mark.parametrize("oss_connect_settings", [{"theme": {"name": "library"}}])
def test_theme_in_the_instance_themes_folder_is_found_and_extends_a_bundled_one(instance):
    write(instance / "themes" / "library" / "theme.yaml",
          "name: library\nparent: riverbend-radio\ntokens:\n  colors:\n    primary: '#2d4a22'\n")
    client = build_app(instance).test_client()
    assert "--brand-primary: #2d4a22;" in client.get("/theme/tokens.css").get_data(as_text=True)
    assert "Listen to each other." in client.get("/").get_data(as_text=True), "the grandparent's hero"


# --- static files ---------------------------------------------------------------------------------------


def test_theme_static_files_fall_back_to_the_parent_theme(client):
    stylesheet = client.get("/theme/static/css/site.css")
    assert stylesheet.status_code == 200
    assert stylesheet.data == (DEFAULT / "static" / "css" / "site.css").read_bytes()


def test_theme_static_files_of_the_theme_itself_win(client):
    logo = client.get("/theme/static/img/logo.svg")
    assert logo.status_code == 200
    assert logo.data == (RADIO / "static" / "img" / "logo.svg").read_bytes()
    assert logo.data != (DEFAULT / "static" / "img" / "logo.svg").read_bytes()


@pytest.mark.parametrize("path", [
    "/theme/static/../theme.yaml",
    "/theme/static/%2e%2e/theme.yaml",
    "/theme/static/css/../../theme.yaml",
    "/theme/static/..%2f..%2fdefault/theme.yaml",
    "/theme/static/../../../core/app.py",
])
def test_theme_static_refuses_paths_outside_static(client, path):
    assert client.get(path).status_code == 404


def test_theme_static_answers_404_for_a_missing_file(client):
    assert client.get("/theme/static/img/no-such-logo.svg").status_code == 404


# --- theme.yaml errors ------------------------------------------------------------------------------------


BROKEN_THEMES = {
    "unknown key": ("name: broken\ncolour: red\n", "broken/theme.yaml:2: colour: unknown key"),
    "bad colour": ("name: broken\ntokens:\n  colors:\n    primary: blue\n",
                   "broken/theme.yaml:4: tokens.colors.primary: invalid value"),
    "unsafe font": ("name: broken\ntokens:\n  fonts:\n    body: 'x; } body { display: none'\n",
                    "broken/theme.yaml:4: tokens.fonts.body: invalid value"),
    "name differs from folder": ("# a copied theme\nname: default\n",
                                 "broken/theme.yaml:2: name: the theme's name differs from its folder"),
    "missing parent": ("name: broken\nparent: nowhere\n",
                       "broken/theme.yaml:2: parent: there is no theme called 'nowhere'"),
    "parent loop": ("name: broken\nparent: partner\n", "partner/theme.yaml:2: parent: themes form a loop"),
    "malformed YAML": ("name: broken\ntokens: [\n", "broken/theme.yaml:"),
}


@pytest.mark.parametrize("case", BROKEN_THEMES, ids=list(BROKEN_THEMES))
def test_broken_theme_yaml_is_reported_with_file_and_line(tmp_path, case):
    text, expected = BROKEN_THEMES[case]
    write(tmp_path / "themes" / "broken" / "theme.yaml", text)
    write(tmp_path / "themes" / "partner" / "theme.yaml", "name: partner\nparent: broken\n")
    with pytest.raises(ConfigError) as raised:
        activate_theme("broken", tmp_path)
    assert expected in str(raised.value), str(raised.value)


def run_check(instance: Path, database_url: str, theme: str) -> subprocess.CompletedProcess[str]:
    """`oss-connect check` on an instance whose config selects `theme`, as a real process."""
    config = instance / "oss-connect.yaml"
    config.write_text(yaml.safe_dump(config_for_tests(database_url, instance, {"theme": {"name": theme}})),
                      encoding="utf-8")
    return subprocess.run([str(OSS_CONNECT), "check", "--config", str(config)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_check_command_exits_2_on_a_broken_theme(tmp_path, database_url):
    write(tmp_path / "themes" / "broken" / "theme.yaml", "name: broken\ncolour: red\n")
    result = run_check(tmp_path, database_url, "broken")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "themes/broken/theme.yaml:2: colour: unknown key" in result.stdout + result.stderr


def test_check_command_accepts_the_example_theme(tmp_path, database_url):
    result = run_check(tmp_path, database_url, "riverbend-radio")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "theme riverbend-radio" in result.stdout


# --- accessibility of the tokens ----------------------------------------------------------------------


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a #rgb or #rrggbb colour."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(character * 2 for character in digits)
    channels = [int(digits[index:index + 2], 16) / 255 for index in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio, from 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


TEXT_PAIRS = [("text", "background"), ("text", "surface"), ("muted", "background"), ("muted", "surface"),
              ("primary", "background"), ("primary", "surface"), ("on_primary", "primary"),
              ("on_accent", "accent"), ("danger", "background"), ("danger", "surface"),
              ("success", "background"), ("success", "surface")]
FOCUS_PAIRS = [("focus", "background"), ("focus", "surface"), ("focus", "accent")]


def test_contrast_formula_matches_known_ratios():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


@pytest.mark.parametrize("theme", sorted(path.parent.name for path in BUNDLED_THEMES.glob("*/theme.yaml")))
def test_bundled_theme_colours_meet_wcag_aa_contrast(tmp_path, theme):
    colours = activate_theme(theme, tmp_path).tokens["colors"]
    too_low = [f"{fg} on {bg}: {contrast(colours[fg], colours[bg]):.2f}:1 (text needs 4.5:1)"
               for fg, bg in TEXT_PAIRS if contrast(colours[fg], colours[bg]) < 4.5]
    too_low += [f"{fg} against {bg}: {contrast(colours[fg], colours[bg]):.2f}:1 (a focus ring needs 3:1)"
                for fg, bg in FOCUS_PAIRS if contrast(colours[fg], colours[bg]) < 3]
    assert not too_low, "\n".join(too_low)
