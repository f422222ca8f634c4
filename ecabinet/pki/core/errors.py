"""Errors of the pure PKI core. Each carries a stable ``code`` the Django layer maps to a problem."""

from __future__ import annotations


class PkiCoreError(Exception):
    code = "pki_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class KeyStoreError(PkiCoreError):
    """A key file is missing, unreadable or the passphrase does not open it."""

    code = "pki_key_unavailable"


class CsrRejected(PkiCoreError):
    """A certificate signing request that cannot be accepted; ``code`` says why."""

    code = "csr_malformed"


class CertificateRejected(PkiCoreError):
    """A certificate that is not valid for the purpose at the time asked; ``code`` says why."""

    code = "certificate_invalid"


class SignatureInvalid(PkiCoreError):
    code = "signature_invalid"


class MalformedInput(PkiCoreError):
    """Bytes that are not the PEM/DER structure they claim to be."""

    code = "pki_malformed"
