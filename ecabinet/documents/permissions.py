"""Who may see and change documents: role × meeting/item membership × clearance, decided here.

A document is visible to a signed-in user of the same government whose clearance reaches its
classification, and who either
- may see a meeting or agenda item the document is linked to (``meetings.permissions``), or
- uploaded it, or is a secretary of its owner organisation.
Everything else is a 404 and never appears in lists or counts.

Versions that are not ready (queued, being scanned, held because a scanner is down, quarantined,
failed) are seen, with their state and the reason, only by the people who can act on them: the
uploader, the owner organisation's secretaries and the government office's secretaries (who
prepare the dossiers). Everyone else (ministers reading the dossier on a tablet) sees only ready
versions, and a document with no ready version does not exist for them: it is left out of the
dossier, lists, counts and search rather than shown as "being checked", because a quarantined or
failed upload will never become readable and a held one may wait for days; the live
"version ready" event makes it appear when it can be opened. When an older version is ready and
the newest is not, they read the ready one and are told only that a newer upload is being checked
or was refused, never the scan findings (``newer_version_status``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from ecabinet.documents.models import Document, DocumentVersion, DossierEntry, RegistryRecord
from ecabinet.identity.models import Clearance, Organisation, Role
from ecabinet.identity.permissions import is_signed_in
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import AgendaItem, Meeting


def _government_id(org: Organisation | None) -> int | None:
    return org.government.pk if org is not None else None


def same_government(user: Any, org: Organisation) -> bool:
    return user.organisation_id is not None and _government_id(user.organisation) == _government_id(org)


def is_owner_secretary(user: Any, document: Document) -> bool:
    return user.role == Role.SECRETARY and user.organisation_id == document.owner_organisation_id


def _uploaded(user: Any, document: Document) -> bool:
    return document.created_by_id == user.pk or DocumentVersion.objects.filter(document=document, uploaded_by=user).exists()


def entry_visible(user: Any, entry: DossierEntry) -> bool:
    if entry.item is not None:
        return meeting_permissions.can_see_item(user, entry.item)
    return meeting_permissions.can_see_meeting(user, entry.meeting)


def sees_unfinished(user: Any, document: Document) -> bool:
    """May see versions that are not ready, their state and why (given ``can_see_document``)."""
    if not is_signed_in(user):
        return False
    return is_owner_secretary(user, document) or meeting_permissions.is_office_secretary(user) or _uploaded(user, document)


def has_ready_version(document: Document) -> bool:
    return document.versions.filter(state=DocumentVersion.State.READY).exists()


def can_see_document(user: Any, document: Document) -> bool:
    if not is_signed_in(user) or not same_government(user, document.owner_organisation):
        return False
    if user.clearance < document.classification:
        return False
    if not (is_owner_secretary(user, document) or _uploaded(user, document)):
        entries = document.dossier_entries.select_related("meeting", "item__meeting")
        if not any(entry_visible(user, entry) for entry in entries):
            return False
    return sees_unfinished(user, document) or has_ready_version(document)


def visible_documents_qs(user: Any) -> QuerySet[Document]:
    """Exactly the documents for which ``can_see_document`` is true, as one query.

    Search and lists work over hundreds of documents; deciding each one in Python took several
    queries per document. A test holds this equal to ``can_see_document`` for every role.
    """
    if not is_signed_in(user) or user.organisation is None:
        return Document.objects.none()
    orgs = meeting_permissions.government_org_ids(user.organisation.government)
    entries = DossierEntry.objects.filter(document=OuterRef("pk")).filter(
        Q(item__isnull=False, item__in=meeting_permissions.seen_items(user)) | Q(item__isnull=True, meeting__in=meeting_permissions.seen_meetings(user))
    )
    reach = Q(created_by=user) | Exists(DocumentVersion.objects.filter(document=OuterRef("pk"), uploaded_by=user)) | Exists(entries)
    if user.role == Role.SECRETARY:
        reach |= Q(owner_organisation_id=user.organisation_id)
    # Who sees documents with no ready version: the uploader, the owner's and the office's secretaries.
    own = Q(owner_organisation_id=user.organisation_id) if user.role == Role.SECRETARY else Q(pk__in=[])
    unfinished = Q(created_by=user) | own | Exists(DocumentVersion.objects.filter(document=OuterRef("pk"), uploaded_by=user))
    qs = Document.objects.filter(owner_organisation_id__in=orgs, classification__lte=user.clearance).filter(reach)
    if meeting_permissions.is_office_secretary(user):
        return qs
    return qs.filter(unfinished | Exists(DocumentVersion.objects.filter(document=OuterRef("pk"), state=DocumentVersion.State.READY)))


def visible_documents(user: Any, *, meeting: Meeting | None = None, item: AgendaItem | None = None) -> list[Document]:
    qs = visible_documents_qs(user).select_related("owner_organisation", "created_by")
    if item is not None:
        qs = qs.filter(pk__in=DossierEntry.objects.filter(item=item).values("document_id"))
    elif meeting is not None:
        qs = qs.filter(pk__in=DossierEntry.objects.filter(meeting=meeting).values("document_id"))
    return list(qs)


def can_create_document(user: Any, owner: Organisation) -> bool:
    """Secretaries put documents in: those of the owner organisation, or of the government office."""
    if not is_signed_in(user) or user.role != Role.SECRETARY or not same_government(user, owner):
        return False
    return user.organisation_id == owner.pk or meeting_permissions.is_office_secretary(user)


def can_add_version(user: Any, document: Document) -> bool:
    if not can_see_document(user, document):
        return False
    if is_owner_secretary(user, document) or document.created_by_id == user.pk:
        return True
    return meeting_permissions.is_office_secretary(user)


def can_link(user: Any, document: Document, meeting: Meeting, item: AgendaItem | None) -> bool:
    """Put a document in a dossier: someone who may edit that item, or manage that meeting."""
    if not can_see_document(user, document):
        return False
    if document.classification > (item.classification if item is not None else meeting.classification) and user.role != Role.SECRETARY:
        return False
    if item is not None:
        return meeting_permissions.can_edit_item(user, item) or meeting_permissions.can_manage_meeting(user, meeting)
    return meeting_permissions.can_manage_meeting(user, meeting)


def can_see_version(user: Any, version: DocumentVersion) -> bool:
    return can_see_document(user, version.document) and (version.is_ready or sees_unfinished(user, version.document))


def visible_versions(user: Any, document: Document) -> list[DocumentVersion]:
    """The document's versions ``user`` may see, newest first (given ``can_see_document``)."""
    qs = document.versions.select_related("uploaded_by", "stored").order_by("-number")
    if not sees_unfinished(user, document):
        qs = qs.filter(state=DocumentVersion.State.READY)
    return list(qs)


