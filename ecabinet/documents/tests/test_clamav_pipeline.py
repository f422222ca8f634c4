"""The pipeline with ClamAV configured: a real clamd, and a clamd that does not answer (fail closed)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from ecabinet.documents import tasks
from ecabinet.documents.models import DocumentVersion
from ecabinet.security.models import SecurityAlert
from ecabinet.security.tests import samples
from ecabinet.security.tests.clamd_server import MARKER, MARKER_SIGNATURE, closed_port_url

pytestmark = pytest.mark.django_db


def test_real_clamd_catches_what_only_it_knows(api, cabinet, settings, clamd_url):
    settings.CLAMD_URL = clamd_url
    body = api.upload(cabinet.office_secretary, b"Bien ban hop " + MARKER, "bien-ban.txt", title="Biên bản").json()
    assert body["state"] == "quarantined" and body["state_reason"] == "malicious_content"
    assert {"engine": "clamav", "name": MARKER_SIGNATURE, "path": "", "action": "block", "reason": "malicious_content"} in body["findings"]
    clean = api.upload(cabinet.office_secretary, samples.pdf(), "sach.pdf", title="Sạch").json()
    assert clean["state"] == "ready"


def test_unreachable_clamd_holds_the_upload_then_releases_it(api, cabinet, settings, clamd_url, capsys):
    settings.CLAMD_URL = closed_port_url()
    settings.CLAMD_TIMEOUT = 2
    body = api.upload(cabinet.office_secretary, samples.pdf(), "cho.pdf", title="Chờ quét").json()
    assert body["state"] == "held" and body["state_reason"] == "scanner_unavailable"
    assert body["content_url"] is None
    assert SecurityAlert.objects.filter(kind="scanner_unavailable").count() == 1
    # Still down: the periodic retry keeps it held and does not raise a second alert.
    assert tasks.retry_held() == {"held": 1}
    assert SecurityAlert.objects.filter(kind="scanner_unavailable").count() == 1
    settings.CLAMD_URL = clamd_url
    assert tasks.retry_held() == {"ready": 1}
    assert DocumentVersion.objects.get(pk=body["id"]).state == "ready"


def test_readyz_reports_the_scanner(settings, clamd_url):
    settings.CLAMD_URL = clamd_url
    ready = Client().get("/readyz").json()
    assert ready["checks"]["scanner"]["clamd"] == {"configured": True, "ok": True}
    assert ready["checks"]["scanner"]["yara"]["ok"] is True
    settings.CLAMD_URL = closed_port_url()
    settings.CLAMD_TIMEOUT = 2
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["scanner"]["clamd"]["ok"] is False


def test_readyz_without_clamd_configured_is_ready_on_yara_alone(settings):
    settings.CLAMD_URL = None
    scanner = Client().get("/readyz").json()["checks"]["scanner"]
    assert scanner["ok"] is True and scanner["clamd"] == {"configured": False} and scanner["yara"]["rule_files"] >= 4


def test_rescan_retries_held_versions(api, cabinet, settings, clamd_url, capsys):
    settings.CLAMD_URL = closed_port_url()
    settings.CLAMD_TIMEOUT = 2
    body = api.upload(cabinet.office_secretary, samples.EICAR, "e.txt", title="E").json()
    assert body["state"] == "held"
    settings.CLAMD_URL = clamd_url
    with pytest.raises(Exception, match="quarantined"):
        call_command("documents", "rescan")
    assert DocumentVersion.objects.get(pk=body["id"]).state == "quarantined"
