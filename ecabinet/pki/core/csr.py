"""Certificate signing requests from member devices: what the server accepts, and how clients build one.

The server keeps only the public key from a CSR. The subject a device writes is ignored (the
certificate's subject comes from the user account), but the CSR's signature must verify, which
proves the device holds the private key of the public key it sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ecabinet.pki.core.ca import spki_fingerprint
from ecabinet.pki.core.errors import CsrRejected

MAX_CSR_BYTES = 8192


@dataclass(frozen=True)
class AcceptedCsr:
    public_key: ec.EllipticCurvePublicKey
    spki_sha256: str
    pem: str


def parse_csr(data: bytes | str) -> AcceptedCsr:
    """Accept a PKCS#10 CSR in PEM or DER for an ECDSA P-256 key signed with SHA-256, or raise CsrRejected."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not raw.strip():
        raise CsrRejected("the CSR is empty", code="csr_malformed")
    if len(raw) > MAX_CSR_BYTES:
        raise CsrRejected(f"the CSR is larger than {MAX_CSR_BYTES} bytes", code="csr_malformed")
    try:
        csr = x509.load_pem_x509_csr(raw) if raw.lstrip().startswith(b"-----BEGIN") else x509.load_der_x509_csr(raw)
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrRejected(f"the CSR is not a valid PKCS#10 request: {exc}", code="csr_malformed") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        curve = getattr(getattr(public_key, "curve", None), "name", type(public_key).__name__)
        raise CsrRejected(f"member keys must be ECDSA P-256 (secp256r1), not {curve}", code="csr_wrong_key")
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if not isinstance(algorithm, hashes.SHA256):
        raise CsrRejected("the CSR must be signed with ECDSA SHA-256", code="csr_wrong_key")
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise CsrRejected("the CSR's signature does not verify with its own public key", code="csr_bad_signature")
    return AcceptedCsr(public_key=public_key, spki_sha256=spki_fingerprint(public_key), pem=csr.public_bytes(serialization.Encoding.PEM).decode())


def build_csr(private_key: ec.EllipticCurvePrivateKey, *, label: str = "e-Cabinet member key") -> x509.CertificateSigningRequest:
    """What ``ecabinet-sign`` sends; the subject is only a label, the server replaces it."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label[:64] or "e-Cabinet member key")])
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(private_key, hashes.SHA256())
