"""The conversation room page, "Having trouble?" reports, keyword notes after the conversation, and
the facilitator's list. Media runs in the call provider's browser adapter; everything else of the
room (guide, timer, consent, recording state) on core's Socket.IO events (core/room/events.py).

Only the two participants, the assigned facilitator and admins reach a conversation; anyone else
gets a 404, whatever URL they try.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core import safety
from core.db import database, utcnow
from core.models import CallRoomRecord, Conversation, ConversationNote, User
from core.providers import CallProviderError
from core.room import state as room_state
from core.room.access import refusal, role_in
from core.room.calls import CallNotSetUpError, call_provider, display_name, join_payload, payload_for, stored_room
from core.room.events import finish
from core.room.notes import NOTE_MAX, may_write_notes, notes_for
from core.security import CONTENT_SECURITY_POLICY, csrf
from core.views.forms import TextForm

blueprint = Blueprint("room", __name__)
log = logging.getLogger(__name__)

TROUBLE_REASONS = {key: label for key, label in safety.REASONS.items() if key != "no_show"}


class TroubleForm(TextForm):
    """Report a problem with the partner: ends the call for the reporter and freezes contact."""

    reason = RadioField("What happened?", choices=list(TROUBLE_REASONS.items()),
                        validators=[DataRequired("Choose what happened.")])
    details = TextAreaField("Details (only our moderators read them)",
                            validators=[Optional(), Length(max=safety.DETAILS_MAX)])


class NoteForm(TextForm):
    """Keyword notes about the conversation (people, places, topics)."""

    keywords = TextAreaField("Keywords", validators=[DataRequired("Write a few keywords."), Length(max=NOTE_MAX)])
    minute = TextAreaField("At about which minute? (optional)", validators=[Optional(), Length(max=3)])


def _me() -> User:
    return current_user._get_current_object()


def _conversation(conversation_id: int) -> tuple[Conversation, str]:
    """The conversation and the viewer's role in it, or 404 for anyone without one."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    role = role_in(conversation, _me()) if conversation is not None else None
    if role is None:
        abort(404)
    return conversation, role


def _csp(sources: dict[str, list[str]]) -> str:
    """The site's CSP with a provider's extra sources added to their directives (new directives allowed)."""
    directives: dict[str, list[str]] = {}
    for directive in CONTENT_SECURITY_POLICY.split(";"):
        name, *values = directive.split()
        directives[name] = values
    for name, extra in sources.items():
        if not (isinstance(name, str) and name.endswith("-src")) or not isinstance(extra, list | tuple):
            continue
        allowed = [source for source in extra if _safe_source(source)]
        if allowed:
            directives.setdefault(name, ["'self'"]).extend(allowed)
    return "; ".join(" ".join([name, *values]) for name, values in directives.items())


def _permissions(sources: dict[str, list[str]]) -> str:
    """Camera and microphone for this site and for the provider's framed origins (an iframe-based call)."""
    framed = [source.rstrip("/") for source in sources.get("frame-src", []) or [] if _safe_source(source)]
    allowed = " ".join(["self", *(f'"{origin}"' for origin in framed)])
    return f"camera=({allowed}), microphone=({allowed}), display-capture=({allowed}), geolocation=()"


def _safe_source(source: str) -> bool:
    """A CSP source a provider may add: a scheme and host, never a keyword such as 'unsafe-inline'."""
    return isinstance(source, str) and "://" in source and not any(char in source for char in " ;'\"")


def _partner_names(conversation: Conversation, viewer_id: int) -> list[str]:
    ids = [user_id for user_id in (conversation.a_id, conversation.b_id) if user_id != viewer_id]
    return [display_name(User.get_by_id(user_id), "participant") for user_id in ids]


def _call_problem(error: Exception, conversation: Conversation) -> str:
    """What the room says when the call cannot start: the provider's own words, or where to look."""
    if isinstance(error, CallNotSetUpError):
        return str(error)
    if isinstance(error, CallProviderError):
        return f"The call could not start: {error}"
    # a plugin's own failure: the guide still works, the admin finds the cause in the log
    log.error("call provider failed to prepare the room of conversation %s", conversation.id, exc_info=error)
    name = current_app.extensions["oss_connect"].settings.room.call_provider
    return (f"The call could not start because the call provider '{name}' failed. "
            "Tell the organisers; they will find the cause in the site's log.")


