"""Tablet pages: my signing keys, the approval queue, the revoke and approve buttons."""

from __future__ import annotations

import pytest

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import GovernmentFactory
from ecabinet.pki import actions, events
from ecabinet.pki.models import EnrolmentRequest, MemberCertificate
from ecabinet.pki.tests.factories import csr_pem, new_member_key

pytestmark = pytest.mark.django_db


def pending_request(user):
    return actions.request_enrolment(user, csr=csr_pem(new_member_key()), device_label="Máy tính bảng", source="browser", acting_user=user, source_ip=None)


def test_anonymous_is_sent_to_sign_in(installation_ca, client):
    for path in ("/pki/", "/pki/queue/"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.post("/pki/certificates/1/revoke/").status_code == 302


def test_my_keys_lists_requests_and_certificates(installation_ca, make_user, login_client, enrolled):
    member = make_user(Role.MEMBER)
    _, cert = enrolled(member, label="iPad phòng họp")
    pending_request(member)
    page = login_client(member).get("/pki/")
    html = page.content.decode()
    assert page.status_code == 200
    assert cert.fingerprint in html and "iPad phòng họp" in html
    assert 'id="enrol"' in html and "pki/enrol.js" in html
    assert 'data-state="pending"' in html and 'data-state="approved"' in html


def test_queue_is_for_staff_of_the_same_government(installation_ca, make_user, login_client):
    member = make_user(Role.MEMBER, full_name="Phạm Thị Lan")
    request = pending_request(member)
    foreign = make_user(Role.MEMBER, organisation=GovernmentFactory())
    pending_request(foreign)
    assert login_client(member).get("/pki/queue/").status_code == 404
    secretary = make_user(Role.SECRETARY)
    client = login_client(secretary)
    html = client.get("/pki/queue/").content.decode()
    assert "Phạm Thị Lan" in html and f'data-approve="{request.pk}"' in html
    assert html.count("data-approve=") == 1  # the other government's request is not there
    response = client.post(f"/pki/requests/{request.pk}/approve/")
    assert response.status_code == 302
    assert MemberCertificate.objects.filter(user=member).count() == 1
    assert AuditEntry.objects.filter(event=events.ENROLMENT_APPROVED, actor=secretary).count() == 1


def test_form_approval_by_wrong_people(installation_ca, make_user, login_client):
    member = make_user(Role.MEMBER)
    request = pending_request(member)
    assert login_client(make_user(Role.MEMBER)).post(f"/pki/requests/{request.pk}/approve/").status_code == 404
    assert login_client(make_user(Role.SECRETARY, organisation=GovernmentFactory())).post(f"/pki/requests/{request.pk}/approve/").status_code == 404
    assert login_client(make_user(Role.SECURITY_OFFICER)).post(f"/pki/requests/{request.pk}/approve/").status_code == 403
    rejected = login_client(make_user(Role.ADMIN)).post(f"/pki/requests/{request.pk}/reject/", {"reason": "duplicate"})
    assert rejected.status_code == 302
    request.refresh_from_db()
    assert request.state == EnrolmentRequest.State.REJECTED and request.rejection_reason == "duplicate"


def test_revoke_buttons(installation_ca, make_user, login_client, enrolled):
    owner = make_user(Role.MEMBER)
    _, cert = enrolled(owner)
    assert login_client(make_user(Role.MEMBER)).post(f"/pki/certificates/{cert.pk}/revoke/").status_code == 404
    assert login_client(make_user(Role.SECRETARY)).post(f"/pki/certificates/{cert.pk}/revoke/").status_code == 403
    owner_client = login_client(owner)
    assert f'data-revoke="{cert.pk}"' in owner_client.get("/pki/").content.decode()
    response = owner_client.post(f"/pki/certificates/{cert.pk}/revoke/", {"reason": "key_compromise"})
    assert response.status_code == 302
    cert.refresh_from_db()
    assert cert.revocation_reason == "key_compromise" and cert.revoked_at is not None
    officer_page = login_client(make_user(Role.SECURITY_OFFICER)).get("/pki/queue/").content.decode()
    assert cert.fingerprint in officer_page and f'data-revoke="{cert.pk}"' not in officer_page  # already revoked
