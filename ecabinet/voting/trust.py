"""The certificate check for ballots, with the parsed trust store kept between ballots.

``pki.authority.check_member_certificate`` reads and parses every CA certificate and CRL on each
call. A burst of ballots asks the same question hundreds of times a second, so the parsed store
(and the CRL signature checks it caches) is kept per process and reused for as long as the set of
active authorities and their newest CRLs is unchanged, which one query tells. The store also
remembers which certificate-to-issuer signatures it has already checked (``TrustStore``), so a
burst pays for each CA signature once, not once per ballot. Revocation still counts from the next
ballot on: the member's certificate row is read for every ballot, and a new CRL changes the version.
The decision itself is the PKI's: the same ``check_certificate`` and the same revocation record.

A certificate's first check costs its CA's signature (ECDSA P-384, about half a millisecond, and
more for the path), so the first vote after a start, or after a new CRL, paid that for every
member during the vote. ``warm`` checks every registered certificate ahead, in the background of a
server process (``warm_in_background``): at start and whenever a new store replaces the old one.
"""

from __future__ import annotations

import functools
import logging
import threading
from datetime import datetime

from cryptography import x509
from django.conf import settings
from django.db import connection
from django.utils import timezone

from ecabinet import rawsql
from ecabinet.pki import authority
from ecabinet.pki import errors as pki_errors
from ecabinet.pki.core import ca, check
from ecabinet.pki.core.errors import CertificateRejected
from ecabinet.pki.models import Authority, MemberCertificate, RevocationList

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cached: tuple[tuple[object, ...], check.TrustStore] | None = None
WARM_MAX = 20_000  # certificates checked ahead, at most (a government has hundreds)


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
        replaced = _cached is not None
        _cached = (version, store)
    if replaced and settings.VOTE_WARM_CERTIFICATES:
        warm_in_background()
    return store


@functools.lru_cache(maxsize=4096)
def load_certificate(pem: str) -> x509.Certificate:
    """Parsed once per process: a registered certificate's bytes never change (revocation is read
    from its row for every ballot, not from here)."""
    return x509.load_pem_x509_certificate(pem.encode())


def warm() -> int:
    """Check every registered certificate that is neither revoked nor expired against the current
    store, so that its pass is kept (``check.TrustStore``) before its member votes; the number that
    passed. A certificate that fails is left to the ballot, which refuses it with the full reason."""
    store = trust_store()
    now = timezone.now()
    rows = MemberCertificate.objects.filter(revoked_at=None, not_before__lte=now, not_after__gt=now).order_by("-issued_at")
    passed = 0
    for pem in rows.values_list("certificate_pem", flat=True)[:WARM_MAX]:
        try:
            check.check_certificate(load_certificate(pem), at=now, trust=store)
        except (CertificateRejected, ValueError):
            continue
        passed += 1
    return passed


def warm_in_background() -> None:
    """``warm`` in a thread of its own (with its own database connection, closed after)."""

    def run() -> None:
        try:
            log.info("certificates checked ahead for ballots: %d", warm())
        except Exception:
            log.exception("checking certificates ahead failed; ballots check them as they come")
        finally:
            connection.close()

    threading.Thread(target=run, name="trust-warm", daemon=True).start()


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
