"""Live sessions: admins open a session, participants RSVP and wait in its waiting room, and at the start
time the people present are paired by the configured strategy (cohort rules) and sent into their rooms.

Presence: the waiting room sends a heartbeat every 20 s (or the participant presses "I'm here"); someone
counts as present when their last heartbeat is at most PRESENCE_WINDOW old at pairing time. The waiting
room opens WAITING_ROOM_OPENS before the start and closes when the session is paired.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.matching import cohorts
from core.models import CohortMember, Conversation, LiveRsvp, LiveSession, User

PRESENCE_WINDOW = dt.timedelta(minutes=2)
"""Someone is present when their last heartbeat is at most this old at pairing time."""
WAITING_ROOM_OPENS = dt.timedelta(minutes=15)
"""The waiting room accepts heartbeats from this long before the start until the pairing."""
PAIR_LIVE_SESSIONS_JOB = "pair_live_sessions"

log = logging.getLogger(__name__)

NOBODY_ELSE = "Nobody else was in the waiting room at the start time."
NOBODY_FITS = ("Nobody here fits the matching rules with you: the others present were earlier partners, "
               "people one of you blocked, or people the matching could not pair with you.")
ODD_NUMBER = "An odd number of people came, so one person had to be left without a partner."
NO_GOOD_PAIR = "The matching found no good partner for you among the people present."


class LiveError(ValueError):
    """A live-session request that cannot be done as asked; the message says why, for people."""

    def __init__(self, message: str, *, field_name: str = "", needs_profile: bool = False) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.needs_profile = needs_profile


@dataclass
class PairingResult:
    """What pairing a session did: the conversations created, and who was left over with why."""

    conversations: list[Conversation] = field(default_factory=list)
    left_over: dict[int, str] = field(default_factory=dict)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# --- sessions ------------------------------------------------------------------------------------

def create_session(title: str, starts_at: dt.datetime | None, region: str = "", cohort: Any = None,
                   admin: Any = None, now: dt.datetime | None = None) -> LiveSession:
    """Open a live session (admins); LiveError names the field that is wrong."""
    title = (title or "").strip()
    region = (region or "").strip()
    if not title:
        raise LiveError("Give the session a title, like Thursday evening conversations.", field_name="title")
    if len(title) > 120:
        raise LiveError("A title has at most 120 characters.", field_name="title")
    if len(region) > 80:
        raise LiveError("A region has at most 80 characters.", field_name="region")
    if starts_at is None:
        raise LiveError("Choose the date and time the session starts.", field_name="starts_at")
    if starts_at.tzinfo is None:
        raise LiveError("The start time needs a time zone.", field_name="starts_at")
    starts_at = starts_at.astimezone(dt.UTC)
    if starts_at <= _aware(now or utcnow()):
        raise LiveError("The start time has passed: choose a time in the future.", field_name="starts_at")
    if region and cohort is not None:
        raise LiveError("Choose a region or a cohort, not both (or neither, for everyone).", field_name="region")
    return LiveSession.create(title=title, starts_at=starts_at, region=region, cohort=cohort,
                              created_by=getattr(admin, "id", admin), created_at=utcnow())


def cancel_session(session: LiveSession) -> None:
    """Cancel an open session (admins); a paired one cannot be cancelled."""
    if session.status != "open":
        raise LiveError("Only an open session can be cancelled.")
    session.status = "cancelled"
    session.save()


def audience(session: LiveSession) -> str:
    """Who the session is for, in words."""
    if session.cohort_id:
        return f"members of {session.cohort.name}"
    if session.region:
        return f"participants in {session.region}"
    return "everyone"


def _region_of(user_id: int) -> str:
    from core.questionnaire.profiles import matching_profiles

    profile = matching_profiles([user_id]).get(user_id)
    return (getattr(profile, "region", None) or "").strip()


def is_for(session: LiveSession, user_id: int) -> bool:
    """Whether the participant is in the session's region or cohort (always, when it has neither)."""
    if session.cohort_id:
        return CohortMember.select().where((CohortMember.cohort == session.cohort_id)
                                           & (CohortMember.user == user_id)).exists()
    if session.region:
        return _region_of(user_id).casefold() == session.region.casefold()
    return True


