"""The pure core on its own: issuance profiles, key storage, CSR acceptance, certificate checks."""

from __future__ import annotations

import ast
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ecabinet.pki.core import ca, check, csr, keys
from ecabinet.pki.core.errors import CertificateRejected, CsrRejected, KeyStoreError, MalformedInput
from ecabinet.pki.tests.factories import ForeignCa, csr_pem, new_member_key, utc

CORE = Path(__file__).resolve().parent.parent / "core"


def test_core_modules_import_no_django():
    for source in CORE.glob("*.py"):
        tree = ast.parse(source.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module] + [
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        ]
        assert not [m for m in imported if m.split(".")[0] == "django"], source.name
        assert not [m for m in imported if m.startswith("ecabinet.") and not m.startswith("ecabinet.pki.core")], source.name


def ext(cert: x509.Certificate, kind: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def test_hierarchy_profiles():
    authority = ForeignCa("Gov")
    assert isinstance(authority.root.public_key().curve, ec.SECP384R1)
    assert isinstance(authority.issuing.public_key().curve, ec.SECP384R1)
    assert authority.root.signature_hash_algorithm.name == "sha384"
    root_bc = ext(authority.root, x509.BasicConstraints)
    assert root_bc.critical and root_bc.value.ca and root_bc.value.path_length == 1
    issuing_bc = ext(authority.issuing, x509.BasicConstraints)
    assert issuing_bc.value.ca and issuing_bc.value.path_length == 0
    assert ext(authority.issuing, x509.KeyUsage).value.key_cert_sign and ext(authority.issuing, x509.KeyUsage).value.crl_sign
    authority.issuing.verify_directly_issued_by(authority.root)


def test_member_certificate_profile():
    authority = ForeignCa("Chính phủ")
    key = new_member_key()
    publication = ca.Publication(crl_url="https://ecab.example/pki/crl", ca_issuers_url="https://ecab.example/pki/ca.cer")
    now = utc(2026, 3, 1, 9)
    cert = ca.issue_member_certificate(
        authority.issuing_signer,
        authority.issuing,
        key.public_key(),
        full_name="Trần Thị Bình",
        user_id=42,
        organisation="Bộ Ngoại giao",
        days=365,
        publication=publication,
        now=now,
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Trần Thị Bình"
    assert cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "42"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Bộ Ngoại giao"
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign and not usage.value.key_encipherment
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert not ext(cert, x509.BasicConstraints).value.ca
    cdp = ext(cert, x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "https://ecab.example/pki/crl"
    aia = ext(cert, x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "https://ecab.example/pki/ca.cer"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)
    assert cert.not_valid_before_utc <= now
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    cert.verify_directly_issued_by(authority.issuing)
    other = ca.issue_member_certificate(authority.issuing_signer, authority.issuing, key.public_key(), full_name="x", user_id=1, organisation="")
    assert other.serial_number != cert.serial_number and cert.serial_number.bit_length() > 100


def test_tsa_certificate_has_critical_timestamping_eku():
    authority = ForeignCa()
    tsa = ca.issue_tsa_certificate(authority.issuing_signer, authority.issuing, new_member_key().public_key(), common_name="TSA", organisation="Gov")
    eku = ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_signatures_go_through_the_signer_interface():
    calls = []

    class CountingSigner(keys.KeySigner):
        def sign(self, data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes:
            calls.append((len(data), hash_algorithm.name))
            return super().sign(data, hash_algorithm)

    signer = CountingSigner(keys.generate_key("P-384"))
    assert isinstance(signer, keys.Signer)
    root = ca.build_root(signer, common_name="R", organisation="O")
    crl = ca.build_crl(
        signer, root, [ca.RevokedEntry(serial=5, revoked_at=utc(2026, 1, 1), reason="key_compromise")], number=3, next_update_after=timedelta(days=1)
    )
    assert [name for _, name in calls] == ["sha384", "sha384"]
    root.verify_directly_issued_by(root)
    assert crl.is_signature_valid(root.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(5)
    assert entry is not None and entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3


def test_key_file_is_encrypted_and_private(tmp_path):
    key = keys.generate_key("P-384")
    path = tmp_path / "ca" / "issuing.key.pem"
    keys.write_encrypted_key(path, key, b"a long passphrase")
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(data, password=None)
    loaded = keys.FileKeySigner(path, b"a long passphrase")
    assert loaded.public_key().public_numbers() == key.public_key().public_numbers()
    with pytest.raises(KeyStoreError):
        keys.FileKeySigner(path, b"wrong")
    with pytest.raises(KeyStoreError):
        keys.write_encrypted_key(tmp_path / "other.pem", key, b"")
    with pytest.raises(FileExistsError):
        keys.write_encrypted_key(path, key, b"a long passphrase")


# --- CSR --------------------------------------------------------------------------------------


def test_csr_accepts_p256_and_ignores_subject():
    key = new_member_key()
    accepted = csr.parse_csr(csr_pem(key, subject="CN=President of the World"))
    assert accepted.public_key.public_numbers() == key.public_key().public_numbers()
    assert accepted.spki_sha256 == ca.spki_fingerprint(key.public_key())
    der = x509.load_pem_x509_csr(csr_pem(key).encode()).public_bytes(serialization.Encoding.DER)
    assert csr.parse_csr(der).spki_sha256 == accepted.spki_sha256


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n", b"\x30\x03\x02\x01\x00", b"x" * 9000, "plain text"],
)
def test_csr_malformed(data):
    with pytest.raises(CsrRejected) as caught:
        csr.parse_csr(data)
    assert caught.value.code == "csr_malformed"


def test_csr_wrong_curve_or_algorithm():
    for key in (ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(public_exponent=65537, key_size=2048)):
        with pytest.raises(CsrRejected) as caught:
            csr.parse_csr(csr_pem(key))
        assert caught.value.code == "csr_wrong_key"
    with pytest.raises(CsrRejected) as caught:
        csr.parse_csr(csr_pem(new_member_key(), hash_algorithm=hashes.SHA384()))
    assert caught.value.code == "csr_wrong_key"


def test_csr_signature_must_verify():
    # Same structure, public key swapped for another: the signature no longer matches.
    key, other = new_member_key(), new_member_key()
    der = bytearray(x509.load_pem_x509_csr(csr_pem(key).encode()).public_bytes(serialization.Encoding.DER))
    old = ca.spki_der(key.public_key())[-65:]
    new = ca.spki_der(other.public_key())[-65:]
    start = der.index(old)
    der[start : start + 65] = new
    with pytest.raises(CsrRejected) as caught:
        csr.parse_csr(bytes(der))
    assert caught.value.code == "csr_bad_signature"


# --- check_certificate --------------------------------------------------------------------------


def test_check_valid_chain_and_revocation_at_a_time():
    gov = ForeignCa("Gov")
    key = new_member_key()
    start = datetime.now(UTC) - timedelta(days=300)
    revoked_at = start + timedelta(days=100)
    cert = gov.member(key, now=start)
    crl = gov.crl([ca.RevokedEntry(serial=cert.serial_number, revoked_at=revoked_at, reason="key_compromise")], now=revoked_at + timedelta(hours=1))
    trust = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[crl, gov.root_crl()])
    before = check.check_certificate(cert, at=revoked_at - timedelta(days=1), trust=trust)
    assert [c.subject for c in before.chain] == [cert.subject, gov.issuing.subject, gov.root.subject]
    assert before.revoked_later_at == revoked_at.replace(microsecond=0)
    with pytest.raises(CertificateRejected) as caught:
        check.check_certificate(cert, at=revoked_at + timedelta(seconds=1), trust=trust)
    assert caught.value.code == "certificate_revoked"


def test_a_passed_check_is_reused_only_where_it_holds(monkeypatch):
    gov = ForeignCa("Gov")
    start = datetime.now(UTC) - timedelta(days=10)
    cert = gov.member(new_member_key(), days=30, now=start)
    revoked_at = (start + timedelta(days=20)).replace(microsecond=0)
    crl = gov.crl([ca.RevokedEntry(serial=cert.serial_number, revoked_at=revoked_at, reason="key_compromise")], now=start + timedelta(days=1))
    trust = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[crl, gov.root_crl()])
    worked = []
    real = check._check
    monkeypatch.setattr(check, "_check", lambda *a, **k: worked.append(k["at"]) or real(*a, **k))
    first = check.check_certificate(cert, at=start + timedelta(days=2), trust=trust)
    assert check.check_certificate(cert, at=start + timedelta(days=5), trust=trust) is first
    assert check.check_certificate(cert, at=revoked_at - timedelta(microseconds=1), trust=trust) is first
    assert len(worked) == 1
    # At the revocation moment, after it, after expiry and before validity: worked out afresh and refused.
    late, early = start + timedelta(days=40), start - timedelta(days=1)
    for at, code in ((revoked_at, "certificate_revoked"), (late, "certificate_expired"), (early, "certificate_not_yet_valid")):
        with pytest.raises(CertificateRejected) as caught:
            check.check_certificate(cert, at=at, trust=trust)
        assert caught.value.code == code
    assert len(worked) == 4
    # A new store (a new CRL, another anchor) starts with nothing kept.
    fresh = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[crl, gov.root_crl()])
    check.check_certificate(cert, at=start + timedelta(days=5), trust=fresh)
    assert len(worked) == 5


def test_check_expired_and_not_yet_valid():
    gov = ForeignCa()
    start = datetime.now(UTC) - timedelta(days=300)
    cert = gov.member(new_member_key(), days=30, now=start)
    trust = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[gov.crl(), gov.root_crl()])
    check.check_certificate(cert, at=start + timedelta(days=15), trust=trust)
    for at, code in ((start + timedelta(days=60), "certificate_expired"), (start - timedelta(days=30), "certificate_not_yet_valid")):
        with pytest.raises(CertificateRejected) as caught:
            check.check_certificate(cert, at=at, trust=trust)
        assert caught.value.code == code


