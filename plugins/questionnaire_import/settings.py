"""The settings of questionnaire_import (`plugins: questionnaire_import:` in the instance config)."""

from __future__ import annotations

import re

from pydantic import SecretStr, field_validator

from core.api import Field, Section

EMAIL = "email"
PARTS = ("country", "region", "city", "postal_code", "text")
TARGET = re.compile(r"^(?P<question>[a-z][a-z0-9_]*)(?:\.(?P<part>[a-z_]+))?$")


class ImportSettings(Section):
    """Settings under `plugins: questionnaire_import:`."""

    columns: dict[str, str] = Field(..., description="CSV column header -> question id, `question.part` for "
                                                     "location parts, or `email` (required, exactly once).")
    list_separator: str = Field(";", min_length=1, max_length=3, description="Separates the items of a cell "
                                "that holds several answers (multiple choice, languages, availability).")
    webhook_secret: SecretStr | None = Field(None, description="The HMAC-SHA256 secret form tools sign webhook "
                                             "deliveries with (timestamp, delivery id and body; use "
                                             "${IMPORT_WEBHOOK_SECRET}); unset: no webhook.")
    max_rows: int = Field(2000, ge=1, le=100_000, description="The most data rows (or webhook entries) in one import.")
    max_file_kb: int = Field(1024, ge=1, le=2000, description="The largest CSV file accepted, in KB "
                                                               "(the site takes at most 2 MB per request).")
    invite_note: str = Field("", max_length=1000, description="A sentence added to the invitation email, "
                                                              "e.g. who collected the answers.")

    @field_validator("columns")
    @classmethod
    def _columns_are_well_formed(cls, columns: dict[str, str]) -> dict[str, str]:
        cleaned: dict[str, str] = {}
        seen_headers: set[str] = set()
        for header, target in columns.items():
            name = str(header).strip()
            if not name:
                raise ValueError("a column header is empty; write the header exactly as in the file's first row")
            if name.casefold() in seen_headers:
                raise ValueError(f"the column '{name}' is listed twice (headers are compared ignoring case)")
            seen_headers.add(name.casefold())
            target = str(target or "").strip()
            match = TARGET.match(target)
            if match is None or (match["part"] and match["part"] not in PARTS):
                raise ValueError(f"column '{name}' maps to '{target}': write a question id such as first_name, "
                                 f"a location part such as location.country (parts: {', '.join(PARTS)}), or email")
            cleaned[name] = target
        targets = list(cleaned.values())
        if targets.count(EMAIL) != 1:
            raise ValueError("map exactly one column to email (for example Email: email); "
                             f"found {targets.count(EMAIL)}")
        doubled = sorted({target for target in targets if targets.count(target) > 1})
        if doubled:
            raise ValueError(f"several columns map to {', '.join(doubled)}; map each question (or part) once")
        return cleaned

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, secret: object) -> object:
        return None if isinstance(secret, str) and not secret.strip() else secret

    @field_validator("webhook_secret")
    @classmethod
    def _secret_is_strong(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 16:
            raise ValueError("the webhook secret is shorter than 16 characters; make one with "
                             "`openssl rand -hex 32`")
        return secret
