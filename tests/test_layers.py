"""Layers only reach down: core's own modules never import the plugin facade core.api (DESIGN.md, rule 5)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"
ON_TOP = {"api.py", "testing.py", "call_contract.py", "archive_contract.py"}
"""The facade and what sits on top of it (contract suites and the pytest plugin for plugin authors)."""


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at module level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_core_module_imports_the_plugin_facade():
    offenders = sorted(str(path.relative_to(CORE.parent)) for path in CORE.rglob("*.py")
                       if path.name not in ON_TOP or path.parent != CORE
                       if "core.api" in imports_of(path))
    assert offenders == [], f"these core modules import core.api; use core.platform instead: {offenders}"


def test_the_check_finds_an_import_of_the_facade(tmp_path):
    module = tmp_path / "example.py"
    module.write_text("def later():\n    from core.api import platform\n", encoding="utf-8")
    assert "core.api" in imports_of(module)
