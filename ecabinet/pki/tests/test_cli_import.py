"""``ecabinet pki`` commands, and trusting an imported government CA instead of issuing."""

from __future__ import annotations

import json
import stat
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Role
from ecabinet.pki import authority, events
from ecabinet.pki.core import ca
from ecabinet.pki.models import Authority, MemberCertificate
from ecabinet.pki.tests.factories import ForeignCa, new_member_key
from ecabinet.pki.tests.test_api import assert_problem, enrol, post, token_of

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("pki", *args, stdout=out)
    return out.getvalue()


def test_init_status_crl_chain(pki_settings, tmp_path):
    pki_settings.PKI_CA_PASSPHRASE = None  # embedded mode: a generated passphrase file
    output = run("init", "--organisation", "Chính phủ")
    assert "root" in output and "issuing" in output and "tsa" in output
    passphrase_file = authority.key_dir() / authority.PASSPHRASE_FILE
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    key_files = sorted(authority.key_dir().glob("*.key.pem"))
    assert len(key_files) == 3
    for path in key_files:
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert AuditEntry.objects.filter(event=events.CA_INITIALISED).count() == 1
    with pytest.raises(CommandError, match="already set up"):
        run("init")
    status = json.loads(run("status", "--json"))
    assert status["mode"] == "local" and {a["kind"] for a in status["authorities"]} == {"root", "issuing", "tsa"}
    assert status["crl"]["number"] == 1
    run("crl", "--out", str(tmp_path / "ca.crl"))
    crl = x509.load_der_x509_crl((tmp_path / "ca.crl").read_bytes())
    issuing = authority.certificate(authority.active(Authority.Kind.ISSUING))
    assert crl.is_signature_valid(issuing.public_key()) and crl.issuer == issuing.subject
    run("chain", "--out", str(tmp_path / "ca.pem"))
    assert x509.load_pem_x509_certificates((tmp_path / "ca.pem").read_bytes())[0] == issuing
    assert "mode: local" in run("status")


