"""Admin: every recording with its processing progress, tracks, outputs and problems; process again."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, url_for
from peewee import fn
from werkzeug.wrappers import Response

from core.models import Conversation, User
from core.models.recording import Recording, RecordingChunk, RecordingOutput, RecordingTrack
from core.platform import platform
from core.room.calls import display_name
from core.views.admin import admin_required
from core.views.forms import TextForm

blueprint = Blueprint("admin_recordings", __name__, url_prefix="/admin/recordings")


def progress_of(recording: Recording) -> dict[str, Any]:
    """A recording's processing state, as the status page and its poller show it."""
    return {"id": recording.id, "status": recording.status, "progress": round(recording.progress, 3),
            "label": recording.progress_label, "error": recording.error}


@blueprint.route("")
@admin_required
def recordings() -> str:
    """Recordings, newest first, with their tracks and processed files."""
    listed = list(Recording.select().order_by(Recording.created_at.desc()).limit(200))
    ids = [recording.id for recording in listed]
    conversations = {conversation.id: conversation for conversation in Conversation.select().where(
        Conversation.id.in_([recording.conversation_id for recording in listed]))}
    tracks: dict[int, list[dict[str, Any]]] = {recording_id: [] for recording_id in ids}
    held = {track_id: (count, size or 0) for track_id, count, size in
            RecordingChunk.select(RecordingChunk.track, fn.COUNT(RecordingChunk.id), fn.SUM(RecordingChunk.size))
            .join(RecordingTrack).where(RecordingTrack.recording.in_(ids)).group_by(RecordingChunk.track).tuples()}
    for track in RecordingTrack.select().where(RecordingTrack.recording.in_(ids)).order_by(RecordingTrack.id):
        count, size = held.get(track.id, (0, 0))
        tracks[track.recording_id].append({"track": track, "held": count, "bytes": size})
    outputs: dict[int, list[RecordingOutput]] = {recording_id: [] for recording_id in ids}
    for output in RecordingOutput.select().where(RecordingOutput.recording.in_(ids)).order_by(RecordingOutput.id):
        outputs[output.recording_id].append(output)
    people = {user.id: display_name(user, "participant") for user in User.select().where(User.id.in_(
        [c.a_id for c in conversations.values()] + [c.b_id for c in conversations.values()]))}
    return render_template("recording/admin_recordings.html", recordings=listed, tracks=tracks, outputs=outputs,
                           conversations=conversations, people=people,
                           form=TextForm(), config_recording=platform().settings.recording)


@blueprint.route("/<int:recording_id>/progress.json")
@admin_required
def progress(recording_id: int) -> Any:
    """The processing progress of one recording (polled by the status page)."""
    recording = Recording.get_or_none(Recording.id == recording_id)
    if recording is None:
        return jsonify(error="There is no such recording.", code="not_found"), 404
    return jsonify(ok=True, **progress_of(recording))


@blueprint.route("/<int:recording_id>/process", methods=["POST"])
@admin_required
def process_again(recording_id: int) -> Response:
    """Queue a failed or unprocessed recording for processing (again)."""
    from core.recording.processing import PROCESS_RECORDING_JOB

    recording = Recording.get_or_none(Recording.id == recording_id)
    if recording is None:
        abort(404)
    if not TextForm().validate():
        flash("The form expired; try again.", "error")
    elif recording.status not in ("open", "failed"):
        flash("This recording is already being processed or done.", "error")
    else:
        Recording.update(status="open", error=None).where(Recording.id == recording.id).execute()
        platform().jobs.enqueue(PROCESS_RECORDING_JOB, recording.id)
        flash("The recording is queued for processing; this page shows its progress.", "success")
    return redirect(url_for("admin_recordings.recordings"))