def upcoming_for(user_id: int, now: dt.datetime | None = None, after: LiveSession | None = None) -> list[LiveSession]:
    """Open sessions for this participant that have not started yet, soonest first."""
    now = _aware(now or utcnow())
    query = LiveSession.select().where((LiveSession.status == "open") & (LiveSession.starts_at > now))
    if after is not None:
        query = query.where(LiveSession.id != after.id)
    return [session for session in query.order_by(LiveSession.starts_at, LiveSession.id) if is_for(session, user_id)]


def next_session_for(user_id: int, after: LiveSession, now: dt.datetime | None = None) -> LiveSession | None:
    """The next open session for this participant after `after`, or None."""
    found = upcoming_for(user_id, now, after)
    return found[0] if found else None


# --- participants --------------------------------------------------------------------------------

def rsvp_of(session: LiveSession, user_id: int) -> LiveRsvp | None:
    """The participant's RSVP to the session, or None."""
    return LiveRsvp.get_or_none((LiveRsvp.session == session) & (LiveRsvp.user == user_id))


def rsvp(session: LiveSession, user: Any, now: dt.datetime | None = None) -> tuple[LiveRsvp, bool]:
    """RSVP to an open session; returns (rsvp, created now). Doing it twice is a no-op."""
    existing = rsvp_of(session, user.id)
    if existing is not None:
        return existing, False
    if session.status != "open":
        raise LiveError("This session is no longer open for RSVPs.")
    if not cohorts.has_complete_profile(user.id):
        raise LiveError("Finish your profile first: people are paired from their answers.", needs_profile=True)
    if not is_for(session, user.id):
        raise LiveError(f"This session is for {audience(session)} only.")
    return LiveRsvp.create(session=session, user=user.id, created_at=utcnow()), True


def cancel_rsvp(session: LiveSession, user: Any) -> bool:
    """Withdraw an RSVP before the pairing; returns whether there was one."""
    if session.status != "open":
        raise LiveError("This session has already been paired.")
    return LiveRsvp.delete().where((LiveRsvp.session == session) & (LiveRsvp.user == user.id)).execute() > 0


def waiting_room_open(session: LiveSession, now: dt.datetime | None = None) -> bool:
    """Whether heartbeats are accepted now (from WAITING_ROOM_OPENS before the start until the pairing)."""
    now = _aware(now or utcnow())
    return session.status == "open" and now >= session.starts_at - WAITING_ROOM_OPENS


def present(session: LiveSession, user: Any, now: dt.datetime | None = None) -> LiveRsvp:
    """The waiting-room heartbeat: record that the participant is here now (RSVPs them if needed)."""
    now = _aware(now or utcnow())
    if session.status == "cancelled":
        raise LiveError("This session was cancelled.")
    if session.status != "open":
        raise LiveError("This session has been paired already.")
    if not waiting_room_open(session, now):
        raise LiveError(f"The waiting room opens {int(WAITING_ROOM_OPENS.total_seconds() // 60)} minutes "
                        "before the start. Come back then.")
    record, _ = rsvp(session, user, now)
    LiveRsvp.update(present_at=now).where(LiveRsvp.id == record.id).execute()
    record.present_at = now
    return record


# --- pairing -------------------------------------------------------------------------------------

def _earlier_partners(user_ids: list[int]) -> set[frozenset[int]]:
    """Pairs among `user_ids` who already had a conversation (live, standby or matched)."""
    if not user_ids:
        return set()
    query = Conversation.select(Conversation.a, Conversation.b).where(
        Conversation.a.in_(user_ids) & Conversation.b.in_(user_ids))
    return {frozenset(row) for row in query.tuples()}


def _present_ids(session: LiveSession, now: dt.datetime) -> list[int]:
    query = (LiveRsvp.select(LiveRsvp.user).join(User, on=(LiveRsvp.user == User.id))
             .where((LiveRsvp.session == session) & (LiveRsvp.present_at >= now - PRESENCE_WINDOW) & User.is_active)
             .order_by(LiveRsvp.present_at, LiveRsvp.id))
    return [user_id for (user_id,) in query.tuples()]


