"""The participants' "After your conversation" pages with a real test client and database: who reaches
them, each person's choices (recorded with the release's version and SHA-256), the partner's status, the
deadline, the description both approve, the emails, and bad input answered with messages."""

from __future__ import annotations

import datetime as dt
import hashlib
import html as html_lib
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import plugins.archive_site
from core.db import database
from tests.archive_helpers import DESCRIPTION, choose, processed
from tests.conftest import csrf_token_from
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

RELEASE = {"version": "2026-11", "text": "First paragraph of the release: we each decide.\n\n"
                                         "Second paragraph: I can withdraw later."}
SETTINGS = {**ROOM_SETTINGS, "archive": {"decision_days": 30, "release": RELEASE}}
EMAILS = ("ann@example.org", "ben@example.org")


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {**room_plugins(), "archive_site": plugins.archive_site}


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    """Ann and Ben's conversation, ended an hour ago, with a processed recording."""
    found = booked(app, cast["ann"], cast["ben"], minutes_ago=140)
    processed(app, found)
    return found


@pytest.fixture
def planned(monkeypatch) -> list[int]:
    """The conversations the real `plan` was called for (it still runs: this only listens)."""
    from core.archive import deposits

    calls: list[int] = []
    real_plan = deposits.plan

    def listening(conversation: Any) -> bool:
        calls.append(conversation.id)
        return real_plan(conversation)

    monkeypatch.setattr(deposits, "plan", listening)
    return calls


def as_user(app: Any, login: Any, email: str) -> Any:
    other = app.test_client()
    login(email, test_client=other)
    return other


def page_of(client: Any, conversation: Any) -> str:
    response = client.get(f"/conversations/{conversation.id}/archive")
    assert response.status_code == 200
    return html_lib.unescape(response.get_data(as_text=True))


def post(client: Any, conversation: Any, path: str, data: dict[str, Any]) -> Any:
    token = csrf_token_from(client.get(f"/conversations/{conversation.id}/archive").get_data(as_text=True))
    return client.post(f"/conversations/{conversation.id}/archive{path}", data={"csrf_token": token, **data})


def save(client: Any, conversation: Any, **ticked: bool) -> Any:
    return post(client, conversation, "/choices", {key: "y" for key, value in ticked.items() if value})


def flashed(response: Any, client: Any) -> str:
    """The page a redirect leads to, unescaped (its flash message included)."""
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return html_lib.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def result_row(html: str, purpose: str) -> str:
    found = re.search(rf'<div class="profile-field" data-purpose="{purpose}">(.*?)</div>', html, re.S)
    assert found, f"no status row for {purpose}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def standing(app: Any, conversation: Any, user: Any) -> Any:
    from core.archive.consent import choice_of

    with app.app_context(), database.connection_context():
        return choice_of(conversation.id, user.id)


def propose_data(**fields: Any) -> dict[str, str]:
    values = {**DESCRIPTION, **fields}
    return {"title": values["title"], "summary": values["summary"], "keywords": ", ".join(values["keywords"]),
            "people": ", ".join(values["people"]), "places": "\n".join(values["places"]),
            "organisations": ", ".join(values["organisations"]), "languages": ", ".join(values["languages"]),
            "location": values["location"]}


def proposals(app: Any, conversation: Any) -> list[Any]:
    from core.models.archive import DescriptionProposal

    with app.app_context(), database.connection_context():
        return list(DescriptionProposal.select().where(DescriptionProposal.conversation == conversation.id)
                    .order_by(DescriptionProposal.id))


def test_only_the_two_participants_reach_the_pages(app, client, login, cast, conversation):
    url = f"/conversations/{conversation.id}/archive"
    signed_out = client.get(url)
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    for email in EMAILS:
        assert as_user(app, login, email).get(url).status_code == 200
    for email in ("cal@example.org", "fay@example.org", "ada@example.org"):
        other = as_user(app, login, email)
        assert other.get(url).status_code == 404, email
        token = csrf_token_from(other.get("/account").get_data(as_text=True))
        for path in ("/choices", "/description", "/description/1/decide"):
            answer = other.post(url + path, data={"csrf_token": token, "public": "y", "decision": "approve",
                                                  **propose_data()})
            assert answer.status_code == 404, (email, path)
    assert as_user(app, login, "ann@example.org").get(f"/conversations/{conversation.id + 999}/archive").status_code \
        == 404
    assert standing(app, conversation, cast["ann"]) is None and proposals(app, conversation) == []


