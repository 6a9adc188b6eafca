"""A person's second factors as a service: set up, check, remove and reset, each change written to the
audit record in the same transaction. Views call these; the helper modules hold no state."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import peewee
from flask import current_app

from core import audit
from core.db import database, utcnow
from core.mail import queue_email
from core.mfa import passkeys, recovery, sealing, throttle, totp
from core.mfa.policy import role_requires_second_factor
from core.models import PasskeyCredential, RecoveryCode, TotpFactor, User
from core.urls import external_url

TOTP, RECOVERY_CODE, PASSKEY = "totp", "recovery_code", "passkey"

# What the notice to the account's owner says happened (after each change of how they sign in).
CHANGES = {
    "totp_on": "An authenticator app was set up as your second factor.",
    "totp_off": "Your authenticator app was turned off as a second factor.",
    "passkey_added": "A passkey was added to your account.",
    "passkey_removed": "A passkey was removed from your account.",
    "codes_new": "New recovery codes were made; the earlier ones no longer work.",
    "code_used": "A recovery code was used to sign in to your account.",
}


class CodeResult(enum.Enum):
    """What checking a typed code found."""

    ACCEPTED = "accepted"
    RECOVERY_ACCEPTED = "recovery_accepted"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class FactorStatus:
    """What a person has set up."""

    totp: bool
    passkeys: list[PasskeyCredential]
    recovery_left: int

    @property
    def any(self) -> bool:
        """True when at least one second factor is active."""
        return self.totp or bool(self.passkeys)


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings


def _key() -> bytes:
    secret = current_app.secret_key
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret or b"")


def status(user: User) -> FactorStatus:
    """The person's active factors and how many recovery codes are unused."""
    confirmed = TotpFactor.select().where(
        (TotpFactor.user == user) & TotpFactor.confirmed_at.is_null(False)).exists()
    keys = list(PasskeyCredential.select().where(PasskeyCredential.user == user).order_by(PasskeyCredential.id))
    left = RecoveryCode.select().where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null()).count()
    return FactorStatus(totp=confirmed, passkeys=keys, recovery_left=left)


def has_second_factor(user: User) -> bool:
    """True when signing in as this person needs a second step."""
    return status(user).any


def is_required(user: User) -> bool:
    """True when the person's role must have a second factor (accounts.mfa.required_roles)."""
    return role_requires_second_factor(user.role, _settings().accounts.mfa.required_roles)


# Authenticator app ------------------------------------------------------------------------------

def totp_setup(sealed: str | None) -> tuple[str, str]:
    """The secret of an authenticator setup in progress and its sealed form, to keep in the browser's
    session until it is confirmed (a new one when there is none or it cannot be unsealed any more).
    Nothing is written: opening the setup page changes nothing (the row is made by `confirm_totp`)."""
    secret = sealing.unseal(sealed, _key()) if sealed else None
    if secret is None:
        secret = totp.new_secret()
        sealed = sealing.seal(secret, _key())
    return secret, sealed


def totp_qr(user: User, secret: str) -> tuple[str, str]:
    """The otpauth:// address of a setup and its QR code as inline SVG."""
    uri = totp.provisioning_uri(secret, user.email, _settings().site.name)
    return uri, totp.qr_svg(uri)


def _secret_of(factor: TotpFactor) -> str | None:
    return sealing.unseal(factor.secret, _key())


def confirm_totp(user: User, sealed: str | None, code: str | None) -> list[str] | None:
    """Turn on the authenticator setup whose sealed secret the browser kept, with a current code. None
    when the code is wrong (or the person has an app already); else the new recovery codes to show once
    (empty when the person still has unused ones)."""
    secret = sealing.unseal(sealed, _key()) if sealed else None
    step = totp.matching_step(secret, code, 0) if secret else None
    if step is None:
        return None
    with database.atomic():
        TotpFactor.delete().where((TotpFactor.user == user) & TotpFactor.confirmed_at.is_null()).execute()
        try:
            with database.atomic():
                TotpFactor.create(user=user, secret=sealed, confirmed_at=utcnow(), last_step=step)
        except peewee.IntegrityError:  # another request turned an app on a moment ago
            return None
        audit.record_event(audit.MFA_ENROLLED, actor_id=user.id, subject_id=user.id, details={"factor": TOTP})
        codes = _first_recovery_codes(user)
    notify(user, "totp_on")
    return codes


def remove_totp(user: User) -> None:
    """Turn the authenticator app off (recovery codes go too when no factor is left)."""
    with database.atomic():
        removed = TotpFactor.delete().where(TotpFactor.user == user).execute()
        if removed:
            audit.record_event(audit.MFA_REMOVED, actor_id=user.id, subject_id=user.id, details={"factor": TOTP})
        _drop_recovery_codes_if_no_factor(user)
    if removed:
        notify(user, "totp_off")


