"""Tampered files are refused and alerted; the import/export/rekey/rescan commands."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from ecabinet.audit.models import AuditEntry
from ecabinet.documents import events, keys
from ecabinet.documents.core import crypto
from ecabinet.documents.models import Document, DocumentVersion, DossierEntry, StoredBlob
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.security.models import SecurityAlert
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db


def stored_path(version: DocumentVersion) -> Path:
    return Path(default_storage.path(version.stored.name))


@pytest.fixture
def ready(api, cabinet):
    body = api.upload(cabinet.office_secretary, samples.pdf(5), "a.pdf", title="Tờ trình", item_id=cabinet.items[0].pk).json()
    assert body["state"] == "ready"
    return DocumentVersion.objects.select_related("stored").get(pk=body["id"])


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_altered_file_is_refused_and_raises_an_alert(api, cabinet, ready, damage):
    path = stored_path(ready)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        del data[-20:]
    path.write_bytes(bytes(data))
    response = api.get(cabinet.members[0], f"/api/v1/documents/versions/{ready.pk}/content")
    assert_problem(response, 500, "document_integrity_failed")
    alert = SecurityAlert.objects.get(kind="integrity")
    assert alert.severity == "critical" and alert.object_id == str(ready.pk)
    assert AuditEntry.objects.filter(event=events.INTEGRITY_FAILED, object_id=str(ready.pk)).exists()
    assert not AuditEntry.objects.filter(event=events.DOCUMENT_READ).exists()
    with pytest.raises(CommandError, match="document_integrity_failed"):
        call_command("documents", "export", str(ready.pk), str(path.parent / "out.pdf"))


def test_range_read_after_tampering_is_refused(api, cabinet, ready, settings):
    settings.INTEGRITY_RECHECK_SECONDS = 0
    path = stored_path(ready)
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    response = api.get(cabinet.members[0], f"/api/v1/documents/versions/{ready.pk}/content", HTTP_RANGE="bytes=0-99")
    assert_problem(response, 500, "document_integrity_failed")


def test_export_writes_the_checked_file(ready, tmp_path, capsys):
    out = tmp_path / "xuat.pdf"
    call_command("documents", "export", str(ready.pk), str(out))
    assert out.read_bytes().startswith(b"%PDF")
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() == ready.stored.sha256
    assert ready.stored.sha256 in capsys.readouterr().out
    assert AuditEntry.objects.filter(event=events.DOCUMENT_EXPORTED, object_id=str(ready.pk)).exists()


def test_import_folder_prints_a_line_per_file_and_fails_when_any_is_refused(cabinet, tmp_path, capsys):
    folder = tmp_path / "ho-so"
    (folder / "phu-luc").mkdir(parents=True)
    (folder / "to-trinh.pdf").write_bytes(samples.pdf(2))
    (folder / "phu-luc" / "bang.txt").write_text("Bảng số liệu", encoding="utf-8")
    (folder / "virus.txt").write_bytes(samples.EICAR)
    (folder / "js.pdf").write_bytes(samples.pdf_with_javascript())
    with pytest.raises(CommandError, match="1 file"):
        call_command("documents", "import", str(folder), "--meeting", str(cabinet.meeting.pk), "--item", "1", "--as-user", cabinet.office_secretary.username)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    by_name = {Path(line.split()[1]).name: line for line in lines}
    assert by_name["to-trinh.pdf"].startswith("READY") and "2 pages" in by_name["to-trinh.pdf"]
    assert by_name["bang.txt"].startswith("READY")
    assert by_name["js.pdf"].startswith("READY") and "JavaScript" in by_name["js.pdf"]
    assert by_name["virus.txt"].startswith("QUARANTINED") and "malicious_content" in by_name["virus.txt"]
    assert DossierEntry.objects.filter(meeting=cabinet.meeting, item=cabinet.items[0]).count() == 4


def test_import_of_clean_files_exits_zero_and_refuses_secret_level(cabinet, tmp_path, capsys):
    (tmp_path / "a.pdf").write_bytes(samples.pdf())
    call_command("documents", "import", str(tmp_path / "a.pdf"), "--meeting", str(cabinet.meeting.pk), "--as-user", cabinet.office_secretary.username)
    assert capsys.readouterr().out.startswith("READY")
    with pytest.raises(CommandError):
        call_command(
            "documents",
            "import",
            str(tmp_path / "a.pdf"),
            "--meeting",
            str(cabinet.meeting.pk),
            "--classification",
            "secret",
            "--as-user",
            cabinet.office_secretary.username,
        )
    assert "classification_not_electronic" in capsys.readouterr().out
    assert Document.objects.count() == 1


def test_rekey_rewraps_every_data_key_under_the_new_master_key(ready, tmp_path, settings, api, cabinet):
    old_text = keys.active_key_text()
    keyring = tmp_path / "keyring"
    keyring.mkdir()
    (keyring / "old.key").write_text(old_text)
    settings.KEYRING_DIR = keyring
    settings.MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    new_id = crypto.key_id(crypto.parse_master_key(settings.MASTER_KEY))
    call_command("documents", "rekey")
    assert set(StoredBlob.objects.values_list("key_id", flat=True)) == {new_id}
    # Readable with the new key alone: the old one can now be retired.
    (keyring / "old.key").unlink()
    body = b"".join(api.get(cabinet.members[0], f"/api/v1/documents/versions/{ready.pk}/content").streaming_content)
    assert body.startswith(b"%PDF")
    assert AuditEntry.objects.filter(event=events.KEYS_REWRAPPED).exists()


def test_embedded_master_key_is_created_private(settings, tmp_path):
    settings.MASTER_KEY = None
    settings.MASTER_KEY_FILE = tmp_path / "keys" / "master.key"
    text = keys.active_key_text()
    assert len(crypto.parse_master_key(text)) == 32
    assert (settings.MASTER_KEY_FILE.stat().st_mode & 0o777) == 0o600
    assert keys.active_key_text() == text


def test_rescan_with_a_new_rule_quarantines_stored_files(ready, tmp_path, settings, capsys):
    call_command("documents", "rescan")
    assert "nothing to rescan" in capsys.readouterr().out  # already scanned with these rules
    (tmp_path / "new.yar").write_text('rule pdf_catalog_marker { meta: reason = "malicious_content" strings: $a = "/Type" condition: $a }')
    settings.YARA_DIR = tmp_path
    with pytest.raises(CommandError, match="quarantined"):
        call_command("documents", "rescan")
    assert "QUARANTINED" in capsys.readouterr().out
    ready.refresh_from_db()
    assert ready.state == "quarantined" and ready.state_reason == "malicious_content"
    assert ready.stored.purpose == StoredBlob.Purpose.QUARANTINE
    assert SecurityAlert.objects.filter(object_id=str(ready.pk), kind="malware").exists()
