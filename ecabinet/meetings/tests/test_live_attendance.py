"""Attendance in the live session: check-in from the tablet, marking by the secretary, quorum."""

from __future__ import annotations

import pytest
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events
from ecabinet.meetings.models import Attendance, Meeting, MeetingRules
from ecabinet.meetings.tests.live_helpers import base, open_session, post, signed_in

pytestmark = pytest.mark.django_db


def check_in(client, meeting, **body):
    return post(client, f"{base(meeting)}/attendance/check-in", body)


def test_member_checks_in_from_the_tablet_and_quorum_follows(cabinet):
    open_session(cabinet.meeting)
    response = check_in(signed_in(cabinet.members[0]), cabinet.meeting)
    assert response.status_code == 200, response.content
    quorum = response.json()["quorum"]
    # chair + four members vote; a majority of five is three.
    assert (quorum["voting_members"], quorum["present"], quorum["required"], quorum["reached"]) == (5, 1, 3, False)
    for user in (cabinet.chair, cabinet.members[1]):
        response = check_in(signed_in(user), cabinet.meeting)
    assert response.json()["quorum"]["reached"] is True
    assert [p["user"]["id"] for p in response.json()["present"]] == [cabinet.members[0].pk, cabinet.chair.pk, cabinet.members[1].pk]
    assert AuditEntry.objects.filter(event=events.CHECKED_IN).count() == 3


def test_check_in_before_the_session_opens_is_allowed_but_not_in_a_draft_or_closed_meeting(cabinet):
    assert check_in(signed_in(cabinet.members[0]), cabinet.meeting).status_code == 200  # scheduled
    for state in (Meeting.State.DRAFT, Meeting.State.CLOSED, Meeting.State.CANCELLED):
        Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=state)
        assert_problem(check_in(signed_in(cabinet.members[1]), cabinet.meeting), 409, "meeting_wrong_state")
    assert Attendance.objects.count() == 1


def test_duplicate_check_in_is_409_and_changes_nothing(cabinet):
    open_session(cabinet.meeting)
    client = signed_in(cabinet.members[0])
    assert check_in(client, cabinet.meeting).status_code == 200
    assert_problem(check_in(client, cabinet.meeting, mode="remote"), 409, "already_checked_in")
    assert_problem(check_in(signed_in(cabinet.office_secretary), cabinet.meeting, user_id=cabinet.members[0].pk), 409, "already_checked_in")
    assert Attendance.objects.get().mode == Attendance.Mode.IN_ROOM
    assert AuditEntry.objects.filter(event=events.CHECKED_IN).count() == 1


def test_non_participants_cannot_check_in(cabinet):
    open_session(cabinet.meeting)
    # A member of the government who is not invited does not see the meeting at all.
    stranger = UserFactory(role=Role.MEMBER, organisation=cabinet.government)
    assert_problem(check_in(signed_in(stranger), cabinet.meeting), 404, "not_found")
    # A ministry secretary sees the meeting (secretaries do) but is not a participant.
    assert_problem(check_in(signed_in(cabinet.ministry_secretary), cabinet.meeting), 403, "not_participant")
    # Nor can the office secretary mark someone who is not invited.
    assert_problem(check_in(signed_in(cabinet.office_secretary), cabinet.meeting, user_id=cabinet.ministry_secretary.pk), 403, "not_participant")
    # Someone of another government is no such person.
    foreigner = UserFactory(role=Role.MEMBER)
    assert_problem(check_in(signed_in(cabinet.office_secretary), cabinet.meeting, user_id=foreigner.pk), 404, "not_found")
    assert_problem(check_in(Client(), cabinet.meeting), 401, "not_authenticated")
    assert not Attendance.objects.exists()


def test_only_the_chair_or_office_secretary_marks_others(cabinet):
    open_session(cabinet.meeting)
    for user in (cabinet.members[0], cabinet.guest, cabinet.ministry_secretary):
        assert_problem(check_in(signed_in(user), cabinet.meeting, user_id=cabinet.members[1].pk), 403, "forbidden")
    assert not Attendance.objects.exists()
    response = check_in(signed_in(cabinet.office_secretary), cabinet.meeting, user_id=cabinet.members[1].pk, mode="remote")
    assert response.status_code == 200
    row = Attendance.objects.get()
    assert (row.user, row.mode, row.checked_in_by) == (cabinet.members[1], Attendance.Mode.REMOTE, cabinet.office_secretary)


