"""The questionnaire as a participant walks it with plain HTML forms (no JavaScript): consent first,
short steps with progress, save and finish later, errors at their fields, visibility per answer,
the preview, withdrawal and the export."""

from __future__ import annotations

import re

import pytest

from core.db import database
from core.models import Answer, Consent, Profile
from tests.conftest import csrf_token_from
from tests.profiles import DEFAULT_ANSWERS, answer_form

EMAIL = "maria@example.org"


@pytest.fixture
def oss_connect_settings():
    return {"plugins": {"questionnaire_yaml": None},
            "program": {"privacy_notice": {"version": "2026-11", "text": "We use your answers to match you."}}}


@pytest.fixture
def participant(make_user, login):
    user = make_user(EMAIL)
    login(EMAIL)
    return user


def consent(client) -> None:
    page = client.get("/profile/consent")
    response = client.post("/profile/consent", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                                     "agree": "y"})
    assert response.status_code == 302


def section_form(app, section_id: str, answers: dict, **extra) -> dict:
    """The form a browser would send for one section (werkzeug MultiDict as a list of pairs)."""
    with app.test_request_context():
        from core.api import active_questionnaire

        questionnaire = active_questionnaire()
        section = questionnaire.section(section_id)
        wanted = {q.id: answers[q.id] for q in section.questions if q.id in answers}
        form = answer_form(questionnaire, wanted)
    pairs = list(form.items(multi=True)) + list(extra.items())
    return pairs


def post_step(client, app, section_id, answers, action="continue", **extra):
    page = client.get(f"/profile/step/{section_id}")
    data = section_form(app, section_id, answers, action=action,
                        csrf_token=csrf_token_from(page.get_data(as_text=True)), **extra)
    from werkzeug.datastructures import MultiDict

    return client.post(f"/profile/step/{section_id}", data=MultiDict(data))


def count(model) -> int:
    with database.connection_context():
        return model.select().count()


def test_nothing_is_stored_before_explicit_consent(client, participant, app):
    from werkzeug.datastructures import MultiDict

    token = csrf_token_from(client.get("/profile/consent").get_data(as_text=True))
    data = section_form(app, "about", DEFAULT_ANSWERS, action="continue", csrf_token=token)
    response = client.post("/profile/step/about", data=MultiDict(data))
    assert response.status_code == 302 and response.headers["Location"].endswith("/profile/consent")
    assert count(Answer) == 0


def test_consent_without_the_box_ticked_is_refused_at_the_field(client, participant):
    page = client.get("/profile/consent")
    html = page.get_data(as_text=True)
    assert "We use your answers to match you." in html and "version 2026-11" in html
    response = client.post("/profile/consent", data={"csrf_token": csrf_token_from(html)})
    assert response.status_code == 400
    assert "Without your consent we cannot store your answers" in response.get_data(as_text=True)
    assert count(Consent) == 0


def test_consent_records_the_notice_version_its_hash_and_the_time(client, participant):
    consent(client)
    with database.connection_context():
        record = Consent.get()
    assert record.purpose == "political_views" and record.document_version == "2026-11"
    assert re.fullmatch(r"[0-9a-f]{64}", record.text_sha256)
    assert record.given_at.tzinfo is not None and record.withdrawn_at is None


def test_the_whole_questionnaire_can_be_completed_without_javascript(client, participant, app):
    consent(client)
    sections = ["about", "views", "interests", "bio", "availability"]
    for index, section in enumerate(sections):
        page = client.get(f"/profile/step/{section}")
        assert f"Step {index + 2} of 7" in page.get_data(as_text=True)
        response = post_step(client, app, section, DEFAULT_ANSWERS)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        expected = f"/profile/step/{sections[index + 1]}" if index + 1 < len(sections) else "/profile/preview"
        assert response.headers["Location"].endswith(expected)
    with database.connection_context():
        profile = Profile.get(Profile.user == participant.id)
        assert profile.completed_at is not None and profile.completed_version == 1
        assert Answer.select().where(Answer.user == participant.id).count() == 19
    preview = client.get("/profile/preview").get_data(as_text=True)
    assert "Maria G." in preview and "Gardening, Cooking" in preview
    overview = client.get("/profile/").get_data(as_text=True)
    assert "Your profile is complete" in overview


