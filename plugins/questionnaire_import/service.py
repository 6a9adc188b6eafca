"""Check every entry of an import first, then create or update participants in one transaction.

Nothing is written unless every entry is good. Unchanged entries are skipped, so importing the same
file twice changes nothing; only newly created accounts are invited (after the transaction commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee
from email_validator import EmailNotValidError, validate_email

from core.api import (
    Questionnaire,
    StoredAnswer,
    User,
    create_user,
    current_answers,
    database,
    invite_participant,
    save_answers,
)

from .convert import read_answers
from .csvfile import Entry, Problem
from .settings import EMAIL


@dataclass
class Checked:
    """An entry that passed every check: the address, the existing account (if any) and the answers."""

    entry: Entry
    email: str
    user: Any
    answers: dict[str, StoredAnswer]


@dataclass
class Outcome:
    """What an import did, or the problems that stopped it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the import went through."""
        return not self.problems

    def counts(self) -> dict[str, int]:
        """The counts, for JSON."""
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class ConcurrentImportError(Exception):
    """Another import created the same account at the same moment."""


def _email(entry: Entry) -> tuple[str, str | None]:
    raw = entry.cells.get(EMAIL, "")
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return "", "The email address is missing; every person needs one (the invitation goes there)."
    try:
        validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        return "", f"'{text}' is not an email address: {error}"
    if len(text) > 254:
        return "", "An email address has at most 254 characters."
    return text.lower(), None


def _existing_accounts(emails: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    unique = sorted(set(emails))
    for start in range(0, len(unique), 500):
        for user in User.select().where(User.email.in_(unique[start:start + 500])):
            found[user.email] = user
    return found


def check_entries(entries: Sequence[Entry], questionnaire: Questionnaire,
                  separator: str) -> tuple[list[Checked], list[Problem]]:
    """Check every entry (address, duplicates, account kind, answers); the problems in entry order."""
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    emails: dict[int, str] = {}
    for position, entry in enumerate(entries):
        email, problem = _email(entry)
        if problem:
            problems.append(Problem(entry.row, entry.column_of(EMAIL), problem))
        elif email in first_row:
            problems.append(Problem(entry.row, entry.column_of(EMAIL), (
                f"{email} appears twice (first in {entry.kind} {first_row[email]}); each person may appear once. "
                "Merge the two into one.")))
        else:
            first_row[email] = entry.row
            emails[position] = email
    accounts = _existing_accounts(list(emails.values()))
    checked: list[Checked] = []
    for position, entry in enumerate(entries):
        email = emails.get(position)
        user = accounts.get(email) if email else None
        if user is not None and user.role != "participant":
            problems.append(Problem(entry.row, entry.column_of(EMAIL), (
                f"{email} belongs to an account with the role {user.role}; only participants are imported. "
                "Remove the row, or use another address.")))
            continue
        if user is not None and not user.is_active:
            problems.append(Problem(entry.row, entry.column_of(EMAIL), (
                f"{email} belongs to a suspended account, which an import does not change. Remove the row.")))
            continue
        answers, errors = read_answers(questionnaire, entry.cells, separator)
        for question in questionnaire.questions():  # in questionnaire order, like the columns usually are
            if question.id in errors:
                problems.append(Problem(entry.row, entry.column_of(question.id), errors[question.id]))
        if email and not errors:
            checked.append(Checked(entry, email, user, answers))
    problems.sort(key=lambda problem: -1 if problem.row is None else problem.row)
    return checked, problems


def _changes(user: Any, questionnaire: Questionnaire, answers: dict[str, StoredAnswer]) -> dict[str, StoredAnswer]:
    """The imported answers that differ from the participant's current ones (keeping their visibility)."""
    current = current_answers(user.id, questionnaire.id)
    changed = {}
    for question_id, answer in answers.items():
        stored = current.get(question_id)
        if stored is not None and stored.value == answer.value and stored.version == questionnaire.version:
            continue
        visibility = stored.visibility if stored is not None else answer.visibility
        changed[question_id] = StoredAnswer(question_id, answer.value, visibility, answer.version)
    return changed


def apply(checked: Sequence[Checked], questionnaire: Questionnaire, note: str) -> Outcome:
    """Create or update every participant in one transaction; invite the new ones after it commits."""
    outcome = Outcome()
    invite: list[Any] = []
    try:
        with database.atomic():
            for item in checked:
                user = item.user
                if user is None:
                    user = create_user(item.email, None, verified=False)
                    invite.append(user)
                    outcome.created += 1
                    if item.answers:
                        save_answers(user, questionnaire, item.answers, source="import")
                    continue
                changed = _changes(user, questionnaire, item.answers)
                if changed:
                    save_answers(user, questionnaire, changed, source="import")
                    outcome.updated += 1
                else:
                    outcome.unchanged += 1
    except peewee.IntegrityError as error:
        raise ConcurrentImportError(str(error)) from error
    for user in invite:
        invite_participant(user, note)
    return outcome


def run_import(entries: Sequence[Entry], questionnaire: Questionnaire, separator: str, note: str) -> Outcome:
    """Check all entries; import them all if every one is good, otherwise nothing."""
    checked, problems = check_entries(entries, questionnaire, separator)
    if problems:
        return Outcome(problems=problems)
    return apply(checked, questionnaire, note)
