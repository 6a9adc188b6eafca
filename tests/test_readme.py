"""The README's promises: exactly two set-up commands, both real Makefile targets, and live links."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def setup_section() -> str:
    return README.split("## Set up", 1)[1].split("\n## ", 1)[0]


def test_setup_has_exactly_two_commands_run_and_test():
    blocks = re.findall(r"```sh\n(.*?)```", setup_section(), flags=re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def test_make_run_initialises_then_serves():
    plan = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    init = plan.index("oss-connect init --instance instance")
    serve = plan.index("oss-connect run --config instance/oss-connect.yaml")
    assert init < serve


def test_make_test_runs_both_databases_and_installs_chromium():
    plan = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "tests/run-suite.sh .venv/bin auto" in plan
    assert "chromium" in plan
    script = (ROOT / "tests" / "run-suite.sh").read_text(encoding="utf-8")
    assert '--db postgresql' in script and '--db sqlite' in script


def test_ci_calls_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_relative_link_in_the_readme_exists():
    targets = re.findall(r"\]\((?!https?://)([^)#]+)\)", README)
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README links to missing files: {missing}"
