"""Security headers on every response, CSRF protection, cookie flags and password hashing."""

from __future__ import annotations

import hashlib
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
_hasher = PasswordHasher()

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def token_digest(raw: str) -> str:
    """The stored form of a single-use link token (SHA-256 hex); the token itself is never stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing or malformed hash never matches."""
    if not stored_hash:
        _hasher.hash(password)  # same cost whether or not the account has a password
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)


def install_security_headers(app: Flask, production: bool) -> None:
    """CSP without inline script, nosniff, referrer policy, frame-ancestors, HSTS in production."""

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.view_args and "token" in request.view_args:
            headers["Referrer-Policy"] = "no-referrer"  # an emailed link's token never leaves in a Referer
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint and not request.endpoint.endswith("static") and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store" if _is_personal(response) else "no-cache"
        return response


def _is_personal(response: Response) -> bool:
    from flask_login import current_user

    try:
        return bool(current_user and current_user.is_authenticated)
    except Exception:  # headers must still go out when the user cannot be loaded
        return True


def session_cookie_settings(production: bool, remember_days: int) -> dict[str, Any]:
    """Cookie flags: HttpOnly and SameSite always; Secure and the __Host- prefix in production."""
    prefix = "__Host-" if production else ""
    return {
        "SESSION_COOKIE_NAME": f"{prefix}oss_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_NAME": f"{prefix}oss_remember",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": remember_days * 86400,
    }