def test_remote_presence_counts_by_the_organisations_rules(cabinet):
    open_session(cabinet.meeting)
    for user in cabinet.members[:3]:
        check_in(signed_in(user), cabinet.meeting, mode="remote")
    assert signed_in(cabinet.chair).get(f"{base(cabinet.meeting)}/live").json()["attendance"]["quorum"]["present"] == 3
    MeetingRules.objects.filter(organisation=cabinet.government).update(remote_counts_for_quorum=False)
    quorum = signed_in(cabinet.chair).get(f"{base(cabinet.meeting)}/live").json()["attendance"]["quorum"]
    assert quorum["present"] == 0 and quorum["reached"] is False and quorum["rule"]["remote_counts"] is False


def test_substitute_sits_for_an_absent_member(cabinet):
    open_session(cabinet.meeting)
    deputy = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry, full_name="Thứ trưởng")
    secretary = signed_in(cabinet.office_secretary)
    response = check_in(secretary, cabinet.meeting, user_id=deputy.pk, mode="substitute", substitute_for=cabinet.members[0].pk)
    assert response.status_code == 200, response.content
    present = response.json()["present"][0]
    assert present["substitute_for"]["id"] == cabinet.members[0].pk and present["voting"] is True
    # The default rules do not count substitutes for quorum; an organisation may.
    assert response.json()["quorum"]["present"] == 0
    MeetingRules.objects.filter(organisation=cabinet.government).update(substitutes_count_for_quorum=True)
    assert signed_in(cabinet.chair).get(f"{base(cabinet.meeting)}/live").json()["attendance"]["quorum"]["present"] == 1
    # The member is represented already: no second substitute, and the member is still welcome in person.
    other = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    assert_problem(check_in(secretary, cabinet.meeting, user_id=other.pk, mode="substitute", substitute_for=cabinet.members[0].pk), 409, "already_checked_in")
    assert check_in(signed_in(cabinet.members[0]), cabinet.meeting).status_code == 200
    assert signed_in(cabinet.chair).get(f"{base(cabinet.meeting)}/live").json()["attendance"]["quorum"]["present"] == 1


def test_substitutes_bad_input(cabinet):
    open_session(cabinet.meeting)
    deputy = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    secretary = signed_in(cabinet.office_secretary)
    # for someone who does not vote in this meeting, or for nobody
    assert_problem(check_in(secretary, cabinet.meeting, user_id=deputy.pk, mode="substitute", substitute_for=cabinet.guest.pk), 422, "invalid_meeting_data")
    assert_problem(check_in(secretary, cabinet.meeting, user_id=deputy.pk, mode="substitute"), 422, "invalid_meeting_data")
    # a member cannot declare themselves a substitute
    assert_problem(check_in(signed_in(cabinet.members[1]), cabinet.meeting, mode="substitute", substitute_for=cabinet.members[0].pk), 403, "forbidden")
    # unknown fields and modes are refused by the schema
    assert_problem(check_in(secretary, cabinet.meeting, mode="proxy"), 422, "validation_error")
    assert_problem(check_in(secretary, cabinet.meeting, mode="in_room", colour="red"), 422, "validation_error")
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(allow_substitutes=False)
    assert_problem(
        check_in(secretary, cabinet.meeting, user_id=deputy.pk, mode="substitute", substitute_for=cabinet.members[0].pk), 409, "substitutes_not_allowed"
    )
    assert not Attendance.objects.exists()


def test_check_out_and_check_in_again(cabinet):
    open_session(cabinet.meeting)
    client = signed_in(cabinet.members[0])
    assert_problem(post(client, f"{base(cabinet.meeting)}/attendance/check-out", {}), 409, "not_checked_in")
    check_in(client, cabinet.meeting)
    response = post(client, f"{base(cabinet.meeting)}/attendance/check-out", {})
    assert response.status_code == 200 and response.json()["present"] == []
    assert check_in(client, cabinet.meeting).status_code == 200
    assert Attendance.objects.filter(user=cabinet.members[0]).count() == 2
    assert_problem(post(signed_in(cabinet.members[1]), f"{base(cabinet.meeting)}/attendance/check-out", {"user_id": cabinet.members[0].pk}), 403, "forbidden")
    response = post(signed_in(cabinet.office_secretary), f"{base(cabinet.meeting)}/attendance/check-out", {"user_id": cabinet.members[0].pk})
    assert response.status_code == 200
    assert not Attendance.objects.filter(left_at__isnull=True).exists()
    assert AuditEntry.objects.filter(event=events.CHECKED_OUT).count() == 2


def test_rules_are_created_with_defaults_when_missing(cabinet):
    MeetingRules.objects.all().delete()
    open_session(cabinet.meeting)
    assert check_in(signed_in(cabinet.chair), cabinet.meeting).status_code == 200
    rules = MeetingRules.objects.get(organisation=cabinet.government)
    assert (rules.quorum_numerator, rules.quorum_denominator, rules.quorum_strictly_more) == (1, 2, True)
