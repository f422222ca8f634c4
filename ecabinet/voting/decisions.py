"""Signed decisions and minutes: PDFs sealed with PAdES B-LT by the government office's certificate.

The office seal is an ECDSA P-256 key made on the server (like the CA keys: encrypted PKCS#8 under
the CA passphrase in KEY_DIR/pki, ready to move to an HSM), certified by the installation's issuing
CA in the name of the government office and held in custody by the secretary or administrator who
created it (the certificate is registered to them). Members' own keys stay on their devices and
sign ballots; documents the government issues carry the office's seal, time-stamped by the
installation TSA, with the CRLs embedded, so ``pdfsig`` and pyHanko verify them years later.

Approved minutes are sealed as soon as their approval commits (a signal on Minutes queues the
task), when a seal exists; ``POST /api/v1/meetings/{id}/minutes/signed`` does it on demand.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import uuid
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ecabinet.audit.actions import record
from ecabinet.errors import Forbidden
from ecabinet.identity.models import Organisation, Role, User
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import Decision, Meeting, Minutes
from ecabinet.meetings.pdf import FONT_DIR
from ecabinet.pki import actions as pki_actions
from ecabinet.pki import authority
from ecabinet.pki.core import ca, keys
from ecabinet.pki.models import MemberCertificate
from ecabinet.voting import errors, events
from ecabinet.voting.models import OfficeSeal, Poll, SignedDocument

log = logging.getLogger(__name__)


# --- the office seal --------------------------------------------------------------------------


def _office_of(government: Organisation) -> Organisation:
    return Organisation.objects.filter(parent=government, kind=Organisation.Kind.OFFICE).order_by("pk").first() or government


def can_create_seal(user: Any) -> bool:
    return getattr(user, "is_authenticated", False) and (meeting_permissions.is_office_secretary(user) or user.role == Role.ADMIN)


def create_office_seal(*, acting_user: User, source_ip: str | None = None) -> OfficeSeal:
    """Make the government office's signing key and certificate (a new one replaces the old for signing)."""
    if not can_create_seal(acting_user) or acting_user.organisation is None:
        raise Forbidden("Only an office secretary or an administrator creates the office seal.")
    government = acting_user.organisation.government
    office = _office_of(government)
    issuing = authority.require_issuing()
    issuing_signer = authority.signer_for(issuing)
    key = keys.generate_key("P-256")
    path = authority.key_dir() / f"office-seal-{uuid.uuid4().hex[:12]}.key.pem"
    keys.write_encrypted_key(path, key, authority.passphrase())
    try:
        cert = ca.issue_member_certificate(
            issuing_signer,
            authority.certificate(issuing),
            key.public_key(),
            full_name=f"{ca.fit_name(office.name, 50)} (con dấu)",  # X.520: at most 64 bytes
            user_id=acting_user.pk,
            organisation=office.name,
            days=settings.PKI_CERT_DAYS,
            publication=authority.publication(),
        )
        with transaction.atomic():
            member_cert = MemberCertificate.objects.create(
                user=acting_user,
                issuer=issuing,
                device_label=f"Office seal: {office.name}"[:120],
                certificate_pem=ca.to_pem(cert),
                serial=format(cert.serial_number, "x"),
                fingerprint=ca.fingerprint(cert),
                spki_sha256=ca.spki_fingerprint(key.public_key()),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
            )
            seal = OfficeSeal.objects.create(organisation=government, certificate=member_cert, key_file=path.name, created_by=acting_user)
            record(
                events.SEAL_CREATED,
                actor=acting_user,
                obj=seal,
                source_ip=source_ip,
                details={"fingerprint": member_cert.fingerprint, "serial": member_cert.serial, "office": office.name},
            )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return seal


def current_seal(government: Organisation) -> OfficeSeal:
    now = timezone.now()
    seal = (
        OfficeSeal.objects.select_related("certificate__user")
        .filter(organisation=government, certificate__revoked_at__isnull=True, certificate__not_after__gt=now)
        .order_by("-created_at", "-pk")
        .first()
    )
    if seal is None:
        raise errors.SealUnavailable()
    return seal


def _seal_signer(seal: OfficeSeal) -> keys.Signer:
    return keys.FileKeySigner(authority.key_dir() / seal.key_file, authority.passphrase())


# --- PDFs -------------------------------------------------------------------------------------