def test_the_page_shows_the_release_the_choices_the_partner_the_deadline_and_the_player(app, login, cast,
                                                                                         conversation):
    ann = as_user(app, login, "ann@example.org")
    html = page_of(ann, conversation)
    assert "<p>First paragraph of the release: we each decide.</p>" in html
    assert "<p>Second paragraph: I can withdraw later.</p>" in html and "Release version 2026-11" in html
    for label in ("Deposit it at the archive", "Publish it on this site", "Allow Test Radio to use it in broadcasts"):
        assert label in html
    assert "Ben G. has not decided yet" in html and "You have not decided yet" in html
    assert "You can change these choices until" in html and "The time to give more ended" not in html
    assert f'<audio controls preload="metadata" src="/conversations/{conversation.id}/recording/audio"' in html
    assert result_row(html, "public") == ("Public on this site No: nobody has chosen it yet "
                                          "You: Not decided yet · Ben G.: Not decided yet")
    assert not any(email in html for email in EMAILS)


def test_choices_are_recorded_with_the_release_and_the_partner_sees_them(app, login, cast, conversation, planned):
    from core.archive.consent import both_agree
    from core.models import Conversation
    from core.models.archive import ArchiveConsent

    ann, ben = as_user(app, login, "ann@example.org"), as_user(app, login, "ben@example.org")
    html = flashed(save(ann, conversation, deposit=True, public=True), ann)
    assert ("Saved. Your conversation will be deposited at the archive and public once Ben G. chooses the deposit "
            "and public too.") in html
    assert result_row(html, "public") == ("Public on this site Only if you both choose it — waiting for Ben G. "
                                          "You: Yes · Ben G.: Not decided yet")
    with app.app_context(), database.connection_context():
        row = ArchiveConsent.get(ArchiveConsent.user == cast["ann"].id)
    assert (row.deposit, row.public, row.broadcast) == (True, True, False)
    assert row.release_version == "2026-11"
    assert row.release_sha256 == hashlib.sha256(RELEASE["text"].encode("utf-8")).hexdigest()
    assert planned == [conversation.id]

    html = page_of(ben, conversation)
    assert "Ann G. made their choices on" in html
    assert result_row(html, "public") == ("Public on this site Only if you both choose it — Ann G. did; waiting for "
                                          "you You: Not decided yet · Ann G.: Yes")
    html = flashed(save(ben, conversation, public=True, broadcast=True), ben)
    assert ("Saved. Your conversation will be public; your conversation will be usable in broadcasts once Ann G. "
            "chooses broadcast use too.") in html
    assert result_row(html, "public") == "Public on this site Yes: you both chose it You: Yes · Ann G.: Yes"
    assert result_row(html, "deposit") == "Deposit at the archive No: you did not choose it You: No · Ann G.: Yes"
    with app.app_context(), database.connection_context():
        assert both_agree(Conversation.get_by_id(conversation.id), "public")

    html = flashed(save(ann, conversation, deposit=True), ann)
    assert "Withdrawn: it is no longer public." in html
    assert "checked" in re.search(r'<input[^>]*id="deposit"[^>]*>', html).group(0)
    assert "checked" not in re.search(r'<input[^>]*id="public"[^>]*>', html).group(0)
    with app.app_context(), database.connection_context():
        assert not both_agree(Conversation.get_by_id(conversation.id), "public")
    assert "Saved. Nothing changed." in flashed(save(ann, conversation, deposit=True), ann)
    assert planned == [conversation.id] * 4


def test_keeping_it_private_is_a_choice_too(app, login, cast, conversation):
    ann = as_user(app, login, "ann@example.org")
    html = flashed(save(ann, conversation), ann)
    assert "Saved: the recording stays private." in html
    choice = standing(app, conversation, cast["ann"])
    assert choice is not None and not (choice.deposit or choice.public or choice.broadcast)
    html = page_of(as_user(app, login, "ben@example.org"), conversation)
    assert "Ann G. made their choices on" in html
    assert result_row(html, "deposit") == ("Deposit at the archive No: nobody has chosen it yet "
                                           "You: Not decided yet · Ann G.: No")


