"""A participant's own data as JSON: their answers (with the questions) and their consents."""

from __future__ import annotations

from typing import Any

from core.models import Answer, Consent, User


def export_own_data(user: User) -> dict[str, Any]:
    """Everything stored about the participant's questionnaire, every version included."""
    answers = (Answer.select().where(Answer.user == user.id)
               .order_by(Answer.questionnaire_id, Answer.question_id, Answer.version))
    consents = Consent.select().where(Consent.user == user.id).order_by(Consent.given_at)
    return {
        "email": user.email,
        "answers": [{"questionnaire": row.questionnaire_id, "question": row.question_id, "version": row.version,
                     "value": row.value, "visibility": row.visibility, "answered_at": row.answered_at.isoformat()}
                    for row in answers],
        "consents": [{"purpose": row.purpose, "document_version": row.document_version,
                      "text_sha256": row.text_sha256, "given_at": row.given_at.isoformat(),
                      "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None}
                     for row in consents],
    }