def test_a_wrong_answer_is_shown_at_its_field_and_everything_typed_is_kept(client, participant, app):
    consent(client)
    answers = {**DEFAULT_ANSWERS, "first_name": "Maria", "age_range": "12-17"}
    response = post_step(client, app, "about", answers)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="q-age_range-error">Choose one of the age ranges.' in html
    assert 'aria-describedby="q-age_range-error" aria-invalid="true"' in html
    assert 'value="Maria"' in html and 'value="Dayton"' in html
    assert count(Answer) == 0


def test_contact_details_in_the_bio_must_be_removed_before_saving(client, participant, app):
    consent(client)
    bio = "Retired machinist. Text me on 555 867 5309 or write to maria@example.org"
    response = post_step(client, app, "bio", {"bio": bio})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please remove an email address and a phone number" in html
    assert "Retired machinist. Text me on 555 867 5309" in html  # nothing typed is lost
    assert count(Answer) == 0


def test_save_and_finish_later_keeps_valid_answers_and_skips_missing_required_ones(client, participant, app):
    consent(client)
    response = post_step(client, app, "about", {"first_name": "Maria", "gender": "woman"}, action="later")
    assert response.status_code == 302 and response.headers["Location"].endswith("/profile/")
    with database.connection_context():
        stored = {row.question_id: row.value for row in Answer.select()}
        assert Profile.get().completed_at is None
    assert stored["first_name"] == "Maria" and stored["gender"] == {"choice": "woman"}
    assert "age_range" not in stored  # required and blank: asked again, not stored as skipped
    resumed = client.get("/profile/step/about").get_data(as_text=True)
    assert 'value="Maria"' in resumed and 'id="q-gender-woman" name="q-gender" value="woman" checked' in resumed


def test_finish_later_with_a_wrong_answer_saves_the_rest_and_says_so(client, participant, app):
    consent(client)
    response = post_step(client, app, "about", {"first_name": "Maria", "age_range": "12-17"}, action="later")
    assert response.status_code == 400
    assert "Your other answers are saved" in response.get_data(as_text=True)
    with database.connection_context():
        assert {row.question_id for row in Answer.select()} >= {"first_name"}


def test_each_answer_carries_the_visibility_the_participant_chose(client, participant, app):
    consent(client)
    response = post_step(client, app, "views", DEFAULT_ANSWERS, **{"v-lean": "private", "v-party": "public"})
    assert response.status_code == 302
    with database.connection_context():
        chosen = {row.question_id: row.visibility for row in Answer.select()}
    assert chosen["lean"] == "private" and chosen["party"] == "public"
    assert chosen["politics_importance"] == "private"  # the questionnaire's default


def test_an_unknown_visibility_is_refused_at_the_field(client, participant, app):
    consent(client)
    response = post_step(client, app, "about", DEFAULT_ANSWERS, **{"v-first_name": "everyone"})
    assert response.status_code == 400
    assert "Choose who may see this answer from the list." in response.get_data(as_text=True)
    assert count(Answer) == 0