def test_after_the_deadline_only_withdrawing_is_possible(app, login, cast, conversation):
    from core.models import Conversation

    choose(app, conversation, cast["ann"], public=True)
    with app.app_context(), database.connection_context():
        moved = Conversation.get_by_id(conversation.id).starts_at - dt.timedelta(days=31)
        Conversation.update(starts_at=moved).where(Conversation.id == conversation.id).execute()
    ann = as_user(app, login, "ann@example.org")
    html = page_of(ann, conversation)
    assert "The time to give more ended on" in html and "You can still withdraw" in html
    assert "disabled" in re.search(r'<input[^>]*id="deposit"[^>]*>', html).group(0)
    assert "disabled" not in re.search(r'<input[^>]*id="public"[^>]*>', html).group(0)

    html = flashed(save(ann, conversation, public=True, deposit=True), ann)
    assert "The time to change these choices ended on" in html and "contact the organisers" in html
    choice = standing(app, conversation, cast["ann"])
    assert (choice.deposit, choice.public) == (False, True)

    html = flashed(save(ann, conversation), ann)
    assert "Withdrawn: you no longer agree to public." in html
    assert standing(app, conversation, cast["ann"]).public is False

    ben = as_user(app, login, "ben@example.org")  # never decided: after the deadline, nothing more to give
    assert "The time to change these choices ended" in flashed(save(ben, conversation, broadcast=True), ben)
    assert standing(app, conversation, cast["ben"]) is None


def test_without_a_recording_there_is_nothing_to_decide(app, login, cast):
    bare = booked(app, cast["ann"], cast["ben"], minutes_ago=140)
    ann = as_user(app, login, "ann@example.org")
    html = page_of(ann, bare)
    assert "There is no recording of this conversation to decide about yet" in html
    token = csrf_token_from(ann.get("/account").get_data(as_text=True))
    answer = ann.post(f"/conversations/{bare.id}/archive/choices", data={"csrf_token": token, "public": "y"})
    assert "There is no recording of this conversation to decide about." in flashed(answer, ann)
    answer = ann.post(f"/conversations/{bare.id}/archive/description", data={"csrf_token": token, **propose_data()})
    assert "There is no recording of this conversation to describe yet." in flashed(answer, ann)
    assert standing(app, bare, cast["ann"]) is None and proposals(app, bare) == []
    assert "Choose what happens to your recording" not in ann.get("/conversations").get_data(as_text=True)


def test_the_conversations_list_and_the_closed_room_link_to_the_choices(app, login, cast, conversation):
    ann = as_user(app, login, "ann@example.org")
    listing = ann.get("/conversations").get_data(as_text=True)
    assert f'<a href="/conversations/{conversation.id}/archive">Choose what happens to your recording</a>' in listing
    closed = ann.get(f"/conversations/{conversation.id}/room")
    assert closed.status_code == 403
    assert f'href="/conversations/{conversation.id}/archive"' in closed.get_data(as_text=True)
    cal = as_user(app, login, "cal@example.org")
    assert "Choose what happens to your recording" not in cal.get("/conversations").get_data(as_text=True)