def check_code(user: User, code: str | None) -> CodeResult:
    """Check a typed authenticator code or recovery code at sign-in (each accepted once); wrong codes
    count towards the lock, and every failure and every recovery code used is audited."""
    if throttle.locked_until(user) is not None:
        return CodeResult.LOCKED
    if totp.looks_like_code(code):
        kind, accepted = TOTP, _spend_totp(user, code)
        result = CodeResult.ACCEPTED
    else:
        kind, accepted = RECOVERY_CODE, _spend_recovery_code(user, code)
        result = CodeResult.RECOVERY_ACCEPTED
    if accepted:
        throttle.clear(user)
        return result
    return CodeResult.LOCKED if record_failure(user, kind) else CodeResult.WRONG


def record_failure(user: User, kind: str) -> dt.datetime | None:
    """Count and audit one failed second step of `kind`; the end of the lock when this one locked it."""
    mfa = _settings().accounts.mfa
    return throttle.record_failure(user, kind, mfa.max_failures, mfa.lock_minutes)


def _spend_totp(user: User, code: str | None) -> bool:
    factor = TotpFactor.get_or_none((TotpFactor.user == user) & TotpFactor.confirmed_at.is_null(False))
    secret = _secret_of(factor) if factor else None
    if secret is None:
        return False
    step = totp.matching_step(secret, code, factor.last_step)
    if step is None:
        return False
    # Only one request can move the counter past this step: a replayed code loses the race.
    return TotpFactor.update(last_step=step).where(
        (TotpFactor.id == factor.id) & (TotpFactor.last_step < step)).execute() == 1


def verify_current_code(user: User, code: str | None) -> bool:
    """True when `code` is a current authenticator code (spent like a sign-in code); for confirming
    a sensitive change such as turning the second factor off."""
    return totp.looks_like_code(code) and _spend_totp(user, code)


# Recovery codes -----------------------------------------------------------------------------------

def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code with ten new ones, returned once to show."""
    with database.atomic():
        codes = _store_new_codes(user)
        audit.record_event(audit.RECOVERY_CODES_REGENERATED, actor_id=user.id, subject_id=user.id)
    notify(user, "codes_new")
    return codes


def _first_recovery_codes(user: User) -> list[str]:
    unused = RecoveryCode.select().where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null()).exists()
    return [] if unused else _store_new_codes(user)


def _store_new_codes(user: User) -> list[str]:
    RecoveryCode.delete().where(RecoveryCode.user == user).execute()
    codes = recovery.new_codes()
    RecoveryCode.insert_many([{"user": user, "code_hash": recovery.digest(code), "created_at": utcnow()}
                              for code in codes]).execute()
    return codes


def _spend_recovery_code(user: User, code: str | None) -> bool:
    canonical = recovery.normalise(code)
    if canonical is None:
        return False
    unused = RecoveryCode.select(RecoveryCode.id, RecoveryCode.code_hash).where(
        (RecoveryCode.user == user) & RecoveryCode.used_at.is_null())
    matched = next((row.id for row in unused if recovery.matches(row.code_hash, canonical)), None)
    if matched is None:
        return False
    with database.atomic():
        spent = RecoveryCode.update(used_at=utcnow()).where(
            (RecoveryCode.id == matched) & RecoveryCode.used_at.is_null()).execute()
        if spent != 1:  # another request spent it a moment ago
            return False
        left = RecoveryCode.select().where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null()).count()
        audit.record_event(audit.RECOVERY_CODE_USED, actor_id=user.id, subject_id=user.id, details={"left": left})
    notify(user, "code_used")
    return True


def _drop_recovery_codes_if_no_factor(user: User) -> None:
    if not status(user).any:
        RecoveryCode.delete().where(RecoveryCode.user == user).execute()


# Passkeys -----------------------------------------------------------------------------------------

def relying_party() -> passkeys.RelyingParty:
    """This site as WebAuthn's relying party (from site.base_url and site.name)."""
    site = _settings().site
    return passkeys.relying_party(site.base_url, site.name)


def user_handle(user: User) -> bytes:
    """The opaque WebAuthn user handle of a person (keyed, so it reveals no id)."""
    return hmac.new(_key(), f"webauthn-user:{user.id}".encode("ascii"), hashlib.sha256).digest()


def passkey_registration_options(user: User) -> tuple[dict[str, Any], bytes]:
    """Options for registering a new passkey (the person's existing ones are excluded)."""
    existing = [key.credential_id for key in PasskeyCredential.select().where(PasskeyCredential.user == user)]
    return passkeys.registration_options(relying_party(), user_handle(user), user.email, existing)


