"""The certificate check for ballots, with the parsed trust store kept between ballots.

``pki.authority.check_member_certificate`` reads and parses every CA certificate and CRL on each
call. A burst of ballots asks the same question hundreds of times a second, so the parsed store
(and the CRL signature checks it caches) is kept per process and reused for as long as the set of
active authorities and their newest CRLs is unchanged, which one query tells. The decision itself
is the PKI's: the same ``check_certificate`` and the same revocation record.
"""

from __future__ import annotations

import threading
from datetime import datetime

from cryptography import x509

from ecabinet.pki import authority
from ecabinet.pki import errors as pki_errors
from ecabinet.pki.core import ca, check
from ecabinet.pki.core.errors import CertificateRejected
from ecabinet.pki.models import Authority, MemberCertificate, RevocationList

_lock = threading.Lock()
_cached: tuple[tuple[object, ...], check.TrustStore] | None = None


def _version() -> tuple[object, ...]:
    authorities = tuple(Authority.objects.filter(active=True).order_by("pk").values_list("pk", "fingerprint"))
    crls = tuple(RevocationList.objects.filter(issuer__active=True).order_by("-pk").values_list("pk", "number", "this_update")[:1])
    return (authorities, crls)


def trust_store() -> check.TrustStore:
    global _cached
    version = _version()
    with _lock:
        if _cached is not None and _cached[0] == version:
            return _cached[1]
    store = authority.trust_store()
    with _lock:
        _cached = (version, store)
    return store


def check_member_certificate(cert: x509.Certificate, *, at: datetime) -> MemberCertificate:
    """As ``pki.authority.check_member_certificate``: the registered certificate, good for signing at ``at``."""
    try:
        check.check_certificate(cert, at=at, trust=trust_store())
    except CertificateRejected as exc:
        raise pki_errors.from_core(exc) from None
    record = MemberCertificate.objects.filter(fingerprint=ca.fingerprint(cert)).first()
    if record is None:
        raise pki_errors.CertificateUntrusted("The certificate chains to our CA but is not registered to any member.")
    if record.revoked_at is not None and record.revoked_at <= at:
        raise pki_errors.CertificateRevoked(f"Revoked on {record.revoked_at.isoformat()} ({record.revocation_reason}).")
    return record
