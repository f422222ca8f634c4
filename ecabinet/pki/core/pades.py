"""PAdES signatures on PDFs (decisions, minutes) with pyHanko, and their validation.

``sign_pdf`` makes a PAdES B-LT signature: the signer's certificate and chain in the CMS, an RFC
3161 time-stamp from the installation's TSA, and the CRLs embedded in the document security store,
so the PDF can be validated later without reaching this server.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos
from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign import signers as hanko_signers
from pyhanko.sign.diff_analysis.policy_api import ModificationLevel
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_ltv_signature, validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.ltv import RevocationInfoValidationType
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ecabinet.pki.core.errors import MalformedInput, PkiCoreError
from ecabinet.pki.core.keys import Signer

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _asn1_cert(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_crl(crl: x509.CertificateRevocationList) -> acrl.CertificateList:
    return acrl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))


class _HankoSigner(hanko_signers.Signer):
    """pyHanko's signer contract on top of our Signer (file key today, HSM later)."""

    def __init__(self, signer: Signer, certificate: x509.Certificate, chain: Sequence[x509.Certificate]) -> None:
        self._signer = signer
        super().__init__(
            signing_cert=_asn1_cert(certificate),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        return self._signer.sign(data, _HASHES[digest_algorithm]())


def validation_context(
    trust_roots: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> ValidationContext:
    return ValidationContext(
        trust_roots=[_asn1_cert(c) for c in trust_roots],
        other_certs=[_asn1_cert(c) for c in intermediates],
        crls=[_asn1_crl(c) for c in crls],
        allow_fetching=False,
        revocation_mode="hard-fail",
    )


def sign_pdf(
    pdf: bytes,
    *,
    signer: Signer,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    timestamper: TimeStamper,
    field_name: str = "Signature1",
    reason: str | None = None,
    location: str | None = None,
    signer_name: str | None = None,
) -> bytes:
    """Return ``pdf`` with an incremental PAdES B-LT signature appended."""
    context = validation_context(trust_roots, chain, crls)
    meta = hanko_signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=context,
        use_pades_lta=False,
        reason=reason,
        location=location,
        name=signer_name,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, IndexError) as exc:
        raise MalformedInput(f"not a PDF pyHanko can sign: {exc}", code="pdf_malformed") from None
    out = io.BytesIO()
    try:
        hanko_signers.PdfSigner(meta, signer=_HankoSigner(signer, certificate, chain), timestamper=timestamper).sign_pdf(writer, output=out)
    except (SigningError, PdfError) as exc:
        raise PkiCoreError(f"signing the PDF failed: {exc}", code="pdf_signing_failed") from None
    return out.getvalue()


@dataclass(frozen=True)
class PdfSignatureVerdict:
    field_name: str
    signer_subject: str
    intact: bool
    valid: bool
    trusted: bool
    # The signature covers its whole revision and anything appended later is only validation data
    # (the DSS a B-LT signature adds), or it covers the entire file.
    covers_document: bool
    timestamp_valid: bool
    ltv_valid: bool  # validates again from the embedded validation data and the trust roots alone
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_document and self.timestamp_valid and self.ltv_valid


def _covers_document(status: object) -> bool:
    coverage = getattr(status, "coverage", None)
    level = getattr(status, "modification_level", None)
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return True
    return coverage == SignatureCoverageLevel.ENTIRE_REVISION and level is not None and level <= ModificationLevel.LTA_UPDATES


def validate_pdf(
    pdf: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
    crls: Sequence[x509.CertificateRevocationList] = (),
) -> list[PdfSignatureVerdict]:
    """Every signature in ``pdf``, checked against ``trust_roots``; an unsigned PDF gives ``[]``."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, IndexError) as exc:
        raise MalformedInput(f"not a readable PDF: {exc}", code="pdf_malformed") from None
    verdicts = []
    for sig in embedded:
        try:
            status = validate_pdf_signature(sig, signer_validation_context=_context_with_embedded(reader, trust_roots, intermediates, crls))
            ts = status.timestamp_validity
            verdict = PdfSignatureVerdict(
                field_name=sig.field_name,
                signer_subject=status.signing_cert.subject.human_friendly,
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                covers_document=_covers_document(status),
                timestamp_valid=bool(ts is not None and ts.intact and ts.valid and ts.trusted),
                ltv_valid=_ltv_valid(reader, sig, trust_roots),
                summary=status.summary(),
            )
        except (SignatureValidationError, PdfError, ValueError) as exc:
            verdict = PdfSignatureVerdict(sig.field_name, "", False, False, False, False, False, False, f"invalid: {exc}")
        verdicts.append(verdict)
    return verdicts


def _context_with_embedded(
    reader: PdfFileReader, trust_roots: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> ValidationContext:
    """The caller's roots and CRLs plus the certificates and CRLs the PDF embeds (B-LT)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return validation_context(trust_roots, intermediates, crls)
    kwargs = {
        "trust_roots": [_asn1_cert(c) for c in trust_roots],
        "other_certs": [_asn1_cert(c) for c in intermediates],
        "crls": [_asn1_crl(c) for c in crls],
        "allow_fetching": False,
        "revocation_mode": "hard-fail",
    }
    return dss.as_validation_context(kwargs, include_revinfo=True)


def _ltv_valid(reader: PdfFileReader, sig: EmbeddedPdfSignature, trust_roots: Sequence[x509.Certificate]) -> bool:
    """PAdES-LT check that uses only what the PDF carries: no CRL from us, no fetching."""
    kwargs = {"trust_roots": [_asn1_cert(c) for c in trust_roots], "allow_fetching": False}
    try:
        embedded_only = DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs, include_revinfo=True)
        status = asyncio.run(async_validate_pdf_ltv_signature(sig, RevocationInfoValidationType.PADES_LT, kwargs, bootstrap_validation_context=embedded_only))
    except (SignatureValidationError, PdfError, ValueError, NoDSSFoundError):
        return False
    return bool(status.bottom_line)


__all__ = ["PdfSignatureVerdict", "sign_pdf", "validate_pdf", "validation_context"]
