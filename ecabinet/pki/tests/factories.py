"""Keys, CSRs and certificates for PKI tests (the device side of enrolment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ecabinet.pki.core import ca, keys


def new_member_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def csr_pem(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, *, hash_algorithm: hashes.HashAlgorithm | None = None, subject: str = "anything the device says"
) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
    return builder.sign(key, hash_algorithm or hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


class ForeignCa:
    """A complete, separate CA (root → issuing) that our installation does not trust."""

    def __init__(self, name: str = "Foreign", *, since: datetime | None = None) -> None:
        # Backdated so tests can ask about moments in the recent past.
        since = since or datetime.now(UTC) - timedelta(days=730)
        self.root_signer = keys.KeySigner(keys.generate_key("P-384"))
        self.root = ca.build_root(self.root_signer, common_name=f"{name} Root", organisation=name, now=since)
        self.issuing_signer = keys.KeySigner(keys.generate_key("P-384"))
        self.issuing = ca.build_issuing_ca(
            self.root_signer, self.root, self.issuing_signer.public_key(), common_name=f"{name} Issuing", organisation=name, now=since
        )

    def member(self, key: ec.EllipticCurvePrivateKey, *, days: int = 730, now: datetime | None = None, user_id: int = 1) -> x509.Certificate:
        return ca.issue_member_certificate(
            self.issuing_signer,
            self.issuing,
            key.public_key(),
            full_name="Người ngoài",
            user_id=user_id,
            organisation=self_org(self.issuing),
            days=days,
            now=now,
        )

    def crl(self, revoked: list[ca.RevokedEntry] | None = None, *, number: int = 1, now: datetime | None = None) -> x509.CertificateRevocationList:
        return ca.build_crl(self.issuing_signer, self.issuing, revoked or [], number=number, next_update_after=timedelta(days=7), now=now)

    def root_crl(self) -> x509.CertificateRevocationList:
        return ca.build_crl(self.root_signer, self.root, [], number=1, next_update_after=timedelta(days=30))


def self_org(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else ""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_pdf(text: str = "Decision 42 of the Government") -> bytes:
    """A one-page PDF with a line of text (built with pyHanko's writer, no other dependency)."""
    import io

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    font = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Font"),
                generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
                generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
            }
        )
    )
    content = generic.StreamObject(stream_data=f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            generic.NameObject("/Contents"): writer.add_object(content),
            generic.NameObject("/Resources"): generic.DictionaryObject(
                {generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/F1"): font})}
            ),
        }
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
