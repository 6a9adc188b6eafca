"""A questionnaire YAML with mistakes is a configuration error in the foundation's format: the file,
the line, the key, what is wrong and the fix; `oss-connect check` exits with code 2."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXECUTABLE = Path(sys.executable).parent / "oss-connect"

GOOD_QUESTIONS = """\
id: test
version: 1
sections:
  - id: about
    title: About you
    questions:
      - id: first_name
        type: short_text
        label: First name
      - id: lean
        type: scale
        label: Where are you?
        role: political_lean
        scale: {min: 1, max: 7, min_label: Left, max_label: Right}
"""


def write_instance(folder: Path, questionnaire: str) -> Path:
    (folder / "questions.yaml").write_text(questionnaire, encoding="utf-8")
    config = {"site": {"secret_key": secrets.token_urlsafe(40)}, "database": {"url": "sqlite:///db.sqlite3"},
              "plugins": {"questionnaire_yaml": {"file": "questions.yaml"}}}
    (folder / "oss-connect.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder / "oss-connect.yaml"


def problems(folder: Path, questionnaire: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_instance(folder, questionnaire))
    return [issue.format() for issue in caught.value.issues]


def test_a_good_questionnaire_loads(tmp_path):
    loaded = load_config(write_instance(tmp_path, GOOD_QUESTIONS))
    assert [q.id for q in loaded.plugin_settings("questionnaire_yaml").questionnaire.questions()] == [
        "first_name", "lean"]


def test_the_bundled_default_questionnaire_is_used_when_no_file_is_named(tmp_path):
    config = write_instance(tmp_path, GOOD_QUESTIONS)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["plugins"]["questionnaire_yaml"] = None
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    questionnaire = load_config(config).plugin_settings("questionnaire_yaml").questionnaire
    assert questionnaire.question("bio") is not None


def test_a_duplicate_question_id_names_the_file_the_line_and_the_first_use(tmp_path):
    text = GOOD_QUESTIONS.replace("      - id: lean", "      - id: first_name")
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'questions.yaml'}:10: sections[0].questions[1].id: question id 'first_name' is "
                     "used twice (first at line 7); give every question its own id; answers are stored by id, so "
                     "never reuse one for a different question"]


def test_an_unknown_question_type_lists_the_allowed_types(tmp_path):
    found = problems(tmp_path, GOOD_QUESTIONS.replace("type: short_text", "type: essay"))
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'questions.yaml'}:8: sections[0].questions[0].type: not one of the "
                               "allowed values (expected one of 'single_choice', 'multiple_choice'")
    assert "got 'essay' (text)" in found[0]


def test_a_matching_role_on_the_wrong_type_says_which_type_it_needs(tmp_path):
    found = problems(tmp_path, GOOD_QUESTIONS.replace("type: scale", "type: short_text").replace(
        "        scale: {min: 1, max: 7, min_label: Left, max_label: Right}\n", ""))
    assert found == [f"{tmp_path / 'questions.yaml'}:13: sections[0].questions[1].role: role political_lean "
                     "needs a scale question, not short_text; change the type, or choose another role (or none)"]


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD_QUESTIONS.replace("type: short_text", "type: essay").replace("version: 1", "version: zero")
    found = problems(tmp_path, text)
    assert len(found) == 2
    assert any(":2: version: wrong type" in line for line in found)


def test_a_missing_questionnaire_file_is_reported_with_its_path(tmp_path):
    config = write_instance(tmp_path, GOOD_QUESTIONS)
    (tmp_path / "questions.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert f"{tmp_path / 'questions.yaml'}: (file): the file does not exist" in str(caught.value)


def test_a_yaml_syntax_error_in_the_questionnaire_points_at_its_line(tmp_path):
    found = problems(tmp_path, GOOD_QUESTIONS.replace("label: First name", "label: [First name"))
    assert found and found[0].startswith(f"{tmp_path / 'questions.yaml'}:")


def test_oss_connect_check_exits_2_and_prints_the_questionnaire_problem(tmp_path):
    config = write_instance(tmp_path, GOOD_QUESTIONS.replace("type: short_text", "type: essay"))
    result = subprocess.run([str(EXECUTABLE), "check", "--config", str(config)], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert f"{tmp_path / 'questions.yaml'}:8: sections[0].questions[0].type: not one of the allowed values" in (
        result.stderr)
    assert "Traceback" not in result.stderr
