"""Signed decisions: approved minutes become a PAdES B-LT PDF under the office seal as soon as the
approval commits, and decisions on request; both validate in pyHanko and Debian's pdfsig, and a
modified copy fails both."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.meetings import followup
from ecabinet.meetings.models import Meeting
from ecabinet.pki.core import ca, pades
from ecabinet.pki.tests.test_pades import nss_db, pdfsig
from ecabinet.voting import actions, decisions, events
from ecabinet.voting.models import OfficeSeal, SignedDocument
from ecabinet.voting.tests.conftest import cast

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seal(voting):
    out = StringIO()
    call_command("poll", "seal-init", "--username", voting.cabinet.office_secretary.username, stdout=out)
    assert "office seal created" in out.getvalue()
    return OfficeSeal.objects.get()


def approve_minutes(voting):
    cab = voting.cabinet
    Meeting.objects.filter(pk=cab.meeting.pk).update(state=Meeting.State.CLOSED)
    cab.meeting.refresh_from_db()
    draft = followup.draft_minutes(cab.meeting, acting_user=cab.office_secretary)
    submitted = followup.submit_minutes(draft, expected_version=draft.version, acting_user=cab.office_secretary)
    return followup.approve_minutes(submitted, expected_version=submitted.version, acting_user=cab.chair)


def check_signed(pdf: bytes, tmp_path, installation_ca) -> None:
    [verdict] = pades.validate_pdf(pdf, trust_roots=[installation_ca.root])
    assert verdict.ok and verdict.timestamp_valid and verdict.ltv_valid, verdict.summary
    nss = nss_db(tmp_path / "nss", ca.to_pem(installation_ca.root))
    (tmp_path / "signed.pdf").write_bytes(pdf)
    report = pdfsig(nss, tmp_path / "signed.pdf")
    assert "Signature is Valid" in report and "Certificate is Trusted" in report, report
    modified = pdf.replace(b"/Creator", b"/Creatox", 1)
    assert modified != pdf
    [bad] = pades.validate_pdf(modified, trust_roots=[installation_ca.root])
    assert not bad.ok
    (tmp_path / "modified.pdf").write_bytes(modified)
    assert "Signature is Valid" not in pdfsig(nss, tmp_path / "modified.pdf")


def test_approved_minutes_are_sealed_when_the_approval_commits(voting, item_poll, seal, installation_ca, tmp_path):
    for member in voting.members:
        cast(member, item_poll, "approve")
    actions.close_poll(item_poll, acting_user=voting.cabinet.chair)
    minutes = approve_minutes(voting)
    doc = SignedDocument.objects.get(kind="minutes", meeting=voting.cabinet.meeting)
    assert doc.certificate == seal.certificate and doc.signed_by == voting.cabinet.chair
    assert doc.source_sha256 == minutes.pdf_sha256
    response = Client().get(f"/api/v1/signed-documents/{doc.pk}/pdf", **voting.members[0].auth())
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    check_signed(response.content, tmp_path, installation_ca)
    assert AuditEntry.objects.filter(event=events.DOCUMENT_SIGNED).count() == 1
    # Asking again returns the same document, not a second signature.
    again = Client().post(f"/api/v1/meetings/{voting.cabinet.meeting.pk}/minutes/signed", {}, content_type="application/json", **voting.chair.auth())
    assert again.status_code == 201 and again.json()["id"] == doc.pk


def test_a_decision_is_sealed_on_request_with_its_vote(voting, item_poll, seal, installation_ca, tmp_path):
    for member in voting.members:
        cast(member, item_poll, "approve")
    actions.close_poll(item_poll, acting_user=voting.cabinet.chair)
    decision = followup.record_decision(voting.cabinet.items[0], text="Chính phủ thông qua Dự thảo Nghị định.", acting_user=voting.cabinet.chair)
    member = voting.members[0]
    refused = Client().post(f"/api/v1/decisions/{decision.pk}/signed", {}, content_type="application/json", **member.auth())
    assert refused.status_code == 403 and not SignedDocument.objects.exists()
    response = Client().post(f"/api/v1/decisions/{decision.pk}/signed", {}, content_type="application/json", **voting.chair.auth())
    assert response.status_code == 201, response.content
    doc = SignedDocument.objects.get(pk=response.json()["id"])
    pdf = decisions.read_pdf(doc)
    check_signed(pdf, tmp_path, installation_ca)
    listed = Client().get(f"/api/v1/signed-documents?meeting_id={voting.cabinet.meeting.pk}", **member.auth()).json()
    assert [d["id"] for d in listed] == [doc.pk]


def test_without_a_seal_approval_still_works_and_sealing_says_why(voting):
    minutes = approve_minutes(voting)
    assert minutes.state == "approved" and not SignedDocument.objects.exists()
    response = Client().post(f"/api/v1/meetings/{voting.cabinet.meeting.pk}/minutes/signed", {}, content_type="application/json", **voting.chair.auth())
    assert response.status_code == 409 and response.json()["code"] == "seal_unavailable"


def test_only_office_staff_create_the_seal(voting):
    with pytest.raises(Exception) as caught:
        decisions.create_office_seal(acting_user=voting.members[0].user)
    assert getattr(caught.value, "code", "") == "forbidden" and not OfficeSeal.objects.exists()
