"""Every change to documents, versions, dossiers, the policy and the paper registry.

Uploads are checked in two stages. What can be told without opening the content (name, size,
empty, duplicate, classification above the electronic limit) is refused at once with a problem
and nothing is stored. Everything else (real type, archives, YARA, ClamAV, disarm) runs in the
ingestion pipeline after commit; a refused or infected file is then quarantined and the version
shows why.

Duplicates: a new version whose content (SHA-256 of the upload) equals a version the document
already has, and that was not refused, is refused with ``duplicate_version``: an identical
version would tell readers nothing and make "which one is current" ambiguous.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.documents import blobs, errors, events
from ecabinet.documents.core import crypto
from ecabinet.documents.models import CopyMovement, Document, DocumentPolicy, DocumentVersion, DossierEntry, RegistryRecord, StoredBlob
from ecabinet.identity.models import Clearance, Organisation, User
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.security import actions as security_actions
from ecabinet.security.core import filetypes
from ecabinet.security.core.verdict import Refused
from ecabinet.security.models import SecurityAlert

log = logging.getLogger(__name__)
HASH_CHUNK = 1024 * 1024


# --- policy ----------------------------------------------------------------------------------


def electronic_limit(organisation: Organisation) -> int:
    """The highest classification the organisation's government allows in electronic form."""
    government = organisation.government
    policy = DocumentPolicy.objects.filter(organisation=government).first()
    return policy.max_electronic_level if policy is not None else Clearance.CONFIDENTIAL


def set_policy(government: Organisation, *, max_electronic_level: int, acting_user: Any, source_ip: str | None = None) -> DocumentPolicy:
    with transaction.atomic():
        policy, _ = DocumentPolicy.objects.get_or_create(organisation=government)
        before = policy.max_electronic_level
        policy.max_electronic_level = max_electronic_level
        policy.updated_by = acting_user
        policy.updated_at = timezone.now()
        policy.save()
        record(
            events.POLICY_CHANGED,
            actor=acting_user,
            obj=policy,
            source_ip=source_ip,
            details={"from": Clearance(before).key, "to": Clearance(max_electronic_level).key},
        )
    return policy


def check_electronic(organisation: Organisation, classification: int) -> None:
    limit = electronic_limit(organisation)
    if classification > limit:
        raise errors.AboveElectronicLimit(
            f"{Clearance(classification).label} documents are not stored electronically here (the limit is {Clearance(limit).label}); "
            "register the paper original in the document registry instead.",
            limit=Clearance(limit).key,
        )


# --- uploads ---------------------------------------------------------------------------------


def _precheck(stream: BinaryIO, filename: str) -> tuple[str, int, str]:
    """Name, size and SHA-256 of the upload, or a problem; reads the stream once."""
    try:
        name = filetypes.clean_filename(filename)
        filetypes.kind_from_name(name)
    except Refused as exc:
        if exc.code == "invalid_filename":
            raise errors.InvalidFilename(exc.message) from None
        raise errors.FileRefused(exc.message, reason=exc.code) from None
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(HASH_CHUNK):
        size += len(chunk)
        if size > settings.MAX_UPLOAD_BYTES:
            raise errors.FileTooLarge(f"The limit is {settings.MAX_UPLOAD_BYTES} bytes.", limit=settings.MAX_UPLOAD_BYTES)
        digest.update(chunk)
    if size == 0:
        raise errors.EmptyFile("A file of 0 bytes cannot be a document.")
    stream.seek(0)
    return name, size, digest.hexdigest()


def _queue(version: DocumentVersion, inline: bool) -> None:
    # inline: the caller (the bulk import) runs the pipeline itself once this returns.
    if inline:
        return
    from ecabinet.documents import tasks

    version_id = version.pk
    transaction.on_commit(lambda: tasks.process_version.delay(version_id))