def test_the_description_is_proposed_approved_and_shown_to_both(app, login, cast, conversation, planned, outbox):
    ann, ben = as_user(app, login, "ann@example.org"), as_user(app, login, "ben@example.org")
    html = flashed(post(ben, conversation, "/description", propose_data()), ben)
    assert "Proposed. Ann G. sees it on this page" in html
    assert "Your proposal, waiting for Ann G." in html and "Change your proposal" in html
    assert 'value="Two neighbours on faith, work and family"' in html  # the form keeps the own proposal

    message = outbox.last_to("ann@example.org")
    assert message.subject == "Ben G. proposed a description of your conversation"
    assert f"http://localhost/conversations/{conversation.id}/archive#description" in outbox.links(message)
    assert not any(email in message.text + message.html for email in EMAILS if email != "ann@example.org")
    assert "ben@example.org" not in message.text + message.html
    assert outbox.to("ben@example.org") == []

    html = page_of(ann, conversation)
    assert "Ben G. proposes" in html and "Two neighbours on faith, work and family" in html
    assert "Columbus, Ohio; Dayton, Ohio" in html and "None yet." in html
    proposal = proposals(app, conversation)[-1]
    answer = post(ann, conversation, f"/description/{proposal.id}/decide", {"decision": "approve"})
    html = flashed(answer, ann)
    assert "Approved: this is now your conversation's description." in html
    assert planned == [conversation.id]
    for client in (ann, ben):
        html = page_of(client, conversation)
        approved = re.search(r'<dl class="profile-fields" id="approved-description">(.*?)</dl>', html, re.S)
        assert approved and "Two neighbours on faith, work and family" in approved.group(1)
        assert "family, faith, work" in approved.group(1)
        assert "Ben G. proposes" not in html and "Your proposal, waiting for" not in html
        assert not any(email in html for email in EMAILS)
    form_places = re.search(r'<textarea[^>]*name="places"[^>]*>(.*?)</textarea>', page_of(ann, conversation), re.S)
    assert form_places and form_places.group(1).strip() == "Columbus, Ohio\nDayton, Ohio"
    from core.archive.descriptions import approved_description

    with app.app_context(), database.connection_context():
        described = approved_description(conversation.id)
    assert described.places == ("Columbus, Ohio", "Dayton, Ohio") and described.keywords == ("family", "faith", "work")


def test_a_declined_proposal_and_a_second_proposal_that_supersedes_the_first(app, login, cast, conversation, planned):
    ann, ben = as_user(app, login, "ann@example.org"), as_user(app, login, "ben@example.org")
    flashed(post(ann, conversation, "/description", propose_data(title="The first title")), ann)
    flashed(post(ann, conversation, "/description", propose_data(title="The second title")), ann)
    first, second = proposals(app, conversation)
    assert (first.status, second.status) == ("superseded", "proposed")
    html = page_of(ben, conversation)
    assert "The second title" in html and "The first title" not in html

    answer = post(ben, conversation, f"/description/{first.id}/decide", {"decision": "approve"})
    assert "That proposal is no longer waiting" in flashed(answer, ben)
    answer = post(ben, conversation, f"/description/{second.id}/decide", {"decision": "decline"})
    assert "Declined. Ann G. can propose another" in flashed(answer, ben)
    assert [row.status for row in proposals(app, conversation)] == ["superseded", "declined"]
    html = page_of(ann, conversation)
    assert "None yet." in html and "Your proposal, waiting" not in html
    assert planned == []


def test_bad_description_input_is_answered_at_its_field_with_the_typed_values_kept(app, login, cast, conversation):
    ann = as_user(app, login, "ann@example.org")
    answer = post(ann, conversation, "/description", propose_data(title="T" * 201, summary="A summary typed here, "
                                                                                           "long enough to keep."))
    assert answer.status_code == 400
    html = html_lib.unescape(answer.get_data(as_text=True))
    assert '<p class="field-error" id="title-error">Give a title of 3 to 200 characters.</p>' in html
    assert "A summary typed here, long enough to keep." in html and 'value="' + "T" * 201 + '"' in html

    cases = [({"keywords": " , ,"}, "keywords", "Give at least one keyword"),
             ({"summary": "Too short"}, "summary", "Give a summary of 20 to 4000 characters"),
             ({"people": "x" * 81}, "people", "is longer than 80 characters"),
             ({"languages": ", ".join(f"l{index}" for index in range(21))}, "languages", "At most 20 languages"),
             ({"location": "L" * 201}, "location", "Keep the location under 200 characters"),
             ({"title": "Nul\x00title"}, "title", "Remove the invisible NUL character")]
    for fields, name, message in cases:
        answer = post(ann, conversation, "/description", {**propose_data(), **fields})
        assert answer.status_code == 400, fields
        html = html_lib.unescape(answer.get_data(as_text=True))
        error = re.search(rf'<p class="field-error" id="{name}-error">(.*?)</p>', html, re.S)
        assert error and message in error.group(1), (fields, error and error.group(1))
    assert proposals(app, conversation) == []


