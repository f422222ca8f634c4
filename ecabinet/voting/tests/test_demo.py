"""``ecabinet seed-demo`` includes signed votes: every ballot made by the member's own key through
the client code and the API, and both polls' evidence verifies; the decision PDF is sealed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from ecabinet.audit.models import AuditEntry
from ecabinet.pki import authority
from ecabinet.pki.core import pades
from ecabinet.pki.models import EnrolmentRequest
from ecabinet.voting import decisions, events, evidence
from ecabinet.voting.core import evidence as evidence_core
from ecabinet.voting.models import Ballot, Poll, SignedDocument

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_closed_signed_votes_and_a_sealed_decision(pki_settings, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Signed votes: poll" in out.getvalue()
    vote, consultation = Poll.objects.order_by("pk")
    assert vote.kind == "item" and vote.meeting.state == "closed" and vote.state == "closed"
    assert consultation.kind == "consultation" and consultation.state == "closed"
    assert vote.result["tally"]["outcome"] == "adopted" and consultation.result["tally"]["winner"] == "agree"
    assert Ballot.objects.count() == 14
    # Enrolled through the API as ecabinet-sign does (a CSR from the client), never a server-side key.
    assert EnrolmentRequest.objects.filter(source="client", state="approved").count() == 7
    assert len(list((tmp_path / "var" / "demo-keys").glob("*.p12"))) == 7
    assert AuditEntry.objects.filter(event=events.BALLOT_CAST).count() == 14
    for poll in (vote, consultation):
        folder = tmp_path / f"ev{poll.pk}"
        evidence.write_folder(evidence.export(poll), folder)
        report = evidence_core.verify_folder(folder)
        assert report.ok and report.ballots == 7, report.problems
    document = SignedDocument.objects.get()
    [verdict] = pades.validate_pdf(decisions.read_pdf(document), trust_roots=[authority.certificate(authority.anchors()[0])])
    assert verdict.ok, verdict.summary
