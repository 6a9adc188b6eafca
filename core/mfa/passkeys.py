"""Passkeys (WebAuthn) through the `webauthn` package: options for the browser, and checking what it
answers. The relying party is the site's public address (`site.base_url`): its host is the RP id and
its origin the only origin accepted. Storage is the caller's (core.mfa.factors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

MAX_CREDENTIAL_JSON = 64_000


class PasskeyError(ValueError):
    """The browser's answer is not a valid passkey response for this site and challenge."""


@dataclass(frozen=True)
class RelyingParty:
    """This site as WebAuthn sees it."""

    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class NewPasskey:
    """A verified registration, ready to store."""

    credential_id: str
    public_key: str
    sign_count: int
    transports: list[str]


def relying_party(base_url: str, name: str) -> RelyingParty:
    """The relying party of a site served at `base_url`."""
    parts = urlsplit(base_url)
    return RelyingParty(id=parts.hostname or "localhost", name=name, origin=f"{parts.scheme}://{parts.netloc}")


def registration_options(rp: RelyingParty, user_handle: bytes, user_name: str,
                         exclude: list[str]) -> tuple[dict[str, Any], bytes]:
    """Options for `navigator.credentials.create` (a discoverable credential that verifies its user),
    and the challenge to keep until the answer comes back."""
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=user_handle, user_name=user_name, user_display_name=user_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(item)) for item in exclude])
    return options_to_json_dict(options), options.challenge


def verify_registration(rp: RelyingParty, credential: Any, challenge: bytes) -> NewPasskey:
    """Check the browser's answer to `registration_options`; raise PasskeyError when it is not valid."""
    try:
        verified = verify_registration_response(
            credential=_as_json(credential), expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, require_user_verification=True)
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(f"The passkey could not be registered: {error}") from error
    transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    known = {item.value for item in AuthenticatorTransport}
    return NewPasskey(credential_id=bytes_to_base64url(verified.credential_id),
                      public_key=bytes_to_base64url(verified.credential_public_key),
                      sign_count=verified.sign_count,
                      transports=[item for item in (transports or []) if item in known])


def authentication_options(rp: RelyingParty, allow: list[tuple[str, list[str]]]) -> tuple[dict[str, Any], bytes]:
    """Options for `navigator.credentials.get`: `allow` lists (credential id, transports) of one person,
    or is empty to let the browser offer any passkey it holds for this site (sign-in without a password)."""
    options = generate_authentication_options(
        rp_id=rp.id, user_verification=UserVerificationRequirement.REQUIRED,
        allow_credentials=[PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(credential_id),
            transports=[AuthenticatorTransport(item) for item in transports]) for credential_id, transports in allow])
    return options_to_json_dict(options), options.challenge


def credential_id_of(credential: Any) -> str:
    """The base64url credential id a browser's answer names; raise PasskeyError when it names none."""
    raw = credential.get("rawId") or credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(raw, str) or not raw or len(raw) > 1400:
        raise PasskeyError("The answer names no passkey.")
    try:
        return bytes_to_base64url(base64url_to_bytes(raw))
    except (ValueError, TypeError) as error:
        raise PasskeyError("The answer names no passkey.") from error


def verify_authentication(rp: RelyingParty, credential: Any, challenge: bytes, public_key: str,
                          sign_count: int) -> int:
    """Check a sign-in answer against the stored public key; the authenticator's new signature counter.
    Raise PasskeyError when it is not valid (a counter that went backwards included)."""
    try:
        verified = verify_authentication_response(
            credential=_as_json(credential), expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=base64url_to_bytes(public_key),
            credential_current_sign_count=sign_count, require_user_verification=True)
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(f"The passkey could not be checked: {error}") from error
    return verified.new_sign_count


def _as_json(credential: Any) -> str:
    if not isinstance(credential, dict):
        raise PasskeyError("The answer is not a passkey response.")
    text = json.dumps(credential)
    if len(text) > MAX_CREDENTIAL_JSON:
        raise PasskeyError("The answer is too long to be a passkey response.")
    return text
