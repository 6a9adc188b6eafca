"""Cohorts for partner events: join with a code, pair the whole cohort, edit and confirm, and the CLI."""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Any

import pytest
from click.testing import CliRunner

from core.api import MatchingStrategy, Pairing, hookimpl, matching_profiles
from core.db import database
from tests.conftest import csrf_token_from
from tests.matching_fakes import LeanStrategy
from tests.profiles import complete_profile


class LeanGap(LeanStrategy):
    """The lean-distance fake strategy (suggests and scores like LeanStrategy), with a greedy pairing."""

    name = "lean_gap"

    def pair(self, cohort: Any) -> list[Pairing]:
        """Greedy: the widest gaps first (enough for a test; real strategies maximise the total)."""
        profiles = matching_profiles(list(cohort))
        ids = [user_id for user_id in cohort if user_id in profiles]
        scored = sorted(((self.score(profiles[a], profiles[b]) or 0.0, a, b)
                         for index, a in enumerate(ids) for b in ids[index + 1:]), reverse=True)
        pairs, used = [], set()
        for value, a, b in scored:
            if value > 0 and a not in used and b not in used:
                pairs.append(Pairing(a, b, value, "different views"))
                used |= {a, b}
        return pairs


class LeanGapPlugin:
    """Registers the fake strategy."""

    @hookimpl
    def register_matching_strategies(self) -> list[MatchingStrategy]:
        """The lean-gap strategy."""
        return [LeanGap()]


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The default questionnaire, and the fake strategy."""
    return {"plugins": {"questionnaire_yaml": None}, "matching": {"strategy": "lean_gap"}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """The fake strategy's plugin."""
    return {"lean_gap": LeanGapPlugin()}


@pytest.fixture
def people(app, make_user) -> dict[str, Any]:
    """Four participants with complete profiles: two liberal (leans 1, 2), two conservative (6, 7)."""
    found = {}
    for name, lean in (("ann", "1"), ("bob", "7"), ("cat", "2"), ("dan", "6")):
        user = make_user(f"{name}@example.org")
        complete_profile(app, user, first_name=name.capitalize(), lean=lean)
        found[name] = user
    return found


@pytest.fixture
def ctx(app):
    """An app and request context with a database connection, for calling the services directly."""
    with app.test_request_context(), database.connection_context():
        yield


@contextlib.contextmanager
def services(app: Any) -> Any:
    """A short context for calling services between requests (requests open their own connections)."""
    with app.test_request_context(), database.connection_context():
        yield


@pytest.fixture
def admin_client(client, make_user, login) -> Any:
    """The test client signed in as an admin."""
    make_user("root@example.org", role="admin")
    login("root@example.org")
    return client


def make_cohort(code: str = "Spring-Town-Hall", members: list[Any] = ()) -> Any:
    """A cohort with `members` joined (inside a context)."""
    from core.matching import cohorts

    cohort = cohorts.create_cohort("Spring town hall", code)
    for user in members:
        cohorts.join(user, code)
    return cohort


def pairs_of(cohort: Any) -> set[frozenset[int]]:
    from core.matching import cohorts

    return {frozenset((pair.a_id, pair.b_id)) for pair in cohorts.proposal(cohort)}


# --- joining -------------------------------------------------------------------------------

def test_a_participant_joins_with_the_code_in_any_case(app, client, login, people):
    from core.models import CohortMember

    with services(app):
        make_cohort("spring-town-hall")
    login("ann@example.org")
    token = csrf_token_from(client.get("/cohorts/join").get_data(as_text=True))

    response = client.post("/cohorts/join", data={"code": "  SPRING-Town-Hall ", "csrf_token": token},
                           follow_redirects=True)

    assert response.status_code == 200
    assert "You joined Spring town hall." in response.get_data(as_text=True)
    with services(app):
        assert CohortMember.select().where(CohortMember.user == people["ann"].id).count() == 1


def test_joining_twice_is_a_no_op(people, ctx):
    from core.matching import cohorts
    from core.models import CohortMember

    make_cohort("spring", [people["ann"]])

    cohort, joined = cohorts.join(people["ann"], "SPRING")

    assert not joined
    assert CohortMember.select().where(CohortMember.cohort == cohort).count() == 1


