"""Starting and ending agenda items in the live session: timers, one item at a time, who may."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events, live
from ecabinet.meetings.models import AgendaItem, Meeting, SpeakerRequest
from ecabinet.meetings.tests.factories import AgendaItemFactory
from ecabinet.meetings.tests.live_helpers import base, open_session, post, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """Every live event the actions queue, in order (delivery is proved in test_consumer*)."""
    sent: list[dict] = []

    def spy(meeting_id, kind, data, *, min_level, item_id=None):
        sent.append({"meeting": meeting_id, "kind": kind, "data": data, "min_level": min_level, "item_id": item_id})

    monkeypatch.setattr(live.broadcast, "publish", spy)
    return sent


def test_chair_starts_an_item_and_its_timer_runs(cabinet, published):
    open_session(cabinet.meeting)
    item = cabinet.items[0]
    response = post(signed_in(cabinet.chair), f"{base(cabinet.meeting)}/items/{item.pk}/start")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["running"] is True and body["planned_minutes"] == item.planned_minutes
    item.refresh_from_db()
    assert item.started_at is not None and item.ended_at is None
    assert [(e["kind"], e["item_id"], e["min_level"]) for e in published] == [(live.ITEM_STARTED, item.pk, item.classification)]
    entry = AuditEntry.objects.get(event=events.ITEM_STARTED)
    assert entry.actor_id == cabinet.chair.pk and entry.object_id == str(item.pk)


def test_office_secretary_runs_the_session_for_the_chair(cabinet, published):
    open_session(cabinet.meeting)
    item = cabinet.items[1]
    client = signed_in(cabinet.office_secretary)
    assert post(client, f"{base(cabinet.meeting)}/items/{item.pk}/start").status_code == 200
    response = post(client, f"{base(cabinet.meeting)}/items/{item.pk}/end")
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert item.ended_at >= item.started_at
    assert response.json()["actual_seconds"] == item.actual_seconds
    assert AuditEntry.objects.filter(event=events.ITEM_ENDED, actor_id=cabinet.office_secretary.pk).count() == 1


def test_starting_the_next_item_ends_the_running_one_and_its_speaker(cabinet, published):
    open_session(cabinet.meeting)
    first, second = cabinet.items[0], cabinet.items[1]
    live.start_item(first, acting_user=cabinet.chair)
    req = live.request_floor(first, acting_user=cabinet.members[0])
    live.grant_floor(first, req.pk, acting_user=cabinet.chair)
    published.clear()
    live.start_item(second, acting_user=cabinet.chair)
    first.refresh_from_db()
    second.refresh_from_db()
    req.refresh_from_db()
    assert first.ended_at == second.started_at
    assert req.state == SpeakerRequest.State.DONE and req.ended_at == first.ended_at
    assert [(e["kind"], e["item_id"]) for e in published] == [(live.ITEM_STARTED, second.pk), (live.ITEM_ENDED, first.pk), (live.SPEAKERS, first.pk)]
    assert AgendaItem.objects.filter(meeting=cabinet.meeting, started_at__isnull=False, ended_at__isnull=True).count() == 1
    entry = AuditEntry.objects.filter(event=events.ITEM_STARTED).order_by("-seq").first()
    assert entry.details["ended_item"] == first.pk and entry.details["ended_speaker"] == req.pk


def test_overrun_is_reported_from_started_at_and_planned_minutes(cabinet):
    open_session(cabinet.meeting)
    item = cabinet.items[0]
    AgendaItem.objects.filter(pk=item.pk).update(started_at=timezone.now() - timedelta(minutes=item.planned_minutes + 2))
    item.refresh_from_db()
    out = live.item_out(item)
    assert out["running"] is True and out["overrun"] is True and out["actual_seconds"] > item.planned_minutes * 60


@pytest.mark.parametrize(
    "state", [Meeting.State.DRAFT, Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED, Meeting.State.ADJOURNED, Meeting.State.CLOSED]
)
def test_items_start_only_in_session(cabinet, published, state):
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=state)
    item = cabinet.items[0]
    body = assert_problem(post(signed_in(cabinet.chair), f"{base(cabinet.meeting)}/items/{item.pk}/start"), 409, "meeting_wrong_state")
    assert body["state"] == state
    item.refresh_from_db()
    assert item.started_at is None and published == []
    assert not AuditEntry.objects.filter(event=events.ITEM_STARTED).exists()


def test_an_item_cannot_run_twice(cabinet, published):
    open_session(cabinet.meeting)
    item = cabinet.items[0]
    client = signed_in(cabinet.chair)
    assert post(client, f"{base(cabinet.meeting)}/items/{item.pk}/start").status_code == 200
    assert_problem(post(client, f"{base(cabinet.meeting)}/items/{item.pk}/start"), 409, "item_wrong_status")
    assert post(client, f"{base(cabinet.meeting)}/items/{item.pk}/end").status_code == 200
    item.refresh_from_db()
    ended = item.ended_at
    assert_problem(post(client, f"{base(cabinet.meeting)}/items/{item.pk}/start"), 409, "item_wrong_status")
    assert_problem(post(client, f"{base(cabinet.meeting)}/items/{item.pk}/end"), 409, "item_wrong_status")
    item.refresh_from_db()
    assert item.ended_at == ended


def test_items_not_accepted_or_adopted_by_consent_are_not_taken_up(cabinet):
    open_session(cabinet.meeting)
    proposed = AgendaItemFactory(meeting=cabinet.meeting, status=AgendaItem.Status.PROPOSED, proposed_by=cabinet.ministry_secretary)
    consent = AgendaItemFactory(meeting=cabinet.meeting, outcome=AgendaItem.Outcome.ADOPTED_BY_CONSENT, proposed_by=cabinet.ministry_secretary)
    client = signed_in(cabinet.chair)
    for item in (proposed, consent):
        assert_problem(post(client, f"{base(cabinet.meeting)}/items/{item.pk}/start"), 409, "item_wrong_status")
    assert not AgendaItem.objects.filter(started_at__isnull=False).exists()


def test_members_guests_and_ministry_secretaries_may_not_run_items(cabinet):
    open_session(cabinet.meeting)
    item = cabinet.items[0]
    for user in (cabinet.members[0], cabinet.guest, cabinet.ministry_secretary):
        assert_problem(post(signed_in(user), f"{base(cabinet.meeting)}/items/{item.pk}/start"), 403, "forbidden")
    item.refresh_from_db()
    assert item.started_at is None


def test_anonymous_and_outsiders_get_401_and_404(cabinet):
    open_session(cabinet.meeting)
    item = cabinet.items[0]
    path = f"{base(cabinet.meeting)}/items/{item.pk}/start"
    assert_problem(post(Client(), path), 401, "not_authenticated")
    stranger = UserFactory(role=Role.MEMBER, organisation=cabinet.government)  # same government, not invited
    foreign_chair = UserFactory(role=Role.CHAIR)  # another government
    for user in (stranger, foreign_chair):
        assert_problem(post(signed_in(user), path), 404, "not_found")
    # A session that has not passed the second factor is not signed in for the API.
    assert_problem(post(signed_in(cabinet.chair, mfa=False), path), 401, "not_authenticated")
    # An item of another meeting under this meeting's URL does not exist.
    other = AgendaItemFactory(proposed_by=cabinet.ministry_secretary)
    assert_problem(post(signed_in(cabinet.chair), f"{base(cabinet.meeting)}/items/{other.pk}/start"), 404, "not_found")
    item.refresh_from_db()
    assert item.started_at is None


def test_secretary_below_an_items_classification_cannot_see_or_start_it(cabinet):
    open_session(cabinet.meeting)
    secret = AgendaItemFactory(meeting=cabinet.meeting, classification=Clearance.SECRET, proposed_by=cabinet.ministry_secretary)
    assert_problem(post(signed_in(cabinet.office_secretary), f"{base(cabinet.meeting)}/items/{secret.pk}/start"), 404, "not_found")
    cabinet.chair.clearance = Clearance.SECRET
    cabinet.chair.save(update_fields=["clearance"])
    assert post(signed_in(cabinet.chair), f"{base(cabinet.meeting)}/items/{secret.pk}/start").status_code == 200
