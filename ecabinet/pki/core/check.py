"""Is this certificate good for signing at that moment? Path, validity, and revocation at a time.

``check_certificate(cert, at=..., trust=...)`` answers for a moment in the past as well as now:
a ballot signed before the member's tablet was reported lost stays valid, one signed after is
refused. The path is short (member → issuing CA → root), so it is walked here explicitly and every
signature is checked by ``cryptography``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from ecabinet.pki.core.errors import CertificateRejected

MAX_PATH = 6
_ISSUED_CACHE_MAX = 100_000
_SHA256 = hashes.SHA256()


@dataclass
class TrustStore:
    """Trust anchors, certificates that may complete a path, and the CRLs to consult.

    ``require_revocation_info``: each certificate below an anchor must be covered by a valid CRL
    from its issuer, otherwise the answer is ``revocation_unknown``.
    """

    anchors: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate] = ()
    crls: Sequence[x509.CertificateRevocationList] = ()
    require_revocation_info: bool = True
    _crl_cache: dict[bytes, x509.CertificateRevocationList | None] = field(default_factory=dict, repr=False)
    # (certificate DER hash, issuer DER hash) -> did the issuer's key sign it. A certificate's bytes
    # and an issuer's key never change, so the answer holds for as long as this store is used.
    _issued_cache: dict[tuple[bytes, bytes], bool] = field(default_factory=dict, repr=False)
    # (certificate DER hash, for signing) -> a passed check and the span of moments it holds for.
    _passed: dict[tuple[bytes, bool], tuple[CheckResult, datetime, datetime]] = field(default_factory=dict, repr=False)

    def issuer_candidates(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return [c for c in (*self.intermediates, *self.anchors) if c.subject == cert.issuer]

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return any(cert == anchor for anchor in self.anchors)

    def directly_issued(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = (cert.fingerprint(_SHA256), issuer.fingerprint(_SHA256))
        known = self._issued_cache.get(key)
        if known is None:
            known = _directly_issued(cert, issuer)
            if len(self._issued_cache) >= _ISSUED_CACHE_MAX:
                self._issued_cache.clear()
            self._issued_cache[key] = known
        return known

    def crl_for(self, issuer: x509.Certificate) -> x509.CertificateRevocationList | None:
        """The newest CRL this issuer really signed (a forged or foreign CRL is ignored)."""
        key = issuer.fingerprint(_SHA256)
        if key not in self._crl_cache:
            best: x509.CertificateRevocationList | None = None
            for crl in self.crls:
                if crl.issuer != issuer.subject:
                    continue
                try:
                    signed = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
                except (TypeError, ValueError, UnsupportedAlgorithm):
                    signed = False
                if signed and (best is None or crl.last_update_utc > best.last_update_utc):
                    best = crl
            self._crl_cache[key] = best
        return self._crl_cache[key]


@dataclass(frozen=True)
class CheckResult:
    chain: list[x509.Certificate]  # the certificate first, the trust anchor last
    revoked_later_at: datetime | None = None  # revoked, but only after the moment checked


def _directly_issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def build_path(cert: x509.Certificate, trust: TrustStore) -> list[x509.Certificate]:
    chain = [cert]
    current = cert
    while not trust.is_anchor(current):
        if len(chain) > MAX_PATH:
            raise CertificateRejected("the certificate path is too long", code="certificate_untrusted")
        issuer = next((c for c in trust.issuer_candidates(current) if c != current and trust.directly_issued(current, c)), None)
        if issuer is None:
            raise CertificateRejected(f"no trusted issuer signed the certificate of {current.subject.rfc4514_string()}", code="certificate_untrusted")
        chain.append(issuer)
        current = issuer
    return chain


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _check_issuer_role(issuer: x509.Certificate, below: int) -> None:
    """An issuer must be a CA allowed to sign certificates, with room for ``below`` CAs under it."""
    constraints = _ext(issuer, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        raise CertificateRejected(f"{issuer.subject.rfc4514_string()} is not a CA", code="certificate_untrusted")
    if constraints.path_length is not None and below > constraints.path_length:
        raise CertificateRejected(f"{issuer.subject.rfc4514_string()} may not certify further CAs", code="certificate_untrusted")
    usage = _ext(issuer, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
        raise CertificateRejected(f"{issuer.subject.rfc4514_string()} may not sign certificates", code="certificate_untrusted")


def _check_signing_usage(cert: x509.Certificate) -> None:
    usage = _ext(cert, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not (usage.digital_signature or usage.content_commitment):
        raise CertificateRejected("the certificate's key may not make signatures", code="certificate_wrong_usage")
    constraints = _ext(cert, x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise CertificateRejected("a CA certificate does not sign ballots or documents", code="certificate_wrong_usage")


def check_certificate(cert: x509.Certificate, *, at: datetime, trust: TrustStore, for_signing: bool = True) -> CheckResult:
    """Raise CertificateRejected unless ``cert`` chains to an anchor, is within validity, and is not revoked at ``at``.

    Codes: ``certificate_untrusted``, ``certificate_expired``, ``certificate_not_yet_valid``,
    ``certificate_revoked``, ``revocation_unknown``, ``certificate_wrong_usage``.
    """
    if at.tzinfo is None:
        raise ValueError("'at' must be timezone-aware")
    at = at.astimezone(UTC)
    # A certificate that passed against this store passes again at any moment within every
    # certificate's validity on its path and before any revocation dated later: the store (anchors,
    # CRLs) is fixed, and nothing else enters the answer. Only passes are kept; a refusal is worked
    # out again, so its message is always the full one.
    key = (cert.fingerprint(_SHA256), for_signing)
    passed = trust._passed.get(key)
    if passed is not None and passed[1] <= at <= passed[2]:
        return passed[0]
    result = _check(cert, at=at, trust=trust, for_signing=for_signing)
    first = max(item.not_valid_before_utc for item in result.chain)
    last = min(item.not_valid_after_utc for item in result.chain)
    if result.revoked_later_at is not None:
        last = min(last, result.revoked_later_at - timedelta(microseconds=1))
    if len(trust._passed) >= _ISSUED_CACHE_MAX:
        trust._passed.clear()
    trust._passed[key] = (result, first, last)
    return result


def _check(cert: x509.Certificate, *, at: datetime, trust: TrustStore, for_signing: bool) -> CheckResult:
    chain = build_path(cert, trust)
    if for_signing:
        _check_signing_usage(cert)
    for depth, issuer in enumerate(chain[1:]):
        _check_issuer_role(issuer, below=depth)
    for item in chain:
        if at < item.not_valid_before_utc:
            raise CertificateRejected(
                f"{item.subject.rfc4514_string()} is not valid before {item.not_valid_before_utc.isoformat()}", code="certificate_not_yet_valid"
            )
        if at > item.not_valid_after_utc:
            raise CertificateRejected(f"{item.subject.rfc4514_string()} expired on {item.not_valid_after_utc.isoformat()}", code="certificate_expired")
    revoked_later: datetime | None = None
    for item, issuer in itertools.pairwise(chain):
        crl = trust.crl_for(issuer)
        if crl is None:
            if trust.require_revocation_info:
                raise CertificateRejected(f"no CRL from {issuer.subject.rfc4514_string()} to check revocation", code="revocation_unknown")
            continue
        entry = crl.get_revoked_certificate_by_serial_number(item.serial_number)
        if entry is None:
            continue
        if entry.revocation_date_utc <= at:
            raise CertificateRejected(
                f"{item.subject.rfc4514_string()} was revoked on {entry.revocation_date_utc.isoformat()}",
                code="certificate_revoked",
            )
        revoked_later = entry.revocation_date_utc if revoked_later is None else min(revoked_later, entry.revocation_date_utc)
    return CheckResult(chain=chain, revoked_later_at=revoked_later)