def test_an_incomplete_profile_is_refused_with_a_link_to_the_questionnaire(app, client, login, make_user):
    from core.models import CohortMember

    make_user("new@example.org")
    with services(app):
        make_cohort("spring")
    login("new@example.org")
    token = csrf_token_from(client.get("/cohorts/join").get_data(as_text=True))

    response = client.post("/cohorts/join", data={"code": "spring", "csrf_token": token})

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Finish your profile first" in page
    assert 'href="/profile/"' in page
    with services(app):
        assert CohortMember.select().count() == 0


def test_an_unknown_code_gets_a_clear_message(client, login, people):
    login("ann@example.org")
    token = csrf_token_from(client.get("/cohorts/join").get_data(as_text=True))

    response = client.post("/cohorts/join", data={"code": "no-such-event", "csrf_token": token})

    assert response.status_code == 400
    assert "No event has that code" in response.get_data(as_text=True)


def test_bad_codes_are_refused_when_creating_a_cohort(ctx):
    from core.matching import cohorts

    for bad in ("", "two words", "emoji-✓", "-dash", "x" * 41):
        with pytest.raises(cohorts.CohortError):
            cohorts.create_cohort("An event", bad)
    for bad in ("Town\rhall", "Town\nhall", "Town\x1bhall", "\u202eTown hall"):
        with pytest.raises(cohorts.CohortError, match="The cohort name takes one line"):
            cohorts.create_cohort(bad, "event-1")
    cohorts.create_cohort("An event", "Event-1")
    with pytest.raises(cohorts.CohortError, match="taken"):
        cohorts.create_cohort("Another", "EVENT-1")


# --- proposing, editing, confirming ----------------------------------------------------------

def test_the_proposal_pairs_across_the_divide(people, ctx):
    from core.matching import cohorts

    cohort = make_cohort("spring", list(people.values()))

    cohorts.propose_pairs(cohort)

    ids = {name: user.id for name, user in people.items()}
    assert pairs_of(cohort) == {frozenset((ids["ann"], ids["bob"])), frozenset((ids["cat"], ids["dan"]))}
    assert cohorts.leftovers(cohort) == []


def test_a_blocked_pair_is_never_proposed(people, ctx):
    from core import safety
    from core.matching import cohorts

    cohort = make_cohort("spring", list(people.values()))
    safety.block(people["bob"], people["ann"])

    cohorts.propose_pairs(cohort)

    pairs = pairs_of(cohort)
    assert frozenset((people["ann"].id, people["bob"].id)) not in pairs
    assert len(pairs) == 2, "the others are paired around the block"


@pytest.fixture
def eve(app, make_user) -> Any:
    """A fifth participant, in the middle."""
    user = make_user("eve@example.org")
    complete_profile(app, user, first_name="Eve", lean="4")
    return user


def test_an_odd_member_is_left_over_with_the_reason(people, eve, ctx):
    from core.matching import cohorts

    cohort = make_cohort("spring", [*people.values(), eve])

    cohorts.propose_pairs(cohort)

    left = cohorts.leftovers(cohort)
    assert [item.user_id for item in left] == [eve.id]
    assert "odd number" in left[0].reason


def test_members_with_an_active_match_are_not_paired(people, ctx):
    from core.matching import cohorts
    from core.models import Match

    cohort = make_cohort("spring", list(people.values()))
    Match.create(a=people["ann"].id, b=people["dan"].id)

    cohorts.propose_pairs(cohort)

    paired = {user_id for pair in pairs_of(cohort) for user_id in pair}
    assert paired == {people["bob"].id, people["cat"].id}
    reasons = {item.user_id: item.reason for item in cohorts.leftovers(cohort)}
    assert reasons[people["ann"].id] == "already has an active match"


