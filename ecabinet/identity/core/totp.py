"""TOTP (RFC 6238) with single use: a code is accepted only for a time step after the last one used.

pyotp makes the secrets, the provisioning URIs and the codes; checking a code (every step-up, every
ballot) computes the three candidate codes here, with the secret decoded once and the standard
library's one-call HMAC: pyotp decodes the secret again for each step. ``test_totp.py`` holds the
two to the same codes."""

from __future__ import annotations

import base64
import hmac
import time
import unicodedata

import pyotp

STEP_SECONDS = 30
# One step either side absorbs a tablet clock that is a little off.
WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = "e-Cabinet") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The time step whose code equals ``code``, or None. Constant-time comparison per step."""
    # NFKC, as pyotp compares: digits typed in full width (an East Asian input method) count.
    code = unicodedata.normalize("NFKC", code).strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    key = _key(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(_code(key, step), code):
            found = step
    return found


def _key(secret: str) -> bytes:
    """The base32 secret's bytes, as pyotp reads it (padding added, any case)."""
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def _code(key: bytes, step: int) -> str:
    """RFC 4226's six-digit HOTP of ``step`` (HMAC-SHA1, dynamic truncation)."""
    digest = hmac.digest(key, step.to_bytes(8, "big"), "sha1")
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def code_for(secret: str, *, now: float | None = None) -> str:
    return pyotp.TOTP(secret).at(time.time() if now is None else now)