def test_bad_decisions_and_forms_without_a_token_get_messages(app, login, cast, conversation):
    ann, ben = as_user(app, login, "ann@example.org"), as_user(app, login, "ben@example.org")
    no_token = ann.post(f"/conversations/{conversation.id}/archive/choices", data={"public": "y"})
    assert no_token.status_code == 400 and "The form expired" in no_token.get_data(as_text=True)
    assert standing(app, conversation, cast["ann"]) is None

    flashed(post(ann, conversation, "/description", propose_data()), ann)
    own = proposals(app, conversation)[-1]
    answer = post(ann, conversation, f"/description/{own.id}/decide", {"decision": "approve"})
    assert "Your partner approves your proposal; you approve theirs." in flashed(answer, ann)
    answer = post(ben, conversation, "/description/987654/decide", {"decision": "approve"})
    assert "That proposal is no longer waiting" in flashed(answer, ben)
    answer = post(ben, conversation, f"/description/{own.id}/decide", {"decision": "maybe"})
    assert "Press Approve or Decline under the proposal." in flashed(answer, ben)
    answer = post(ben, conversation, "/choices", {"public": ["y", "n"], "deposit": "\x00", "garbage": "9" * 5000})
    assert answer.status_code == 303
    assert proposals(app, conversation)[-1].status == "proposed"


def test_the_invitation_reaches_both_without_the_partners_address(app, cast, conversation, outbox):
    from core.archive.consent import deadline
    from core.archive.notices import INVITATION_SUBJECT, send_choices_invitation
    from core.models import Conversation, User

    with app.app_context(), database.connection_context():
        sent = send_choices_invitation(Conversation.get_by_id(conversation.id))
        again = send_choices_invitation(Conversation.get_by_id(conversation.id))
    assert len(sent) == 2 and sent == again  # a retry rewrites the same messages
    assert len(outbox.messages()) == 2
    for me, partner, partner_name in (("ann@example.org", "ben@example.org", "Ben G."),
                                      ("ben@example.org", "ann@example.org", "Ann G.")):
        message = outbox.last_to(me)
        assert message.subject == INVITATION_SUBJECT
        assert f"http://localhost/conversations/{conversation.id}/archive" in outbox.links(message)
        assert partner not in message.text + message.html
        assert f"your conversation with {partner_name}" in message.text
        with app.app_context(), database.connection_context():
            zone = User.get(User.email == me).time_zone or "UTC"
            local = deadline(Conversation.get_by_id(conversation.id)).astimezone(ZoneInfo(zone))
        assert f"You can change your choices until {local:%A} {local.day} {local:%B %Y}," in message.text
        assert f"({zone})" in message.text
        assert "Allow Test Radio to use it in broadcasts" in message.text


def test_garbage_in_every_field_of_every_route_gets_an_answer_not_a_server_error(app, login, cast, conversation):
    import io

    from tests.test_bad_input_everywhere import NASTY_TEXT

    ann = as_user(app, login, "ann@example.org")
    flashed(post(as_user(app, login, "ben@example.org"), conversation, "/description", propose_data()), ann)
    waiting = proposals(app, conversation)[-1].id
    token = csrf_token_from(ann.get(f"/conversations/{conversation.id}/archive").get_data(as_text=True))
    names = ["deposit", "public", "broadcast", "title", "summary", "keywords", "people", "places", "organisations",
             "languages", "location", "decision"]
    def kinds() -> list[dict[str, Any]]:  # fresh each time: a posted file is closed afterwards
        files = {name: (io.BytesIO(b"\x00\xff" * 64), "x.bin") for name in names}
        return [{"json": {"csrf_token": token, "title": [1, {"b": None}]}, "headers": {"X-CSRFToken": token}},
                {"data": {"csrf_token": token, **files}, "content_type": "multipart/form-data"},
                *({"data": {"csrf_token": token, **{name: text for name in names}}} for text in NASTY_TEXT)]

    base = f"/conversations/{conversation.id}/archive"
    failures = []
    for path in ("/choices", "/description", f"/description/{waiting}/decide", "/description/0/decide"):
        for arguments in kinds():
            answer = ann.post(base + path, **arguments)
            body = answer.get_data(as_text=True)
            expected = (404,) if path == "/description/0/decide" else (303, 400)  # no row has the id 0
            if answer.status_code not in expected or "Traceback" in body:
                failures.append(f"{path}: {answer.status_code}")
    assert not failures, failures
    page = ann.get(base).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page  # the one valid proposal among them is shown escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert [row.status for row in proposals(app, conversation) if row.id == waiting] == ["proposed"]


