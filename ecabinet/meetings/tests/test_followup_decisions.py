"""Decisions (conclusions) on agenda items: who may record them, when, and with which version."""

from __future__ import annotations

import pytest
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events, followup
from ecabinet.meetings.models import AgendaItem, Decision, Meeting, Minutes
from ecabinet.meetings.tests.followup_helpers import CONSENT_TEXT, hold_session, put, signed_in

pytestmark = pytest.mark.django_db

TEXT = "Thống nhất thông qua dự thảo Nghị định; giao Bộ Tài chính tiếp thu, hoàn thiện trước ngày 15."


@pytest.fixture
def published(monkeypatch):
    sent: list[dict] = []

    def spy(meeting_id, kind, data, *, min_level, item_id=None):
        sent.append({"meeting": meeting_id, "kind": kind, "data": data, "min_level": min_level, "item_id": item_id})

    monkeypatch.setattr(followup.broadcast, "publish", spy)
    return sent


def url(cabinet, item) -> str:
    return f"/api/v1/meetings/{cabinet.meeting.pk}/items/{item.pk}/decision"


def test_chair_records_a_decision_in_session_and_everyone_is_told(cabinet, published):
    hold_session(cabinet, state=Meeting.State.IN_SESSION)
    item = cabinet.items[0]
    response = put(signed_in(cabinet.chair), url(cabinet, item), {"text": TEXT})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text"] == TEXT and body["outcome"] == "decided" and body["version"] == 1 and body["by_consent"] is False
    item.refresh_from_db()
    assert item.outcome == AgendaItem.Outcome.DECIDED
    assert Decision.objects.get(item=item).recorded_by == cabinet.chair
    entry = AuditEntry.objects.get(event=events.DECISION_RECORDED)
    assert entry.actor_id == cabinet.chair.pk and entry.details["item"] == item.pk and entry.details["created"] is True
    assert published == [
        {
            "meeting": cabinet.meeting.pk,
            "kind": "decision",
            "data": {"item": item.pk, "text": TEXT, "outcome": "decided", "by_consent": False, "version": 1},
            "min_level": item.classification,
            "item_id": item.pk,
        }
    ]


