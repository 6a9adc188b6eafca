"""The conversation guide file: the bundled one is valid and follows the program's shape, `init`
copies it, and every mistake is reported by `oss-connect check` with file, line, key and fix (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from core.room.guide import BUNDLED_GUIDE, load_guide
from tests.test_config_errors import SECRET, check, run_cli

GUIDE = yaml.safe_load(BUNDLED_GUIDE.read_text(encoding="utf-8"))


def config_with_guide(guide_name: str = "guide.yaml", recorded: int = 50) -> str:
    return f"""
        site:
          secret_key: {SECRET}
        scheduling:
          recorded_minutes: {recorded}
        room:
          guide: {guide_name}
    """


def test_the_bundled_guide_has_the_four_phases_and_adds_up_to_fifty_minutes():
    guide = load_guide(BUNDLED_GUIDE, 50)
    assert [phase.id for phase in guide.phases] == ["welcome", "introductions", "questions", "closing"]
    assert guide.total_minutes == 50 and guide.cues_minutes_left == [10, 2]
    texts = " ".join(prompt.text for phase in guide.phases for prompt in phase.prompts).lower()
    for theme in ("grow up", "shaped", "hard moment", "hope"):
        assert theme in texts


def test_init_copies_the_guide_and_keeps_an_edited_copy(tmp_path):
    assert run_cli(tmp_path, "init", "--instance", "site").code == 0
    copy = tmp_path / "site" / "conversation_guide.yaml"
    assert copy.read_text(encoding="utf-8") == BUNDLED_GUIDE.read_text(encoding="utf-8")
    copy.write_text(copy.read_text(encoding="utf-8").replace('title: "Our conversation"', 'title: "Ours"'),
                    encoding="utf-8")
    assert run_cli(tmp_path, "init", "--instance", "site").code == 0
    assert 'title: "Ours"' in copy.read_text(encoding="utf-8")


def write_guide(folder: Path, text: str) -> Path:
    path = folder / "guide.yaml"
    path.write_text(text, encoding="utf-8")
    return path.resolve()


def test_phases_that_do_not_add_up_are_refused_with_the_sum_and_the_fix(tmp_path):
    guide = write_guide(tmp_path, BUNDLED_GUIDE.read_text(encoding="utf-8").replace("minutes: 32", "minutes: 27"))
    _, outcome = check(tmp_path, config_with_guide())
    assert outcome.code == 2
    line = next(number for number, text in enumerate(guide.read_text().splitlines(), 1) if text == "phases:")
    assert outcome.errors[1] == (
        f"{guide}:{line}: phases: the phases last 45 minutes in all, but scheduling.recorded_minutes is 50; "
        "change the phases' `minutes:` so that they add up to 50, or change scheduling.recorded_minutes in the "
        "config")


def test_a_shorter_recording_needs_a_shorter_guide(tmp_path):
    shutil.copy(BUNDLED_GUIDE, tmp_path / "guide.yaml")
    _, outcome = check(tmp_path, config_with_guide(recorded=40))
    assert outcome.code == 2 and "the phases last 50 minutes in all, but scheduling.recorded_minutes is 40" in \
        "\n".join(outcome.errors)


def test_a_duplicate_prompt_id_an_unknown_key_and_a_missing_text_are_located(tmp_path):
    guide = write_guide(tmp_path, """version: "1"
phases:
  - id: only
    title: Only
    minutes: 50
    colour: blue
    prompts:
      - id: same
        text: "Where did you grow up?"
      - id: same
        text: "Who shaped you?"
      - id: third
""")
    _, outcome = check(tmp_path, config_with_guide())
    text = "\n".join(outcome.errors)
    assert outcome.code == 2
    assert f"{guide}:6: phases[0].colour: unknown key" in text
    assert f"{guide}:12: phases[0].prompts[2].text: a required key is missing" in text
    assert "(expected one of: id, minutes, prompts, text, tips, title, got 'colour')" in text


def test_a_duplicate_id_is_reported(tmp_path):
    guide = write_guide(tmp_path, """version: "1"
phases:
  - {id: one, title: One, minutes: 25, prompts: [{id: same, text: "Where did you grow up?"}]}
  - {id: two, title: Two, minutes: 25, prompts: [{id: same, text: "Who shaped you?"}]}
""")
    _, outcome = check(tmp_path, config_with_guide())
    assert outcome.code == 2 and "the prompt id 'same' is used twice" in "\n".join(outcome.errors)
    assert outcome.errors[1] == (f"{guide}:4: phases[1].prompts[0].id: the prompt id 'same' is used twice (first "
                                 "at line 3); give each prompt its own id")


def test_a_cue_before_the_start_is_refused(tmp_path):
    write_guide(tmp_path, BUNDLED_GUIDE.read_text(encoding="utf-8").replace("cues_minutes_left: [10, 2]",
                                                                            "cues_minutes_left: [60]"))
    _, outcome = check(tmp_path, config_with_guide())
    assert outcome.code == 2 and "cues_minutes_left: a time cue 60 minutes before the end" in "\n".join(outcome.errors)


def test_a_missing_guide_file_names_the_fix(tmp_path):
    config, outcome = check(tmp_path, config_with_guide("nowhere.yaml"))
    assert outcome.code == 2
    assert outcome.errors[1] == (
        f"{config}:6: room.guide: the conversation guide {tmp_path.resolve() / 'nowhere.yaml'} does not exist; run "
        "`oss-connect init` to copy the default guide into the instance folder, or leave room.guide empty to use the "
        "bundled one")


def test_yaml_syntax_errors_in_the_guide_are_located(tmp_path):
    guide = write_guide(tmp_path, 'version: "1"\nphases:\n  - id: [unclosed\n')
    _, outcome = check(tmp_path, config_with_guide())
    assert outcome.code == 2 and f"{guide}:" in "\n".join(outcome.errors)
