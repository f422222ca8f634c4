"""Small symmetric encryption for secrets kept in the database (TOTP seeds).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived by HKDF from the
installation secret, so a copy of the database alone does not reveal the seeds.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@functools.lru_cache(maxsize=16)
def _fernet(secret: str, purpose: str) -> Fernet:
    """Derived once per installation secret and purpose: every ballot's step-up opens a seed."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"ecabinet:{purpose}".encode()).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, purpose: str, plaintext: str) -> str:
    return _fernet(secret, purpose).encrypt(plaintext.encode()).decode()


def unseal(secret: str, purpose: str, token: str) -> str:
    try:
        return _fernet(secret, purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("sealed value cannot be opened with this installation's secret") from None
