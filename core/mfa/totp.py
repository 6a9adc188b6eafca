"""Authenticator-app codes (RFC 6238 TOTP, 6 digits every 30 seconds): secrets, the setup QR code as
SVG, and checking a code so each one is accepted only once."""

from __future__ import annotations

import datetime as dt
import hmac
import re

import pyotp
import segno

DIGITS = 6
STEP_SECONDS = 30
VALID_WINDOW = 1  # one step either side, for clocks that drift and people who type slowly
_CODE = re.compile(r"^[0-9]{6}$")


def new_secret() -> str:
    """A fresh random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline SVG element (dark modules on a white background)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", border=4)


def normalise_code(code: str | None) -> str:
    """A typed code without spaces (apps show `123 456`)."""
    return re.sub(r"\s+", "", code or "")


def looks_like_code(code: str | None) -> bool:
    """True for six digits (spaces allowed), the shape of an authenticator-app code."""
    return bool(_CODE.match(normalise_code(code)))


def matching_step(secret: str, code: str | None, last_step: int, now: dt.datetime | None = None) -> int | None:
    """The time step `code` belongs to, if it is valid now (one step either side) and newer than
    `last_step`; else None. The caller stores the step so the same code is refused next time."""
    code = normalise_code(code)
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or dt.datetime.now(dt.UTC))
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