def test_init_with_a_government_name_longer_than_a_certificate_name(pki_settings):
    """X.520 bounds CN and O to 64 bytes; the full Vietnamese name is 66. The organisation is cut,
    never the role, so the three authorities keep distinct names and their chain still builds."""
    pki_settings.PKI_CA_PASSPHRASE = None
    full = "Chính phủ nước Cộng hòa xã hội chủ nghĩa Việt Nam"
    run("init", "--organisation", full)
    names = {}
    for kind in (Authority.Kind.ROOT, Authority.Kind.ISSUING, Authority.Kind.TSA):
        subject = authority.certificate(authority.active(kind)).subject
        common_name = str(subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
        organisation = str(subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value)
        assert len(common_name.encode()) <= 64 and len(organisation.encode()) <= 64
        assert full.startswith(organisation) and common_name.startswith("Chính phủ nước")
        names[kind] = common_name
    assert names[Authority.Kind.ROOT].endswith(" Root CA")
    assert names[Authority.Kind.ISSUING].endswith(" Issuing CA")
    assert names[Authority.Kind.TSA].endswith(" Time-Stamping Authority")
    assert len(set(names.values())) == 3
    issuing = authority.certificate(authority.active(Authority.Kind.ISSUING))
    root = authority.certificate(authority.active(Authority.Kind.ROOT))
    assert issuing.issuer == root.subject
    issuing.verify_directly_issued_by(root)
    assert len(sorted(authority.key_dir().glob("*.key.pem"))) == 3


def test_wrong_passphrase_keeps_the_keys_closed(installation_ca, pki_settings, make_user):
    pki_settings.PKI_CA_PASSPHRASE = "not the passphrase"
    authority.forget_signers()
    member = make_user(Role.MEMBER)
    _, response = enrol(member)
    approved = post(Client(), f"/api/v1/pki/requests/{response.json()['id']}/approve", {}, **token_of(make_user(Role.SECRETARY)))
    assert_problem(approved, 503, "pki_key_unavailable")
    assert not MemberCertificate.objects.exists()


@pytest.fixture
def government_ca(pki_settings, tmp_path):
    gov = ForeignCa("Ban Cơ yếu Chính phủ")
    (tmp_path / "chain.pem").write_text(ca.to_pem(gov.root) + ca.to_pem(gov.issuing))
    (tmp_path / "issuing.crl").write_bytes(gov.crl().public_bytes(serialization.Encoding.DER))
    (tmp_path / "root.crl").write_bytes(gov.root_crl().public_bytes(serialization.Encoding.PEM))
    run("import", "--chain", str(tmp_path / "chain.pem"), "--crl", str(tmp_path / "issuing.crl"), "--crl", str(tmp_path / "root.crl"))
    return gov


def test_imported_government_ca(government_ca, make_user, tmp_path):
    assert authority.mode() == "imported"
    assert AuditEntry.objects.filter(event=events.CA_IMPORTED).count() == 1
    member, admin = make_user(Role.MEMBER), make_user(Role.ADMIN)
    # The installation does not issue: a CSR is refused, the member's certificate is imported.
    _, response = enrol(member)
    assert_problem(response, 409, "pki_does_not_issue")
    key = new_member_key()
    cert = government_ca.member(key, user_id=member.pk)
    body = {"user_id": member.pk, "certificate": ca.to_pem(cert), "device_label": "USB token"}
    assert_problem(post(Client(), "/api/v1/pki/certificates/import", body, **token_of(make_user(Role.SECRETARY))), 403, "forbidden")
    imported = post(Client(), "/api/v1/pki/certificates/import", body, **token_of(admin))
    assert imported.status_code == 201, imported.content
    assert imported.json()["imported"] is True
    assert authority.check_member_certificate(cert).user == member
    assert_problem(post(Client(), "/api/v1/pki/certificates/import", body, **token_of(admin)), 409, "key_already_enrolled")
    # The CRL served is the government's.
    served = x509.load_der_x509_crl(Client().get("/pki/crl").content)
    assert served.issuer == government_ca.issuing.subject
    assert json.loads(run("status", "--json"))["mode"] == "imported"
    # Revoking locally is immediate for our own checks, even before the government CRL lists it.
    assert post(Client(), f"/api/v1/pki/certificates/{imported.json()['id']}/revoke", {"reason": "key_compromise"}, **token_of(admin)).status_code == 200
    from ecabinet.errors import ECabinetError

    with pytest.raises(ECabinetError) as caught:
        authority.check_member_certificate(cert)
    assert caught.value.code == "certificate_revoked"


def test_import_refuses_foreign_revoked_and_malformed_certificates(government_ca, make_user):
    member, admin = make_user(Role.MEMBER), make_user(Role.ADMIN)
    stranger = ForeignCa("Khác")
    for pem, status, code in [
        (ca.to_pem(stranger.member(new_member_key())), 422, "certificate_untrusted"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 400, "certificate_malformed"),
        (ca.to_pem(government_ca.member(new_member_key(), days=1, now=government_ca.issuing.not_valid_before_utc)), 422, "certificate_expired"),
    ]:
        body = {"user_id": member.pk, "certificate": pem, "device_label": "x"}
        assert_problem(post(Client(), "/api/v1/pki/certificates/import", body, **token_of(admin)), status, code)
    assert not MemberCertificate.objects.exists()


def test_import_refuses_bad_chains_and_crls(pki_settings, tmp_path):
    gov, other = ForeignCa("A"), ForeignCa("B")
    (tmp_path / "chain.pem").write_text(ca.to_pem(gov.root) + ca.to_pem(gov.issuing))
    (tmp_path / "no-root.pem").write_text(ca.to_pem(gov.issuing))
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (tmp_path / "other.crl").write_bytes(other.crl().public_bytes(serialization.Encoding.DER))
    (tmp_path / "good.crl").write_bytes(gov.crl().public_bytes(serialization.Encoding.DER))
    (tmp_path / "bad.crl").write_bytes(b"\x30\x03junk")
    for chain, crl, message in [
        ("no-root.pem", "good.crl", "no self-signed root"),
        ("garbage.pem", "good.crl", "not a certificate"),
        ("chain.pem", "other.crl", "not signed by a CA of this chain"),
        ("chain.pem", "bad.crl", "not a CRL"),
        ("chain.pem", "missing.crl", "cannot read"),
    ]:
        with pytest.raises(CommandError, match=message):
            run("import", "--chain", str(tmp_path / chain), "--crl", str(tmp_path / crl))
    assert authority.mode() == "uninitialised" and not Authority.objects.exists()


def test_import_over_a_local_ca_is_refused(installation_ca, tmp_path):
    gov = ForeignCa()
    (tmp_path / "chain.pem").write_text(ca.to_pem(gov.root))
    (tmp_path / "root.crl").write_bytes(gov.root_crl().public_bytes(serialization.Encoding.DER))
    with pytest.raises(CommandError, match="own CA"):
        run("import", "--chain", str(tmp_path / "chain.pem"), "--crl", str(tmp_path / "root.crl"))
