"""Core tables. Plugins declare theirs with the `register_models` hook."""

from core.models.accounts import AuthToken, User
from core.models.newsletter import NewsletterSubscriber
from core.models.profiles import Answer, Consent, Profile

CORE_MODELS = [User, AuthToken, NewsletterSubscriber, Profile, Answer, Consent]

__all__ = ["CORE_MODELS", "Answer", "AuthToken", "Consent", "NewsletterSubscriber", "Profile", "User"]
