"""Who must set up a second factor: the roles in `accounts.mfa.required_roles`.

The entry `staff` stands for every role other than participant, so a staff role that a plugin adds
later is covered without a config change.
"""

from __future__ import annotations

from collections.abc import Iterable

STAFF = "staff"
PARTICIPANT = "participant"


def role_requires_second_factor(role: str, required_roles: Iterable[str]) -> bool:
    """True when a person with `role` must have a second factor before they may sign in."""
    required = set(required_roles)
    return role in required or (STAFF in required and role != PARTICIPANT)
