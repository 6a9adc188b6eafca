"""The recording's description: either participant proposes a title, summary and keywords; the other
approves. The newest approved proposal is the conversation's description in the archive and on the site.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from core.archive.types import Description
from core.db import database, utcnow
from core.input_checks import multi_line_problem, normalise_line_breaks, single_line_problem
from core.models import Conversation
from core.models.archive import DescriptionProposal
from core.scheduling.conversations import is_participant

FACETS = ("keywords", "people", "places", "organisations", "languages")
MAX_TERMS = 20
MAX_TERM_LENGTH = 80


class DescriptionError(ValueError):
    """A proposal or approval that cannot be taken; the message says what to change."""


def clean_terms(values: Iterable[str] | str, facet: str) -> list[str]:
    """Terms from a list or a comma-separated text: trimmed, de-duplicated (case-blind), checked."""
    if isinstance(values, str):
        values = values.replace("\n", ",").split(",")
    terms: list[str] = []
    seen: set[str] = set()
    for value in values:
        term = " ".join(str(value).split())
        if not term or term.casefold() in seen:
            continue
        problem = single_line_problem(term, f"“{term[:30]}” in {facet}")
        if problem:
            raise DescriptionError(problem)
        if len(term) > MAX_TERM_LENGTH:
            raise DescriptionError(f"“{term[:30]}…” in {facet} is longer than {MAX_TERM_LENGTH} characters; "
                                   "shorten it.")
        seen.add(term.casefold())
        terms.append(term)
    if len(terms) > MAX_TERMS:
        raise DescriptionError(f"At most {MAX_TERMS} {facet}, please; you gave {len(terms)}.")
    return terms


def propose(conversation: Conversation, user_id: int, *, title: str, summary: str,
            keywords: Sequence[str] | str, people: Sequence[str] | str = (), places: Sequence[str] | str = (),
            organisations: Sequence[str] | str = (), languages: Sequence[str] | str = (),
            location: str = "") -> DescriptionProposal:
    """Record a participant's proposal; it replaces their earlier pending one. Raises DescriptionError."""
    if not is_participant(conversation, user_id):
        raise DescriptionError("Only the two participants describe their conversation.")
    title = " ".join((title or "").split())
    summary = normalise_line_breaks(summary or "").strip()
    if not 3 <= len(title) <= 200:
        raise DescriptionError("Give a title of 3 to 200 characters.")
    if not 20 <= len(summary) <= 4000:
        raise DescriptionError("Give a summary of 20 to 4000 characters: a few sentences about what you talked about.")
    problem = single_line_problem(title, "The title") or multi_line_problem(summary, "The summary")
    if problem:  # they go into the archive's XML records, where a control character is not even allowed
        raise DescriptionError(problem)
    facets = {"keywords": clean_terms(keywords, "keywords"), "people": clean_terms(people, "people"),
              "places": clean_terms(places, "places"), "organisations": clean_terms(organisations, "organisations"),
              "languages": clean_terms(languages, "languages")}
    if not facets["keywords"]:
        raise DescriptionError("Give at least one keyword, e.g. family, faith, work.")
    location = " ".join((location or "").split())
    if len(location) > 200:
        raise DescriptionError("Keep the location under 200 characters, e.g. “Columbus, Ohio”.")
    problem = single_line_problem(location, "The location")
    if problem:
        raise DescriptionError(problem)
    with database.atomic():
        (DescriptionProposal.update(status="superseded", decided_at=utcnow())
         .where((DescriptionProposal.conversation == conversation.id) & (DescriptionProposal.proposer == user_id)
                & (DescriptionProposal.status == "proposed")).execute())
        return DescriptionProposal.create(conversation=conversation.id, proposer=user_id, title=title,
                                          summary=summary, location=location,
                                          **{facet: json.dumps(terms) for facet, terms in facets.items()})


def pending_for(conversation: Conversation, user_id: int) -> DescriptionProposal | None:
    """The partner's newest proposal waiting for this participant's approval, or None."""
    return (DescriptionProposal.select()
            .where((DescriptionProposal.conversation == conversation.id) & (DescriptionProposal.proposer != user_id)
                   & (DescriptionProposal.status == "proposed"))
            .order_by(DescriptionProposal.id.desc()).first())


def own_pending(conversation: Conversation, user_id: int) -> DescriptionProposal | None:
    """This participant's own proposal still waiting for the partner, or None."""
    return (DescriptionProposal.select()
            .where((DescriptionProposal.conversation == conversation.id) & (DescriptionProposal.proposer == user_id)
                   & (DescriptionProposal.status == "proposed"))
            .order_by(DescriptionProposal.id.desc()).first())


def decide(conversation: Conversation, user_id: int, proposal_id: int, *, approve: bool) -> DescriptionProposal:
    """Approve or decline the partner's proposal; an approval replaces the standing description."""
    if not is_participant(conversation, user_id):
        raise DescriptionError("Only the two participants describe their conversation.")
    with database.atomic():
        proposal = DescriptionProposal.get_or_none(
            (DescriptionProposal.id == proposal_id) & (DescriptionProposal.conversation == conversation.id))
        if proposal is None or proposal.status != "proposed":
            raise DescriptionError("That proposal is no longer waiting: your partner may have changed it. "
                                   "Look at the newest one below.")
        if proposal.proposer_id == user_id:
            raise DescriptionError("Your partner approves your proposal; you approve theirs.")
        now = utcnow()
        if approve:
            (DescriptionProposal.update(status="superseded")
             .where((DescriptionProposal.conversation == conversation.id)
                    & (DescriptionProposal.status == "approved")).execute())
        proposal.status = "approved" if approve else "declined"
        proposal.decided_by = user_id
        proposal.decided_at = now
        proposal.save()
        return proposal


def as_description(proposal: DescriptionProposal) -> Description:
    """A stored proposal as the archive's `Description`."""
    facets: dict[str, Any] = {facet: tuple(json.loads(getattr(proposal, facet) or "[]")) for facet in FACETS}
    return Description(title=proposal.title, summary=proposal.summary, location=proposal.location, **facets)


def approved_proposal(conversation: Conversation | int) -> DescriptionProposal | None:
    """The standing approved proposal, or None."""
    conversation_id = getattr(conversation, "id", conversation)
    return (DescriptionProposal.select()
            .where((DescriptionProposal.conversation == conversation_id) & (DescriptionProposal.status == "approved"))
            .order_by(DescriptionProposal.id.desc()).first())


def approved_description(conversation: Conversation | int) -> Description | None:
    """The conversation's approved description, or None while none is approved."""
    proposal = approved_proposal(conversation)
    return as_description(proposal) if proposal is not None else None