def newer_version_status(document: Document) -> str | None:
    """What anyone who may see the document is told about a newest version that is not its
    current (ready) one: ``"checking"`` (queued, in the pipeline or held for a scanner),
    ``"refused"`` (quarantined or failed), or None. No reason and no findings: those are for the
    people ``sees_unfinished`` names, and the security officer's alerts."""
    newest = document.versions.order_by("-number").only("state").first()
    if newest is None or newest.is_ready:
        return None
    refused = newest.state in (DocumentVersion.State.QUARANTINED, DocumentVersion.State.FAILED)
    return "refused" if refused else "checking"


def can_read_content(user: Any, version: DocumentVersion) -> bool:
    return can_see_version(user, version) and version.is_ready


def can_set_policy(user: Any, government: Organisation) -> bool:
    return is_signed_in(user) and user.role == Role.ADMIN and same_government(user, government)


# --- the paper registry ----------------------------------------------------------------------


def can_see_record(user: Any, record: RegistryRecord) -> bool:
    if not is_signed_in(user) or not same_government(user, record.organisation):
        return False
    if record.custodian_id == user.pk or record.movements.filter(holder=user).exists():
        return True
    return user.clearance >= record.classification and user.role in (Role.SECRETARY, Role.SECURITY_OFFICER)


def visible_records(user: Any) -> list[RegistryRecord]:
    if not is_signed_in(user) or user.organisation is None:
        return []
    gov = user.organisation.government
    qs = RegistryRecord.objects.select_related("organisation", "custodian").filter(
        organisation__in=Organisation.objects.filter(pk=gov.pk) | Organisation.objects.filter(parent=gov) | Organisation.objects.filter(parent__parent=gov)
    )
    return [r for r in qs if can_see_record(user, r)]


def can_keep_registry(user: Any, organisation: Organisation, level: int = Clearance.SECRET) -> bool:
    """Create and update registry records, record copies handed out and returned."""
    return is_signed_in(user) and user.role == Role.SECRETARY and same_government(user, organisation) and user.clearance >= level


# --- the reader: watermark, view-only, annotations, read tracking ----------------------------


def needs_watermark(document: Document) -> bool:
    """Every page shown carries the viewer's name, the time and the device from `internal` up."""
    return document.classification >= Clearance.INTERNAL


def is_view_only(document: Document) -> bool:
    """From `confidential` up the file is shown in the reader only: no download link, and the
    download endpoint refuses anything but the reader's own range requests."""
    return document.classification >= Clearance.CONFIDENTIAL


def can_annotate(user: Any, version: DocumentVersion) -> bool:
    return can_read_content(user, version)


def can_see_annotation(user: Any, annotation: Any) -> bool:
    if not can_see_document(user, annotation.document):
        return False
    return annotation.author_id == user.pk or annotation.shared


def can_change_annotation(user: Any, annotation: Any) -> bool:
    return annotation.author_id == user.pk and can_see_document(user, annotation.document)


def can_see_reads(user: Any, meeting: Meeting) -> bool:
    """Who opened which dossier document and how far they read: the meeting's secretaries."""
    return is_signed_in(user) and user.role == Role.SECRETARY and meeting_permissions.can_manage_meeting(user, meeting)
