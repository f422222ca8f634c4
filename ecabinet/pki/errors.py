"""PKI problem codes. Core (``pki.core``) errors carry the same codes and are mapped by ``from_core``."""

from __future__ import annotations

from ecabinet.errors import ECabinetError
from ecabinet.pki.core.errors import PkiCoreError


class PkiNotInitialised(ECabinetError):
    code = "pki_not_initialised"
    status = 409
    title = "The certification authority is not set up; run 'ecabinet pki init' or 'ecabinet pki import'"


class PkiAlreadyInitialised(ECabinetError):
    code = "pki_already_initialised"
    status = 409
    title = "The certification authority is already set up"


class PkiDoesNotIssue(ECabinetError):
    code = "pki_does_not_issue"
    status = 409
    title = "This installation trusts an imported CA and does not issue certificates; import the member's certificate instead"


class PkiKeyUnavailable(ECabinetError):
    code = "pki_key_unavailable"
    status = 503
    title = "The CA key cannot be opened (passphrase or key file)"


class CsrMalformed(ECabinetError):
    code = "csr_malformed"
    status = 400
    title = "The certificate signing request is not a valid PKCS#10 request"


class CsrWrongKey(ECabinetError):
    code = "csr_wrong_key"
    status = 422
    title = "Member keys must be ECDSA P-256 with SHA-256"


class CsrBadSignature(ECabinetError):
    code = "csr_bad_signature"
    status = 422
    title = "The request's signature does not verify with its public key"


class KeyAlreadyEnrolled(ECabinetError):
    code = "key_already_enrolled"
    status = 409
    title = "This public key already has a pending request or a certificate"


class RequestNotPending(ECabinetError):
    code = "request_not_pending"
    status = 409
    title = "The request has already been decided"


class AlreadyRevoked(ECabinetError):
    code = "certificate_already_revoked"
    status = 409
    title = "The certificate is already revoked"


class CertificateMalformed(ECabinetError):
    code = "certificate_malformed"
    status = 400
    title = "Not a certificate in PEM or DER"


class CrlMalformed(ECabinetError):
    code = "crl_malformed"
    status = 400
    title = "Not a CRL in PEM or DER"


class CertificateUntrusted(ECabinetError):
    code = "certificate_untrusted"
    status = 422
    title = "The certificate does not chain to this installation's trust anchor"


class CertificateExpired(ECabinetError):
    code = "certificate_expired"
    status = 422
    title = "The certificate has expired"


class CertificateNotYetValid(ECabinetError):
    code = "certificate_not_yet_valid"
    status = 422
    title = "The certificate is not valid yet"


class CertificateRevoked(ECabinetError):
    code = "certificate_revoked"
    status = 422
    title = "The certificate has been revoked"


class RevocationUnknown(ECabinetError):
    code = "revocation_unknown"
    status = 422
    title = "No CRL is available to check the certificate's revocation"


class CertificateWrongUsage(ECabinetError):
    code = "certificate_wrong_usage"
    status = 422
    title = "The certificate may not be used to sign"


class SignatureInvalid(ECabinetError):
    code = "signature_invalid"
    status = 422
    title = "The signature does not verify"


class SignatureMalformed(ECabinetError):
    code = "signature_malformed"
    status = 400
    title = "The signature is not well-formed"


class CmsMalformed(ECabinetError):
    code = "cms_malformed"
    status = 400
    title = "Not a detached CMS SignedData"


class PdfMalformed(ECabinetError):
    code = "pdf_malformed"
    status = 400
    title = "Not a PDF that can be signed"


class PdfSigningFailed(ECabinetError):
    code = "pdf_signing_failed"
    status = 500
    title = "Signing the PDF failed"


_BY_CODE: dict[str, type[ECabinetError]] = {
    cls.code: cls
    for cls in (
        PkiKeyUnavailable,
        CsrMalformed,
        CsrWrongKey,
        CsrBadSignature,
        CertificateMalformed,
        CrlMalformed,
        CertificateUntrusted,
        CertificateExpired,
        CertificateNotYetValid,
        CertificateRevoked,
        RevocationUnknown,
        CertificateWrongUsage,
        SignatureInvalid,
        SignatureMalformed,
        CmsMalformed,
        PdfMalformed,
        PdfSigningFailed,
    )
}


def from_core(exc: PkiCoreError) -> ECabinetError:
    """The API problem for a core error, keeping the core's message as the detail."""
    cls = _BY_CODE.get(exc.code, ECabinetError)
    return cls(str(exc))
