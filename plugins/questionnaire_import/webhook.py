"""POST /import/webhook: a form tool sends answers as JSON, signed with HMAC-SHA256 (GitHub style).

Header `X-Signature: sha256=<hex HMAC-SHA256 of the raw body with webhook_secret>`. A wrong or
missing signature gets 401 and stores nothing; every answer is checked before anything is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from core.api import Question, Questionnaire, active_questionnaire, csrf_exempt, plugin_settings

from .convert import LIST_TYPES, LOCATION_PARTS, split_target
from .csvfile import Entry, Problem
from .service import ConcurrentImportError, apply, check_entries
from .settings import EMAIL

blueprint = Blueprint("questionnaire_import_webhook", __name__, url_prefix="/import")
SIGNATURE_HEADER = "X-Signature"


def _error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is `sha256=` and the hex HMAC-SHA256 of `body` (compared in constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


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
    """Check the signature, then import every person in the body, or none."""
    settings = plugin_settings("questionnaire_import")
    if settings is None or settings.webhook_secret is None:
        return _error(404, "Not found: this site has no import webhook.")
    body = request.get_data(cache=False)
    if not signature_ok(settings.webhook_secret.get_secret_value(), body, request.headers.get(SIGNATURE_HEADER)):
        return _error(401, f"The {SIGNATURE_HEADER} header is missing or wrong: send "
                           "sha256=<hex HMAC-SHA256 of the raw body, keyed with the shared secret>.")
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
        outcome = apply(checked, questionnaire, settings.invite_note)
    except ConcurrentImportError:
        return _error(409, "Another import changed the same accounts at the same moment; send it again.")
    return jsonify(outcome.counts()), 200


@blueprint.errorhandler(413)
def too_large(error: Exception) -> tuple[Response, int]:
    """A body over the site's request limit (2 MB)."""
    return _error(413, "The body is larger than the site accepts (2 MB); send fewer people at once.")


csrf_exempt(receive)