def test_check_refuses_certificate_from_another_ca():
    ours, theirs = ForeignCa("Ours"), ForeignCa("Theirs")
    cert = theirs.member(new_member_key())
    trust = check.TrustStore(anchors=[ours.root], intermediates=[ours.issuing, theirs.issuing], crls=[ours.crl(), theirs.crl()])
    with pytest.raises(CertificateRejected) as caught:
        check.check_certificate(cert, at=cert.not_valid_before_utc + timedelta(days=1), trust=trust)
    assert caught.value.code == "certificate_untrusted"


def test_check_refuses_an_impostor_with_the_same_issuer_name():
    ours = ForeignCa("Gov")
    impostor = ForeignCa("Gov")  # same names, other keys
    cert = impostor.member(new_member_key())
    trust = check.TrustStore(anchors=[ours.root], intermediates=[ours.issuing], crls=[ours.crl()])
    with pytest.raises(CertificateRejected) as caught:
        check.check_certificate(cert, at=cert.not_valid_before_utc + timedelta(days=1), trust=trust)
    assert caught.value.code == "certificate_untrusted"


def test_check_needs_a_genuine_crl():
    gov, forger = ForeignCa("Gov"), ForeignCa("Gov")
    cert = gov.member(new_member_key())
    at = cert.not_valid_before_utc + timedelta(days=1)
    # A CRL with the right issuer name but signed by someone else does not count.
    trust = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[forger.crl()])
    with pytest.raises(CertificateRejected) as caught:
        check.check_certificate(cert, at=at, trust=trust)
    assert caught.value.code == "revocation_unknown"
    relaxed = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[], require_revocation_info=False)
    assert len(check.check_certificate(cert, at=at, trust=relaxed).chain) == 3


def test_check_refuses_ca_certificate_as_signer():
    gov = ForeignCa()
    trust = check.TrustStore(anchors=[gov.root], intermediates=[gov.issuing], crls=[gov.root_crl()])
    with pytest.raises(CertificateRejected) as caught:
        check.check_certificate(gov.issuing, at=gov.issuing.not_valid_before_utc + timedelta(days=1), trust=trust)
    assert caught.value.code == "certificate_wrong_usage"
    with pytest.raises(ValueError, match="timezone"):
        check.check_certificate(gov.issuing, at=gov.issuing.not_valid_before_utc.replace(tzinfo=None), trust=trust)


def test_load_helpers_reject_garbage():
    for loader in (ca.load_certificates, ca.load_crl):
        with pytest.raises(MalformedInput):
            loader(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        with pytest.raises(MalformedInput):
            loader(b"\x00\x01garbage")
