"""Read an uploaded CSV file into rows of cells by target, or say exactly why it cannot be read."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .convert import mapped_columns
from .settings import EMAIL, ImportSettings

DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import: where (row or entry; None for the whole file), which column, what."""

    row: int | None
    column: str
    message: str


@dataclass
class Entry:
    """One person to import: where they came from, their cells by target, and the column behind each target."""

    row: int
    cells: dict[str, str | list[str]]
    columns: dict[str, str] = field(default_factory=dict)
    kind: str = "row"

    def column_of(self, question_id: str) -> str:
        """The column header(s) feeding a question, for the report."""
        headers = [header for target, header in self.columns.items()
                   if target == question_id or target.startswith(question_id + ".")]
        return ", ".join(headers) or question_id


@dataclass
class ReadFile:
    """The rows of a file, columns in the file the mapping does not use, and problems reading it."""

    entries: list[Entry] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def whole_file(message: str) -> ReadFile:
    """A file that cannot be read at all."""
    return ReadFile(problems=[Problem(None, "", message)])


def decode(data: bytes) -> tuple[str | None, str]:
    """The file's text, or None and the reason it is not a UTF-8 CSV file."""
    if not data.strip():
        return None, "The file is empty. Upload a CSV file with a header row and one row per person."
    if data.startswith(b"PK\x03\x04"):
        return None, ("This is a spreadsheet workbook (.xlsx or .ods), not a CSV file. In the spreadsheet "
                      "choose Save As (or Download) > CSV UTF-8 and upload that file.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, ("The file is UTF-16 text (Excel's 'Unicode text'). Save it as 'CSV UTF-8 "
                      "(comma delimited)' and upload it again.")
    if b"\x00" in data[:4096]:
        return None, "This is not a text file. Upload a CSV file saved as UTF-8 text."
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        return None, (f"The file is not UTF-8 text (the first character that is not UTF-8 is on line {line}). "
                      "In Excel choose Save As > 'CSV UTF-8 (comma delimited)'; in LibreOffice tick 'Edit filter "
                      "settings' and choose the character set 'Unicode (UTF-8)'; then upload it again.")


def _header_and_delimiter(text: str, email_header: str) -> tuple[list[str], str] | None:
    first = text.splitlines()[0] if text.strip() else ""
    for delimiter in DELIMITERS:
        header = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
        if email_header.casefold() in (cell.strip().casefold() for cell in header):
            return [cell.strip() for cell in header], delimiter
    return None


def read_csv(data: bytes, settings: ImportSettings) -> ReadFile:
    """Split a CSV file into entries (header is row 1, as a spreadsheet numbers it); check its shape."""
    text, reason = decode(data)
    if text is None:
        return whole_file(reason)
    columns = mapped_columns(settings.columns)
    email_header = next(column.header for column in columns if column.target == EMAIL)
    found = _header_and_delimiter(text, email_header)
    if found is None:
        first = text.splitlines()[0][:200] if text.strip() else ""
        return ReadFile(problems=[Problem(1, email_header, (
            f"The header row has no column '{email_header}' (the email address). The first row reads: "
            f"'{first}'. Download the template from this page for the expected header row; the file must be "
            "comma-, semicolon- or tab-separated."))])
    header, delimiter = found
    result = ReadFile()
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name.casefold() in positions and name:
            result.problems.append(Problem(1, name, "This column appears twice in the header row; keep one."))
        positions.setdefault(name.casefold(), index)
    wanted = {column.header.casefold() for column in columns}
    result.ignored = [name for name in header if name and name.casefold() not in wanted]
    for column in columns:
        if column.header.casefold() not in positions:
            result.problems.append(Problem(1, column.header, (
                f"The column is missing from the header row (it fills '{column.target}'). Add it (its cells "
                "may be empty) or remove it from the mapping in the config.")))
    if result.problems:
        return result
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))[1:]
    except csv.Error as error:
        return whole_file(f"The file is not a valid CSV file: {error}. Save it again as CSV UTF-8.")
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines at the end of a spreadsheet
        if len(result.entries) >= settings.max_rows:
            return whole_file(f"The file has more than {settings.max_rows} rows of people (the limit is "
                              "max_rows in the config). Split it into several files.")
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            result.problems.append(Problem(number, "", (
                f"This row has {len(row)} cells but the header row has {len(header)}. Is a cell that contains "
                f"'{delimiter}' missing its quotes?")))
            continue
        cells = {column.target: (row[positions[column.header.casefold()]]
                                 if positions[column.header.casefold()] < len(row) else "")
                 for column in columns}
        result.entries.append(Entry(number, cells, {column.target: column.header for column in columns}))
    if not result.entries and not result.problems:
        return whole_file("The file has a header row but no rows of people.")
    return result
