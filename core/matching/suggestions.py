"""Suggested partners: eligible candidates scored by the configured matching strategy."""

from __future__ import annotations

from typing import Any

from flask import current_app

from core.matching.candidates import eligible_candidate_ids
from core.providers import Suggestion
from core.questionnaire.profiles import matching_profiles, profile_for
from core.questionnaire.sharing import SharedProfile


class MatchingNotSetUpError(LookupError):
    """No enabled plugin provides the strategy named in `matching.strategy`; the message says how to fix it."""


STRATEGY_PLUGINS = {"bridge": "matching_bridge", "contrast": "matching_contrast"}


def configured_strategy() -> Any:
    """The `MatchingStrategy` named by `matching.strategy`, or MatchingNotSetUpError saying how to provide it."""
    platform = current_app.extensions["oss_connect"]
    name = platform.settings.matching.strategy
    try:
        return platform.provider("matching_strategy", name)
    except LookupError:
        known = sorted(platform.providers.get("matching_strategy", {}))
        plugin = STRATEGY_PLUGINS.get(name)
        fix = (f"enable the plugin {plugin} under plugins: in oss-connect.yaml" if plugin
               else "enable the plugin that provides it under plugins: in oss-connect.yaml")
        if known:
            fix += f", or set matching.strategy to one of: {', '.join(known)}"
        raise MatchingNotSetUpError(f"matching.strategy: no enabled plugin provides the matching strategy "
                               f"'{name}' (registered: {', '.join(known) or 'none'}); {fix}") from None


def ranked_suggestions(user: Any, limit: int) -> list[Suggestion]:
    """The strategy's best `limit` eligible partners for `user`, best first (only ids core allowed)."""
    strategy = configured_strategy()
    pool = eligible_candidate_ids(user)
    if not pool or limit < 1:
        return []
    participant = matching_profiles([user.id]).get(user.id)
    if participant is None:
        return []
    from core.scheduling.no_shows import low_priority_ids

    low = low_priority_ids(pool)  # repeat no-shows: suggested only after everyone else
    chosen: list[Suggestion] = []
    for part in ([user_id for user_id in pool if user_id not in low], [user_id for user_id in pool if user_id in low]):
        allowed = set(part)
        if not part or len(chosen) >= limit:
            continue
        for suggestion in strategy.suggest(participant, part, limit - len(chosen)):
            if suggestion.user_id in allowed and suggestion.user_id not in {item.user_id for item in chosen}:
                chosen.append(suggestion)  # a strategy never widens the pool core handed it
    return chosen[:limit]


def suggestions_for(user: Any, limit: int | None = None) -> list[tuple[Suggestion, SharedProfile]]:
    """Suggested partners with what `user` may see of each (their profile for partners)."""
    if limit is None:
        limit = current_app.extensions["oss_connect"].settings.matching.suggestions
    return [(suggestion, profile_for(suggestion.user_id, "partners"))
            for suggestion in ranked_suggestions(user, limit)]
