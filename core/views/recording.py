"""The recorder's upload API (JSON): status, new tracks, idempotent chunk PUTs and finishing a track.

The contract is in docs/recording.md. Only the conversation's two participants reach any of it;
everyone else gets 404, whatever the address. Every answer is {"ok": ...} or {"error", "code"}.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from core.models import Conversation
from core.recording import uploads
from core.recording.uploads import UploadError

blueprint = Blueprint("recording", __name__)
SIGNED_OUT = ("Your session ended: sign in again in this browser, then reload the room. Your recording waits "
              "in this browser meanwhile.")


CHUNK_ENDPOINT = "recording.put_chunk"


@blueprint.errorhandler(UploadError)
def refused(error: UploadError) -> Any:
    """Every refusal as JSON, with the status the contract names (and Retry-After when waiting helps)."""
    response = jsonify(error=error.message, code=error.code)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response, error.status


def _too_large(size: int | None) -> UploadError:
    limit = uploads.settings().max_chunk_bytes
    has = f"This chunk has {size} bytes" if size is not None else "This chunk is too large"
    return UploadError(413, "too_large", f"{has}; at most {limit} are taken (recording.max_chunk_bytes). "
                       "Record with a shorter timeslice or a lower bitrate.")


@blueprint.errorhandler(RequestEntityTooLarge)
def body_too_large(_error: RequestEntityTooLarge) -> Any:
    """A body past the limit (read by any hook, or streamed without a length) is JSON too_large, not a page."""
    if request.endpoint == CHUNK_ENDPOINT:
        return refused(_too_large(request.content_length))
    return refused(UploadError(413, "too_large", "This request is too large; the recorder sends small JSON "
                               "here and its audio as chunks."))


@blueprint.url_value_preprocessor
def chunk_limit(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Give the chunk PUT its own body limit (recording.max_chunk_bytes, above the site's 2 MB for forms).

    URL value preprocessors run before every before_request hook (the CSRF check reads the body first), so
    the limit holds from the first byte read; a body announced larger is refused before anything reads it.
    """
    if endpoint != CHUNK_ENDPOINT:
        return
    limit = uploads.settings().max_chunk_bytes
    request.max_content_length = limit + 1  # one byte more, so that a streamed body of exactly `limit` passes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(request.content_length)


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
    data = request.stream.read(limit + 1)  # a body announced larger was refused in chunk_limit
    if len(data) > limit:  # streamed without a length, and longer
        raise _too_large(None)
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