def leftover_reason(session: LiveSession, user_id: int) -> str:
    """Why this participant was left over when the session was paired."""
    came = [user_id for (user_id,) in LiveRsvp.select(LiveRsvp.user).where(
        (LiveRsvp.session == session) & (LiveRsvp.outcome != "")).tuples()]
    others = [other for other in came if other != user_id]
    if not others:
        return NOBODY_ELSE
    forbidden = cohorts.forbidden_pairs(came) | _earlier_partners(came)
    live_pairs = {frozenset((c.a_id, c.b_id))
                  for c in Conversation.select().where(Conversation.live_session == session)}
    if all(frozenset((user_id, other)) in forbidden - live_pairs for other in others):
        return NOBODY_FITS
    left = LiveRsvp.select().where((LiveRsvp.session == session) & (LiveRsvp.outcome == "left_over")).count()
    return ODD_NUMBER if left % 2 == 1 else NO_GOOD_PAIR


def conversation_path(conversation_id: int) -> str:
    """Where a paired participant goes: the conversation's join page if the site has one, else its page."""
    join = f"/conversations/{conversation_id}/join"
    adapter = current_app.url_map.bind("localhost")
    return join if adapter.test(join, method="GET") else f"/conversations/{conversation_id}"


def conversation_of(session: LiveSession, user_id: int) -> Conversation | None:
    """The conversation this session gave the participant, or None."""
    return (Conversation.select().where((Conversation.live_session == session)
                                        & ((Conversation.a == user_id) | (Conversation.b == user_id)))
            .order_by(Conversation.id).first())


def pair_session(session: LiveSession, now: dt.datetime | None = None) -> PairingResult | None:
    """Pair the people present (at or after the start); None when it is too early or already done.

    Idempotent: the session is claimed (open -> paired) in the same transaction that creates the
    conversations, so a second run, or two at once, pairs nobody twice.
    """
    from core.scheduling.conversations import create_conversation

    now = _aware(now or utcnow())
    if now < session.starts_at:
        return None
    result = PairingResult()
    with database.atomic():
        claimed = LiveSession.update(status="paired", paired_at=now).where(
            (LiveSession.id == session.id) & (LiveSession.status == "open")).execute()
        if not claimed:
            return None
        here = _present_ids(session, now)
        try:
            pairs = cohorts.pair_ids(here, extra_forbidden=_earlier_partners(here)) if len(here) >= 2 else []
        except cohorts.CohortError as problem:
            raise LiveError(str(problem)) from None
        paired: set[int] = set()
        for a, b, _score in pairs:
            result.conversations.append(create_conversation(a, b, source="live", starts_at=now, live_session=session))
            paired |= {a, b}
        LiveRsvp.update(outcome="paired").where(
            (LiveRsvp.session == session) & LiveRsvp.user.in_(list(paired))).execute()
        left = [user_id for user_id in here if user_id not in paired]
        LiveRsvp.update(outcome="left_over").where((LiveRsvp.session == session) & LiveRsvp.user.in_(left)).execute()
    session.status, session.paired_at = "paired", now
    for user_id in left:
        result.left_over[user_id] = leftover_reason(session, user_id)
    _notify(session, result, now)
    return result


def _notify(session: LiveSession, result: PairingResult, now: dt.datetime) -> None:
    from core.realtime import notify_user

    try:
        for conversation in result.conversations:
            for user_id in (conversation.a_id, conversation.b_id):
                notify_user(user_id, "live_paired", {"url": conversation_path(conversation.id)})
        for user_id, reason in result.left_over.items():
            following = next_session_for(user_id, session, now)
            notify_user(user_id, "live_left_over", {
                "reason": reason, "url": f"/live/{session.id}",
                "next": {"title": following.title, "url": f"/live/{following.id}"} if following else None})
    except Exception:  # a notification failure must not undo the pairing; pages show it on reload
        log.exception("live session %s: could not notify everyone", session.id)


def pair_due_sessions(now: dt.datetime | None = None) -> int:
    """The periodic job: pair every open session whose start time has come; returns how many were paired."""
    now = _aware(now or utcnow())
    done = 0
    for session in LiveSession.select().where((LiveSession.status == "open") & (LiveSession.starts_at <= now)):
        try:
            done += pair_session(session, now) is not None
        except LiveError as problem:
            log.error("live session %s could not be paired: %s", session.id, problem)
    return done