def _new_version(document: Document, stream: BinaryIO, *, name: str, size: int, sha256: str, change_note: str, acting_user: User) -> DocumentVersion:
    # Called inside a transaction with the document row locked, so numbers never collide.
    duplicate = (
        document.versions.filter(original_sha256=sha256)
        .exclude(state__in=[DocumentVersion.State.QUARANTINED, DocumentVersion.State.FAILED])
        .values_list("number", flat=True)
        .first()
    )
    if duplicate is not None:
        raise errors.DuplicateVersion(f"Version {duplicate} has exactly this content.", version=duplicate)
    number = (document.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    published = document.dossier_entries.filter(frozen_version__isnull=False).exists()
    blob = blobs.write_blob(stream, purpose=StoredBlob.Purpose.ORIGINAL, max_bytes=settings.MAX_UPLOAD_BYTES)
    try:
        if blob.sha256 != sha256:
            raise errors.FileRefused("The file changed while it was being received; upload it again.", reason="changed_during_upload")
        return DocumentVersion.objects.create(
            document=document,
            number=number,
            filename=name,
            change_note=change_note,
            uploaded_by=acting_user,
            size=size,
            original_sha256=sha256,
            original=blob,
            changed_after_publication=published,
        )
    except BaseException:
        blobs.delete_blob_file(blob.name)
        raise


def create_document(
    *,
    acting_user: User,
    stream: BinaryIO,
    filename: str,
    title: str,
    owner_organisation: Organisation,
    kind: str = Document.Kind.OTHER,
    number_symbol: str = "",
    issuing_body: str = "",
    issued_on: date | None = None,
    signer: str = "",
    language: str = "vi",
    classification: int = Clearance.INTERNAL,
    meeting: Meeting | None = None,
    item: AgendaItem | None = None,
    source_ip: str | None = None,
    inline: bool = False,
) -> DocumentVersion:
    """A new document with its first version, optionally put straight into a dossier.

    The version is queued for the pipeline after commit, unless ``inline``: then the caller runs
    ``pipeline.process_version`` itself (the bulk import does, to print each file's result).
    """
    check_electronic(owner_organisation, classification)
    name, size, sha256 = _precheck(stream, filename)
    blob_name = ""
    try:
        with transaction.atomic():
            document = Document.objects.create(
                title=title,
                number_symbol=number_symbol,
                kind=kind,
                issuing_body=issuing_body,
                issued_on=issued_on,
                signer=signer,
                language=language,
                classification=classification,
                owner_organisation=owner_organisation,
                created_by=acting_user,
            )
            version = _new_version(document, stream, name=name, size=size, sha256=sha256, change_note="", acting_user=acting_user)
            blob_name = version.original.name if version.original else ""
            if meeting is not None:
                _add_entry(document, meeting=meeting, item=item, acting_user=acting_user)
            record(
                events.DOCUMENT_CREATED,
                actor=acting_user,
                obj=document,
                source_ip=source_ip,
                details={
                    "title": title,
                    "number_symbol": number_symbol,
                    "classification": Clearance(classification).key,
                    "version_id": version.pk,
                    "filename": name,
                    "sha256": sha256,
                    "size": size,
                    "meeting_id": meeting.pk if meeting else None,
                    "item_id": item.pk if item else None,
                },
            )
            _queue(version, inline)
    except BaseException:
        if blob_name:
            blobs.delete_blob_file(blob_name)
        raise
    return version


def add_version(
    document: Document,
    *,
    acting_user: User,
    stream: BinaryIO,
    filename: str,
    change_note: str = "",
    source_ip: str | None = None,
    inline: bool = False,
) -> DocumentVersion:
    """A new version; the older ones stay as they are."""
    check_electronic(document.owner_organisation, document.classification)
    name, size, sha256 = _precheck(stream, filename)
    blob_name = ""
    try:
        with transaction.atomic():
            locked = Document.objects.select_for_update().get(pk=document.pk)
            version = _new_version(locked, stream, name=name, size=size, sha256=sha256, change_note=change_note, acting_user=acting_user)
            blob_name = version.original.name if version.original else ""
            record(
                events.VERSION_UPLOADED,
                actor=acting_user,
                obj=version,
                source_ip=source_ip,
                details={
                    "document_id": document.pk,
                    "number": version.number,
                    "filename": name,
                    "sha256": sha256,
                    "size": size,
                    "change_note": change_note,
                    "changed_after_publication": version.changed_after_publication,
                },
            )
            _queue(version, inline)
    except BaseException:
        if blob_name:
            blobs.delete_blob_file(blob_name)
        raise
    return version


# --- reading ---------------------------------------------------------------------------------


def record_read(version: DocumentVersion, *, acting_user: Any, source_ip: str | None, byte_range: str = "", export_path: str = "") -> None:
    event = events.DOCUMENT_EXPORTED if export_path else events.DOCUMENT_READ
    details: dict[str, Any] = {"document_id": version.document_id, "number": version.number, "sha256": version.sha256}
    if byte_range:
        details["range"] = byte_range
    if export_path:
        details["path"] = export_path
    record(event, actor=acting_user, obj=version, source_ip=source_ip, details=details)


def report_integrity_failure(version: DocumentVersion, blob: StoredBlob, exc: Exception, *, acting_user: Any = None, source_ip: str | None = None) -> None:
    """A stored file no longer matches what was written: alert the security officer.

    Called outside any transaction the caller rolls back, so the alert and audit entry stay.
    """
    with transaction.atomic():
        record(
            events.INTEGRITY_FAILED,
            actor=acting_user,
            obj=version,
            source_ip=source_ip,
            details={"blob": blob.name, "purpose": blob.purpose, "error": str(exc)[:300]},
        )
        security_actions.raise_alert(
            SecurityAlert.Kind.INTEGRITY,
            severity=SecurityAlert.Severity.CRITICAL,
            summary=f"Stored file of “{version.document.title}” v{version.number} failed its integrity check",
            obj=version,
            organisation=version.document.owner_organisation,
            details={"blob": blob.name, "error": str(exc)[:300], "document_id": version.document_id},
            acting_user=acting_user,
            source_ip=source_ip,
        )


def served_blob(version: DocumentVersion) -> StoredBlob:
    if not version.is_ready or version.stored is None:
        raise errors.VersionNotReady(f"State: {version.state}. {version.state_message}".strip())
    return version.stored


def check_integrity(version: DocumentVersion, *, full: bool, acting_user: Any = None, source_ip: str | None = None) -> None:
    """Raise ``IntegrityFailed`` (after alerting) unless the served file checks out."""
    blob = served_blob(version)
    try:
        if full:
            blobs.verify(blob)
        else:
            blobs.verify_recently(blob)
    except crypto.CryptoError as exc:
        if isinstance(exc, crypto.IntegrityError):
            report_integrity_failure(version, blob, exc, acting_user=acting_user, source_ip=source_ip)
            raise errors.IntegrityFailed("The stored file was altered or damaged; it will not be served. The security officer has been alerted.") from None
        raise errors.KeyUnavailable(str(exc)) from None


# --- dossiers --------------------------------------------------------------------------------


def _add_entry(document: Document, *, meeting: Meeting, item: AgendaItem | None, acting_user: User, order: int | None = None) -> DossierEntry:
    if item is not None and item.meeting_id != meeting.pk:
        raise errors.FileRefused("The agenda item belongs to another meeting.", reason="item_not_in_meeting")
    if DossierEntry.objects.filter(meeting=meeting, document=document).exists():
        raise errors.AlreadyLinked()
    if order is None:
        order = (DossierEntry.objects.filter(meeting=meeting, item=item).aggregate(n=Max("order"))["n"] or 0) + 1
    return DossierEntry.objects.create(meeting=meeting, item=item, document=document, order=order, added_by=acting_user)


def link_document(
    document: Document, *, meeting: Meeting, item: AgendaItem | None = None, order: int | None = None, acting_user: User, source_ip: str | None = None
) -> DossierEntry:
    with transaction.atomic():
        entry = _add_entry(document, meeting=meeting, item=item, acting_user=acting_user, order=order)
        record(
            events.DOSSIER_LINKED,
            actor=acting_user,
            obj=entry,
            source_ip=source_ip,
            details={"document_id": document.pk, "meeting_id": meeting.pk, "item_id": item.pk if item else None, "order": entry.order},
        )
    return entry


def unlink_document(entry: DossierEntry, *, acting_user: User, source_ip: str | None = None) -> None:
    if entry.frozen_version_id is not None:
        raise errors.AlreadyLinked("The dossier was published with this document; it stays in it.")
    with transaction.atomic():
        details = {"document_id": entry.document_id, "meeting_id": entry.meeting_id, "item_id": entry.item_id}
        record(events.DOSSIER_UNLINKED, actor=acting_user, obj=entry, source_ip=source_ip, details=details)
        entry.delete()


def freeze_dossier(meeting: Meeting, *, acting_user: Any, source_ip: str | None = None) -> list[DossierEntry]:
    """Record, for each document of the meeting's dossier, the version members are given.

    Meant to be called by the meetings app when it publishes the dossier, inside its transaction.
    A version added later is flagged ``changed_after_publication``. Documents whose every version
    is still being checked are frozen at nothing and reported in the audit entry.
    """
    now = timezone.now()
    frozen: dict[str, int] = {}
    pending: list[int] = []
    with transaction.atomic():
        entries = list(DossierEntry.objects.select_for_update(of=("self",)).filter(meeting=meeting).select_related("document").order_by("pk"))
        for entry in entries:
            current = entry.document.current_version()
            if current is None:
                pending.append(entry.document_id)
                continue
            entry.frozen_version = current
            entry.frozen_at = now
            entry.save(update_fields=["frozen_version", "frozen_at"])
            frozen[str(entry.document_id)] = current.pk
        record(events.DOSSIER_FROZEN, actor=acting_user, obj=meeting, source_ip=source_ip, details={"versions": frozen, "not_ready": pending})
    return entries


# --- the paper registry ----------------------------------------------------------------------


def create_registry_record(
    *,
    acting_user: User,
    organisation: Organisation,
    number_symbol: str,
    title: str,
    classification: int,
    custodian: User,
    copies_total: int = 1,
    meeting: Meeting | None = None,
    item: AgendaItem | None = None,
    notes: str = "",
    source_ip: str | None = None,
) -> RegistryRecord:
    with transaction.atomic():
        rec = RegistryRecord.objects.create(
            organisation=organisation,
            number_symbol=number_symbol,
            title=title,
            classification=classification,
            custodian=custodian,
            copies_total=copies_total,
            meeting=meeting,
            item=item,
            notes=notes,
            created_by=acting_user,
        )
        record(
            events.REGISTRY_CREATED,
            actor=acting_user,
            obj=rec,
            source_ip=source_ip,
            details={"number_symbol": number_symbol, "classification": Clearance(classification).key, "custodian_id": custodian.pk, "copies": copies_total},
        )
    return rec


REGISTRY_FIELDS = ("number_symbol", "title", "custodian", "copies_total", "notes", "meeting", "item")


def update_registry_record(rec: RegistryRecord, *, acting_user: User, changes: dict[str, Any], source_ip: str | None = None) -> RegistryRecord:
    with transaction.atomic():
        locked = RegistryRecord.objects.select_for_update().get(pk=rec.pk)
        changed = {}
        for field, value in changes.items():
            if field not in REGISTRY_FIELDS:
                raise ValueError(f"field {field} cannot be changed")
            if field == "copies_total" and value < max(locked.copies_out(), default=0):
                raise errors.CopyAlreadyOut("Copies with higher numbers are handed out; record their return first.")
            setattr(locked, field, value)
            changed[field] = getattr(value, "pk", value)
        locked.save()
        record(events.REGISTRY_UPDATED, actor=acting_user, obj=locked, source_ip=source_ip, details={"changed": changed})
    return locked


def close_registry_record(rec: RegistryRecord, *, acting_user: User, note: str = "", source_ip: str | None = None) -> RegistryRecord:
    with transaction.atomic():
        locked = RegistryRecord.objects.select_for_update().get(pk=rec.pk)
        out = locked.copies_out()
        if out:
            raise errors.CopyAlreadyOut(f"Copies {sorted(out)} are still handed out.")
        locked.closed_at = timezone.now()
        locked.save(update_fields=["closed_at"])
        record(events.REGISTRY_CLOSED, actor=acting_user, obj=locked, source_ip=source_ip, details={"note": note})
    return locked


def record_copy_movement(
    rec: RegistryRecord, *, kind: str, copy_number: int, holder: User, acting_user: User, note: str = "", source_ip: str | None = None
) -> CopyMovement:
    with transaction.atomic():
        locked = RegistryRecord.objects.select_for_update().get(pk=rec.pk)
        if kind == CopyMovement.Kind.HANDED_OUT and locked.closed_at is not None:
            raise errors.RecordClosed("Its paper was archived or destroyed; no copy can be handed out.")
        if not 1 <= copy_number <= locked.copies_total:
            raise errors.NoCopyOut(f"Copies are numbered 1 to {locked.copies_total}.")
        out = locked.copies_out()
        if kind == CopyMovement.Kind.HANDED_OUT and copy_number in out:
            raise errors.CopyAlreadyOut(f"Copy {copy_number} is with {out[copy_number].holder}.")
        if kind == CopyMovement.Kind.RETURNED and copy_number not in out:
            raise errors.NoCopyOut(f"Copy {copy_number} is not handed out.")
        move = CopyMovement.objects.create(record=locked, kind=kind, copy_number=copy_number, holder=holder, recorded_by=acting_user, note=note)
        event = events.COPY_HANDED_OUT if kind == CopyMovement.Kind.HANDED_OUT else events.COPY_RETURNED
        record(event, actor=acting_user, obj=locked, source_ip=source_ip, details={"copy": copy_number, "holder_id": holder.pk, "note": note})
    return move


# --- keys ------------------------------------------------------------------------------------


def rekey_all(*, acting_user: Any = None) -> dict[str, int]:
    """Re-wrap every data key under the active master key (the files themselves are untouched)."""
    counts = {"rewrapped": 0, "already_current": 0}
    for blob_id in StoredBlob.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            blob = StoredBlob.objects.select_for_update().get(pk=blob_id)
            if blobs.rewrap(blob):
                counts["rewrapped"] += 1
            else:
                counts["already_current"] += 1
    with transaction.atomic():
        record(events.KEYS_REWRAPPED, actor=acting_user, object_type="documents.storedblob", details=counts)
    return counts