def render_decision(decision: Decision) -> bytes:
    """A one-page decision: meeting, item, conclusion, and the signed vote's result if there was one."""
    item = decision.item
    meeting = item.meeting
    pdf = FPDF(format="A4")
    for style, filename in {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf", "I": "DejaVuSerif-Italic.ttf"}.items():
        pdf.add_font("DejaVuSerif", style, str(FONT_DIR / filename))
    pdf.set_creation_date(decision.decided_at)
    pdf.set_creator("e-Cabinet")
    pdf.set_title(unicodedata.normalize("NFC", f"Kết luận — {item.title}"))
    pdf.set_margins(25, 20, 20)
    pdf.add_page()

    def line(text: str, *, style: str = "", size: float = 11, align: str = "L") -> None:
        pdf.set_font("DejaVuSerif", style, size)
        pdf.multi_cell(pdf.epw, 7, unicodedata.normalize("NFC", text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(meeting.organisation.name.upper(), style="B", size=12, align="C")
    line("KẾT LUẬN / DECISION", style="B", size=14, align="C")
    pdf.ln(4)
    line(f"{meeting.title} — {timezone.localtime(meeting.starts_at).strftime('%d/%m/%Y')}", style="I")
    line(item.title, style="B")
    pdf.ln(2)
    line(decision.text, align="J")
    for poll in Poll.objects.filter(item=item, state=Poll.State.CLOSED).order_by("closed_at"):
        tally = (poll.result or {}).get("tally", {})
        names = {o["key"]: o["label"] for o in poll.options}
        pdf.ln(3)
        line(f"Biểu quyết ký số / Signed vote #{poll.pk}: {poll.question}", style="B", size=10)
        counts = ", ".join(f"{names.get(k, k)} {v}" for k, v in tally.get("counts", {}).items())
        line(f"{counts} — {tally.get('cast', 0)}/{tally.get('eligible', 0)} — {tally.get('outcome', '')}", size=10)
        line(f"SHA-256 {hashlib.sha256(bytes(poll.result_bytes or b'')).hexdigest()}", size=8)
    pdf.ln(4)
    line(f"{timezone.localtime(decision.decided_at).strftime('%H:%M %d/%m/%Y')}", style="I", align="R")
    return bytes(pdf.output())


def _store(kind: str, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    name = f"signed/{kind}/{digest}.pdf"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    return name


def _seal_and_store(
    pdf: bytes, *, kind: str, meeting: Meeting, decision: Decision | None, reason: str, acting_user: User, source_ip: str | None
) -> SignedDocument:
    seal = current_seal(meeting.organisation.government)
    signed = pki_actions.sign_pdf(
        pdf, signer=_seal_signer(seal), certificate=seal.certificate, acting_user=acting_user, reason=reason, location=meeting.place or "", source_ip=source_ip
    )
    name = _store(kind, signed)
    try:
        with transaction.atomic():
            doc = SignedDocument.objects.create(
                kind=kind,
                meeting=meeting,
                decision=decision,
                storage_name=name,
                sha256=hashlib.sha256(signed).hexdigest(),
                source_sha256=hashlib.sha256(pdf).hexdigest(),
                certificate=seal.certificate,
                signed_by=acting_user,
            )
            record(
                events.DOCUMENT_SIGNED,
                actor=acting_user,
                obj=doc,
                source_ip=source_ip,
                details={
                    "kind": kind,
                    "meeting": meeting.pk,
                    "decision": decision.pk if decision else None,
                    "sha256": doc.sha256,
                    "seal": seal.certificate.fingerprint,
                },
            )
    except IntegrityError:
        # Someone sealed the same document at the same moment; theirs stands.
        query = (
            SignedDocument.objects.filter(kind=kind, meeting=meeting)
            if kind == SignedDocument.Kind.MINUTES
            else SignedDocument.objects.filter(decision=decision)
        )
        return query.get()
    return doc


def sign_minutes(meeting: Meeting, *, acting_user: User, source_ip: str | None = None) -> SignedDocument:
    """Seal the approved minutes of ``meeting`` (once; later calls return the same document)."""
    minutes = Minutes.objects.filter(meeting=meeting).first()
    if not (meeting_permissions.can_approve_minutes(acting_user, meeting) or meeting_permissions.can_write_minutes(acting_user, meeting)):
        raise Forbidden("The chair or the office's secretaries seal the minutes.")
    if minutes is None or minutes.state != Minutes.State.APPROVED:
        raise errors.NothingToSign("The minutes are not approved yet.")
    existing = SignedDocument.objects.filter(kind=SignedDocument.Kind.MINUTES, meeting=meeting).first()
    if existing is not None:
        return existing
    from ecabinet.meetings import pdf as minutes_pdf

    content = minutes_pdf.render_minutes(minutes)
    if hashlib.sha256(content).hexdigest() != minutes.pdf_sha256:
        raise errors.NothingToSign("The approved minutes no longer render to the PDF that was approved; seal refused.")
    return _seal_and_store(
        content, kind=SignedDocument.Kind.MINUTES, meeting=meeting, decision=None, reason="Approved minutes", acting_user=acting_user, source_ip=source_ip
    )


def sign_decision(decision: Decision, *, acting_user: User, source_ip: str | None = None) -> SignedDocument:
    item = decision.item
    if not meeting_permissions.can_record_decision(acting_user, item):
        raise Forbidden("The chair or the office's secretaries seal decisions.")
    existing = SignedDocument.objects.filter(kind=SignedDocument.Kind.DECISION, decision=decision).first()
    if existing is not None:
        return existing
    return _seal_and_store(
        render_decision(decision),
        kind=SignedDocument.Kind.DECISION,
        meeting=item.meeting,
        decision=decision,
        reason="Decision",
        acting_user=acting_user,
        source_ip=source_ip,
    )


def can_see_document(user: Any, doc: SignedDocument) -> bool:
    if doc.kind == SignedDocument.Kind.DECISION and doc.decision is not None:
        return meeting_permissions.can_see_item(user, doc.decision.item)
    minutes = Minutes.objects.filter(meeting=doc.meeting).first()
    return minutes is not None and meeting_permissions.can_see_minutes(user, minutes)


def read_pdf(doc: SignedDocument) -> bytes:
    with default_storage.open(doc.storage_name, "rb") as handle:
        content: bytes = handle.read()
    if hashlib.sha256(content).hexdigest() != doc.sha256:
        raise errors.NothingToSign("The stored signed PDF does not match its fingerprint.")
    return content


def seal_certificate(seal: OfficeSeal) -> x509.Certificate:
    return x509.load_pem_x509_certificate(seal.certificate.certificate_pem.encode())


# --- approved minutes are sealed when the approval commits -------------------------------------


@receiver(post_save, sender=Minutes, dispatch_uid="voting.seal_approved_minutes")
def _minutes_saved(sender: Any, instance: Minutes, **kwargs: Any) -> None:
    if instance.state != Minutes.State.APPROVED or instance.approved_by_id is None:
        return
    meeting_id = instance.meeting_id

    def queue() -> None:
        from ecabinet.voting import tasks

        tasks.seal_approved_minutes.delay(meeting_id)

    transaction.on_commit(queue)
