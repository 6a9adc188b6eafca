"""Candidate filtering: every exclusion rule, each shown to let the candidate through before it applies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.api import hookimpl
from core.db import database, utcnow
from tests.matching_fakes import MATCHING_SETTINGS, LeanPlugin, VetoPlugin, participant

VETO = VetoPlugin()


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return MATCHING_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    VETO.vetoed.clear()
    VETO.calls.clear()
    return {"lean": LeanPlugin(), "veto": VETO}


@pytest.fixture
def people(app, make_user) -> dict[str, Any]:
    """Ann (left) and three others with complete profiles."""
    return {"ann": participant(app, make_user, "ann@example.org", lean="2"),
            "ben": participant(app, make_user, "ben@example.org", lean="6"),
            "cal": participant(app, make_user, "cal@example.org", lean="7"),
            "dee": participant(app, make_user, "dee@example.org", lean="5")}


@pytest.fixture
def ctx(app):
    with app.test_request_context(), database.connection_context():
        yield


def eligible(user: Any) -> list[int]:
    from core.matching.candidates import eligible_candidate_ids

    return eligible_candidate_ids(user)


def test_everyone_else_with_a_complete_profile_is_a_candidate_but_never_oneself(people, ctx):
    ann = people["ann"]
    assert eligible(ann) == sorted(person.id for name, person in people.items() if name != "ann")
    assert ann.id not in eligible(ann)


@pytest.mark.parametrize("direction", ["ann blocks ben", "ben blocks ann"])
def test_a_block_in_either_direction_excludes(people, ctx, direction):
    from core.models.safety import Block

    ann, ben = people["ann"], people["ben"]
    assert ben.id in eligible(ann) and ann.id in eligible(ben)
    blocker, blocked = (ann, ben) if direction.startswith("ann") else (ben, ann)
    Block.create(blocker=blocker.id, blocked=blocked.id)
    assert ben.id not in eligible(ann)
    assert ann.id not in eligible(ben)
    assert people["cal"].id in eligible(ann)


@pytest.mark.parametrize("status", ["matched", "completed", "cancelled"])
def test_an_earlier_partner_of_any_status_is_excluded(people, ctx, status):
    from core.models.matching import Match

    ann, ben = people["ann"], people["ben"]
    assert ben.id in eligible(ann)
    low, high = sorted((ann.id, ben.id))
    Match.create(a=low, b=high, status=status)
    assert ben.id not in eligible(ann)
    assert ann.id not in eligible(ben)
    assert people["cal"].id in eligible(ann)


def test_not_for_me_hides_only_for_the_one_who_said_it(people, ctx):
    from core.models.matching import Dismissal

    ann, ben = people["ann"], people["ben"]
    assert ben.id in eligible(ann)
    Dismissal.create(user=ann.id, dismissed=ben.id)
    assert ben.id not in eligible(ann)
    assert ann.id in eligible(ben)


def decline_between(inviter: Any, invitee: Any, days_ago: float) -> None:
    from core.models.matching import Invitation

    moment = utcnow() - dt.timedelta(days=days_ago)
    Invitation.create(inviter=inviter.id, invitee=invitee.id, status="declined", created_at=moment,
                      expires_at=moment + dt.timedelta(hours=72), responded_at=moment)


@pytest.mark.parametrize("who_declined", ["ben declined ann", "ann declined ben"])
def test_a_decline_within_the_cooldown_excludes_both_ways(people, ctx, who_declined):
    ann, ben = people["ann"], people["ben"]
    assert ben.id in eligible(ann)
    inviter, invitee = (ann, ben) if who_declined.startswith("ben") else (ben, ann)
    decline_between(inviter, invitee, days_ago=89)
    assert ben.id not in eligible(ann)
    assert ann.id not in eligible(ben)


def test_a_decline_older_than_the_cooldown_no_longer_excludes(people, ctx):
    ann, ben = people["ann"], people["ben"]
    decline_between(ann, ben, days_ago=91)  # the default cooldown is 90 days
    assert ben.id in eligible(ann)
    assert ann.id in eligible(ben)


class TestShortCooldown:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {**MATCHING_SETTINGS, "matching": {"strategy": "lean", "decline_cooldown_days": 7}}

    def test_the_configured_cooldown_is_used(self, people, ctx):
        ann, ben, cal = people["ann"], people["ben"], people["cal"]
        decline_between(ann, ben, days_ago=8)
        decline_between(ann, cal, days_ago=6)
        assert ben.id in eligible(ann)
        assert cal.id not in eligible(ann)


@pytest.mark.parametrize("direction", ["ann invited ben", "ben invited ann"])
def test_an_open_invitation_between_the_two_excludes_until_it_expires(people, ctx, direction):
    from core.models.matching import Invitation

    ann, ben = people["ann"], people["ben"]
    inviter, invitee = (ann, ben) if direction.startswith("ann") else (ben, ann)
    invitation = Invitation.create(inviter=inviter.id, invitee=invitee.id,
                                   expires_at=utcnow() + dt.timedelta(hours=1))
    assert ben.id not in eligible(ann)
    assert ann.id not in eligible(ben)
    # An open invitation past its expiry counts as expired, even before the job marks it.
    Invitation.update(expires_at=utcnow() - dt.timedelta(minutes=1)).where(Invitation.id == invitation.id).execute()
    assert ben.id in eligible(ann)


def test_suspended_participants_are_excluded(people, ctx):
    from core.models import User

    ann, ben = people["ann"], people["ben"]
    assert ben.id in eligible(ann)
    User.update(is_active=False).where(User.id == ben.id).execute()
    assert ben.id not in eligible(ann)


def test_incomplete_profiles_and_other_roles_are_excluded(app, people, make_user, ctx):
    from core.models import Profile, User

    ann, ben, cal = people["ann"], people["ben"], people["cal"]
    newcomer = make_user("new@example.org")  # no profile at all
    Profile.update(completed_at=None).where(Profile.user == ben.id).execute()
    User.update(role="facilitator").where(User.id == cal.id).execute()
    found = eligible(ann)
    assert newcomer.id not in found and ben.id not in found and cal.id not in found
    assert found == [people["dee"].id]


def test_a_profile_completed_under_an_older_questionnaire_version_is_excluded(people, ctx):
    from core.models import Profile

    ann, ben = people["ann"], people["ben"]
    Profile.update(completed_version=Profile.completed_version - 1).where(Profile.user == ben.id).execute()
    assert ben.id not in eligible(ann)


def test_a_plugin_can_veto_candidates(people, ctx):
    ann, ben, cal = people["ann"], people["ben"], people["cal"]
    assert ben.id in eligible(ann)
    VETO.vetoed.add(ben.id)
    found = eligible(ann)
    assert ben.id not in found and cal.id in found
    # The hook saw the participant and the candidates core already allowed.
    participant_id, offered = VETO.calls[-1]
    assert participant_id == ann.id and ben.id in offered and ann.id not in offered


def test_suggestions_come_only_from_eligible_candidates_best_first(people, ctx):
    from core.matching.suggestions import suggestions_for
    from core.models.matching import Dismissal

    ann = people["ann"]
    found = suggestions_for(ann)
    assert [suggestion.user_id for suggestion, _ in found] == [people["cal"].id, people["ben"].id, people["dee"].id]
    Dismissal.create(user=ann.id, dismissed=people["cal"].id)
    assert [suggestion.user_id for suggestion, _ in suggestions_for(ann, 1)] == [people["ben"].id]


class WideningStrategy:
    """A misbehaving strategy that suggests ids outside the pool it was given."""

    @hookimpl
    def register_matching_strategies(self) -> list[Any]:
        """One strategy named like the configured one."""
        from core.api import MatchingStrategy, Suggestion

        class Widening(MatchingStrategy):
            name = "lean"

            def suggest(self, participant: Any, pool: Any, limit: int) -> list[Any]:
                inside = [Suggestion(user_id, 0.5) for user_id in pool]
                return [Suggestion(participant.user_id, 1.0), Suggestion(9999, 1.0), *inside][:limit]

        return [Widening()]


class TestStrategyCannotWidenThePool:
    @pytest.fixture
    def oss_connect_plugins(self) -> dict[str, Any]:
        return {"lean": WideningStrategy()}

    def test_ids_outside_the_pool_are_dropped(self, people, ctx):
        from core.matching.suggestions import suggestions_for

        ids = [suggestion.user_id for suggestion, _ in suggestions_for(people["ann"], 5)]
        assert people["ann"].id not in ids and 9999 not in ids
        assert ids and set(ids) <= {people[name].id for name in ("ben", "cal", "dee")}
