"""Building certificates and CRLs: the root, the issuing CA, members, the time-stamping authority.

Every signature goes through a :class:`~ecabinet.pki.core.keys.Signer`: ``cryptography`` builds the
to-be-signed structure, the signer signs its bytes, and the result is assembled with asn1crypto. So
a CA key never has to be a Python object, and an HSM can sign the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ecabinet.pki.core.errors import MalformedInput
from ecabinet.pki.core.keys import Signer, hash_for

# Allow for a tablet clock a little ahead of the server's.
BACKDATE = timedelta(minutes=5)

REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}


@dataclass(frozen=True)
class Publication:
    """Where relying parties find the issuer's certificate and CRL (written into issued certificates)."""

    crl_url: str | None = None
    ca_issuers_url: str | None = None


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str = "unspecified"


def _utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("times given to the PKI core must be timezone-aware")
    return moment.astimezone(UTC)


def _ca_name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_name(organisation)), x509.NameAttribute(NameOID.COMMON_NAME, fit_name(common_name))])


def authority_common_name(organisation: str, role: str) -> str:
    """``"<organisation> <role>"`` within CN's 64 bytes, cutting the organisation, never the role:
    the root, issuing CA and TSA of a long government name must keep distinct names."""
    suffix = f" {role}"
    return fit_name(organisation, 64 - len(suffix.encode("utf-8"))) + suffix


def _algorithm_name(hash_algorithm: hashes.HashAlgorithm) -> str:
    return {"sha256": "sha256_ecdsa", "sha384": "sha384_ecdsa", "sha512": "sha512_ecdsa"}[hash_algorithm.name]


_DRAFT_KEY: ec.EllipticCurvePrivateKey | None = None


def _draft_key() -> ec.EllipticCurvePrivateKey:
    # cryptography only serialises a TBS structure by signing it; a throwaway key does that, and the
    # real signer then signs the very same TBS bytes. The algorithm identifier does not name a curve,
    # so one P-256 throwaway key serves for every hash.
    global _DRAFT_KEY
    if _DRAFT_KEY is None:
        _DRAFT_KEY = ec.generate_private_key(ec.SECP256R1())
    return _DRAFT_KEY


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    hash_algorithm = hash_for(signer.public_key())
    tbs = builder.sign(_draft_key(), hash_algorithm).tbs_certificate_bytes  # type: ignore[arg-type]
    signature = signer.sign(tbs, hash_algorithm)
    assembled = ax509.Certificate(
        {
            "tbs_certificate": ax509.TbsCertificate.load(tbs),
            "signature_algorithm": {"algorithm": _algorithm_name(hash_algorithm)},
            "signature_value": signature,
        }
    )
    return x509.load_der_x509_certificate(assembled.dump())


def sign_crl(builder: x509.CertificateRevocationListBuilder, signer: Signer) -> x509.CertificateRevocationList:
    hash_algorithm = hash_for(signer.public_key())
    tbs = builder.sign(_draft_key(), hash_algorithm).tbs_certlist_bytes  # type: ignore[arg-type]
    signature = signer.sign(tbs, hash_algorithm)
    assembled = acrl.CertificateList(
        {
            "tbs_cert_list": acrl.TbsCertList.load(tbs),
            "signature_algorithm": {"algorithm": _algorithm_name(hash_algorithm)},
            "signature": signature,
        }
    )
    return x509.load_der_x509_crl(assembled.dump())


