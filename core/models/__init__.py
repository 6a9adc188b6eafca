"""Core tables. Plugins declare theirs with the `register_models` hook."""

from core.models.accounts import AuthToken, User
from core.models.matching import Cohort, CohortMember, CohortPair, Dismissal, Invitation, Match
from core.models.newsletter import NewsletterSubscriber
from core.models.profiles import Answer, Consent, Profile
from core.models.safety import Block, ModerationAction, Report

CORE_MODELS = [User, AuthToken, NewsletterSubscriber, Profile, Answer, Consent, Cohort, CohortMember, CohortPair,
               Invitation, Match, Dismissal, Block, Report, ModerationAction]

__all__ = ["CORE_MODELS", "Answer", "AuthToken", "Block", "Cohort", "CohortMember", "CohortPair", "Consent",
           "Dismissal", "Invitation", "Match", "ModerationAction", "NewsletterSubscriber", "Profile", "Report",
           "User"]
