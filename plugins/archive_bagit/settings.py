"""The settings under `plugins: archive_bagit:`: the pickup folder, the institution, optional SFTP delivery."""

from __future__ import annotations

import re

from pydantic import SecretStr, field_validator, model_validator

from core.api import Field, Section

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9a-fA-F:.]+\]?$")


class InstitutionSettings(Section):
    """Who collects the bags, as admins read it when a deposit must be withdrawn by hand."""

    name: str = Field("", max_length=200, description=(
        "The institution's name as admins should read it, e.g. \"County Historical Society\"; "
        "empty: \"the archive collecting the BagIt bags\"."))
    contact: str = Field("", max_length=300, description=(
        "Whom admins contact there (a person, an address or a phone number); shown to admins only."))


class SftpSettings(Section):
    """Delivery by SFTP to the institution's server instead of a local folder."""

    host: str = Field(..., min_length=1, max_length=253, description="The SFTP server's host name or IP address.")
    port: int = Field(22, ge=1, le=65535, description="The SFTP server's port.")
    username: str = Field(..., min_length=1, max_length=100, description="The account the institution gave you.")
    password: SecretStr | None = Field(None, description="Its password, as ${SFTP_PASSWORD}; or use private_key_file.")
    private_key_file: str | None = Field(None, description=(
        "A private key file (OpenSSH format), relative to the instance folder; preferred over a password."))
    private_key_passphrase: SecretStr | None = Field(None, description=(
        "The key file's passphrase, as ${SFTP_KEY_PASSPHRASE}, if it has one."))
    known_hosts_file: str = Field(..., min_length=1, description=(
        "A known_hosts file holding the server's host key, relative to the instance folder. Required: the "
        "server's identity is always checked. Make it with `ssh-keyscan -p PORT HOST > known_hosts` and compare "
        "the fingerprint with the one the institution gives you."))
    remote_folder: str = Field(..., min_length=1, max_length=1000, description=(
        "The folder on the server the bags go into (absolute, or relative to the account's home)."))
    timeout_seconds: int = Field(30, ge=1, le=600, description="How long to wait for the server to answer.")

    @field_validator("host")
    @classmethod
    def _plain_host(cls, value: str) -> str:
        """A host name, not a URL."""
        text = value.strip()
        if "://" in text or "/" in text or "@" in text:
            raise ValueError(f"a host name is expected, not a URL or user@host ({text!r}); write e.g. "
                             "`host: sftp.example.org` and put the user under `username:`")
        if not _HOST.match(text):
            raise ValueError("must be a host name like sftp.example.org or an IP address")
        return text

    @field_validator("password", "private_key_passphrase", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _needs_a_credential(self) -> SftpSettings:
        """A password or a key file (or both: the key is tried first)."""
        if self.password is None and not self.private_key_file:
            raise ValueError("sftp needs a credential: set private_key_file (preferred) or password: "
                             "${SFTP_PASSWORD}")
        return self


class BagitSettings(Section):
    """Settings under `plugins: archive_bagit:` (docs/archive-bagit.md)."""

    folder: str = Field("archive/outbox", min_length=1, description=(
        "The pickup folder the bags are written to, relative to the instance folder; each bag is a "
        "folder named by its identifier. Not used when sftp is set."))
    institution: InstitutionSettings = Field(default_factory=InstitutionSettings, description=(
        "Who collects the bags, shown to admins."))
    tell_on_withdraw: bool = Field(True, description=(
        "A withdrawal removes the bag if it is still there, and tells the admin to inform the institution, "
        "which may have collected it already. false: a removed bag counts as withdrawn."))
    sftp: SftpSettings | None = Field(None, description=(
        "Deliver by SFTP to the institution's server instead of the folder; empty: the folder."))
