"""Every change to the PKI: setting up or importing the CA, enrolment, approval, revocation, CRLs.

Each action is atomic and writes its audit entry. Refused input (a bad CSR) is recorded outside
any transaction, so the entry stays while nothing else is stored.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.errors import ECabinetError, InvalidInput
from ecabinet.identity.models import User
from ecabinet.pki import authority, errors, events
from ecabinet.pki.core import ca, check, keys
from ecabinet.pki.core import csr as csr_core
from ecabinet.pki.core import pades as pades_core
from ecabinet.pki.core.errors import CertificateRejected, MalformedInput, PkiCoreError
from ecabinet.pki.models import Authority, EnrolmentRequest, MemberCertificate, RevocationList

log = logging.getLogger(__name__)

ROOT_DAYS = 7300
ISSUING_DAYS = 3650
TSA_DAYS = 1825
ROOT_CRL_DAYS = 365


def _authority_row(kind: str, cert: x509.Certificate, key_ref: str = "") -> Authority:
    return Authority.objects.create(
        kind=kind,
        subject=cert.subject.rfc4514_string(),
        certificate_pem=ca.to_pem(cert),
        fingerprint=ca.fingerprint(cert),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_ref=key_ref,
    )


# --- setting up the authority ---------------------------------------------------------------


def init_authority(*, organisation: str, acting_user: Any = None, source_ip: str | None = None) -> dict[str, Authority]:
    """Create the installation's root (P-384), issuing CA (P-384) and TSA (P-256), and first CRLs.

    The keys are written encrypted (PKCS#8, best available encryption) under the CA passphrase
    before anything is stored; if storing fails the unused key files are removed.
    """
    if authority.mode() != "uninitialised":
        raise errors.PkiAlreadyInitialised()
    secret = authority.passphrase(create=True)
    tag = uuid.uuid4().hex[:12]
    paths = {name: authority.key_dir() / f"{name}-{tag}.key.pem" for name in ("root", "issuing", "tsa")}
    root_key, issuing_key, tsa_key = keys.generate_key("P-384"), keys.generate_key("P-384"), keys.generate_key("P-256")
    root_signer, issuing_signer = keys.KeySigner(root_key), keys.KeySigner(issuing_key)
    root = ca.build_root(root_signer, common_name=ca.authority_common_name(organisation, "Root CA"), organisation=organisation, days=ROOT_DAYS)
    issuing = ca.build_issuing_ca(
        root_signer,
        root,
        issuing_key.public_key(),
        common_name=ca.authority_common_name(organisation, "Issuing CA"),
        organisation=organisation,
        days=ISSUING_DAYS,
        publication=authority.root_publication(),
    )
    tsa = ca.issue_tsa_certificate(
        issuing_signer,
        issuing,
        tsa_key.public_key(),
        common_name=ca.authority_common_name(organisation, "Time-Stamping Authority"),
        organisation=organisation,
        days=TSA_DAYS,
        publication=authority.publication(),
    )
    # The certificates are built (and the names checked) before any key file is written.
    try:
        for name, key in zip(("root", "issuing", "tsa"), (root_key, issuing_key, tsa_key), strict=True):
            keys.write_encrypted_key(paths[name], key, secret)
        with transaction.atomic():
            rows = {
                "root": _authority_row(Authority.Kind.ROOT, root, f"file:{paths['root'].name}"),
                "issuing": _authority_row(Authority.Kind.ISSUING, issuing, f"file:{paths['issuing'].name}"),
                "tsa": _authority_row(Authority.Kind.TSA, tsa, f"file:{paths['tsa'].name}"),
            }
            _store_crl(rows["root"], ca.build_crl(root_signer, root, [], number=1, next_update_after=timedelta(days=ROOT_CRL_DAYS)))
            _store_crl(rows["issuing"], ca.build_crl(issuing_signer, issuing, [], number=1, next_update_after=timedelta(days=settings.PKI_CRL_DAYS)))
            record(
                events.CA_INITIALISED,
                actor=acting_user,
                obj=rows["issuing"],
                source_ip=source_ip,
                details={name: row.fingerprint for name, row in rows.items()},
            )
    except Exception:
        for path in paths.values():
            path.unlink(missing_ok=True)
        raise
    return rows


def _store_crl(issuer: Authority, crl: x509.CertificateRevocationList, *, imported: bool = False) -> RevocationList:
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = 0
    return RevocationList.objects.create(
        issuer=issuer,
        number=number,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        der=crl.public_bytes(serialization.Encoding.DER),
        imported=imported,
    )


def import_authority(*, chain: bytes, crls: list[bytes], acting_user: Any = None, source_ip: str | None = None) -> list[Authority]:
    """Trust an existing (government) CA chain and its CRLs instead of issuing here.

    The chain must contain at least one self-signed root; every other certificate must be a CA
    that chains to it. Each CRL must be signed by one of the chain's CAs. Importing again adds new
    CAs and newer CRLs (that is how a government CRL is refreshed).
    """
    if authority.mode() == "local":
        raise errors.PkiAlreadyInitialised("This installation runs its own CA; a government chain cannot be imported on top of it.")
    try:
        certs = ca.load_certificates(chain)
        loaded_crls = [ca.load_crl(item) for item in crls]
    except MalformedInput as exc:
        raise errors.from_core(exc) from None
    roots = [c for c in certs if c.subject == c.issuer and _self_signed(c)]
    if not roots:
        raise errors.CertificateUntrusted("The chain has no self-signed root certificate to trust.")
    others = [c for c in certs if c not in roots]
    store = check.TrustStore(anchors=roots, intermediates=others, require_revocation_info=False)
    for cert in others:
        try:
            check.build_path(cert, store)
        except CertificateRejected as exc:
            raise errors.from_core(exc) from None
    for cert in certs:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value if _has(cert, x509.BasicConstraints) else None
        if constraints is None or not constraints.ca:
            raise errors.CertificateUntrusted(f"{cert.subject.rfc4514_string()} is not a CA certificate.")
    crl_issuers: list[tuple[x509.CertificateRevocationList, x509.Certificate]] = []
    for crl in loaded_crls:
        issuer = next((c for c in certs if c.subject == crl.issuer and crl.is_signature_valid(c.public_key())), None)  # type: ignore[arg-type]
        if issuer is None:
            raise errors.CrlMalformed(f"The CRL of {crl.issuer.rfc4514_string()} is not signed by a CA of this chain.")
        crl_issuers.append((crl, issuer))
    with transaction.atomic():
        rows: dict[str, Authority] = {a.fingerprint: a for a in Authority.objects.filter(fingerprint__in=[ca.fingerprint(c) for c in certs])}
        for cert in certs:
            fp = ca.fingerprint(cert)
            if fp not in rows:
                kind = Authority.Kind.IMPORTED_ANCHOR if cert in roots else Authority.Kind.IMPORTED_INTERMEDIATE
                rows[fp] = _authority_row(kind, cert)
        stored = 0
        for crl, issuer in crl_issuers:
            row = rows[ca.fingerprint(issuer)]
            latest = authority.latest_crl(row)
            if latest is None or crl.last_update_utc > latest.this_update:
                _store_crl(row, crl, imported=True)
                stored += 1
        record(
            events.CA_IMPORTED,
            actor=acting_user,
            source_ip=source_ip,
            details={"certificates": sorted(rows), "crls_stored": stored},
        )
    return list(rows.values())


def _has(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        return False
    return True


# --- CRLs -----------------------------------------------------------------------------------


def _publish_crl(issuer: Authority) -> RevocationList:
    """Sign and store the next CRL of an authority we operate. Caller holds a transaction."""
    Authority.objects.select_for_update().filter(pk=issuer.pk).first()  # numbers stay unique across processes
    last = issuer.crls.order_by("-number").values_list("number", flat=True).first() or 0
    entries = [
        ca.RevokedEntry(serial=int(c.serial, 16), revoked_at=c.revoked_at, reason=c.revocation_reason or "unspecified")  # type: ignore[arg-type]
        for c in MemberCertificate.objects.filter(issuer=issuer, revoked_at__isnull=False).order_by("revoked_at")
    ]
    days = ROOT_CRL_DAYS if issuer.kind == Authority.Kind.ROOT else settings.PKI_CRL_DAYS
    crl = ca.build_crl(authority.signer_for(issuer), authority.certificate(issuer), entries, number=last + 1, next_update_after=timedelta(days=days))
    return _store_crl(issuer, crl)


def publish_crl(*, issuer: Authority | None = None, acting_user: Any = None, source_ip: str | None = None) -> RevocationList:
    issuer = issuer or authority.require_issuing()
    with transaction.atomic():
        crl = _publish_crl(issuer)
        record(
            events.CRL_PUBLISHED,
            actor=acting_user,
            obj=issuer,
            source_ip=source_ip,
            details={"number": crl.number, "next_update": crl.next_update.isoformat() if crl.next_update else None},
        )
    return crl


def current_crl(issuer: Authority | None = None) -> RevocationList:
    """The CRL to serve: the latest, renewed once half its validity has passed (imported: as imported)."""
    if issuer is None:
        current = authority.mode()
        if current == "uninitialised":
            raise errors.PkiNotInitialised()
        issuer = authority.active(Authority.Kind.ISSUING) if current == "local" else _imported_crl_issuer()
    latest = authority.latest_crl(issuer)  # type: ignore[arg-type]
    if issuer is None or not issuer.key_ref:
        if latest is None:
            raise errors.PkiNotInitialised("No CRL has been imported with the government chain.")
        return latest
    now = timezone.now()
    if latest is None or latest.next_update is None or now >= latest.this_update + (latest.next_update - latest.this_update) / 2:
        return publish_crl(issuer=issuer)
    return latest


def _imported_crl_issuer() -> Authority | None:
    """The imported CA whose CRL covers member certificates: an intermediate's if there is one."""
    for kind in (Authority.Kind.IMPORTED_INTERMEDIATE, Authority.Kind.IMPORTED_ANCHOR):
        newest = RevocationList.objects.filter(imported=True, issuer__active=True, issuer__kind=kind).order_by("-this_update").select_related("issuer").first()
        if newest is not None:
            return newest.issuer
    return None


# --- enrolment ------------------------------------------------------------------------------


def request_enrolment(user: User, *, csr: str | bytes, device_label: str, source: str, acting_user: User, source_ip: str | None) -> EnrolmentRequest:
    """Store a device's CSR for approval. The key pair stays on the device; only the public key comes."""
    current = authority.mode()
    if current == "uninitialised":
        raise errors.PkiNotInitialised()
    if current == "imported":
        raise errors.PkiDoesNotIssue()
    try:
        accepted = csr_core.parse_csr(csr)
    except PkiCoreError as exc:
        record(events.ENROLMENT_REFUSED, actor=acting_user, obj=user, source_ip=source_ip, details={"code": exc.code, "device_label": device_label[:120]})
        raise errors.from_core(exc) from None
    try:
        with transaction.atomic():
            if MemberCertificate.objects.filter(spki_sha256=accepted.spki_sha256, revoked_at__isnull=True).exists():
                raise errors.KeyAlreadyEnrolled()
            request = EnrolmentRequest.objects.create(
                user=user, device_label=device_label, source=source, csr_pem=accepted.pem, spki_sha256=accepted.spki_sha256
            )
            record(
                events.ENROLMENT_REQUESTED,
                actor=acting_user,
                obj=request,
                source_ip=source_ip,
                details={"user": user.pk, "device_label": device_label, "source": source, "spki_sha256": accepted.spki_sha256},
            )
    except (IntegrityError, errors.KeyAlreadyEnrolled):
        record(events.ENROLMENT_REFUSED, actor=acting_user, obj=user, source_ip=source_ip, details={"code": errors.KeyAlreadyEnrolled.code})
        raise errors.KeyAlreadyEnrolled() from None
    return request


def _locked_pending(request: EnrolmentRequest) -> EnrolmentRequest:
    fresh = EnrolmentRequest.objects.select_for_update(of=("self",)).select_related("user__organisation").get(pk=request.pk)
    if fresh.state != EnrolmentRequest.State.PENDING:
        raise errors.RequestNotPending()
    return fresh


def approve_enrolment(request: EnrolmentRequest, *, acting_user: User, source_ip: str | None) -> MemberCertificate:
    """Issue the certificate for a pending request: subject from the account, key from the CSR."""
    issuing = authority.require_issuing()
    signer = authority.signer_for(issuing)
    with transaction.atomic():
        fresh = _locked_pending(request)
        user = fresh.user
        if not user.is_active:
            raise errors.RequestNotPending("The member's account is disabled.")
        public_key = x509.load_pem_x509_csr(fresh.csr_pem.encode()).public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)  # parse_csr admitted only P-256
        cert = ca.issue_member_certificate(
            signer,
            authority.certificate(issuing),
            public_key,
            full_name=user.full_name or user.username,
            user_id=user.pk,
            organisation=user.organisation.name if user.organisation else "",
            days=settings.PKI_CERT_DAYS,
            publication=authority.publication(),
        )
        member_cert = MemberCertificate.objects.create(
            user=user,
            issuer=issuing,
            request=fresh,
            device_label=fresh.device_label,
            certificate_pem=ca.to_pem(cert),
            serial=format(cert.serial_number, "x"),
            fingerprint=ca.fingerprint(cert),
            spki_sha256=fresh.spki_sha256,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
        now = timezone.now()
        EnrolmentRequest.objects.filter(pk=fresh.pk).update(state=EnrolmentRequest.State.APPROVED, decided_at=now, decided_by=acting_user)
        request.state, request.decided_at, request.decided_by = EnrolmentRequest.State.APPROVED, now, acting_user
        record(
            events.ENROLMENT_APPROVED,
            actor=acting_user,
            obj=fresh,
            source_ip=source_ip,
            details={"user": user.pk, "certificate": member_cert.pk, "serial": member_cert.serial, "fingerprint": member_cert.fingerprint},
        )
        from ecabinet.notify import hooks

        hooks.certificate_approved(member_cert, acting_user=acting_user)
    return member_cert


def reject_enrolment(request: EnrolmentRequest, *, reason: str, acting_user: User, source_ip: str | None) -> EnrolmentRequest:
    with transaction.atomic():
        fresh = _locked_pending(request)
        now = timezone.now()
        EnrolmentRequest.objects.filter(pk=fresh.pk).update(
            state=EnrolmentRequest.State.REJECTED, decided_at=now, decided_by=acting_user, rejection_reason=reason[:300]
        )
        request.state, request.decided_at, request.decided_by, request.rejection_reason = EnrolmentRequest.State.REJECTED, now, acting_user, reason[:300]
        record(events.ENROLMENT_REJECTED, actor=acting_user, obj=fresh, source_ip=source_ip, details={"user": fresh.user_id, "reason": reason[:300]})
    return request


def import_member_certificate(user: User, *, certificate: str | bytes, device_label: str, acting_user: User, source_ip: str | None) -> MemberCertificate:
    """Register a member certificate issued elsewhere (the imported government CA) to ``user``."""
    try:
        cert = ca.load_certificate(certificate)
    except MalformedInput as exc:
        raise errors.from_core(exc) from None
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise errors.CsrWrongKey("Ballot signatures are ECDSA P-256; this certificate holds another kind of key.")
    try:
        result = check.check_certificate(cert, at=timezone.now(), trust=authority.trust_store())
    except CertificateRejected as exc:
        raise errors.from_core(exc) from None
    issuer = Authority.objects.get(fingerprint=ca.fingerprint(result.chain[1]))
    with transaction.atomic():
        if MemberCertificate.objects.filter(fingerprint=ca.fingerprint(cert)).exists():
            raise errors.KeyAlreadyEnrolled("This certificate is already registered.")
        member_cert = MemberCertificate.objects.create(
            user=user,
            issuer=issuer,
            device_label=device_label,
            certificate_pem=ca.to_pem(cert),
            serial=format(cert.serial_number, "x"),
            fingerprint=ca.fingerprint(cert),
            spki_sha256=ca.spki_fingerprint(key),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            imported=True,
        )
        record(
            events.CERTIFICATE_IMPORTED,
            actor=acting_user,
            obj=member_cert,
            source_ip=source_ip,
            details={"user": user.pk, "fingerprint": member_cert.fingerprint, "subject": cert.subject.rfc4514_string()},
        )
    return member_cert


# --- revocation -----------------------------------------------------------------------------


def _crl_after_revocation(issuer: Authority) -> int | None:
    """Publish at once when we hold the issuer's key; a key that cannot be opened must not undo the revocation."""
    if not issuer.key_ref:
        return None
    try:
        with transaction.atomic():
            return _publish_crl(issuer).number
    except ECabinetError as exc:
        log.error("revocation recorded but the CRL could not be signed: %s", exc.detail)
        return None


def revoke_certificate(
    certificate: MemberCertificate, *, reason: str, acting_user: User | None, source_ip: str | None, at: datetime | None = None
) -> MemberCertificate:
    if reason not in MemberCertificate.Reason.values:
        raise InvalidInput(f"unknown revocation reason {reason!r}")
    with transaction.atomic():
        fresh = MemberCertificate.objects.select_for_update(of=("self",)).select_related("issuer").get(pk=certificate.pk)
        if fresh.revoked_at is not None:
            raise errors.AlreadyRevoked()
        moment = at or timezone.now()
        MemberCertificate.objects.filter(pk=fresh.pk).update(revoked_at=moment, revocation_reason=reason, revoked_by=acting_user)
        certificate.revoked_at, certificate.revocation_reason, certificate.revoked_by = moment, reason, acting_user
        crl_number = _crl_after_revocation(fresh.issuer)
        record(
            events.CERTIFICATE_REVOKED,
            actor=acting_user,
            obj=fresh,
            source_ip=source_ip,
            details={"user": fresh.user_id, "serial": fresh.serial, "reason": reason, "crl_number": crl_number},
        )
    return certificate


def revoke_all_for_user(user: User, *, reason: str, acting_user: User | None, source_ip: str | None) -> int:
    """Revoke every live certificate of ``user`` and reject their pending requests (one CRL at the end)."""
    with transaction.atomic():
        now = timezone.now()
        live = list(MemberCertificate.objects.select_for_update(of=("self",)).select_related("issuer").filter(user=user, revoked_at__isnull=True))
        for cert in live:
            MemberCertificate.objects.filter(pk=cert.pk).update(revoked_at=now, revocation_reason=reason, revoked_by=acting_user)
        numbers = {issuer.pk: _crl_after_revocation(issuer) for issuer in {c.issuer for c in live}}
        for cert in live:
            record(
                events.CERTIFICATE_REVOKED,
                actor=acting_user,
                obj=cert,
                source_ip=source_ip,
                details={"user": user.pk, "serial": cert.serial, "reason": reason, "crl_number": numbers[cert.issuer_id]},
            )
        for pending in EnrolmentRequest.objects.filter(user=user, state=EnrolmentRequest.State.PENDING):
            EnrolmentRequest.objects.filter(pk=pending.pk).update(
                state=EnrolmentRequest.State.REJECTED, decided_at=now, decided_by=acting_user, rejection_reason="account disabled"
            )
            record(events.ENROLMENT_REJECTED, actor=acting_user, obj=pending, source_ip=source_ip, details={"user": user.pk, "reason": "account disabled"})
    return len(live)


# --- signing documents ----------------------------------------------------------------------


def sign_pdf(
    pdf: bytes, *, signer: keys.Signer, certificate: MemberCertificate, acting_user: User, reason: str = "", location: str = "", source_ip: str | None = None
) -> bytes:
    """PAdES B-LT signature by ``certificate``'s key, time-stamped by the installation TSA, CRLs embedded.

    ``signer`` must hold the certificate's private key (an office key on the server, or a remote
    signer). The certificate must be good for signing now.
    """
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    authority.check_member_certificate(cert)
    store = authority.trust_store()
    crls = [x509.load_der_x509_crl(bytes(current_crl().der))]
    try:
        signed = pades_core.sign_pdf(
            pdf,
            signer=signer,
            certificate=cert,
            chain=list(store.intermediates) + list(store.anchors),
            trust_roots=list(store.anchors),
            crls=crls + [c for c in store.crls if c.issuer != crls[0].issuer],
            timestamper=authority.timestamper(),
            reason=reason or None,
            location=location or None,
            signer_name=certificate.user.display_name,
        )
    except PkiCoreError as exc:
        raise errors.from_core(exc) from None
    record(
        events.PDF_SIGNED,
        actor=acting_user,
        obj=certificate,
        source_ip=source_ip,
        details={"sha256_in": hashlib.sha256(pdf).hexdigest(), "sha256_out": hashlib.sha256(signed).hexdigest(), "reason": reason[:200]},
    )
    return signed