def _base_builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, not_before: datetime, days: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _publication_extensions(builder: x509.CertificateBuilder, publication: Publication) -> x509.CertificateBuilder:
    if publication.crl_url:
        point = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(publication.crl_url)], relative_name=None, reasons=None, crl_issuer=None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if publication.ca_issuers_url:
        access = x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(publication.ca_issuers_url))
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def build_root(signer: Signer, *, common_name: str, organisation: str, days: int = 7300, now: datetime | None = None) -> x509.Certificate:
    """A self-signed root that may certify one level of issuing CAs."""
    name = _ca_name(common_name, organisation)
    builder = (
        _base_builder(name, name, signer.public_key(), _utc(now) - BACKDATE, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
    )
    return sign_certificate(builder, signer)


def build_issuing_ca(
    root_signer: Signer,
    root: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    *,
    common_name: str,
    organisation: str,
    days: int = 3650,
    publication: Publication = Publication(),
    now: datetime | None = None,
) -> x509.Certificate:
    """The CA that issues member and TSA certificates and signs the CRL; it certifies no other CA."""
    builder = (
        _base_builder(_ca_name(common_name, organisation), root.subject, public_key, _utc(now) - BACKDATE, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(_authority_key_id(root), critical=False)
    )
    return sign_certificate(_publication_extensions(builder, publication), root_signer)


def fit_name(value: str, limit: int = 64) -> str:
    """Cut to X.520's upper bound (64 for CN and O), counted in UTF-8 bytes as ``cryptography`` does:
    a Vietnamese government's full name ("Chính phủ nước Cộng hòa xã hội chủ nghĩa Việt Nam") is
    49 characters but 66 bytes."""
    encoded = value.encode("utf-8")
    if len(encoded) <= limit:
        return value
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip()


def member_name(*, full_name: str, user_id: int | str, organisation: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, fit_name(full_name)), x509.NameAttribute(NameOID.USER_ID, str(user_id))]
    if organisation:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_name(organisation)))
    return x509.Name(attributes)


# Members and the TSA sign only: digitalSignature + nonRepudiation (contentCommitment), nothing else.
SIGNING_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def issue_member_certificate(
    ca_signer: Signer,
    ca: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    *,
    full_name: str,
    user_id: int | str,
    organisation: str,
    days: int = 730,
    publication: Publication = Publication(),
    now: datetime | None = None,
) -> x509.Certificate:
    """A signing certificate for one member's device key: digitalSignature + nonRepudiation."""
    builder = (
        _base_builder(member_name(full_name=full_name, user_id=user_id, organisation=organisation), ca.subject, public_key, _utc(now) - BACKDATE, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(SIGNING_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
    )
    return sign_certificate(_publication_extensions(builder, publication), ca_signer)


def issue_tsa_certificate(
    ca_signer: Signer,
    ca: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    *,
    common_name: str,
    organisation: str,
    days: int = 1825,
    publication: Publication = Publication(),
    now: datetime | None = None,
) -> x509.Certificate:
    """RFC 3161 requires the time-stamping EKU, alone and critical."""
    builder = (
        _base_builder(_ca_name(common_name, organisation), ca.subject, public_key, _utc(now) - BACKDATE, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(SIGNING_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_authority_key_id(ca), critical=False)
    )
    return sign_certificate(_publication_extensions(builder, publication), ca_signer)


def build_crl(
    signer: Signer,
    issuer: x509.Certificate,
    revoked: Iterable[RevokedEntry],
    *,
    number: int,
    next_update_after: timedelta,
    now: datetime | None = None,
) -> x509.CertificateRevocationList:
    this_update = _utc(now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(this_update + next_update_after)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_id(issuer), critical=False)
    )
    for entry in revoked:
        item = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(_utc(entry.revoked_at))
        if entry.reason != "unspecified":
            item = item.add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return sign_crl(builder, signer)


# --- small helpers every caller needs ---------------------------------------------------------


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def spki_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki_der(public_key))
    return digest.finalize().hex()


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """One or more certificates from PEM (a bundle) or a single DER certificate."""
    try:
        certs = x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise MalformedInput(f"not a certificate in PEM or DER: {exc}", code="certificate_malformed") from None
    if not certs:
        raise MalformedInput("no certificate found", code="certificate_malformed")
    return certs


def load_certificate(data: bytes | str) -> x509.Certificate:
    raw = data.encode() if isinstance(data, str) else data
    certs = load_certificates(raw)
    if len(certs) != 1:
        raise MalformedInput("expected exactly one certificate", code="certificate_malformed")
    return certs[0]


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise MalformedInput(f"not a CRL in PEM or DER: {exc}", code="crl_malformed") from None