@blueprint.route("/conversations/<int:conversation_id>/room")
@login_required
def room(conversation_id: int) -> Any:
    """The room: the call, the guide, consent to record and "Having trouble?". Opening it writes nothing:
    a call room made earlier comes with this person's payload; otherwise the page's script asks for it
    with a POST to `prepare_call`, which makes the provider's room."""
    conversation, role = _conversation(conversation_id)
    names = _partner_names(conversation, current_user.id)
    reason = refusal(conversation, _me())
    if reason is not None:
        return render_template("room/closed.html", conversation=conversation, reason=reason, names=names,
                               role=role, settings=current_app.extensions["oss_connect"].settings), 403
    settings = current_app.extensions["oss_connect"].settings
    problem, payload, provider = None, None, None
    try:
        provider = call_provider()
        existing = stored_room(conversation, provider)
        payload = payload_for(provider, existing, _me(), role) if existing is not None else None
    except Exception as error:  # every failure becomes a sentence on the page
        problem = _call_problem(error, conversation)
    with database.connection_context():
        snapshot = room_state.snapshot(conversation)
    guide = room_state.current_guide()
    call = None
    if provider is not None and problem is None:
        call = {"provider": provider.name, "capabilities": sorted(provider.capabilities), "payload": payload,
                "prepare": url_for("room.prepare_call", conversation_id=conversation.id)}
    page = render_template(
        "room/room.html", conversation=conversation, role=role, names=names, guide=guide, problem=problem,
        release=room_state.current_release(), state=snapshot,
        me={"id": current_user.id, "role": role, "name": display_name(_me(), role)},
        call=call, client_scripts=provider.client_scripts() if call is not None else [],
        trouble_form=TroubleForm(), facilitated=conversation.facilitator_id is not None,
        names_by_id={user_id: display_name(User.get_by_id(user_id), "participant")
                     for user_id in (conversation.a_id, conversation.b_id)},
        settings=settings)
    response = current_app.make_response(page)
    if provider is not None:
        try:
            sources = provider.csp_sources() or {}
            response.headers["Content-Security-Policy"] = _csp(sources)
            response.headers["Permissions-Policy"] = _permissions(sources)
        except Exception:
            log.exception("call provider %s failed in csp_sources", provider.name)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/conversations/<int:conversation_id>/room/call", methods=["POST"])
@login_required
def prepare_call(conversation_id: int) -> Any:
    """Make the conversation's call room if it is not made yet (once: later requests reuse it) and
    answer this person's payload as JSON, or {"error": sentence}. Admits exactly whom the room admits."""
    conversation, role = _conversation(conversation_id)
    reason = refusal(conversation, _me())
    if reason is not None:
        return jsonify(error=reason), 403
    try:
        provider = call_provider()
        payload = join_payload(conversation, _me(), role)
    except CallNotSetUpError as error:
        return jsonify(error=_call_problem(error, conversation)), 503
    except Exception as error:  # the provider's failure, told in a sentence, never a 500
        return jsonify(error=_call_problem(error, conversation)), 502
    response = jsonify(provider=provider.name, capabilities=sorted(provider.capabilities), payload=payload)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/conversations/<int:conversation_id>/room/trouble", methods=["POST"])
@login_required
def trouble(conversation_id: int) -> Any:
    """Report the partner from the room: the call ends for the reporter and contact is frozen."""
    conversation, role = _conversation(conversation_id)
    if role != "participant":
        abort(404)
    form = TroubleForm()
    if not form.validate():
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
        return redirect(url_for("room.room", conversation_id=conversation.id) + "#trouble")
    partner = conversation.b_id if conversation.a_id == current_user.id else conversation.a_id
    with database.atomic():
        safety.report(_me(), partner, form.reason.data, form.details.data or "", context="call")
        safety.block(_me(), partner)
        outcome: dict[str, Any] = {}
        with contextlib.suppress(room_state.RoomActionError):  # already ended
            room_state.apply_action(conversation, _me(), role, "end", outcome=outcome)
    if outcome.get("changed"):
        finish(conversation, "The conversation has ended.")
    current_app.extensions["socketio"].emit("room_closed", {"conversation_id": conversation.id,
                                                            "message": "You left the call. Your report is with our "
                                                                       "moderators."},
                                            to=f"user:{current_user.id}")
    return redirect(url_for("room.reported", conversation_id=conversation.id))