def test_office_secretary_rewrites_after_the_session_with_the_version_read(cabinet):
    hold_session(cabinet)
    item = cabinet.items[1]
    client = signed_in(cabinet.office_secretary)
    assert put(client, url(cabinet, item), {"text": "Bản đầu", "outcome": "deferred"}).status_code == 200
    response = put(client, url(cabinet, item), {"text": TEXT, "outcome": "noted", "version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2 and response.json()["outcome"] == "noted"
    item.refresh_from_db()
    assert item.outcome == AgendaItem.Outcome.NOTED
    assert AuditEntry.objects.filter(event=events.DECISION_RECORDED).count() == 2


def test_stale_or_missing_version_is_409_and_changes_nothing(cabinet):
    hold_session(cabinet)
    item = cabinet.items[0]
    client = signed_in(cabinet.chair)
    put(client, url(cabinet, item), {"text": "Bản đầu"})
    put(client, url(cabinet, item), {"text": "Bản hai", "version": 1})
    stale = assert_problem(put(client, url(cabinet, item), {"text": "Ghi đè", "version": 1}), 409, "stale_version")
    assert stale["current_version"] == 2
    assert_problem(put(client, url(cabinet, item), {"text": "Ghi đè"}), 409, "stale_version")
    assert Decision.objects.get(item=item).text == "Bản hai"
    assert AuditEntry.objects.filter(event=events.DECISION_RECORDED).count() == 2


def test_rewording_a_consent_decision_keeps_it_adopted_by_consent(cabinet):
    hold_session(cabinet)
    item = cabinet.items[2]
    decision = Decision.objects.get(item=item)
    response = put(signed_in(cabinet.chair), url(cabinet, item), {"text": CONSENT_TEXT + " Sửa lỗi chính tả.", "version": decision.version})
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "consent" and response.json()["by_consent"] is True


def test_decision_before_the_session_is_409(cabinet):
    item = cabinet.items[0]
    for state in (Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED):
        Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=state)
        assert_problem(put(signed_in(cabinet.chair), url(cabinet, item), {"text": TEXT}), 409, "meeting_wrong_state")
    assert not Decision.objects.exists()
    assert not AuditEntry.objects.filter(event=events.DECISION_RECORDED).exists()


def test_decision_after_approved_minutes_is_409(cabinet):
    hold_session(cabinet)
    Minutes.objects.create(meeting=cabinet.meeting, text="x", state=Minutes.State.APPROVED)
    assert_problem(put(signed_in(cabinet.chair), url(cabinet, cabinet.items[0]), {"text": TEXT}), 409, "minutes_frozen")
    assert not Decision.objects.filter(item=cabinet.items[0]).exists()


def test_wrong_roles_are_403_anonymous_401_and_outsiders_404(cabinet):
    hold_session(cabinet)
    item = cabinet.items[0]
    for user in (cabinet.members[0], cabinet.ministry_secretary, cabinet.guest):
        assert_problem(put(signed_in(user), url(cabinet, item), {"text": TEXT}), 403, "forbidden")
    assert_problem(put(Client(), url(cabinet, item), {"text": TEXT}), 401, "not_authenticated")
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert_problem(put(signed_in(outsider), url(cabinet, item), {"text": TEXT}), 404, "not_found")
    assert not Decision.objects.filter(item=item).exists()


def test_an_item_above_the_users_clearance_does_not_exist_for_them(cabinet):
    hold_session(cabinet)
    item = cabinet.items[0]
    AgendaItem.objects.filter(pk=item.pk).update(classification=Clearance.SECRET)
    assert_problem(put(signed_in(cabinet.office_secretary), url(cabinet, item), {"text": TEXT}), 404, "not_found")
    listed = signed_in(cabinet.members[0]).get(f"/api/v1/meetings/{cabinet.meeting.pk}/decisions")
    assert listed.status_code == 200
    assert [d["item_id"] for d in listed.json()] == [cabinet.items[2].pk]


def test_bad_bodies_are_422(cabinet):
    hold_session(cabinet)
    client = signed_in(cabinet.chair)
    item = cabinet.items[0]
    assert_problem(put(client, url(cabinet, item), {"text": TEXT, "colour": "red"}), 422, "validation_error")
    assert_problem(put(client, url(cabinet, item), {"text": TEXT, "outcome": "consent"}), 422, "validation_error")
    assert_problem(put(client, url(cabinet, item), {"text": ""}), 422, "validation_error")
    assert_problem(put(client, url(cabinet, item), {"text": "   "}), 400, "invalid_input")
    assert not Decision.objects.filter(item=item).exists()


def test_decision_page_form_records_and_shows_it(cabinet):
    hold_session(cabinet)
    item = cabinet.items[0]
    client = signed_in(cabinet.chair)
    page = client.get(f"/meetings/{cabinet.meeting.pk}/followup/")
    assert page.status_code == 200 and "decision-form" in page.content.decode()
    response = client.post(f"/meetings/{cabinet.meeting.pk}/items/{item.pk}/decision/", {f"d{item.pk}-text": TEXT, f"d{item.pk}-outcome": "decided"})
    assert response.status_code == 302
    assert Decision.objects.get(item=item).text == TEXT
    assert TEXT in client.get(f"/meetings/{cabinet.meeting.pk}/followup/").content.decode()
    member_page = signed_in(cabinet.members[0]).get(f"/meetings/{cabinet.meeting.pk}/followup/").content.decode()
    assert TEXT in member_page and "decision-form" not in member_page
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert signed_in(outsider).get(f"/meetings/{cabinet.meeting.pk}/followup/").status_code == 404
    assert Client().get(f"/meetings/{cabinet.meeting.pk}/followup/").status_code == 302
