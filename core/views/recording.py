"""The recorder's upload API (JSON): status, new tracks, idempotent chunk PUTs and finishing a track.

The contract is in docs/recording.md. Only the conversation's two participants reach any of it;
everyone else gets 404, whatever the address. Every answer is {"ok": ...} or {"error", "code"}.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from core.models import Conversation
from core.recording import uploads
from core.recording.uploads import UploadError

blueprint = Blueprint("recording", __name__)
SIGNED_OUT = ("Your session ended: sign in again in this browser, then reload the room. Your recording waits "
              "in this browser meanwhile.")


@blueprint.errorhandler(UploadError)
def refused(error: UploadError) -> Any:
    """Every refusal as JSON, with the status the contract names."""
    return jsonify(error=error.message, code=error.code), error.status


@blueprint.before_request
def signed_in() -> None:
    """Every call of the recorder needs the participant's session."""
    if not current_user.is_authenticated:
        raise UploadError(401, "signed_out", SIGNED_OUT)


def _conversation(conversation_id: int) -> Conversation:
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    return uploads.participant_or_refuse(conversation, current_user)


@blueprint.get("/conversations/<int:conversation_id>/recording")
def status(conversation_id: int) -> Any:
    """What the recorder needs to resume: the room's recording state, whether uploads are open, own tracks."""
    conversation = _conversation(conversation_id)
    return jsonify(ok=True, **uploads.upload_status(conversation, current_user))


@blueprint.post("/conversations/<int:conversation_id>/recording/tracks")
def create_track(conversation_id: int) -> Any:
    """Start a new take of the caller's microphone."""
    conversation = _conversation(conversation_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise UploadError(400, "bad_request", 'Send JSON such as {"started_at_ms": 1700000000000, '
                          '"mime_type": "audio/webm;codecs=opus"}.')
    track = uploads.create_track(conversation, current_user, body.get("started_at_ms"), body.get("mime_type"))
    return jsonify(ok=True, track=uploads.track_summary(track)), 201


@blueprint.put("/conversations/<int:conversation_id>/recording/tracks/<int:track_id>/chunks/<int(min=0):sequence>")
def put_chunk(conversation_id: int, track_id: int, sequence: int) -> Any:
    """Keep one chunk (idempotent); 201 when stored now, 200 when it was already held."""
    track = uploads.own_track(conversation_id, current_user, track_id)
    limit = uploads.settings().max_chunk_bytes
    if request.content_length is not None and request.content_length > limit:
        raise UploadError(413, "too_large", f"This chunk has {request.content_length} bytes; at most {limit} "
                          "are taken (recording.max_chunk_bytes).")
    request.max_content_length = limit + 1  # this route's own limit, above the site's 2 MB for forms
    data = request.stream.read(limit + 1)
    receipt = uploads.store_chunk(track, sequence, data, request.headers.get("X-Chunk-SHA256", ""))
    return jsonify(ok=True, stored=receipt.stored, held=receipt.held), 201 if receipt.stored else 200


@blueprint.post("/conversations/<int:conversation_id>/recording/tracks/<int:track_id>/finish")
def finish_track(conversation_id: int, track_id: int) -> Any:
    """Say how many chunks the take has in all; processing starts once both participants' takes are in."""
    track = uploads.own_track(conversation_id, current_user, track_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise UploadError(400, "bad_request", 'Send JSON such as {"chunks": 12}.')
    track = uploads.finish_track(track, body.get("chunks"))
    return jsonify(ok=True, track=uploads.track_summary(track))