def test_the_deposit_choice_names_the_archive_institutions(app, login, cast, conversation, outbox):
    from core.archive.notices import send_choices_invitation
    from core.models import Conversation
    from core.providers import ArchiveDestination

    class Library(ArchiveDestination):
        name, label = "loc", "Library of Congress, American Folklife Center"

    class Site(ArchiveDestination):
        name, label, consent = "site", "This site's public archive", "public"

    destinations = app.extensions["oss_connect"].providers.setdefault("archive_destination", {})
    destinations.update({"loc": Library(), "site": Site()})
    html = page_of(as_user(app, login, "ann@example.org"), conversation)
    assert "Library of Congress, American Folklife Center keeps the recording for the future" in html
    assert "This site's public archive" not in html
    with app.app_context(), database.connection_context():
        send_choices_invitation(Conversation.get_by_id(conversation.id))
    text = outbox.last_to("ben@example.org").text
    assert "Deposit it at the archive (Library of Congress, American Folklife Center)" in text


def test_through_the_pages_a_conversation_goes_public_and_a_withdrawal_takes_it_off_at_once(
        app, login, cast, conversation):
    """The real pipeline behind the forms: both choose public and approve a description, the listening
    page lists it; one withdraws, and its page and audio are gone in the next request."""
    from core.models.archive import Publication

    ann, ben = as_user(app, login, "ann@example.org"), as_user(app, login, "ben@example.org")
    visitor = app.test_client()
    flashed(save(ann, conversation, public=True), ann)
    flashed(post(ben, conversation, "/description", propose_data()), ben)
    proposal = proposals(app, conversation)[-1]
    flashed(post(ann, conversation, f"/description/{proposal.id}/decide", {"decision": "approve"}), ann)
    assert DESCRIPTION["title"] not in visitor.get("/listen").get_data(as_text=True), "Ben has not chosen yet"
    flashed(save(ben, conversation, public=True), ben)
    assert DESCRIPTION["title"] in visitor.get("/listen").get_data(as_text=True)
    with app.app_context(), database.connection_context():
        slug = Publication.get(Publication.conversation == conversation.id).slug
    assert visitor.get(f"/listen/{slug}/audio", headers={"Range": "bytes=0-9"}).status_code == 206
    assert "Withdrawn: it is no longer public." in flashed(save(ben, conversation), ben)
    assert visitor.get(f"/listen/{slug}").status_code == 404
    assert visitor.get(f"/listen/{slug}/audio").status_code == 404
    assert DESCRIPTION["title"] not in visitor.get("/listen").get_data(as_text=True)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("title", "Two neighbours\x1b[2J", "The title takes one line"),
    ("title", "Two \u202eneighbours", "reverses the direction of text"),
    ("summary", "Ann and Ben talk about the towns\x0c they grew up in.", "The summary may hold line breaks"),
    ("keywords", ["family", "fa\x07ith"], "in keywords takes one line"),
    ("places", ["Columbus,\u2066 Ohio"], "in places takes one line"),
    ("location", "Columbus\x1bOhio", "The location takes one line"),
])
def test_a_description_with_an_invisible_character_is_refused_by_the_service(app, cast, conversation, field, value,
                                                                             message):
    """Descriptions go into the archive's XML records, where control characters are not even allowed."""
    from core.archive.descriptions import DescriptionError, propose
    from core.models import Conversation
    from tests.archive_helpers import DESCRIPTION

    with app.app_context(), database.connection_context():
        with pytest.raises(DescriptionError, match=message):
            propose(Conversation.get_by_id(conversation.id), cast["ann"].id, **{**DESCRIPTION, field: value})
        proposal = propose(Conversation.get_by_id(conversation.id), cast["ann"].id,
                           **{**DESCRIPTION, "summary": DESCRIPTION["summary"] + "\r\n\tThe end."})
    assert proposal.summary.endswith(".\n\tThe end.")
