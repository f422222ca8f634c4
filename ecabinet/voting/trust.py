"""The certificate check for ballots, with the parsed trust store kept between ballots.

``pki.authority.check_member_certificate`` reads and parses every CA certificate and CRL on each
call. A burst of ballots asks the same question hundreds of times a second, so the parsed store
(and the CRL signature checks it caches) is kept per process and reused for as long as the set of
active authorities and their newest CRLs is unchanged, which one query tells. The store also
remembers which certificate-to-issuer signatures it has already checked (``TrustStore``), so a
burst pays for each CA signature once, not once per ballot. Revocation still counts from the next
ballot on: the member's certificate row is read for every ballot, and a new CRL changes the version.
The decision itself is the PKI's: the same ``check_certificate`` and the same revocation record.
"""

from __future__ import annotations

import threading
from datetime import datetime

from cryptography import x509

from ecabinet import rawsql
from ecabinet.pki import authority
from ecabinet.pki import errors as pki_errors
from ecabinet.pki.core import ca, check
from ecabinet.pki.core.errors import CertificateRejected
from ecabinet.pki.models import Authority, MemberCertificate, RevocationList

_lock = threading.Lock()
_cached: tuple[tuple[object, ...], check.TrustStore] | None = None


def _version() -> tuple[object, ...]:
    """One query: the active authorities and, for each, its newest CRL and how many it has.

    Plain SQL, as it runs for every ballot: the ORM spent longer building it than the database
    spent answering.
    """
    with rawsql.cursor() as cursor:
        cursor.execute(rawsql.statement("voting.trust_version", lambda: f"{version_select()} ORDER BY 1"))
        return tuple(tuple(row) for row in cursor.fetchall())


def version_select() -> str:
    """The version's SELECT (five columns, one row per active authority, the first the
    authority's id), for a caller that reads it inside a statement of its own."""
    t, c = rawsql.table, rawsql.column
    a_id, fingerprint, r_id = c(Authority, "id"), c(Authority, "fingerprint"), c(RevocationList, "id")
    return (
        f"SELECT a.{a_id} AS v_authority, a.{fingerprint} AS v_fingerprint, MAX(r.{r_id}) AS v_newest,"  # noqa: S608
        f" COUNT(r.{r_id}) AS v_count, MAX(r.{c(RevocationList, 'this_update')}) AS v_updated"
        f" FROM {t(Authority)} a LEFT JOIN {t(RevocationList)} r ON r.{c(RevocationList, 'issuer')} = a.{a_id}"
        f" WHERE a.{c(Authority, 'active')} GROUP BY a.{a_id}, a.{fingerprint}"
    )


def trust_store(version: tuple[object, ...] | None = None) -> check.TrustStore:
    """``version``: what ``_version()`` would return, if the caller has just read it."""
    global _cached
    version = _version() if version is None else version
    with _lock:
        if _cached is not None and _cached[0] == version:
            return _cached[1]
    store = authority.trust_store()
    with _lock:
        _cached = (version, store)
    return store


def check_member_certificate(
    cert: x509.Certificate, *, at: datetime, record: MemberCertificate | None = None, version: tuple[object, ...] | None = None
) -> MemberCertificate:
    """As ``pki.authority.check_member_certificate``: the registered certificate, good for signing at ``at``.

    ``record``: the registered row for this certificate if the caller has just read it (its
    revocation fields are then as fresh as a read here would be); ``version``: the trust version,
    likewise (see ``trust_store``).
    """
    try:
        check.check_certificate(cert, at=at, trust=trust_store(version))
    except CertificateRejected as exc:
        raise pki_errors.from_core(exc) from None
    fingerprint = ca.fingerprint(cert)
    if record is None or record.fingerprint != fingerprint:
        record = rawsql.by_field(MemberCertificate, "fingerprint", fingerprint)
    if record is None:
        raise pki_errors.CertificateUntrusted("The certificate chains to our CA but is not registered to any member.")
    if record.revoked_at is not None and record.revoked_at <= at:
        raise pki_errors.CertificateRevoked(f"Revoked on {record.revoked_at.isoformat()} ({record.revocation_reason}).")
    return record
