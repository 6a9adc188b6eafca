"""Core tables. Plugins declare theirs with the `register_models` hook."""

from core.models.accounts import AuthToken, User
from core.models.newsletter import NewsletterSubscriber

CORE_MODELS = [User, AuthToken, NewsletterSubscriber]

__all__ = ["CORE_MODELS", "AuthToken", "NewsletterSubscriber", "User"]
