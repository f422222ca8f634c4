"""Detached CMS around a member's existing signature, checked by the real ``openssl`` binary."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ecabinet.pki.core import ca, cms
from ecabinet.pki.core.errors import MalformedInput, SignatureInvalid
from ecabinet.pki.tests.factories import ForeignCa, new_member_key, sign

OPENSSL = shutil.which("openssl")
BALLOT = json.dumps({"choice": "approve", "nonce": "3q2+7w", "poll": 17, "question_sha256": "ab" * 32, "voter": 42}, separators=(",", ":")).encode()


def openssl_verify(folder: Path, p7s: bytes, content: bytes, ca_pem: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL, "openssl is missing: run `make sysdeps`"
    (folder / "ballot.p7s").write_bytes(p7s)
    (folder / "ballot.json").write_bytes(content)
    (folder / "ca.pem").write_text(ca_pem)
    return subprocess.run(
        [
            OPENSSL,
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "ballot.p7s",
            "-content",
            "ballot.json",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        cwd=folder,
        capture_output=True,
        check=False,
    )


@pytest.fixture
def gov() -> ForeignCa:
    return ForeignCa("Chính phủ")


def test_openssl_verifies_wrapped_signature_and_refuses_a_changed_byte(tmp_path, gov):
    key = new_member_key()
    cert = gov.member(key)
    signature = sign(key, BALLOT)  # what the tablet or ecabinet-sign produced, before the server sees it
    p7s = cms.detached_signed_data(BALLOT, signature, cert, extra_certificates=[gov.issuing])
    ca_pem = ca.to_pem(gov.issuing) + ca.to_pem(gov.root)
    ok = openssl_verify(tmp_path, p7s, BALLOT, ca_pem)
    assert ok.returncode == 0, ok.stderr
    assert b"Verification successful" in ok.stderr
    changed = BALLOT.replace(b"approve", b"approvf")
    bad = openssl_verify(tmp_path, p7s, changed, ca_pem)
    assert bad.returncode != 0 and b"Verification failure" in bad.stderr
    tampered = bytearray(p7s)
    tampered[-10] ^= 0x01  # inside the signature value
    assert openssl_verify(tmp_path, bytes(tampered), BALLOT, ca_pem).returncode != 0


def test_root_alone_in_cafile_is_enough_because_the_issuing_ca_travels_in_the_envelope(tmp_path, gov):
    key = new_member_key()
    p7s = cms.detached_signed_data(BALLOT, sign(key, BALLOT), gov.member(key), extra_certificates=[gov.issuing])
    assert openssl_verify(tmp_path, p7s, BALLOT, ca.to_pem(gov.root)).returncode == 0


def test_openssl_refuses_a_certificate_from_another_ca(tmp_path, gov):
    other = ForeignCa("Khác")
    key = new_member_key()
    p7s = cms.detached_signed_data(BALLOT, sign(key, BALLOT), other.member(key), extra_certificates=[other.issuing])
    result = openssl_verify(tmp_path, p7s, BALLOT, ca.to_pem(gov.issuing) + ca.to_pem(gov.root))
    assert result.returncode != 0 and b"certificate verify error" in result.stderr


def test_webcrypto_raw_signature_is_converted(tmp_path, gov):
    key = new_member_key()
    raw = cms.der_to_raw(sign(key, BALLOT))
    assert len(raw) == 64
    p7s = cms.detached_signed_data(BALLOT, raw, gov.member(key), extra_certificates=[gov.issuing], signature_is_raw=True)
    assert openssl_verify(tmp_path, p7s, BALLOT, ca.to_pem(gov.root)).returncode == 0


def test_wrapping_refuses_a_signature_that_does_not_verify(gov):
    key, other = new_member_key(), new_member_key()
    with pytest.raises(SignatureInvalid):
        cms.detached_signed_data(BALLOT, sign(other, BALLOT), gov.member(key))
    with pytest.raises(SignatureInvalid):
        cms.detached_signed_data(BALLOT + b" ", sign(key, BALLOT), gov.member(key))
    with pytest.raises(SignatureInvalid) as caught:
        cms.detached_signed_data(BALLOT, b"\x01" * 10, gov.member(key), signature_is_raw=True)
    assert caught.value.code == "signature_malformed"


def test_python_verifier_matches_openssl(gov):
    key = new_member_key()
    cert = gov.member(key)
    p7s = cms.detached_signed_data(BALLOT, sign(key, BALLOT), cert, extra_certificates=[gov.issuing])
    result = cms.verify_detached_signed_data(p7s, BALLOT)
    assert result.certificate == cert and gov.issuing in result.certificates
    with pytest.raises(SignatureInvalid):
        cms.verify_detached_signed_data(p7s, BALLOT.replace(b":17,", b":18,"))
    for garbage in (b"", b"\x30\x00", b"not der at all", p7s[:40]):
        with pytest.raises(MalformedInput) as caught:
            cms.verify_detached_signed_data(garbage, BALLOT)
        assert caught.value.code == "cms_malformed"
