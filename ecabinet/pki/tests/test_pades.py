"""PAdES B-LT signatures on decisions: pyHanko's validator and Debian's pdfsig must agree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Role
from ecabinet.pki import actions, events
from ecabinet.pki.core import ca, keys, pades
from ecabinet.pki.tests.factories import make_pdf

pytestmark = pytest.mark.django_db

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")


def nss_db(folder: Path, root_pem: str) -> str:
    assert PDFSIG and CERTUTIL, "pdfsig/certutil missing: run `make sysdeps` (poppler-utils, libnss3-tools)"
    folder.mkdir()
    (folder / "root.pem").write_text(root_pem)
    subprocess.run([CERTUTIL, "-N", "--empty-password", "-d", f"sql:{folder}"], check=True, capture_output=True)
    subprocess.run([CERTUTIL, "-A", "-n", "root", "-t", "CT,C,C", "-i", str(folder / "root.pem"), "-d", f"sql:{folder}"], check=True, capture_output=True)
    return f"sql:{folder}"


def pdfsig(nss: str, pdf: Path) -> str:
    result = subprocess.run([PDFSIG, "-nssdir", nss, str(pdf)], capture_output=True, text=True, check=False)
    return result.stdout + result.stderr


@pytest.fixture
def signed_decision(installation_ca, enrolled, make_user):
    office = make_user(Role.SECRETARY, full_name="Văn phòng Chính phủ")
    key, certificate = enrolled(office, label="Office seal")
    original = make_pdf("Decision 42 of the Government")
    signed = actions.sign_pdf(original, signer=keys.KeySigner(key), certificate=certificate, acting_user=office, reason="Approved decision")
    return original, signed, office


def test_signed_pdf_validates_in_pyhanko(installation_ca, signed_decision):
    original, signed, office = signed_decision
    assert signed.startswith(original)  # incremental: the original bytes are untouched
    [verdict] = pades.validate_pdf(signed, trust_roots=[installation_ca.root])
    assert verdict.intact and verdict.valid and verdict.trusted, verdict.summary
    assert verdict.covers_document and verdict.timestamp_valid and verdict.ltv_valid, verdict.summary
    assert verdict.ok
    assert "Văn phòng Chính phủ" in verdict.signer_subject
    assert AuditEntry.objects.filter(event=events.PDF_SIGNED, actor=office).count() == 1


def test_signed_pdf_validates_in_pdfsig(tmp_path, installation_ca, signed_decision):
    _, signed, _ = signed_decision
    nss = nss_db(tmp_path / "nss", ca.to_pem(installation_ca.root))
    (tmp_path / "decision.pdf").write_bytes(signed)
    report = pdfsig(nss, tmp_path / "decision.pdf")
    assert "Signature is Valid" in report, report
    assert "Certificate is Trusted" in report, report


def test_modified_pdf_fails_both(tmp_path, installation_ca, signed_decision):
    _, signed, _ = signed_decision
    assert signed.count(b"Decision 42") == 1
    modified = signed.replace(b"Decision 42", b"Decision 43")
    [verdict] = pades.validate_pdf(modified, trust_roots=[installation_ca.root])
    assert not verdict.ok and not verdict.intact
    nss = nss_db(tmp_path / "nss", ca.to_pem(installation_ca.root))
    (tmp_path / "modified.pdf").write_bytes(modified)
    report = pdfsig(nss, tmp_path / "modified.pdf")
    assert "Signature is Valid" not in report, report


def test_pdf_from_an_untrusted_root_is_not_trusted(tmp_path, installation_ca, signed_decision):
    from ecabinet.pki.tests.factories import ForeignCa

    _, signed, _ = signed_decision
    stranger = ForeignCa("Stranger")
    [verdict] = pades.validate_pdf(signed, trust_roots=[stranger.root])
    assert verdict.intact and not verdict.trusted and not verdict.ok
    nss = nss_db(tmp_path / "nss", ca.to_pem(stranger.root))
    (tmp_path / "decision.pdf").write_bytes(signed)
    assert "Certificate is Trusted" not in pdfsig(nss, tmp_path / "decision.pdf")


def test_signing_refuses_garbage_and_revoked_certificates(installation_ca, enrolled, make_user):
    from ecabinet.errors import ECabinetError

    office = make_user(Role.SECRETARY)
    key, certificate = enrolled(office)
    with pytest.raises(ECabinetError) as caught:
        actions.sign_pdf(b"%PDF-1.7 not really", signer=keys.KeySigner(key), certificate=certificate, acting_user=office)
    assert caught.value.code == "pdf_malformed"
    actions.revoke_certificate(certificate, reason="key_compromise", acting_user=office, source_ip=None)
    with pytest.raises(ECabinetError) as caught:
        actions.sign_pdf(make_pdf(), signer=keys.KeySigner(key), certificate=certificate, acting_user=office)
    assert caught.value.code == "certificate_revoked"
    assert not AuditEntry.objects.filter(event=events.PDF_SIGNED).exists()
