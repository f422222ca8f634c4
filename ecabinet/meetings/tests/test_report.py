"""Measured efficiency: planned against actual time, consent share, speakers, and the reduction
against the organisation's baseline meeting length."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events, report
from ecabinet.meetings.models import AgendaItem, Meeting, MeetingRules
from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory, ParticipantFactory
from ecabinet.meetings.tests.followup_helpers import hold_session, put, signed_in

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def item(item_id: int, planned: int, minutes: float | None, outcome: str = "decided", speakers: tuple[int, ...] = ()) -> report.ItemInput:
    started = T0 if minutes is not None else None
    ended = T0 + timedelta(minutes=minutes) if minutes is not None else None
    return report.ItemInput(item_id, item_id, f"Mục {item_id}", planned, started, ended, outcome, list(speakers))


# --- pure figures ------------------------------------------------------------------------------


def test_item_figures_compare_planned_and_actual():
    over = report.item_figures(item(1, 15, 20, speakers=(200, 120)))
    assert (over.actual_minutes, over.difference_minutes, over.over_time) == (20.0, 5.0, True)
    assert (over.speakers, over.speaker_minutes) == (2, 5.3)
    under = report.item_figures(item(2, 15, 10))
    assert (under.difference_minutes, under.over_time) == (-5.0, False)
    consent = report.item_figures(item(3, 10, None, outcome="consent"))
    assert consent.by_consent and consent.actual_minutes is None and consent.difference_minutes is None


def test_meeting_figures_and_reduction_against_the_baseline():
    figures = report.meeting_figures(
        meeting_id=1,
        title="Phiên họp",
        planned_minutes=120,
        actual_seconds=90 * 60,
        baseline_minutes=240,
        items=[item(2, 15, 10), item(1, 15, 20, speakers=(200, 120)), item(3, 10, None, outcome="consent"), item(4, 10, None, outcome="consent")],
    )
    assert [f.item_id for f in figures.items] == [1, 2, 3, 4]
    assert figures.actual_minutes == 90.0 and figures.reduction_percent == 62.5 and figures.aim_met is True
    assert (figures.items_total, figures.items_by_consent, figures.consent_share_percent) == (4, 2, 50.0)
    assert figures.items_planned_minutes == 50 and figures.items_actual_minutes == 30.0
    assert figures.speaker_minutes == 5.3 and figures.speaker_share_percent == 5.9
    short_of_aim = report.meeting_figures(meeting_id=2, title="", planned_minutes=200, actual_seconds=200 * 60, baseline_minutes=240, items=[])
    assert short_of_aim.reduction_percent == 16.7 and short_of_aim.aim_met is False and short_of_aim.consent_share_percent is None
    longer = report.reduction_percent(60, 90)
    assert longer == -50.0
    not_held = report.meeting_figures(meeting_id=3, title="", planned_minutes=60, actual_seconds=None, baseline_minutes=240, items=[])
    assert not_held.reduction_percent is None and not_held.aim_met is None


def test_organisation_summary_averages_held_meetings():
    def meeting(minutes: float | None, consent: int, total: int) -> report.MeetingFigures:
        items = [item(i, 10, None, outcome="consent" if i <= consent else "decided") for i in range(1, total + 1)]
        return report.meeting_figures(
            meeting_id=1, title="", planned_minutes=120, actual_seconds=minutes * 60 if minutes else None, baseline_minutes=240, items=items
        )

    summary = report.summarise([meeting(90, 2, 4), meeting(180, 0, 2), meeting(None, 1, 1)], baseline_minutes=240)
    assert summary.meetings == 3 and summary.average_actual_minutes == 135.0
    assert summary.average_reduction_percent == 43.8 and summary.meetings_meeting_aim == 1
    assert (summary.items_total, summary.items_by_consent, summary.consent_share_percent) == (7, 3, 42.9)
    empty = report.summarise([], baseline_minutes=240)
    assert empty.meetings == 0 and empty.average_actual_minutes is None and empty.average_reduction_percent is None


# --- through the API and the page --------------------------------------------------------------


@pytest.mark.django_db
def test_meeting_report_from_the_session_record(cabinet):
    hold_session(cabinet)
    MeetingRules.objects.filter(organisation=cabinet.government).update(baseline_meeting_minutes=180)
    response = signed_in(cabinet.members[0]).get(f"/api/v1/meetings/{cabinet.meeting.pk}/report")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["planned_minutes"], body["actual_minutes"], body["baseline_minutes"]) == (120, 90.0, 180)
    assert body["reduction_percent"] == 50.0 and body["aim_met"] is True and body["aim_percent"] == 30.0
    assert (body["items_total"], body["items_by_consent"], body["consent_share_percent"]) == (3, 1, 33.3)
    first, second, third = body["items"]
    assert (first["planned_minutes"], first["actual_minutes"], first["over_time"], first["speakers"], first["speaker_minutes"]) == (15, 20.0, True, 2, 5.3)
    assert (second["actual_minutes"], second["over_time"]) == (10.0, False)
    assert third["by_consent"] is True and third["actual_minutes"] is None


@pytest.mark.django_db
def test_hidden_items_stay_out_of_the_counts(cabinet):
    hold_session(cabinet)
    AgendaItem.objects.filter(pk=cabinet.items[2].pk).update(classification=Clearance.SECRET)
    body = signed_in(cabinet.members[0]).get(f"/api/v1/meetings/{cabinet.meeting.pk}/report").json()
    assert [i["item_id"] for i in body["items"]] == [cabinet.items[0].pk, cabinet.items[1].pk]
    assert body["items_by_consent"] == 0


@pytest.mark.django_db
def test_report_access(cabinet):
    hold_session(cabinet)
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/report"
    assert_problem(Client().get(url), 401, "not_authenticated")
    assert_problem(signed_in(cabinet.guest).get(url), 403, "forbidden")
    outsider = UserFactory(role=Role.MEMBER, organisation=GovernmentFactory())
    assert_problem(signed_in(outsider).get(url), 404, "not_found")
    page = f"/meetings/{cabinet.meeting.pk}/report/"
    assert signed_in(outsider).get(page).status_code == 404
    assert signed_in(cabinet.guest).get(page).status_code == 404
    assert Client().get(page).status_code == 302


@pytest.mark.django_db
def test_baseline_is_set_by_the_office_and_audited(cabinet):
    url = f"/api/v1/meeting-efficiency/{cabinet.government.pk}/baseline"
    response = put(signed_in(cabinet.office_secretary), url, {"baseline_meeting_minutes": 270})
    assert response.status_code == 200, response.content
    assert response.json() == {"organisation_id": cabinet.government.pk, "baseline_meeting_minutes": 270}
    assert MeetingRules.objects.get(organisation=cabinet.government).baseline_meeting_minutes == 270
    entry = AuditEntry.objects.get(event=events.RULES_CHANGED)
    assert entry.actor_id == cabinet.office_secretary.pk and entry.details["baseline_meeting_minutes"] == {"from": 240, "to": 270}
    admin = UserFactory(role=Role.ADMIN, organisation=cabinet.government)
    assert put(signed_in(admin), url, {"baseline_meeting_minutes": 250}).status_code == 200
    assert signed_in(cabinet.members[0]).get(url).json()["baseline_meeting_minutes"] == 250


@pytest.mark.django_db
def test_baseline_refusals_change_nothing(cabinet):
    url = f"/api/v1/meeting-efficiency/{cabinet.government.pk}/baseline"
    for user in (cabinet.chair, cabinet.members[0], cabinet.ministry_secretary, cabinet.guest):
        assert_problem(put(signed_in(user), url, {"baseline_meeting_minutes": 100}), 403, "forbidden")
    secretary = signed_in(cabinet.office_secretary)
    for bad in (
        {"baseline_meeting_minutes": 0},
        {"baseline_meeting_minutes": 5000},
        {"baseline_meeting_minutes": "long"},
        {"baseline_meeting_minutes": 100, "note": "x"},
    ):
        assert_problem(put(secretary, url, bad), 422, "validation_error")
    assert_problem(put(Client(), url, {"baseline_meeting_minutes": 100}), 401, "not_authenticated")
    foreign = GovernmentFactory()
    assert_problem(put(secretary, f"/api/v1/meeting-efficiency/{foreign.pk}/baseline", {"baseline_meeting_minutes": 100}), 404, "not_found")
    assert MeetingRules.objects.get(organisation=cabinet.government).baseline_meeting_minutes == 240
    assert not MeetingRules.objects.filter(organisation=foreign).exists()
    assert not AuditEntry.objects.filter(event=events.RULES_CHANGED).exists()


@pytest.mark.django_db
def test_organisation_summary_covers_closed_meetings_only(cabinet):
    hold_session(cabinet, state=Meeting.State.CLOSED)
    later = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, created_by=cabinet.office_secretary, state=Meeting.State.CLOSED)
    ParticipantFactory(meeting=later, user=cabinet.members[0])
    AgendaItemFactory(meeting=later, proposed_by=cabinet.ministry_secretary, outcome=AgendaItem.Outcome.ADOPTED_BY_CONSENT)
    Meeting.objects.filter(pk=later.pk).update(opened_at=later.starts_at, adjourned_at=later.starts_at + timedelta(minutes=150))
    MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, created_by=cabinet.office_secretary, state=Meeting.State.SCHEDULED)
    body = signed_in(cabinet.office_secretary).get(f"/api/v1/meeting-efficiency/{cabinet.government.pk}").json()
    summary = body["summary"]
    assert summary["meetings"] == 2 and summary["average_actual_minutes"] == 120.0 and summary["average_reduction_percent"] == 50.0
    assert summary["meetings_meeting_aim"] == 2 and summary["items_by_consent"] == 2 and summary["items_total"] == 4
    assert {m["meeting_id"] for m in body["meetings"]} == {cabinet.meeting.pk, later.pk}
    # A member invited to only one of them sees only that one.
    mine = signed_in(cabinet.members[1]).get(f"/api/v1/meeting-efficiency/{cabinet.government.pk}").json()
    assert [m["meeting_id"] for m in mine["meetings"]] == [cabinet.meeting.pk]
    assert_problem(signed_in(cabinet.guest).get(f"/api/v1/meeting-efficiency/{cabinet.government.pk}"), 403, "forbidden")


@pytest.mark.django_db
def test_report_page_shows_planned_actual_and_reduction(cabinet):
    hold_session(cabinet)
    page = signed_in(cabinet.office_secretary).get(f"/meetings/{cabinet.meeting.pk}/report/")
    assert page.status_code == 200
    html = page.content.decode()
    # Figures are shown in the page's locale (Vietnamese: decimal comma).
    assert 'id="planned-minutes">120' in html and 'id="actual-minutes">90,0' in html and "62,5 %" in html
    assert "baseline-form" in html and cabinet.items[0].title in html
    saved = signed_in(cabinet.office_secretary).post(f"/meetings/{cabinet.meeting.pk}/report/baseline/", {"baseline_meeting_minutes": 120})
    assert saved.status_code == 302
    assert MeetingRules.objects.get(organisation=cabinet.government).baseline_meeting_minutes == 120
    member_html = signed_in(cabinet.members[0]).get(f"/meetings/{cabinet.meeting.pk}/report/").content.decode()
    assert "baseline-form" not in member_html and "25,0 %" in member_html
    signed_in(cabinet.members[0]).post(f"/meetings/{cabinet.meeting.pk}/report/baseline/", {"baseline_meeting_minutes": 10})
    assert MeetingRules.objects.get(organisation=cabinet.government).baseline_meeting_minutes == 120
    assert json.loads(signed_in(cabinet.members[0]).get(f"/api/v1/meetings/{cabinet.meeting.pk}/report").content)["aim_met"] is False


def test_outcome_label_is_translated_and_code_kept():
    from django.utils import translation

    figures = report.item_figures(item(1, 10, 12, outcome="deferred"))
    assert figures.outcome == "deferred"
    with translation.override("en"):
        assert figures.outcome_label == "Deferred"
    with translation.override("vi"):
        assert figures.outcome_label not in ("deferred", "Deferred")
