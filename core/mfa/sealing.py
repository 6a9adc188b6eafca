"""Authenticator secrets are stored sealed (Fernet: AES-128-CBC with HMAC-SHA-256) under a key derived from
the instance secret, so a copy of the database alone cannot produce anyone's codes."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"oss-connect totp secret v1"


def _fernet(instance_key: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(instance_key)
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str, instance_key: bytes) -> str:
    """The stored form of an authenticator secret."""
    return _fernet(instance_key).encrypt(secret.encode("ascii")).decode("ascii")


def unseal(sealed: str, instance_key: bytes) -> str | None:
    """The secret back, or None when it was sealed under another instance key (site.secret_key changed)."""
    try:
        return _fernet(instance_key).decrypt(sealed.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        return None
