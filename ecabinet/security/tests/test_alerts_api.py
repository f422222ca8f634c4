"""Security alerts: the security officer lists and acknowledges them; nobody else sees them."""

from __future__ import annotations

import pytest

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.security import actions, events
from ecabinet.security.models import SecurityAlert

pytestmark = pytest.mark.django_db
ALERTS = "/api/v1/security/alerts"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(django_capture_on_commit_callbacks):
    from ecabinet.documents.tests.conftest import Api

    return Api(django_capture_on_commit_callbacks)


def test_officer_lists_and_acknowledges_alerts_of_their_government_only(api, government):
    officer = UserFactory(role=Role.SECURITY_OFFICER, organisation=government)
    mine = actions.raise_alert("malware", severity="high", summary="EICAR in upload", organisation=government, details={"file": "e.txt"})
    actions.raise_alert("malware", severity="high", summary="elsewhere", organisation=GovernmentFactory())
    listed = api.get(officer, ALERTS).json()
    assert [a["id"] for a in listed] == [mine.pk]
    assert listed[0]["details"] == {"file": "e.txt"}
    response = api.post_json(officer, f"{ALERTS}/{mine.pk}/acknowledge", {"note": "Đã xử lý"})
    assert response.status_code == 200 and response.json()["acknowledged_by_id"] == officer.pk
    assert api.get(officer, f"{ALERTS}?unacknowledged=true").json() == []
    assert_problem(api.post_json(officer, f"{ALERTS}/{mine.pk}/acknowledge", {}), 409, "alert_already_acknowledged")
    assert AuditEntry.objects.filter(event=events.ALERT_RAISED).count() == 2
    assert AuditEntry.objects.filter(event=events.ALERT_ACKNOWLEDGED, actor=officer).count() == 1


def test_other_roles_and_anonymous_are_refused(api, government):
    alert = actions.raise_alert("integrity", severity="critical", summary="altered", organisation=government)
    for role in (Role.MEMBER, Role.SECRETARY, Role.ADMIN, Role.CHAIR):
        user = UserFactory(role=role, organisation=government)
        assert_problem(api.get(user, ALERTS), 403, "forbidden")
        assert_problem(api.post_json(user, f"{ALERTS}/{alert.pk}/acknowledge", {}), 403, "forbidden")
    assert_problem(api.get(None, ALERTS), 401, "not_authenticated")
    other_officer = UserFactory(role=Role.SECURITY_OFFICER, organisation=GovernmentFactory())
    assert_problem(api.post_json(other_officer, f"{ALERTS}/{alert.pk}/acknowledge", {}), 404, "not_found")
    assert SecurityAlert.objects.get(pk=alert.pk).acknowledged_at is None


def test_scanner_state_for_the_officer(api, government, settings):
    settings.CLAMD_URL = None
    officer = UserFactory(role=Role.SECURITY_OFFICER, organisation=government)
    body = api.get(officer, "/api/v1/security/scanner").json()
    assert body["ok"] is True and body["yara"]["ok"] is True
