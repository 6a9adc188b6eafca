"""POST /import/webhook: a form tool sends answers as JSON, signed with HMAC-SHA256.

Headers: `X-Oss-Timestamp` (Unix seconds), `X-Oss-Delivery` (an id unique per delivery) and
`X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<delivery id>." followed by the raw body, keyed
with webhook_secret>`. A wrong or missing signature gets 401 and stores nothing; a timestamp more than
5 minutes away from the site's clock gets 400 `stale`, a delivery id taken before gets 409 `replayed`
(so a captured request cannot be sent again to revert an answer). Every answer is checked before
anything is stored, and the delivery id is kept in the same transaction as the answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any

import peewee
from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from core.api import Question, Questionnaire, active_questionnaire, csrf_exempt, database, plugin_settings, utcnow

from .convert import LIST_TYPES, LOCATION_PARTS, split_target
from .csvfile import Entry, Problem
from .models import WebhookDelivery
from .service import ConcurrentImportError, apply, check_entries
from .settings import EMAIL

blueprint = Blueprint("questionnaire_import_webhook", __name__, url_prefix="/import")
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Oss-Timestamp"
DELIVERY_HEADER = "X-Oss-Delivery"
REPLAY_WINDOW = dt.timedelta(minutes=5)
"""A delivery whose timestamp is further than this from the site's clock (either way) is refused."""
KEEP_DELIVERIES = 2 * REPLAY_WINDOW + dt.timedelta(minutes=1)
"""How long a delivery id is remembered: past it, its signed timestamp is refused anyway."""
DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,99}$")


def _error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


def signed_bytes(timestamp: str, delivery_id: str, body: bytes) -> bytes:
    """What the signature covers: the timestamp, the delivery id and the raw body, joined by dots."""
    return f"{timestamp}.{delivery_id}.".encode() + body


