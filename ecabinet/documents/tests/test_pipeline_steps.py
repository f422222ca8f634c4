"""The pipeline's visible states, what each step saves with them, a retry after an interrupted
run, and an original altered in storage before it is checked (bench/ingest.py measures the cost)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db.models.signals import post_save

from ecabinet.documents import actions, blobs, pipeline
from ecabinet.documents.core import crypto
from ecabinet.documents.models import DocumentVersion, PageText, PageThumbnails, StoredBlob, VersionText
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db
State = DocumentVersion.State


def queued(cabinet: Any, data: bytes, name: str = "a.pdf") -> DocumentVersion:
    return actions.create_document(
        acting_user=cabinet.office_secretary,
        stream=io.BytesIO(data),
        filename=name,
        title="Tờ trình về đất đai",
        owner_organisation=cabinet.office,
        meeting=cabinet.meeting,
        item=cabinet.items[0],
        inline=True,
    )


class Saves:
    """Each save of the version: the state it wrote and the fields that went with it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, frozenset[str]]] = []

    def __call__(self, sender: Any, instance: DocumentVersion, update_fields: Any = None, **kwargs: Any) -> None:
        self.seen.append((instance.state, frozenset(update_fields or ())))

    def __enter__(self) -> Saves:
        post_save.connect(self, sender=DocumentVersion)
        return self

    def __exit__(self, *exc: Any) -> None:
        post_save.disconnect(self, sender=DocumentVersion)


def test_every_state_is_seen_and_each_step_is_saved_with_the_next_state(cabinet):
    version = queued(cabinet, samples.pdf(4))
    with Saves() as saves:
        assert pipeline.process_version(version.pk) == State.READY
    assert [state for state, _ in saves.seen] == [State.DISARMING, State.EXTRACTING, State.INDEXING, State.READY]
    fields = dict(saves.seen)
    assert {"scan_findings", "scan_engines", "rules_fingerprint", "scanned_at", "detected_type", "mime_type"} <= fields[State.DISARMING]
    assert {"disarm_removed", "page_count"} <= fields[State.EXTRACTING]
    assert "stored" in fields[State.READY]
    version.refresh_from_db()
    assert version.page_count == 4 and version.scanned_at is not None and version.rules_fingerprint and version.detected_type == "pdf"
    assert version.stored_id is not None and version.stored_id != version.original_id  # the disarmed copy


def test_quarantine_saves_the_scan_results_with_the_state(cabinet):
    version = queued(cabinet, samples.EICAR, name="note.txt")
    assert pipeline.process_version(version.pk) == State.QUARANTINED
    version.refresh_from_db()
    assert version.state_reason == "malicious_content"
    assert version.scan_findings and version.scanned_at is not None and version.rules_fingerprint
    assert version.original.purpose == StoredBlob.Purpose.QUARANTINE


def test_a_run_interrupted_after_extraction_is_redone_without_duplicates(cabinet, django_capture_on_commit_callbacks):
    version = queued(cabinet, samples.pdf(3))
    assert pipeline.process_version(version.pk) == State.READY
    first_thumbs = PageThumbnails.objects.select_related("blob").get(version=version).blob
    # As if the worker died during indexing: the extracted rows and thumbnails were committed.
    DocumentVersion.objects.filter(pk=version.pk).update(state=State.INDEXING)
    assert pipeline.process_version(version.pk) == State.INDEXING  # claimed by someone else: left alone
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.process_version(version.pk, force=True) == State.READY
    version.refresh_from_db()
    assert version.attempts == 2
    assert sorted(PageText.objects.filter(version=version).values_list("number", flat=True)) == [0, 1, 2, 3]
    assert VersionText.objects.filter(version=version).count() == 1
    thumbs = PageThumbnails.objects.select_related("blob").get(version=version)
    assert thumbs.blob_id != first_thumbs.pk and len(thumbs.pages) == 3
    assert not StoredBlob.objects.filter(pk=first_thumbs.pk).exists()
    assert not default_storage.exists(first_thumbs.name)


def test_an_original_altered_in_storage_fails_the_version_and_leaves_no_plaintext(cabinet):
    version = queued(cabinet, samples.pdf(2))
    path = Path(default_storage.path(version.original.name))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    before = set(blobs.temp_dir().rglob("*"))
    assert pipeline.process_version(version.pk) == State.FAILED
    version.refresh_from_db()
    assert version.state_reason == "document_integrity_failed"
    assert version.scanned_at is None and version.stored_id is None
    assert set(blobs.temp_dir().rglob("*")) == before  # the work folder and any partial plaintext are gone


def test_an_original_missing_from_storage_fails_the_version_as_an_integrity_failure(cabinet):
    version = queued(cabinet, samples.pdf(2))
    default_storage.delete(version.original.name)
    assert pipeline.process_version(version.pk) == State.FAILED
    version.refresh_from_db()
    assert version.state_reason == "document_integrity_failed"
    target = blobs.temp_dir() / f"missing-{version.pk}"
    with pytest.raises(crypto.IntegrityError, match="missing"):
        blobs.decrypt_to(version.original, target)
    assert target.read_bytes() == b""  # nothing was decrypted
    target.unlink()
