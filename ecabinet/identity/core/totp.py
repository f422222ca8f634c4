"""TOTP (RFC 6238) with single use: a code is accepted only for a time step after the last one used."""

from __future__ import annotations

import time

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
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            found = step
    return found


def code_for(secret: str, *, now: float | None = None) -> str:
    return pyotp.TOTP(secret).at(time.time() if now is None else now)
