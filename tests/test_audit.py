"""The audit record: events are appended in the action's transaction and chained by hash."""

from __future__ import annotations

from typing import Any

import pytest

from core import audit
from core.db import database
from core.models import AuditEvent


def test_events_chain_by_hash_and_the_chain_verifies(app: Any) -> None:
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.7"}):
        first = audit.record_event(audit.SIGN_IN, actor_id=1, subject_id=1)
        second = audit.record_event(audit.ROLE_CHANGED, actor_id=1, subject_id=2,
                                    details={"from": "participant", "to": "facilitator"})
    assert first.previous_hash == audit.GENESIS
    assert second.previous_hash == first.record_hash
    assert second.ip_address == "203.0.113.7"
    assert audit.verify_chain() is None


def test_an_edited_event_breaks_the_chain_at_that_event(app: Any) -> None:
    with app.app_context():
        audit.record_event(audit.SIGN_IN, actor_id=1, subject_id=1)
        edited = audit.record_event(audit.SIGN_IN_FAILED, subject_id=1)
        audit.record_event(audit.SIGN_OUT, actor_id=1, subject_id=1)
        AuditEvent.update(subject_id=99).where(AuditEvent.id == edited.id).execute()
        assert audit.verify_chain() == edited.id


def test_a_removed_event_breaks_the_chain_after_it(app: Any) -> None:
    with app.app_context():
        audit.record_event(audit.SIGN_IN, actor_id=1, subject_id=1)
        removed = audit.record_event(audit.SIGN_IN_FAILED, subject_id=1)
        after = audit.record_event(audit.SIGN_OUT, actor_id=1, subject_id=1)
        AuditEvent.delete().where(AuditEvent.id == removed.id).execute()
        assert audit.verify_chain() == after.id


def test_an_event_rolls_back_with_the_action_it_records(app: Any) -> None:
    with app.app_context():
        with pytest.raises(RuntimeError), database.atomic():
            audit.record_event(audit.MFA_RESET, actor_id=1, subject_id=2)
            raise RuntimeError("the action failed")
        assert AuditEvent.select().count() == 0


def test_events_for_a_person_cover_what_they_did_and_what_was_done_to_them(app: Any) -> None:
    with app.app_context():
        audit.record_event(audit.SIGN_IN, actor_id=5, subject_id=5)
        audit.record_event(audit.MFA_RESET, actor_id=1, subject_id=5)
        audit.record_event(audit.SIGN_IN, actor_id=6, subject_id=6)
        assert [event.action for event in audit.events_for(5)] == [audit.MFA_RESET, audit.SIGN_IN]
