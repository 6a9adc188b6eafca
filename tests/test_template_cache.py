"""Apps built in one process share compiled templates, and never serve a stale one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from core.template_cache import TEMPLATE_CACHE, ProcessBytecodeCache, compile_fingerprint


def build_app(instance: Path) -> Any:
    """A fresh app (and so a fresh Jinja environment) for the instance folder."""
    from core.app import create_app
    from core.config import load_config

    return create_app(load_config(instance / "oss-connect.yaml"), testing=True)


def count_compiles(monkeypatch: Any) -> list[str]:
    """The names of the templates Jinja compiles from source from now on."""
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def compile_and_count(self: jinja2.Environment, source: Any, name: str | None = None, *args: Any,
                          **kwargs: Any) -> Any:
        compiled.append(name or "")
        return original(self, source, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", compile_and_count)
    return compiled


def test_a_second_app_renders_without_compiling_the_templates_again(instance, monkeypatch):
    TEMPLATE_CACHE.clear()  # earlier tests of this process compiled them already
    compiled = count_compiles(monkeypatch)
    first = build_app(instance).test_client().get("/faq")
    assert first.status_code == 200
    assert "base.html" in compiled

    compiled.clear()
    second = build_app(instance).test_client().get("/faq")
    assert second.status_code == 200
    assert second.get_data() == first.get_data()
    assert compiled == []


def test_a_changed_template_is_compiled_again_and_served_new(instance, monkeypatch):
    override = instance / "templates" / "public" / "faq.html"
    override.parent.mkdir(parents=True)
    override.write_text('{% extends "core:public/faq.html" %}{% block title %}First words{% endblock %}',
                        encoding="utf-8")
    assert "First words" in build_app(instance).test_client().get("/faq").get_data(as_text=True)

    compiled = count_compiles(monkeypatch)
    override.write_text('{% extends "core:public/faq.html" %}{% block title %}Second words{% endblock %}',
                        encoding="utf-8")
    page = build_app(instance).test_client().get("/faq").get_data(as_text=True)
    assert "Second words" in page and "First words" not in page
    assert compiled == ["public/faq.html"]


def test_environments_that_compile_differently_never_share_code(tmp_path):
    (tmp_path / "page.html").write_text("{{ text }}", encoding="utf-8")
    cache = ProcessBytecodeCache()

    def render(autoescape: bool) -> str:
        environment = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=autoescape,
                                         bytecode_cache=cache)
        return environment.get_template("page.html").render(text="<b>")

    assert render(True) == "&lt;b&gt;"
    assert render(False) == "<b>"
    assert render(True) == "&lt;b&gt;"
    assert compile_fingerprint(jinja2.Environment(autoescape=True)) != \
        compile_fingerprint(jinja2.Environment(autoescape=False))


def test_the_app_uses_the_process_cache(app):
    assert app.jinja_env.bytecode_cache is TEMPLATE_CACHE