def add_passkey(user: User, credential: Any, challenge: bytes, name: str) -> list[str]:
    """Verify and store a new passkey; raise PasskeyError when it is invalid. The new recovery codes to
    show once (empty when the person still has unused ones)."""
    new = passkeys.verify_registration(relying_party(), credential, challenge)
    with database.atomic():
        if PasskeyCredential.select().where(PasskeyCredential.credential_id == new.credential_id).exists():
            raise passkeys.PasskeyError("This passkey is already registered.")
        key = PasskeyCredential.create(user=user, credential_id=new.credential_id, public_key=new.public_key,
                                       sign_count=new.sign_count, transports=new.transports,
                                       name=(name or "Passkey").strip()[:60] or "Passkey")
        audit.record_event(audit.PASSKEY_ADDED, actor_id=user.id, subject_id=user.id, details={"passkey_id": key.id})
        codes = _first_recovery_codes(user)
    notify(user, "passkey_added")
    return codes


def rename_passkey(user: User, passkey_id: int, name: str) -> bool:
    """Rename one of the person's passkeys; False when it is not theirs."""
    return PasskeyCredential.update(name=name.strip()[:60] or "Passkey").where(
        (PasskeyCredential.id == passkey_id) & (PasskeyCredential.user == user)).execute() == 1


def remove_passkey(user: User, passkey_id: int) -> bool:
    """Remove one of the person's passkeys; False when it is not theirs."""
    with database.atomic():
        removed = PasskeyCredential.delete().where(
            (PasskeyCredential.id == passkey_id) & (PasskeyCredential.user == user)).execute()
        if removed:
            audit.record_event(audit.PASSKEY_REMOVED, actor_id=user.id, subject_id=user.id,
                               details={"passkey_id": passkey_id})
            _drop_recovery_codes_if_no_factor(user)
    if removed:
        notify(user, "passkey_removed")
    return bool(removed)


def passkey_authentication_options(user: User | None) -> tuple[dict[str, Any], bytes]:
    """Options for signing in with a passkey: the person's own passkeys, or any (user None: no password)."""
    allow = [] if user is None else [
        (key.credential_id, key.transports or []) for key in
        PasskeyCredential.select().where(PasskeyCredential.user == user)]
    return passkeys.authentication_options(relying_party(), allow)


def authenticate_passkey(credential: Any, challenge: bytes, user: User | None) -> User:
    """The active person a passkey answer signs in (it must be `user`'s when given); raise PasskeyError
    otherwise. The stored signature counter and last use are updated."""
    credential_id = passkeys.credential_id_of(credential)
    key = PasskeyCredential.get_or_none(PasskeyCredential.credential_id == credential_id)
    if key is None or (user is not None and key.user_id != user.id) or not key.user.is_active:
        raise passkeys.PasskeyError("This passkey is not registered here.")
    new_count = passkeys.verify_authentication(relying_party(), credential, challenge, key.public_key, key.sign_count)
    PasskeyCredential.update(sign_count=new_count, last_used_at=utcnow()).where(
        PasskeyCredential.id == key.id).execute()
    throttle.clear(key.user)
    return key.user


# An admin's reset ---------------------------------------------------------------------------------

def reset_second_factor(user: User, actor_id: int | None, via: str = "admin") -> bool:
    """Remove every factor of `user` (authenticator, recovery codes, passkeys), audit it with who did it,
    and email the person. False when there was nothing to remove (nothing is written then)."""
    with database.atomic():
        removed = {
            TOTP: TotpFactor.delete().where(TotpFactor.user == user).execute(),
            RECOVERY_CODE: RecoveryCode.delete().where(RecoveryCode.user == user).execute(),
            PASSKEY: PasskeyCredential.delete().where(PasskeyCredential.user == user).execute(),
        }
        if not any(removed.values()):
            return False
        throttle.clear(user)
        audit.record_event(audit.MFA_RESET, actor_id=actor_id, subject_id=user.id,
                           details={"via": via, "removed": sorted(kind for kind, count in removed.items() if count)})
    queue_email(user.email, "Your second factor was reset", "second_factor_reset",
                login_url=external_url("auth.login"), required=is_required(user))
    return True


def notify(user: User, change: str) -> None:
    """Email the account's owner that how they sign in changed (one of CHANGES), so a change they did not
    make does not go unnoticed."""
    queue_email(user.email, "A change to how you sign in", "second_factor_changed", change=CHANGES[change],
                security_url=external_url("security.overview"))


def lock_remaining(user: User) -> dt.timedelta | None:
    """How long the second step stays locked, or None."""
    until = throttle.locked_until(user)
    return None if until is None else until - utcnow()
