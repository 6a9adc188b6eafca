"""Core tables. Plugins declare theirs with the `register_models` hook."""

from core.models.accounts import AuthToken, User
from core.models.matching import Cohort, CohortMember, CohortPair, Dismissal, Invitation, Match
from core.models.newsletter import NewsletterSubscriber
from core.models.presence import ConversationPresence
from core.models.profiles import Answer, Consent, Profile
from core.models.safety import Block, ModerationAction, Report
from core.models.scheduling import (
    AgreementAcceptance,
    Conversation,
    LiveRsvp,
    LiveSession,
    Message,
    NoShow,
    ReminderSent,
    SlotProposal,
    Standby,
)

CORE_MODELS = [User, AuthToken, NewsletterSubscriber, Profile, Answer, Consent, Cohort, CohortMember, CohortPair,
               Invitation, Match, Dismissal, Block, Report, ModerationAction, LiveSession, LiveRsvp, Conversation,
               SlotProposal, Message, AgreementAcceptance, ReminderSent, NoShow, Standby,
               ConversationPresence]

__all__ = ["CORE_MODELS", "AgreementAcceptance", "Answer", "AuthToken", "Block", "Cohort", "CohortMember",
           "CohortPair", "Consent", "Conversation", "ConversationPresence", "Dismissal", "Invitation", "LiveRsvp",
           "LiveSession", "Match",
           "Message", "ModerationAction", "NewsletterSubscriber", "NoShow", "Profile", "ReminderSent", "Report",
           "SlotProposal", "Standby", "User"]
