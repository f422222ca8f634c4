"""The installation's CA as Django sees it: which authorities exist, their keys, the trust store.

Reads only; every change goes through ``pki.actions``. Other apps (voting) call
``member_certificate_check`` and ``trust_store`` from here.
"""

from __future__ import annotations

import os
import secrets
import threading
from datetime import datetime
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.utils import timezone

from ecabinet.pki import errors
from ecabinet.pki.core import ca, check, keys
from ecabinet.pki.core.errors import CertificateRejected, KeyStoreError
from ecabinet.pki.core.tsa import InstallationTimeStamper
from ecabinet.pki.models import Authority, MemberCertificate, RevocationList

PASSPHRASE_FILE = "ca-passphrase"  # noqa: S105 - a file name, not a secret
_signers: dict[tuple[str, str], keys.Signer] = {}
_signers_lock = threading.Lock()


def key_dir() -> Path:
    return Path(settings.KEY_DIR) / "pki"


def passphrase(*, create: bool = False) -> bytes:
    """ECABINET_CA_PASSPHRASE, or in the embedded mode a generated one kept in KEY_DIR (0600)."""
    if settings.PKI_CA_PASSPHRASE:
        return settings.PKI_CA_PASSPHRASE.encode()
    if settings.PRODUCTION:
        raise errors.PkiKeyUnavailable("ECABINET_CA_PASSPHRASE must be set in production to open the CA keys.")
    path = key_dir() / PASSPHRASE_FILE
    if path.exists():
        return path.read_text().strip().encode()
    if not create:
        raise errors.PkiKeyUnavailable(f"no CA passphrase: set ECABINET_CA_PASSPHRASE or restore {path}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value.encode()


def signer_for(authority: Authority) -> keys.Signer:
    """The signer of an authority we operate. Decrypted once per process and kept in memory."""
    if not authority.key_ref:
        raise errors.PkiDoesNotIssue(f"{authority.subject} is an imported authority; its key is not here")
    cache_key = (authority.key_ref, authority.fingerprint)
    with _signers_lock:
        if cache_key in _signers:
            return _signers[cache_key]
        scheme, _, location = authority.key_ref.partition(":")
        if scheme != "file":
            raise errors.PkiKeyUnavailable(f"key store {scheme!r} is not available in this build (see docs/pki.md, HSM)")
        try:
            signer = keys.FileKeySigner(key_dir() / location, passphrase())
        except KeyStoreError as exc:
            raise errors.PkiKeyUnavailable(str(exc)) from None
        if ca.spki_fingerprint(signer.public_key()) != ca.spki_fingerprint(certificate(authority).public_key()):  # type: ignore[arg-type]
            raise errors.PkiKeyUnavailable(f"the key file of {authority.subject} does not match its certificate")
        _signers[cache_key] = signer
        return signer


def forget_signers() -> None:
    with _signers_lock:
        _signers.clear()


def certificate(authority: Authority) -> x509.Certificate:
    return x509.load_pem_x509_certificate(authority.certificate_pem.encode())


def active(kind: str) -> Authority | None:
    return Authority.objects.filter(kind=kind, active=True).order_by("-created_at", "-pk").first()


def mode() -> str:
    """``local`` (this installation issues), ``imported`` (a government CA does), or ``uninitialised``."""
    if active(Authority.Kind.ISSUING) is not None:
        return "local"
    if active(Authority.Kind.IMPORTED_ANCHOR) is not None:
        return "imported"
    return "uninitialised"


def require_issuing() -> Authority:
    current = mode()
    if current == "uninitialised":
        raise errors.PkiNotInitialised()
    if current == "imported":
        raise errors.PkiDoesNotIssue()
    return active(Authority.Kind.ISSUING)  # type: ignore[return-value]


def anchors() -> list[Authority]:
    return list(Authority.objects.filter(active=True, kind__in=[Authority.Kind.ROOT, Authority.Kind.IMPORTED_ANCHOR]))


def intermediates() -> list[Authority]:
    return list(Authority.objects.filter(active=True, kind__in=[Authority.Kind.ISSUING, Authority.Kind.IMPORTED_INTERMEDIATE]))


def chain_pem() -> str:
    """The CA certificates a relying party needs (``ca.pem`` in evidence folders): issuing first, root last."""
    return "".join(a.certificate_pem for a in [*intermediates(), *anchors()])


def latest_crl(issuer: Authority) -> RevocationList | None:
    return issuer.crls.order_by("-this_update", "-number").first()


def trust_store() -> check.TrustStore:
    crls = []
    for authority in [*intermediates(), *anchors()]:
        latest = latest_crl(authority)
        if latest is not None:
            crls.append(x509.load_der_x509_crl(bytes(latest.der)))
    return check.TrustStore(
        anchors=[certificate(a) for a in anchors()],
        intermediates=[certificate(a) for a in intermediates()],
        crls=crls,
        # The root and imported anchors certify CAs only; the issuing CA's CRL is what matters, and
        # a CA without any CRL on file is treated as "cannot tell", i.e. refused.
        require_revocation_info=True,
    )


def publication() -> ca.Publication:
    base = settings.PKI_PUBLIC_URL
    return ca.Publication(crl_url=f"{base}/pki/crl", ca_issuers_url=f"{base}/pki/ca.cer")


def root_publication() -> ca.Publication:
    base = settings.PKI_PUBLIC_URL
    return ca.Publication(crl_url=f"{base}/pki/root.crl", ca_issuers_url=None)


def timestamper() -> InstallationTimeStamper:
    tsa = active(Authority.Kind.TSA)
    if tsa is None:
        raise errors.PkiNotInitialised("This installation has no time-stamping authority; run 'ecabinet pki init'.")
    chain = [certificate(a) for a in [*intermediates(), *anchors()]]
    return InstallationTimeStamper(signer_for(tsa), certificate(tsa), chain)


def check_member_certificate(cert: x509.Certificate, *, at: datetime | None = None) -> MemberCertificate:
    """The registered MemberCertificate behind ``cert`` if it is good for signing at ``at``.

    Checks the path to the trust anchor, validity and revocation at ``at`` against the CRLs on file,
    and the installation's own revocation record (which also covers imported certificates whose
    government CA has not yet listed them). Raises the matching problem otherwise.
    """
    moment = at or timezone.now()
    try:
        check.check_certificate(cert, at=moment, trust=trust_store())
    except CertificateRejected as exc:
        raise errors.from_core(exc) from None
    record = MemberCertificate.objects.select_related("user").filter(fingerprint=ca.fingerprint(cert)).first()
    if record is None:
        raise errors.CertificateUntrusted("The certificate chains to our CA but is not registered to any member.")
    if record.revoked_at is not None and record.revoked_at <= moment:
        raise errors.CertificateRevoked(f"Revoked on {record.revoked_at.isoformat()} ({record.revocation_reason}).")
    return record