def test_an_admin_unpairs_and_pairs_by_hand(people, ctx):
    from core.matching import cohorts

    cohort = make_cohort("spring", list(people.values()))
    cohorts.propose_pairs(cohort)
    for pair in cohorts.proposal(cohort):
        cohorts.unpair(cohort, pair.id)

    made = cohorts.pair_by_hand(cohort, people["ann"].id, people["cat"].id)

    assert made.score == pytest.approx(1 / 6)
    assert pairs_of(cohort) == {frozenset((people["ann"].id, people["cat"].id))}


def test_pairing_a_blocked_pair_by_hand_is_refused(people, ctx):
    from core import safety
    from core.matching import cohorts

    cohort = make_cohort("spring", list(people.values()))
    safety.block(people["ann"], people["bob"])

    with pytest.raises(cohorts.CohortError, match="blocked"):
        cohorts.pair_by_hand(cohort, people["ann"].id, people["bob"].id)


def test_confirming_sends_cohort_invitations(people, ctx, outbox):
    from core.matching import cohorts
    from core.models import CohortPair, Invitation

    cohort = make_cohort("spring", list(people.values()))
    cohorts.propose_pairs(cohort)

    result = cohorts.confirm(cohort)

    assert len(result.created) == 2 and not result.failed
    invitations = list(Invitation.select())
    assert {invitation.source for invitation in invitations} == {"cohort"}
    assert {invitation.cohort_id for invitation in invitations} == {cohort.id}
    assert {pair.status for pair in CohortPair.select()} == {"confirmed"}


def test_the_admin_page_previews_edits_and_confirms(app, admin_client, people):
    from core.models import Invitation

    with services(app):
        cohort = make_cohort("spring", list(people.values()))
    page = admin_client.get(f"/admin/cohorts/{cohort.id}").get_data(as_text=True)
    token = csrf_token_from(page)

    proposed = admin_client.post(f"/admin/cohorts/{cohort.id}/propose", data={"csrf_token": token},
                                 follow_redirects=True).get_data(as_text=True)
    assert "Proposed 2 pair(s)" in proposed
    assert "Ann" in proposed and "Bob" in proposed and "1.00" in proposed
    with services(app):
        assert Invitation.select().count() == 0, "proposing sends nothing"

    pair_id = re.search(r'name="pair" value="(\d+)"', proposed).group(1)
    edited = admin_client.post(f"/admin/cohorts/{cohort.id}/unpair", data={"csrf_token": token, "pair": pair_id},
                               follow_redirects=True).get_data(as_text=True)
    assert "The pair is removed" in edited and "Pair two people by hand" in edited

    confirmed = admin_client.post(f"/admin/cohorts/{cohort.id}/confirm", data={"csrf_token": token},
                                  follow_redirects=True).get_data(as_text=True)
    assert "Confirmed 1 pair(s)" in confirmed
    with services(app):
        assert Invitation.select().count() == 1


def test_the_admin_creates_a_cohort_and_bad_codes_are_shown_at_the_field(app, admin_client):
    from core.models import Cohort

    token = csrf_token_from(admin_client.get("/admin/cohorts").get_data(as_text=True))
    bad = admin_client.post("/admin/cohorts", data={"csrf_token": token, "name": "Spring", "code": "two words"})
    assert bad.status_code == 400
    assert "letters, digits and single dashes" in bad.get_data(as_text=True)

    good = admin_client.post("/admin/cohorts", data={"csrf_token": token, "name": "Spring", "code": "Spring-1"})
    assert good.status_code == 302
    with services(app):
        assert Cohort.get().code == "spring-1"


def test_participants_cannot_open_the_cohort_admin_pages(app, client, login, people):
    with services(app):
        cohort = make_cohort("spring")
    login("ann@example.org")

    assert client.get("/admin/cohorts").status_code == 403
    assert client.get(f"/admin/cohorts/{cohort.id}").status_code == 403


# --- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def run_cli(app, instance, oss_connect_plugins, monkeypatch) -> Any:
    """Run `oss-connect ...` in-process against the test instance (its fake strategy counts as installed)."""
    import core.cli
    from core.config import load_config

    monkeypatch.setattr(core.cli, "load_config", functools.partial(load_config, extra_plugins=oss_connect_plugins))

    def run(*arguments: str) -> Any:
        return CliRunner().invoke(core.cli.cli, [*arguments, "--config", str(instance / "oss-connect.yaml")],
                                  obj={}, catch_exceptions=False)

    return run


