"""Every hook is declared with a docstring, documented with its exact signature, and tested.

Adding a hookspec to core/hookspecs.py without a section in docs/plugins.md or a test plugin that
implements it (an `@hookimpl` function of that name somewhere under tests/) fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
HOOK_NAMES = sorted(name for name, value in vars(hookspecs).items()
                    if callable(value) and hasattr(value, "oss_connect_spec"))
IMPLEMENTATION = re.compile(r"@hookimpl\b[^\n]*\n(?:\s*@[^\n]*\n)*\s*def (\w+)\(")


def signature(name: str) -> str:
    """A hook's call signature as the guide writes it: `name(arg1, arg2)`."""
    return f"{name}({', '.join(inspect.signature(getattr(hookspecs, name)).parameters)})"


def implemented_in_tests() -> set[str]:
    """Names of every function decorated with @hookimpl in the tests folder (test plugins included)."""
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        if path.name != Path(__file__).name and "build" not in path.parts:
            found.update(IMPLEMENTATION.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_hookspecs_are_found():
    assert {"startup", "render_slot", "register_call_providers", "item_archived"} <= set(HOOK_NAMES)


def test_the_signature_is_written_as_in_the_guide():
    assert signature("extra_template_vars") == "extra_template_vars(template, request)"
    assert signature("register_config_schema") == "register_config_schema()"


def test_the_implementation_finder_sees_decorated_methods_and_functions():
    source = ("@hookimpl\ndef startup(app):\n    pass\n\n"
              "    @hookimpl(tryfirst=True)\n    @other\n    def render_slot(self, slot):\n")

    assert IMPLEMENTATION.findall(source) == ["startup", "render_slot"]


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hook_has_a_docstring(name):
    docstring = inspect.getdoc(getattr(hookspecs, name))

    assert docstring and len(docstring) > 20, f"core/hookspecs.py: {name} needs a docstring saying what it is for"


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hook_is_documented_with_its_exact_signature(name):
    guide = GUIDE.read_text(encoding="utf-8")

    assert f"`{signature(name)}`" in guide, f"docs/plugins.md does not document `{signature(name)}`"


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hook_is_implemented_by_a_test_plugin(name):
    assert name in implemented_in_tests(), f"no test under tests/ implements the hook {name} with @hookimpl"


# --- the rest of the guide stays true ------------------------------------------------------------

SLOT_CALL = re.compile(r"""\bslot\(\s*["']([a-z_]+)["']""")
TEMPLATE_FOLDERS = [ROOT / "core" / "templates", *sorted((ROOT / "themes").glob("*/templates"))]
EXAMPLE = ROOT / "tests" / "plugins" / "dist_hello"
EXAMPLE_FILES = ["pyproject.toml", "setup.cfg", "oss_hello/__init__.py", "tests/test_hello.py"]


def slots_in_templates() -> set[str]:
    """Every slot name core's and the bundled themes' templates call."""
    return {name for folder in TEMPLATE_FOLDERS for path in folder.rglob("*.html")
            for name in SLOT_CALL.findall(path.read_text(encoding="utf-8"))}


def fenced_blocks(markdown: str) -> list[str]:
    """The contents of every fenced code block."""
    return re.findall(r"^```[\w-]*\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_the_slot_finder_sees_the_footer_slot():
    assert {"footer", "login_aside"} <= slots_in_templates()


@pytest.mark.parametrize("name", sorted(slots_in_templates()))
def test_template_slot_is_listed_in_the_guide(name):
    assert f"| `{name}` |" in GUIDE.read_text(encoding="utf-8"), f"docs/plugins.md does not list the slot {name}"


def test_every_core_api_name_is_described_in_the_guide():
    import core.api

    guide = GUIDE.read_text(encoding="utf-8")
    missing = [name for name in core.api.__all__ if f"`{name}`" not in guide and f"`{name}(" not in guide]

    assert missing == [], f"docs/plugins.md does not describe core.api's {', '.join(missing)}"


@pytest.mark.parametrize("relative", EXAMPLE_FILES)
def test_guide_shows_the_tested_example_plugin_file_verbatim(relative):
    content = (EXAMPLE / relative).read_text(encoding="utf-8")

    assert content in fenced_blocks(GUIDE.read_text(encoding="utf-8")), (
        f"docs/plugins.md must show tests/plugins/dist_hello/{relative} exactly as it is")
