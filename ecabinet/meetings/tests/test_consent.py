"""The consent agenda: proposed at the deadline (task) or by the office, confirmed by the chair."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ecabinet.meetings import actions, events, tasks
from ecabinet.meetings.models import AgendaItem, Decision, Meeting
from ecabinet.meetings.tests.helpers import api_client, assert_problem, audit_count, post_json

pytestmark = pytest.mark.django_db


def published_past_deadline(cabinet):
    actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(positions_deadline=timezone.now() - timedelta(minutes=1))


def test_publishing_queues_the_task_at_the_deadline(cabinet, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks.propose_consent_at_deadline, "apply_async", lambda args, eta: queued.append((args, eta)))
    with django_capture_on_commit_callbacks(execute=True):
        actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    assert queued == [((cabinet.meeting.pk,), cabinet.meeting.positions_deadline)]


def test_task_before_the_deadline_does_nothing(cabinet):
    actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    assert tasks.propose_consent_at_deadline(cabinet.meeting.pk) == []
    cabinet.refresh()
    assert cabinet.meeting.consent_proposed_at is None and not any(i.in_consent_block for i in cabinet.items)


def test_task_at_the_deadline_proposes_uncontested_items_once(cabinet):
    first, second, third = cabinet.items
    actions.record_position(first, acting_user=cabinet.members[0], stance="agree")
    actions.record_position(second, acting_user=cabinet.members[1], stance="object", comment="Cần thảo luận")
    actions.record_position(third, acting_user=cabinet.members[2], stance="wish_to_speak")
    actions.record_position(third, acting_user=cabinet.members[3], stance="abstain")
    published_past_deadline(cabinet)
    assert tasks.propose_consent_at_deadline(cabinet.meeting.pk) == [first.pk]
    assert tasks.propose_consent_at_deadline(cabinet.meeting.pk) == []
    cabinet.refresh()
    assert [i.in_consent_block for i in cabinet.items] == [True, False, False]
    assert cabinet.meeting.consent_proposed_at is not None
    assert audit_count(events.CONSENT_PROPOSED, object_id=str(cabinet.meeting.pk)) == 1


def test_silence_counts_as_consent(cabinet):
    published_past_deadline(cabinet)
    assert tasks.propose_consent_at_deadline(cabinet.meeting.pk) == [i.pk for i in cabinet.items]


def test_office_secretary_proposes_explicitly_and_members_cannot(cabinet):
    actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/consent/propose"
    assert_problem(post_json(api_client(cabinet.members[0]), url, {}), 403, "forbidden")
    cabinet.refresh()
    assert cabinet.meeting.consent_proposed_at is None
    response = post_json(api_client(cabinet.office_secretary), url, {})
    assert response.status_code == 200 and [i["id"] for i in response.json()["items"]] == [i.pk for i in cabinet.items]


def test_propose_before_publication_is_409(cabinet):
    response = post_json(api_client(cabinet.office_secretary), f"/api/v1/meetings/{cabinet.meeting.pk}/consent/propose", {})
    assert_problem(response, 409, "consent_not_possible")
    assert audit_count(events.CONSENT_PROPOSED) == 0


def test_a_late_objection_takes_the_item_out_of_the_block(cabinet):
    actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    actions.propose_consent_block(cabinet.meeting, acting_user=cabinet.office_secretary)
    actions.record_position(cabinet.items[0], acting_user=cabinet.members[0], stance="object")
    cabinet.refresh()
    assert [i.in_consent_block for i in cabinet.items] == [False, True, True]


def test_chair_removes_an_item_then_confirms_the_block_in_session(cabinet):
    first, second, third = cabinet.items
    published_past_deadline(cabinet)
    tasks.propose_consent_at_deadline(cabinet.meeting.pk)
    chair = api_client(cabinet.chair)
    removed = chair.delete(f"/api/v1/meetings/{cabinet.meeting.pk}/consent/items/{second.pk}")
    assert removed.status_code == 200 and [i["id"] for i in removed.json()["items"]] == [first.pk, third.pk]
    assert_problem(post_json(chair, f"/api/v1/meetings/{cabinet.meeting.pk}/consent/confirm", {}), 409, "meeting_wrong_state")
    actions.open_session(cabinet.meeting, acting_user=cabinet.chair)
    assert_problem(post_json(api_client(cabinet.members[0]), f"/api/v1/meetings/{cabinet.meeting.pk}/consent/confirm", {}), 403, "forbidden")
    confirmed = post_json(chair, f"/api/v1/meetings/{cabinet.meeting.pk}/consent/confirm", {})
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_at"]
    cabinet.refresh()
    assert [i.outcome for i in cabinet.items] == [AgendaItem.Outcome.ADOPTED_BY_CONSENT, AgendaItem.Outcome.PENDING, AgendaItem.Outcome.ADOPTED_BY_CONSENT]
    decisions = Decision.objects.filter(item__meeting=cabinet.meeting).order_by("item__order")
    assert [d.item_id for d in decisions] == [first.pk, third.pk]
    assert all(d.by_consent and d.text == actions.CONSENT_DECISION_TEXT and d.recorded_by == cabinet.chair for d in decisions)
    assert audit_count(events.CONSENT_CONFIRMED) == 1 and audit_count(events.CONSENT_ITEM_REMOVED) == 1
    # Once confirmed: no second confirmation, no more removals.
    assert_problem(post_json(chair, f"/api/v1/meetings/{cabinet.meeting.pk}/consent/confirm", {}), 409, "consent_not_possible")
    assert_problem(chair.delete(f"/api/v1/meetings/{cabinet.meeting.pk}/consent/items/{first.pk}"), 409, "consent_not_possible")
    assert Decision.objects.filter(item__meeting=cabinet.meeting).count() == 2


def test_confirm_after_the_first_item_started_is_409(cabinet):
    published_past_deadline(cabinet)
    tasks.propose_consent_at_deadline(cabinet.meeting.pk)
    actions.open_session(cabinet.meeting, acting_user=cabinet.chair)
    AgendaItem.objects.filter(pk=cabinet.items[1].pk).update(started_at=timezone.now())
    assert_problem(post_json(api_client(cabinet.chair), f"/api/v1/meetings/{cabinet.meeting.pk}/consent/confirm", {}), 409, "consent_not_possible")
    assert not Decision.objects.exists()


def test_removing_an_item_not_in_the_block_is_409(cabinet):
    actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    response = api_client(cabinet.chair).delete(f"/api/v1/meetings/{cabinet.meeting.pk}/consent/items/{cabinet.items[0].pk}")
    assert_problem(response, 409, "item_wrong_status")
