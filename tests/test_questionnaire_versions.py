"""Changing the questionnaire never breaks or drops stored answers: answers are kept by question id
and version, and a participant is asked only for what is new or no longer fits."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.app import create_app
from core.config import load_config
from core.db import database
from core.models import Answer, Profile
from tests.conftest import csrf_token_from
from tests.profiles import complete_profile

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "maria@example.org"


def write_questionnaire(path: Path, change=None) -> Path:
    data = yaml.safe_load((ROOT / "config" / "questionnaire.yaml").read_text(encoding="utf-8"))
    if change:
        change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def version_two(data: dict) -> None:
    """Add a question, remove one, and drop a choice that stored answers use."""
    data["version"] = 2
    sections = {section["id"]: section for section in data["sections"]}
    sections["interests"]["questions"].append(
        {"id": "pets", "type": "single_choice", "label": "Do you have pets?", "role": "life_stage",
         "choices": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]})
    views = sections["views"]["questions"]
    sections["views"]["questions"] = [q for q in views if q["id"] != "issue_economy"]
    party = next(q for q in sections["views"]["questions"] if q["id"] == "party")
    party["choices"] = [c for c in party["choices"] if c["value"] != "democratic"] + [
        {"value": "democrat", "label": "Democratic Party"}]


@pytest.fixture
def oss_connect_settings(tmp_path):
    path = write_questionnaire(tmp_path / "questionnaire-v1.yaml")
    return {"plugins": {"questionnaire_yaml": {"file": str(path)}}}


def app_with_questionnaire(instance: Path, path: Path):
    config = yaml.safe_load((instance / "oss-connect.yaml").read_text(encoding="utf-8"))
    config["plugins"]["questionnaire_yaml"] = {"file": str(path)}
    (instance / "oss-connect-v2.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return create_app(load_config(instance / "oss-connect-v2.yaml"), testing=True)


@pytest.fixture
def upgraded(app, instance, make_user, tmp_path):
    """A participant who completed version 1, and an app serving version 2."""
    user = make_user(EMAIL)
    complete_profile(app, user)
    new_app = app_with_questionnaire(instance, write_questionnaire(tmp_path / "questionnaire-v2.yaml", version_two))
    return user, new_app


def sign_in(client):
    page = client.get("/login")
    response = client.post("/login", data={"email": EMAIL, "password": "correct horse battery",
                                           "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 302


def test_every_old_answer_is_kept_after_the_questionnaire_changes(upgraded):
    user, new_app = upgraded
    client = new_app.test_client()
    sign_in(client)
    client.get("/profile/")
    with database.connection_context():
        stored = {row.question_id: row.value for row in Answer.select().where(Answer.user == user.id)}
    assert len(stored) == 19
    assert stored["issue_economy"] == 2  # removed from the questionnaire, not from the participant's data
    assert stored["party"] == {"choice": "democratic"}


def test_the_participant_is_asked_only_for_what_is_new_or_no_longer_fits(upgraded):
    _, new_app = upgraded
    client = new_app.test_client()
    sign_in(client)
    overview = client.get("/profile/").get_data(as_text=True)
    assert "The questionnaire changed" in overview and "2 questions are new" in overview
    page = client.get("/profile/update").get_data(as_text=True)
    asked = set(__import__("re").findall(r'id="question-([a-z_]+)"', page))
    assert asked == {"party", "pets"}
    assert page.count('class="badge">New<') == 2


def test_answering_what_is_new_completes_the_profile_under_the_new_version(upgraded):
    user, new_app = upgraded
    client = new_app.test_client()
    sign_in(client)
    with database.connection_context():
        assert Profile.get(Profile.user == user.id).completed_version == 1
    page = client.get("/profile/update")
    response = client.post("/profile/update", data={
        "csrf_token": csrf_token_from(page.get_data(as_text=True)), "action": "continue",
        "q-party": "democrat", "q-pets": "no"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    with database.connection_context():
        profile = Profile.get(Profile.user == user.id)
        party_rows = {row.version: row.value for row in Answer.select().where(
            (Answer.user == user.id) & (Answer.question_id == "party"))}
    assert profile.completed_at is not None and profile.completed_version == 2
    assert party_rows == {1: {"choice": "democratic"}, 2: {"choice": "democrat"}}  # the old answer stays
    assert client.get("/profile/update").status_code == 302  # nothing left to ask


def test_a_new_optional_question_once_seen_and_left_blank_is_not_asked_again(upgraded):
    _, new_app = upgraded
    client = new_app.test_client()
    sign_in(client)
    page = client.get("/profile/update")
    client.post("/profile/update", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                         "action": "continue", "q-party": "republican"})
    assert "Your profile is complete" in client.get("/profile/").get_data(as_text=True)


def test_an_unchanged_questionnaire_asks_for_nothing(app, make_user, client, login):
    user = make_user(EMAIL)
    complete_profile(app, user)
    login(EMAIL)
    assert "Your profile is complete" in client.get("/profile/").get_data(as_text=True)
    assert client.get("/profile/update").status_code == 302
