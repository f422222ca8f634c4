"""Detached CMS SignedData (RFC 5652) around a signature a member's device already made.

The device signs the exact ballot bytes with ECDSA P-256/SHA-256 (WebCrypto or ``ecabinet-sign``).
The server never holds that key, so it cannot re-sign anything: it wraps the existing signature in
a SignerInfo *without signed attributes*, in which case CMS defines the signature to be over the
content itself. Anyone can then check it with
``openssl cms -verify -binary -inform DER -in X.p7s -content X.json -CAfile ca.pem -purpose any``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ecabinet.pki.core.errors import MalformedInput, SignatureInvalid

_HASHES: dict[str, hashes.HashAlgorithm] = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}


def raw_to_der(signature: bytes) -> bytes:
    """WebCrypto's ECDSA output is r||s of fixed width; X.509 and CMS want DER SEQUENCE {r, s}."""
    if len(signature) not in (64, 96, 132):
        raise SignatureInvalid(f"a raw ECDSA signature is 64, 96 or 132 bytes, not {len(signature)}", code="signature_malformed")
    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))


def der_to_raw(signature: bytes, *, size: int = 32) -> bytes:
    r, s = decode_dss_signature(signature)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def verify_signature(content: bytes, signature_der: bytes, public_key: ec.EllipticCurvePublicKey, hash_algorithm: hashes.HashAlgorithm | None = None) -> None:
    """Raise SignatureInvalid unless ``signature_der`` is ``public_key``'s ECDSA signature over ``content``."""
    try:
        public_key.verify(signature_der, content, ec.ECDSA(hash_algorithm or hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureInvalid("the signature does not verify with the certificate's key over these bytes") from None


def detached_signed_data(
    content: bytes,
    signature: bytes,
    certificate: x509.Certificate,
    *,
    extra_certificates: Sequence[x509.Certificate] = (),
    signature_is_raw: bool = False,
) -> bytes:
    """DER ContentInfo(SignedData) for ``content`` (not embedded) signed by ``certificate``'s key.

    ``signature`` is DER ECDSA unless ``signature_is_raw`` (WebCrypto r||s). It is checked first,
    so a wrapper is never built around a signature that would not verify.
    """
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise SignatureInvalid("member signatures are ECDSA P-256", code="signature_malformed")
    der = raw_to_der(signature) if signature_is_raw else signature
    verify_signature(content, der, public_key)
    cert = ax509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    signer_info = acms.SignerInfo(
        {
            "version": "v1",
            "sid": acms.SignerIdentifier(
                {"issuer_and_serial_number": acms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number})}
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": der,
        }
    )
    certificates = [cert] + [ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra_certificates]
    signed_data = acms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "certificates": certificates,
            "signer_infos": [signer_info],
        }
    )
    return acms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


@dataclass(frozen=True)
class DetachedSignature:
    certificate: x509.Certificate  # the signer's
    certificates: list[x509.Certificate]  # every certificate in the envelope, signer's included
    signature: bytes  # DER ECDSA


def verify_detached_signed_data(p7s: bytes, content: bytes) -> DetachedSignature:
    """Check a detached SignedData over ``content``: one signer, whose certificate is inside, no
    signed attributes, SHA-256 ECDSA, and a signature that verifies. The caller then checks the
    certificate with :func:`ecabinet.pki.core.check.check_certificate` at the signing time."""
    try:
        info = acms.ContentInfo.load(p7s, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed = info["content"]
        if signed["encap_content_info"]["content"].native is not None:
            raise ValueError("the content is embedded, expected a detached signature")
        signer_infos = list(signed["signer_infos"])
        if len(signer_infos) != 1:
            raise ValueError("expected exactly one signer")
        signer_info = signer_infos[0]
        embedded = [c.chosen for c in signed["certificates"]] if signed["certificates"].native else []
        sid = signer_info["sid"].chosen
        serial = sid["serial_number"].native
        issuer = sid["issuer"]
        signer_cert = next((c for c in embedded if c.serial_number == serial and c.issuer == issuer), None)
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        sig_algo = signer_info["signature_algorithm"]["algorithm"].native
        signature = signer_info["signature"].native
        has_signed_attrs = bool(signer_info["signed_attrs"].native)
        certificates = [x509.load_der_x509_certificate(c.dump()) for c in embedded]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedInput(f"not a detached CMS SignedData: {exc}", code="cms_malformed") from None
    if signer_cert is None:
        raise MalformedInput("the signer's certificate is not in the envelope", code="cms_malformed")
    if has_signed_attrs:
        raise MalformedInput("signed attributes are not expected in ballot evidence", code="cms_malformed")
    if digest_name != "sha256" or sig_algo not in ("sha256_ecdsa", "ecdsa"):
        raise MalformedInput(f"unexpected algorithms {digest_name}/{sig_algo}", code="cms_malformed")
    certificate = x509.load_der_x509_certificate(signer_cert.dump())
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SignatureInvalid("the signer's key is not an EC key", code="signature_malformed")
    verify_signature(content, signature, public_key, _HASHES[digest_name])
    return DetachedSignature(certificate=certificate, certificates=certificates, signature=signature)
