"""The ingestion pipeline: each version goes queued → scanning → disarming → extracting →
indexing → ready, or ends quarantined, held (a scanner is down: retried later) or failed.

Each step is a function of a ``Context`` and sets the version's state before it runs, so the
state shown is the step in progress. ``extract`` (page texts, OCR, thumbnails) and ``index``
(the full-text index) are in ``documents.ingest``; ``_finish`` makes the version ready and
notifies.

Cost (bench/ingest.py): a step records what it found on the version and adds the field names to
``ctx.pending``; they are written in the same UPDATE as the next state change (or the final
ready/quarantined/held/failed one), so the states seen are unchanged but each step costs one
commit, not two. The uploaded file is decrypted once, straight into the work folder; the disarmed
PDF is parsed by pikepdf once and by PDFium once (text and thumbnails in one pass).

Entry point: ``process_version(version_id)``: takes an id, re-reads the row, claims it with a
conditional update (so two workers never process the same version), and does nothing for a
version already ready, quarantined or failed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.documents import actions, blobs, events, ingest
from ecabinet.documents.core import crypto
from ecabinet.documents.models import DocumentVersion, StoredBlob
from ecabinet.security import actions as security_actions
from ecabinet.security import scanning
from ecabinet.security.core import disarm as disarm_core
from ecabinet.security.core import filetypes
from ecabinet.security.core.verdict import CLEAN, UNAVAILABLE, Refused, Verdict
from ecabinet.security.models import SecurityAlert

log = logging.getLogger(__name__)
State = DocumentVersion.State

# Reason code -> (alert severity, alert kind). Malware is high; a broken rule is a warning;
# files that are merely damaged or password-protected are worth a note, not a page.
ALERT_FOR_REASON: dict[str, tuple[str, str]] = {
    "malicious_content": (SecurityAlert.Severity.HIGH, SecurityAlert.Kind.MALWARE),
    "office_macros": (SecurityAlert.Severity.WARNING, SecurityAlert.Kind.FILE_REFUSED),
    "type_mismatch": (SecurityAlert.Severity.WARNING, SecurityAlert.Kind.FILE_REFUSED),
    "archive_bomb": (SecurityAlert.Severity.WARNING, SecurityAlert.Kind.FILE_REFUSED),
    "archive_path": (SecurityAlert.Severity.WARNING, SecurityAlert.Kind.FILE_REFUSED),
    "archive_link": (SecurityAlert.Severity.WARNING, SecurityAlert.Kind.FILE_REFUSED),
}
DEFAULT_ALERT = (SecurityAlert.Severity.INFO, SecurityAlert.Kind.FILE_REFUSED)


class Quarantine(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Hold(Exception):
    pass


@dataclass
class Context:
    version: DocumentVersion
    workdir: Path
    original: Path
    kind: str = ""
    verdict: Verdict | None = None
    output: Path | None = None  # the file readers will get
    changed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # Fields a step set on the version: saved with the next state change, in the same UPDATE.
    pending: set[str] = field(default_factory=set)


# --- the steps -------------------------------------------------------------------------------


def scan(ctx: Context) -> None:
    verdict = scanning.scanner().scan_path(ctx.original, ctx.version.filename)
    ctx.verdict = verdict
    version = ctx.version
    version.scan_findings = [f.as_dict() for f in verdict.findings]
    version.scan_engines = verdict.engines
    version.rules_fingerprint = verdict.engines.get("yara", "")
    version.scanned_at = timezone.now()
    version.detected_type = verdict.kind
    if verdict.kind:
        version.mime_type = filetypes.MIME_TYPES[verdict.kind]
    ctx.pending.update(("scan_findings", "scan_engines", "rules_fingerprint", "scanned_at", "detected_type", "mime_type"))
    if verdict.status == UNAVAILABLE:
        raise Hold(verdict.message)
    if verdict.status != CLEAN:
        raise Quarantine(verdict.reason_code, verdict.message)
    ctx.kind = verdict.kind


def disarm(ctx: Context) -> None:
    out = ctx.workdir / "disarmed"
    try:
        result = disarm_core.disarm(ctx.kind, ctx.original, out)
    except Refused as exc:
        raise Quarantine(exc.code, exc.message) from None
    ctx.output = out
    ctx.changed = result.changed
    ctx.version.disarm_removed = result.removed
    if result.page_count is not None:
        ctx.version.page_count = result.page_count
    ctx.pending.update(("disarm_removed", "page_count"))


def extract(ctx: Context) -> None:
    """Step 3: the page count of PDFs, then page texts (OCR for scanned pages) and thumbnails."""
    assert ctx.output is not None
    if ctx.kind == filetypes.PDF and ctx.version.page_count is None:
        try:
            ctx.version.page_count = disarm_core.pdf_page_count(ctx.output)
        except Refused as exc:
            raise Quarantine(exc.code, exc.message) from None
        ctx.pending.add("page_count")
    ingest.extract_step(ctx)


def index(ctx: Context) -> None:
    """Step 4: the page texts into the full-text index (documents.search)."""
    ingest.index_step(ctx)


@dataclass(frozen=True)
class Step:
    state: str
    run: Callable[[Context], None]


STEPS: tuple[Step, ...] = (
    Step(State.SCANNING, scan),
    Step(State.DISARMING, disarm),
    Step(State.EXTRACTING, extract),
    Step(State.INDEXING, index),
)


# --- running them ----------------------------------------------------------------------------


def _set_state(version: DocumentVersion, state: str, *, reason: str = "", message: str = "", pending: set[str] | None = None) -> None:
    """Save the new state, with the fields the last step set (``pending``, emptied) in the same UPDATE."""
    version.state = state
    version.state_reason = reason
    version.state_message = message
    version.state_changed_at = timezone.now()
    version.save(update_fields=["state", "state_reason", "state_message", "state_changed_at", *sorted(pending or ())])
    if pending:
        pending.clear()


def _claim(version_id: int, *, force: bool) -> DocumentVersion | None:
    claimable = [State.QUEUED, State.HELD]
    if force:
        claimable += [State.FAILED, State.SCANNING, State.DISARMING, State.EXTRACTING, State.INDEXING]
    claimed = DocumentVersion.objects.filter(pk=version_id, state__in=claimable).update(
        state=State.SCANNING, state_changed_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return DocumentVersion.objects.select_related("document__owner_organisation", "original", "stored").get(pk=version_id)


def _move_blob(blob: StoredBlob, purpose: str) -> None:
    # The ciphertext moves as it is: the data key stays wrapped in the row.
    new_name = f"{purpose}/{blob.name.split('/', 1)[-1]}"
    with default_storage.open(blob.name, "rb") as src:
        new_name = default_storage.save(new_name, File(src))
    old = blob.name
    blob.name = new_name
    blob.purpose = purpose
    blob.save(update_fields=["name", "purpose"])
    transaction.on_commit(lambda: blobs.delete_blob_file(old))


def _quarantine(version: DocumentVersion, code: str, message: str, pending: set[str] | None = None) -> None:
    with transaction.atomic():
        for blob in {b.pk: b for b in (version.original, version.stored) if b is not None}.values():
            if blob.purpose != StoredBlob.Purpose.QUARANTINE:
                _move_blob(blob, StoredBlob.Purpose.QUARANTINE)
        _set_state(version, State.QUARANTINED, reason=code, message=message, pending=pending)
        details = {"document_id": version.document_id, "number": version.number, "reason": code, "message": message, "findings": version.scan_findings}
        record(events.VERSION_QUARANTINED, obj=version, details=details)
        severity, kind = ALERT_FOR_REASON.get(code, DEFAULT_ALERT)
        security_actions.raise_alert(
            kind,
            severity=severity,
            summary=f"“{version.filename}” ({version.document.title} v{version.number}) quarantined: {code}",
            obj=version,
            organisation=version.document.owner_organisation,
            details={"reason": code, "message": message, "findings": version.scan_findings, "uploaded_by": version.uploaded_by_id},
        )


def _hold(version: DocumentVersion, message: str, pending: set[str] | None = None) -> None:
    with transaction.atomic():
        first_time = DocumentVersion.objects.filter(pk=version.pk).values_list("attempts", flat=True).get() <= 1
        _set_state(version, State.HELD, reason="scanner_unavailable", message=message, pending=pending)
        record(events.VERSION_HELD, obj=version, details={"document_id": version.document_id, "message": message})
        if first_time:
            security_actions.raise_alert(
                SecurityAlert.Kind.SCANNER_UNAVAILABLE,
                severity=SecurityAlert.Severity.HIGH,
                summary="A configured virus scanner is unavailable; uploads are held until it answers",
                obj=version,
                organisation=version.document.owner_organisation,
                details={"message": message},
            )


def _fail(version: DocumentVersion, code: str, message: str, pending: set[str] | None = None) -> None:
    with transaction.atomic():
        _set_state(version, State.FAILED, reason=code, message=message, pending=pending)
        record(events.VERSION_FAILED, obj=version, details={"document_id": version.document_id, "reason": code, "message": message})


def _finish(ctx: Context) -> None:
    version = ctx.version
    assert ctx.output is not None and version.original is not None
    with transaction.atomic():
        if ctx.changed:
            with ctx.output.open("rb") as handle:
                version.stored = blobs.write_blob(handle, purpose=StoredBlob.Purpose.SERVED)
        else:
            # Unchanged by disarming: the original encrypted blob is what readers get.
            version.original.purpose = StoredBlob.Purpose.SERVED
            version.original.save(update_fields=["purpose"])
            version.stored = version.original
        ctx.pending.add("stored")
        _set_state(version, State.READY, pending=ctx.pending)
        # Step 5, notify: annotations follow the new version; meetings holding it hear about it.
        ingest.version_ready(version)
        record(
            events.VERSION_READY,
            obj=version,
            details={
                "document_id": version.document_id,
                "number": version.number,
                "type": version.detected_type,
                "sha256": version.stored.sha256,
                "removed": version.disarm_removed,
                "pages": version.page_count,
            },
        )


def process_version(version_id: int, *, force: bool = False) -> str:
    """Run every step; return the final state. Safe to call twice: a claimed or finished version is left alone."""
    version = _claim(version_id, force=force)
    if version is None:
        current = DocumentVersion.objects.filter(pk=version_id).values_list("state", flat=True).first()
        return current or "missing"
    if version.original is None:
        _fail(version, "missing_upload", "The uploaded file is missing.")
        return State.FAILED
    workdir = Path(tempfile.mkdtemp(dir=blobs.temp_dir()))
    pending: set[str] = set()
    try:
        original = workdir / "original"
        try:
            blobs.decrypt_to(version.original, original)
        except crypto.IntegrityError as exc:
            actions.report_integrity_failure(version, version.original, exc)
            _fail(version, "document_integrity_failed", "The uploaded file was altered in storage before it could be checked.")
            return State.FAILED
        ctx = Context(version=version, workdir=workdir, original=original, pending=pending)
        for step in STEPS:
            if version.state != step.state:
                _set_state(version, step.state, pending=pending)
            step.run(ctx)
        _finish(ctx)
        return State.READY
    except Quarantine as exc:
        _quarantine(version, exc.code, exc.message, pending)
        return State.QUARANTINED
    except Hold as exc:
        _hold(version, str(exc), pending)
        return State.HELD
    except OSError:
        # Storage or a temporary folder failed: not the file's fault. Put it back in the queue
        # and let the task retry with backoff.
        _set_state(version, State.QUEUED, reason="retrying", message="A storage error interrupted processing; it will be retried.", pending=pending)
        raise
    except Exception as exc:
        log.exception("pipeline failed on version %s", version_id)
        _fail(
            version,
            "processing_error",
            f"Processing failed unexpectedly ({type(exc).__name__}); an operator can retry it with 'ecabinet documents rescan'.",
            pending,
        )
        return State.FAILED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def rescan_version(version_id: int) -> str:
    """Scan a ready version's served file again with the current rules (after a rules update).

    Unfinished versions (queued, held, failed) are run through the whole pipeline instead.
    """
    version = DocumentVersion.objects.select_related("document__owner_organisation", "original", "stored").get(pk=version_id)
    if version.state in (State.QUEUED, State.HELD, State.FAILED):
        return process_version(version_id, force=version.state == State.FAILED)
    if version.state != State.READY or version.stored is None:
        return version.state
    try:
        with blobs.decrypted_copy(version.stored) as plain:
            verdict = scanning.scanner().scan_path(plain, version.filename)
    except crypto.IntegrityError as exc:
        actions.report_integrity_failure(version, version.stored, exc)
        return "integrity_failed"
    if verdict.status == UNAVAILABLE:
        return "scanner_unavailable"
    blocking = verdict.status != CLEAN
    with transaction.atomic():
        version.scan_findings = [f.as_dict() for f in verdict.findings]
        version.scan_engines = verdict.engines
        version.rules_fingerprint = verdict.engines.get("yara", "")
        version.scanned_at = timezone.now()
        version.save(update_fields=["scan_findings", "scan_engines", "rules_fingerprint", "scanned_at"])
        record(
            events.VERSION_RESCANNED, obj=version, details={"status": verdict.status, "reason": verdict.reason_code, "fingerprint": version.rules_fingerprint}
        )
    if blocking:
        _quarantine(version, verdict.reason_code, verdict.message)
        return State.QUARANTINED
    return State.READY