def test_preview_before_saving_shows_what_a_partner_would_see_and_stores_nothing(client, participant, app):
    consent(client)
    answers = {**DEFAULT_ANSWERS, "first_name": "Rosalind", "last_initial": "K"}
    response = post_step(client, app, "about", answers, action="preview", **{"v-age_range": "private"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    preview = html[html.index('id="preview-heading"'):]
    assert "Rosalind K." in preview and "Dayton, Ohio, United States" in preview
    assert "35-44" not in preview  # chosen private
    assert count(Answer) == 0


def test_the_preview_page_uses_the_shared_profile_component_and_lists_private_answers(client, participant, app):
    from tests.profiles import complete_profile

    complete_profile(app, participant, visibility={"bio": "private", "lean": "private"})
    html = client.get("/profile/preview").get_data(as_text=True)
    card = html[html.index('class="profile-card"'):html.index("Only for matching</h2>")]
    assert "Maria G." in card and DEFAULT_ANSWERS["bio"] not in card and "on a scale from 1" not in card
    private_list = html[html.index("Only for matching</h2>"):]
    assert "Where would you place yourself politically?" in private_list


def test_a_step_that_does_not_exist_is_404(client, participant):
    consent(client)
    assert client.get("/profile/step/nope").status_code == 404


def test_a_post_without_a_csrf_token_is_refused_and_stores_nothing(client, participant):
    consent(client)
    response = client.post("/profile/step/about", data={"q-first_name": "Maria", "action": "continue"})
    assert response.status_code == 400
    assert count(Answer) == 0


def test_the_questionnaire_needs_a_signed_in_person(client):
    response = client.get("/profile/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_withdrawing_consent_erases_every_answer_and_the_profile_stops_being_complete(client, participant, app):
    from tests.profiles import complete_profile

    complete_profile(app, participant)
    page = client.get("/profile/")
    token = csrf_token_from(page.get_data(as_text=True))
    refused = client.post("/profile/withdraw", data={"csrf_token": token})
    assert refused.status_code == 302 and count(Answer) == 19  # not confirmed: nothing erased
    response = client.post("/profile/withdraw", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 302
    with database.connection_context():
        assert Answer.select().count() == 0
        assert Profile.get().completed_at is None
        assert Consent.get().withdrawn_at is not None
    assert "Start the questionnaire" in client.get("/profile/").get_data(as_text=True)


def test_the_export_holds_the_participants_own_answers_and_consents_only(client, participant, app, make_user):
    from tests.profiles import complete_profile

    complete_profile(app, participant)
    other = make_user("other@example.org")
    complete_profile(app, other, first_name="Zebedee")
    response = client.get("/profile/export.json")
    data = response.get_json()
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert data["email"] == EMAIL and len(data["answers"]) == 19 and len(data["consents"]) == 1
    assert "Zebedee" not in response.get_data(as_text=True)


@pytest.mark.parametrize("oss_connect_settings", [{}])
def test_a_site_without_a_questionnaire_plugin_explains_it(client, participant):
    response = client.get("/profile/")
    assert response.status_code == 503
    assert "enable the questionnaire_yaml plugin" in response.get_data(as_text=True)


class SubmissionRecorder:
    """A plugin that remembers every questionnaire_submitted call."""

    def __init__(self):
        self.calls = []

    from core.api import hookimpl

    @hookimpl
    def questionnaire_submitted(self, participant, questionnaire, answers):
        self.calls.append((participant.id, questionnaire.version, dict(answers)))


RECORDER = SubmissionRecorder()


@pytest.mark.parametrize("oss_connect_plugins", [{"recorder": RECORDER}])
def test_questionnaire_submitted_fires_once_the_profile_is_complete(app, participant):
    from tests.profiles import complete_profile

    RECORDER.calls.clear()
    complete_profile(app, participant)
    assert len(RECORDER.calls) == 1
    user_id, version, answers = RECORDER.calls[0]
    assert (user_id, version) == (participant.id, 1)
    assert answers["bio"].value == DEFAULT_ANSWERS["bio"] and answers["lean"].visibility == "partners"


def test_the_time_zone_answer_becomes_the_accounts_time_zone(client, participant, app):
    from core.models import User

    consent(client)
    response = post_step(client, app, "availability", DEFAULT_ANSWERS)
    assert response.status_code == 302
    with database.connection_context():
        assert User.get_by_id(participant.id).time_zone == "America/New_York"


def test_answers_of_more_participants_than_one_statement_can_name_are_read_in_batches(app, make_user):
    """PostgreSQL refuses a statement with more than 65,535 parameters; a pool of 100,000 must still load."""
    from core.questionnaire.store import answers_for_users
    from tests.profiles import complete_profile

    user = make_user(EMAIL)
    complete_profile(app, user)
    with app.test_request_context(), database.connection_context():
        found = answers_for_users([*range(10_000_000, 10_070_000), user.id], "default")
        only_lean = answers_for_users([user.id], "default", question_ids=["lean"])
    assert len(found) == 70_001 and found[user.id]["first_name"].value == "Maria"
    assert set(only_lean[user.id]) == {"lean"}