def test_cli_dry_run_prints_the_pairs_and_changes_nothing(run_cli, people, app):
    from core.models import CohortPair, Invitation

    with services(app):
        make_cohort("spring", list(people.values()))

    result = run_cli("match", "cohort", "SPRING", "--dry-run")

    assert result.exit_code == 0, result.output
    assert re.search(r"Ann G\. \(#\d+\)\s+\+\s+Bob G\. \(#\d+\)\s+score 1\.00", result.output), result.output
    assert "dry run: 2 pair(s) proposed; nothing was saved or sent" in result.output
    with services(app):
        assert CohortPair.select().count() == 0
        assert Invitation.select().count() == 0


def test_cli_confirms_and_invitations_go_out(run_cli, people, app):
    from core.models import Invitation

    with services(app):
        make_cohort("spring", list(people.values()))

    result = run_cli("match", "cohort", "spring")

    assert result.exit_code == 0, result.output
    assert "confirmed 2 pair(s)" in result.output
    with services(app):
        assert Invitation.select().where(Invitation.source == "cohort").count() == 2


def test_cli_keep_edits_confirms_the_edited_proposal(run_cli, people, app):
    from core.matching import cohorts
    from core.models import Invitation

    with services(app):
        cohort = make_cohort("spring", list(people.values()))
        cohorts.propose_pairs(cohort)
        for pair in cohorts.proposal(cohort):
            cohorts.unpair(cohort, pair.id)
        cohorts.pair_by_hand(cohort, people["ann"].id, people["dan"].id)

    result = run_cli("match", "cohort", "spring", "--keep-edits")

    assert result.exit_code == 0, result.output
    assert "confirmed 1 pair(s)" in result.output
    with services(app):
        invitation = Invitation.get()
        assert {invitation.inviter_id, invitation.invitee_id} == {people["ann"].id, people["dan"].id}


def test_cli_unknown_code_exits_2_with_a_message(run_cli, people):
    result = run_cli("match", "cohort", "no-such-event")

    assert result.exit_code == 2
    assert "no cohort has the event code 'no-such-event'" in result.output


@pytest.mark.parametrize("oss_connect_settings", [{"plugins": {"questionnaire_yaml": None},
                                                   "matching": {"strategy": "missing"}}])
def test_cli_without_the_strategy_exits_2_naming_it(run_cli, people, app):
    with services(app):
        make_cohort("spring", list(people.values()))

    result = run_cli("match", "cohort", "spring")

    assert result.exit_code == 2
    assert "no matching strategy named 'missing'" in result.output


# --- with the bundled strategy ---------------------------------------------------------------

CONSERVATIVE = {"lean": "7", "party": "republican", "issue_guns": "1", "issue_immigration": "1",
                "issue_climate": "1", "issue_abortion": "1", "issue_economy": "5"}


@pytest.mark.parametrize("oss_connect_settings", [{"plugins": {"questionnaire_yaml": None, "matching_bridge": None}}])
@pytest.mark.parametrize("oss_connect_plugins", [{}])
def test_the_bridge_strategy_pairs_a_cohort_across_the_divide(app, make_user):
    from core.matching import cohorts

    users = {}
    for name, answers in (("ann", {"lean": "1"}), ("bob", CONSERVATIVE), ("cat", {"lean": "2"})):
        users[name] = make_user(f"{name}@example.org")
        complete_profile(app, users[name], first_name=name.capitalize(), **answers)

    with app.test_request_context(), database.connection_context():
        assert cohorts.strategy_name() == "bridge"
        cohort = make_cohort("spring", list(users.values()))
        pairs = cohorts.propose_pairs(cohort)

        assert len(pairs) == 1 and pairs[0].score > 0
        assert {pairs[0].a_id, pairs[0].b_id} & {users["bob"].id}, "the conservative is in the only pair"
        assert len(cohorts.leftovers(cohort)) == 1