@blueprint.route("/conversations/<int:conversation_id>/room/reported")
@login_required
def reported(conversation_id: int) -> Any:
    """After a report from the room: what happens next."""
    conversation, _role = _conversation(conversation_id)
    return render_template("room/reported.html", conversation=conversation)


@blueprint.route("/conversations/<int:conversation_id>/notes", methods=["GET", "POST"])
@login_required
def notes(conversation_id: int) -> Any:
    """Keyword notes: the facilitator's from the call, and the participants' own after a self-facilitated one."""
    conversation, role = _conversation(conversation_id)
    allowed = may_write_notes(conversation, _me(), role)
    form = NoteForm()
    if request.method == "POST":
        if not allowed:
            abort(404)
        minute = (form.minute.data or "").strip()
        if form.validate() and (not minute or (minute.isdigit() and int(minute) <= 240)):
            ConversationNote.create(conversation=conversation.id, author=current_user.id,
                                    offset_seconds=int(minute) * 60.0 if minute else None,
                                    keywords=form.keywords.data.strip(), created_at=utcnow())
            flash("Your note is saved.", "success")
            return redirect(url_for("room.notes", conversation_id=conversation.id))
        if minute and not (minute.isdigit() and int(minute) <= 240):
            form.minute.errors = [*form.minute.errors, "Give the minute as a whole number from 0 to 240."]
        return render_template("room/notes.html", conversation=conversation, role=role, form=form, allowed=allowed,
                               notes=notes_for(conversation, _me(), role)), 422
    return render_template("room/notes.html", conversation=conversation, role=role, form=form, allowed=allowed,
                           notes=notes_for(conversation, _me(), role))


@blueprint.route("/facilitate")
@login_required
def facilitate() -> Any:
    """The conversations a facilitator is assigned to, soonest first."""
    if not _me().has_role("facilitator"):
        abort(404)
    assigned = list(Conversation.select().where((Conversation.facilitator == current_user.id)
                                                & Conversation.status.in_(("scheduled", "in_progress", "completed")))
                    .order_by(Conversation.starts_at.desc(nulls="LAST")))
    return render_template("room/facilitate.html", conversations=assigned,
                           names={c.id: _partner_names(c, 0) for c in assigned})


@blueprint.route("/calls/<provider_name>/webhook", methods=["POST"])
@csrf.exempt
def webhook(provider_name: str) -> Any:
    """A call provider's signed callback (capability "webhook"): verified by the provider, then
    reported as call_status_changed for the conversation whose room it names."""
    provider = current_app.extensions["oss_connect"].providers.get("call_provider", {}).get(provider_name)
    if provider is None or "webhook" not in provider.capabilities:
        return jsonify(error=f"no call provider named '{provider_name}' takes webhooks here"), 404
    try:
        events = provider.handle_webhook(request.get_data(cache=False), dict(request.headers))
    except ValueError as error:
        return jsonify(error=f"not accepted: {error}"), 401
    except Exception:
        log.exception("call provider %s failed in handle_webhook", provider_name)
        return jsonify(error="the call provider failed to read this callback; see the site's log"), 502
    handled = 0
    for event in events or []:
        record = CallRoomRecord.get_or_none(CallRoomRecord.name == getattr(event, "room_name", None))
        if record is None or record.provider != provider_name:
            continue
        conversation = Conversation.get_by_id(record.conversation_id)
        current_app.extensions["oss_connect"].hook.call_status_changed(conversation=conversation,
                                                                      status=event.status)
        handled += 1
    return jsonify(ok=True, handled=handled)
