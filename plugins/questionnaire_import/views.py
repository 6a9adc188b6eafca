"""The admin page /admin/import/: the expected columns, a CSV template, the upload form and its report."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, make_response, render_template, request
from flask_login import current_user
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.wrappers import Response

from core.api import TextForm, active_questionnaire, admin_required, plugin_settings

from .convert import HINTS, LIST_TYPES, mapped_columns, mapping_problems
from .csvfile import read_csv
from .service import ConcurrentImportError, Outcome, run_import
from .settings import EMAIL

blueprint = Blueprint("questionnaire_import", __name__, url_prefix="/admin/import")
TEMPLATE = "questionnaire_import/admin.html"
SHOWN_PROBLEMS = 500


class UploadForm(TextForm):
    """Upload one CSV file."""

    file = FileField("CSV file", validators=[
        FileRequired("Choose the CSV file to import."),
        FileAllowed(["csv", "txt"], "Upload a .csv file. From a spreadsheet, choose Save As > CSV UTF-8."),
    ])

    def validate_file(self, field: Any) -> None:
        """At most max_file_kb (a library validator with the limit from the config)."""
        limit = plugin_settings("questionnaire_import").max_file_kb
        FileSize(max_size=limit * 1024, message=f"The file is larger than {limit} KB, the limit for one import. "
                                                "Split it into smaller files.")(self, field)


def _settings() -> Any:
    return plugin_settings("questionnaire_import")


def expected_columns(questionnaire: Any) -> list[dict[str, str]]:
    """Each mapped column with the question it fills and what to write in it."""
    settings = _settings()
    rows = []
    for column in mapped_columns(settings.columns):
        if column.target == EMAIL:
            rows.append({"header": column.header, "fills": "Email address (required)",
                         "write": "One address per person; each person once."})
            continue
        question = questionnaire.question(column.question_id) if questionnaire else None
        if question is None:
            rows.append({"header": column.header, "fills": column.target, "write": "Unknown question (see above)."})
            continue
        rows.append({"header": column.header,
                     "fills": question.label + (f" ({column.part.replace('_', ' ')})" if column.part else ""),
                     "write": _what_to_write(question, column.part, settings.list_separator)})
    return rows


def _what_to_write(question: Any, part: str, separator: str) -> str:
    kind = question.type
    several = f" Separate several with '{separator}'." if kind in LIST_TYPES else ""
    if part == "text":
        return "The self-description, when that option is chosen (at most 60 characters)."
    if part and part != "country":
        return f"The {part.replace('_', ' ')} (at most 80 characters)."
    if kind in ("single_choice", "multiple_choice"):
        options = ", ".join(f"{choice.label} ({choice.value})" for choice in question.choices)
        return f"{'One' if kind == 'single_choice' else 'Any'} of: {options}.{several}"
    if kind == "scale":
        scale = question.scale
        return f"A number from {scale.min} ({scale.min_label}) to {scale.max} ({scale.max_label})."
    if kind in ("short_text", "long_text"):
        return f"Text, at most {question.max_length} characters."
    return HINTS.get(kind, "").format(sep=separator) + ("" if kind in LIST_TYPES else several)


def _page(form: UploadForm, status: int = 200, outcome: Outcome | None = None, error: str = "",
          ignored: list[str] | None = None) -> tuple[str, int]:
    questionnaire = active_questionnaire()
    problems = mapping_problems(_settings().columns, questionnaire) if questionnaire else []
    return render_template(TEMPLATE, form=form, questionnaire=questionnaire, mapping_problems=problems,
                           columns=expected_columns(questionnaire), outcome=outcome, error=error,
                           ignored=ignored or [], shown=SHOWN_PROBLEMS), status


@blueprint.route("/", methods=["GET", "POST"])
@admin_required
def upload() -> tuple[str, int]:
    """Show the page; on POST check the whole file and import it, or nothing."""
    if request.method != "POST":
        return _page(UploadForm())
    # TextForm reads text fields from the form body only; this form's one field is the file, so pass both.
    form = UploadForm(formdata=CombinedMultiDict((request.files, request.form)))
    if not form.validate():
        return _page(form, 400)
    questionnaire = active_questionnaire()
    if questionnaire is None or mapping_problems(_settings().columns, questionnaire):
        return _page(form, 409, error="Fix the column mapping described above before importing.")
    read = read_csv(form.file.data.read(), _settings())
    if read.problems:
        return _page(form, 422, outcome=Outcome(problems=read.problems), ignored=read.ignored)
    try:
        outcome = run_import(read.entries, questionnaire, _settings().list_separator, _settings().invite_note)
    except ConcurrentImportError:
        return _page(form, 409, error="Another import changed the same accounts at the same moment. "
                                      "Upload the file again.")
    return _page(UploadForm(formdata=None), 422 if outcome.problems else 200, outcome=outcome, ignored=read.ignored)


@blueprint.route("/template.csv")
@admin_required
def template() -> Response:
    """An empty CSV with the expected header row (UTF-8 with a byte-order mark, so Excel reads it right)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(list(_settings().columns))
    response = make_response("\ufeff" + buffer.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="questionnaire-import-template.csv"'
    return response


@blueprint.errorhandler(413)
def too_large(error: Exception) -> tuple[str, int]:
    """A file over the site's request limit (2 MB): the page again, with the reason (admins only)."""
    if not (current_user.is_authenticated and current_user.has_role("admin")):
        return "The request is larger than the site accepts (2 MB).", 413
    return _page(UploadForm(formdata=None), 413, error="The file is larger than the site accepts (2 MB). "
                                                       "Split it into smaller files and upload them one by one.")
