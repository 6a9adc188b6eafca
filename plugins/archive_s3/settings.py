"""The settings under `plugins: archive_s3:`: the bucket (any S3-compatible store) and the institution."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator

from core.api import Field, Section


class InstitutionSettings(Section):
    """Who receives the deposits, as admins read it when a deposit must be withdrawn by hand."""

    name: str = Field("", max_length=200, description=(
        "The institution's name as admins should read it; empty: \"the archive's S3 bucket BUCKET\"."))
    contact: str = Field("", max_length=300, description=(
        "Whom admins contact there (a person, an address or a phone number); shown to admins only."))


class S3ArchiveSettings(Section):
    """Settings under `plugins: archive_s3:` (docs/archive-s3.md); the bucket's fields as in storage.s3."""

    bucket: str = Field(..., min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
                        description="The bucket's name; it must exist.")
    endpoint_url: str | None = Field(None, description=(
        "The service's address, e.g. https://s3.example.org or http://127.0.0.1:9000; empty: AWS."))
    region: str = Field("us-east-1", min_length=1, max_length=40, description="The bucket's region.")
    prefix: str = Field("", max_length=200, pattern=r"^([a-z0-9][a-z0-9_.-]*/)*$", description=(
        "A folder inside the bucket for the bags, ending with /, e.g. oss-connect/; empty: the root. Each bag "
        "is under PREFIX + its identifier + /."))
    access_key_id: SecretStr | None = Field(None, description=(
        "Use ${ARCHIVE_S3_ACCESS_KEY_ID}; empty: boto3's usual sources (environment, instance role)."))
    secret_access_key: SecretStr | None = Field(None, description="Use ${ARCHIVE_S3_SECRET_ACCESS_KEY}.")
    institution: InstitutionSettings = Field(default_factory=InstitutionSettings, description=(
        "Who receives the deposits, shown to admins."))
    tell_on_withdraw: bool = Field(False, description=(
        "true: after deleting a withdrawn bag, tell the admin to inform the institution too (when it copies "
        "the bucket elsewhere); false: deleting it is the whole withdrawal."))

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) address such as https://s3.example.org")
        return value.rstrip("/")

    @field_validator("access_key_id", "secret_access_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _both_keys_or_neither(self) -> S3ArchiveSettings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("only one of access_key_id and secret_access_key is set; set both (e.g. "
                             "${ARCHIVE_S3_ACCESS_KEY_ID} and ${ARCHIVE_S3_SECRET_ACCESS_KEY}) or neither")
        return self
