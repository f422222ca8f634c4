"""The code check (``totp.matching_step``) against pyotp, which makes the codes the devices show."""

from __future__ import annotations

import random

import pyotp

from ecabinet.identity.core import totp


def test_every_code_pyotp_makes_is_matched_to_its_own_step():
    chance = random.Random(20261205)
    for _ in range(300):
        secret = pyotp.random_base32(length=chance.choice([32, 40, 52]))
        moment = chance.uniform(0, 4_000_000_000)
        step = int(moment // totp.STEP_SECONDS)
        for drift in (-1, 0, 1):  # a tablet clock a step off either way
            shown = pyotp.TOTP(secret).at(moment + drift * totp.STEP_SECONDS)
            assert totp.matching_step(secret, shown, now=moment) == step + drift
        assert totp.matching_step(secret.lower(), pyotp.TOTP(secret).at(moment), now=moment) == step


def test_codes_outside_the_window_or_not_six_digits_match_nothing():
    secret = pyotp.random_base32()
    moment = 1_800_000_000.0
    far = pyotp.TOTP(secret).at(moment + 2 * totp.STEP_SECONDS)
    near = {pyotp.TOTP(secret).at(moment + d * totp.STEP_SECONDS) for d in (-1, 0, 1)}
    if far not in near:
        assert totp.matching_step(secret, far, now=moment) is None
    shown = pyotp.TOTP(secret).at(moment)
    assert totp.matching_step(secret, f" {shown[:3]} {shown[3:]} ", now=moment) == int(moment // 30)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in shown)  # full-width digits, as pyotp accepts them
    assert totp.matching_step(secret, wide, now=moment) == int(moment // 30)
    for bad in ("", "12345", "1234567", "12a456", "١٢٣٤٥٦"):
        assert totp.matching_step(secret, bad, now=moment) is None


def test_the_rfc_6238_test_vector():
    # RFC 6238 appendix B, SHA-1, last six digits: the key is "12345678901234567890" in ASCII.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp.matching_step(secret, "287082", now=59) == 1
    assert totp.matching_step(secret, "081804", now=1111111109) == 1111111109 // 30