def signature_ok(secret: str, message: bytes, header: str | None) -> bool:
    """True when `header` is `sha256=` and the hex HMAC-SHA256 of `message` (compared in constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def _delivery_problem(timestamp: str, delivery_id: str) -> tuple[Response, int] | None:
    """The answer for a malformed or stale timestamp or a malformed delivery id; None when both are fine."""
    if not DELIVERY_ID.match(delivery_id):
        return _error(400, f"Send the {DELIVERY_HEADER} header: an id unique to this delivery, 8 to 100 letters, "
                           "digits or . _ : - (a UUID is fine).", code="bad_delivery")
    if not timestamp.isdigit() or len(timestamp) > 12:
        return _error(400, f"Send the {TIMESTAMP_HEADER} header: the time of sending in whole seconds since "
                           "1970 (Unix time), e.g. 1767225600.", code="bad_timestamp")
    sent = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    if abs(utcnow() - sent) > REPLAY_WINDOW:
        return _error(400, f"{TIMESTAMP_HEADER} is more than {int(REPLAY_WINDOW.total_seconds() // 60)} minutes "
                           "away from the site's clock; send the delivery again with the current time (and check "
                           "the sender's clock).", code="stale")
    return None


def _cells(question: Question, value: Any) -> tuple[dict[str, str | list[str]], str | None]:
    """One JSON answer as cells by target, or a message when its shape cannot answer this question."""
    question_id = question.id
    if value is None:
        return {}, None
    if isinstance(value, bool):
        return {}, "Write the answer as text, a number or a list, not true/false."
    if isinstance(value, str | int | float) and question.type != "location":
        return {question_id: str(value)}, None
    if isinstance(value, list) and question.type in LIST_TYPES:
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in value):
            return {}, "A list answer may only hold texts or numbers."
        return {question_id: [str(item) for item in value]}, None
    if isinstance(value, dict) and question.type in ("location", "single_choice"):
        parts = ({"choice": question_id, "text": f"{question_id}.text"} if question.type == "single_choice"
                 else {part: f"{question_id}.{part}" for part in LOCATION_PARTS[question.location_mode]})
        unknown = [str(key) for key in value if key not in parts]
        if unknown or not all(isinstance(item, str) for item in value.values()):
            return {}, f"Give an object of texts with the keys {', '.join(parts)}."
        return {parts[key]: item for key, item in value.items()}, None
    if question.type == "location":
        return {}, f"Give the location as an object: {{{', '.join(LOCATION_PARTS[question.location_mode])}}}."
    if question.type in LIST_TYPES:
        return {}, "Give a list of texts, or one text with the items separated by the list separator."
    return {}, "Give one answer as a text or a number."


def entries_from_json(payload: Any, questionnaire: Questionnaire,
                      max_entries: int) -> tuple[list[Entry], list[Problem]]:
    """`{"email", "answers"}` or a list of them as entries (numbered from 0), and the problems with their shape.

    Answers of a wrong type are left out of the entry (and reported), so the entry's other answers are
    still checked and every problem is reported at once.
    """
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        return [], [Problem(None, "", "The list is empty; send at least one person.")]
    if len(items) > max_entries:
        return [], [Problem(None, "", f"Send at most {max_entries} people at once.")]
    known = {question.id: question for question in questionnaire.questions()}
    entries: list[Entry] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(index, "", 'Each person is an object: {"email": ..., "answers": {...}}.'))
            continue
        for key in sorted(set(item) - {"email", "answers"}):
            problems.append(Problem(index, key, 'Unknown field; a person has only "email" and "answers".'))
        email = item.get("email")
        answers = item.get("answers") or {}
        if not isinstance(email, str):
            problems.append(Problem(index, EMAIL, "Give the email address as a text."))
        if not isinstance(answers, dict):
            problems.append(Problem(index, "answers", "Give the answers as an object: question id -> answer."))
        if not isinstance(email, str) or not isinstance(answers, dict):
            continue
        cells: dict[str, str | list[str]] = {EMAIL: email}
        for question_id, value in answers.items():
            if question_id not in known:
                problems.append(Problem(index, str(question_id), "This is not a question of the questionnaire; "
                                                                 f"known ids: {', '.join(sorted(known))}."))
                continue
            found, problem = _cells(known[question_id], value)
            if problem:
                problems.append(Problem(index, question_id, problem))
            cells.update(found)
        entries.append(Entry(index, cells, {target: split_target(target)[0] for target in cells}, kind="entry"))
    return entries, problems


def _problem_list(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"index": problem.row, "field": problem.column, "problem": problem.message} for problem in problems]


@blueprint.route("/webhook", methods=["POST"])
def receive() -> tuple[Response, int]:
    """Check the signature, the timestamp and the delivery id, then import every person in the body, or none."""
    settings = plugin_settings("questionnaire_import")
    if settings is None or settings.webhook_secret is None:
        return _error(404, "Not found: this site has no import webhook.")
    body = request.get_data(cache=False)
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    delivery_id = request.headers.get(DELIVERY_HEADER, "").strip()
    message = signed_bytes(timestamp, delivery_id, body)
    if not signature_ok(settings.webhook_secret.get_secret_value(), message, request.headers.get(SIGNATURE_HEADER)):
        return _error(401, f"The {SIGNATURE_HEADER} header is missing or wrong: send sha256=<hex HMAC-SHA256 of "
                           f"\"<{TIMESTAMP_HEADER}>.<{DELIVERY_HEADER}>.\" followed by the raw body, keyed with the "
                           "shared secret>.", code="signature")
    problem = _delivery_problem(timestamp, delivery_id)
    if problem is not None:
        return problem
    if _seen(delivery_id):
        return _replayed()
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return _error(400, f"The body is not UTF-8 JSON: {error}.")
    questionnaire = active_questionnaire()
    if questionnaire is None:
        return _error(503, "This site has no active questionnaire to import into; try again later.")
    entries, problems = entries_from_json(payload, questionnaire, settings.max_rows)
    checked, more = check_entries(entries, questionnaire, settings.list_separator)
    problems = sorted(problems + more, key=lambda problem: -1 if problem.row is None else problem.row)
    if problems:
        return _error(422, "Nothing was stored; fix these answers and send them again.",
                      problems=_problem_list(problems))
    try:
        with database.atomic():
            _take_delivery(delivery_id)
            outcome = apply(checked, questionnaire, settings.invite_note)
    except peewee.IntegrityError:
        if _seen(delivery_id):  # the same delivery arrived twice at once: the first one stands
            return _replayed()
        raise
    except ConcurrentImportError:
        return _error(409, "Another import changed the same accounts at the same moment; send it again.")
    return jsonify(outcome.counts()), 200


def _seen(delivery_id: str) -> bool:
    return WebhookDelivery.select().where(WebhookDelivery.delivery_id == delivery_id).exists()


def _replayed() -> tuple[Response, int]:
    return _error(409, f"This {DELIVERY_HEADER} was received before and is not applied again; a new delivery "
                       "needs a new id.", code="replayed")


def _take_delivery(delivery_id: str) -> None:
    """Remember the delivery id (IntegrityError when taken already) and forget ids past the window."""
    now = utcnow()
    WebhookDelivery.delete().where(WebhookDelivery.received_at < now - KEEP_DELIVERIES).execute()
    with database.atomic():  # a savepoint: a duplicate leaves the outer transaction usable
        WebhookDelivery.create(delivery_id=delivery_id, received_at=now)


@blueprint.errorhandler(413)
def too_large(error: Exception) -> tuple[Response, int]:
    """A body over the site's request limit (2 MB)."""
    return _error(413, "The body is larger than the site accepts (2 MB); send fewer people at once.")


csrf_exempt(receive)
