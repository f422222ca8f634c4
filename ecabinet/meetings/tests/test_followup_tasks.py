"""Follow-up tasks: assignment to a ministry and a person, progress by the assignee, overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, MinistryFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events, followup
from ecabinet.meetings.followup_tasks import list_overdue_tasks
from ecabinet.meetings.models import FollowUpTask, TaskUpdate
from ecabinet.meetings.tests.followup_helpers import decide, hold_session, patch, post, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(cabinet):
    hold_session(cabinet)
    decide(cabinet, cabinet.items[0])
    return cabinet


def tasks_url(cabinet, item=None) -> str:
    item = item or cabinet.items[0]
    return f"/api/v1/meetings/{cabinet.meeting.pk}/items/{item.pk}/tasks"


def body(cabinet, **overrides) -> dict:
    data = {
        "title": "Hoàn thiện dự thảo Nghị định, trình Thủ tướng ký ban hành",
        "assignee_org_id": cabinet.ministry.pk,
        "assignee_id": cabinet.members[0].pk,
        "due_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
    }
    data.update(overrides)
    return data


def make_task(cabinet, **overrides) -> FollowUpTask:
    response = post(signed_in(cabinet.office_secretary), tasks_url(cabinet), body(cabinet, **overrides))
    assert response.status_code == 201, response.content
    return FollowUpTask.objects.get(pk=response.json()["id"])


def make_overdue(task: FollowUpTask, days: int = 3) -> None:
    """Time passes: the due date is now behind us (set-up; the API refuses past due dates)."""
    FollowUpTask.objects.filter(pk=task.pk).update(due_date=timezone.localdate() - timedelta(days=days))


def test_office_secretary_assigns_a_task_to_a_ministry_and_person(decided):
    response = post(signed_in(decided.office_secretary), tasks_url(decided), body(decided))
    assert response.status_code == 201, response.content
    out = response.json()
    assert out["state"] == "open" and out["display_state"] == "open" and out["overdue"] is False
    assert out["assignee_org"] == {"id": decided.ministry.pk, "name": "Bộ Tài chính"}
    assert out["assignee"]["id"] == decided.members[0].pk and out["version"] == 1
    task = FollowUpTask.objects.get(pk=out["id"])
    assert task.decision.item == decided.items[0] and task.created_by == decided.office_secretary
    entry = AuditEntry.objects.get(event=events.TASK_CREATED)
    assert entry.object_id == str(task.pk) and entry.details["assignee_org"] == decided.ministry.pk


def test_chair_may_assign_to_a_ministry_alone(decided):
    response = post(signed_in(decided.chair), tasks_url(decided), body(decided, assignee_id=None))
    assert response.status_code == 201, response.content
    assert response.json()["assignee"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"due_date": "2001-01-01"}, "due_date"),
        ({"due_date": (timezone.localdate() - timedelta(days=1)).isoformat()}, "due_date"),
        ({"due_date": (timezone.localdate() + timedelta(days=4000)).isoformat()}, "due_date"),
        ({"assignee_org_id": 999_999}, "assignee_org_id"),
    ],
)
def test_invalid_due_dates_and_unknown_organisations_are_422(decided, overrides, field):
    response = post(signed_in(decided.office_secretary), tasks_url(decided), body(decided, **overrides))
    problem = assert_problem(response, 422, "invalid_task_data")
    assert problem["field"] == field
    assert not FollowUpTask.objects.exists()


def test_assignees_outside_the_ministry_or_government_are_422(decided):
    client = signed_in(decided.office_secretary)
    other_ministry = MinistryFactory(parent=decided.government, name="Bộ Y tế")
    foreign = MinistryFactory(parent=GovernmentFactory())
    uncleared = UserFactory(role=Role.MEMBER, organisation=decided.ministry, clearance=Clearance.PUBLIC)
    cases = [
        body(decided, assignee_org_id=other_ministry.pk),  # the minister is not of the Ministry of Health
        body(decided, assignee_org_id=foreign.pk, assignee_id=None),
        body(decided, assignee_org_id=decided.government.pk, assignee_id=None),  # the government itself
        body(decided, assignee_id=uncleared.pk),
        body(decided, assignee_id=decided.guest.pk),
    ]
    for case in cases:
        assert_problem(post(client, tasks_url(decided), case), 422, "invalid_task_data")
    assert not FollowUpTask.objects.exists()


def test_bad_bodies_and_items_without_decision(decided):
    client = signed_in(decided.office_secretary)
    assert_problem(post(client, tasks_url(decided), {**body(decided), "priority": "high"}), 422, "validation_error")
    assert_problem(post(client, tasks_url(decided), body(decided, due_date="31/12/2030")), 422, "validation_error")
    assert_problem(post(client, tasks_url(decided), body(decided, title="")), 422, "validation_error")
    assert_problem(post(client, tasks_url(decided, decided.items[1]), body(decided)), 409, "item_wrong_status")
    assert not FollowUpTask.objects.exists()


def test_wrong_roles_anonymous_and_outsiders(decided):
    for user in (decided.members[0], decided.ministry_secretary, decided.guest):
        assert_problem(post(signed_in(user), tasks_url(decided), body(decided)), 403, "forbidden")
    assert_problem(post(Client(), tasks_url(decided), body(decided)), 401, "not_authenticated")
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert_problem(post(signed_in(outsider), tasks_url(decided), body(decided)), 404, "not_found")
    assert not FollowUpTask.objects.exists()


def test_assignee_reports_progress_until_done(decided):
    task = make_task(decided)
    client = signed_in(decided.members[0])
    first = post(client, f"/api/v1/tasks/{task.pk}/updates", {"version": 1, "state": "in_progress", "comment": "Đã lấy ý kiến các bộ, ngành."})
    assert first.status_code == 201, first.content
    assert first.json()["state"] == "in_progress" and first.json()["version"] == 2
    done = post(client, f"/api/v1/tasks/{task.pk}/updates", {"version": 2, "state": "done", "comment": "Đã trình ký."})
    assert done.status_code == 201
    out = done.json()
    assert out["state"] == "done" and out["done_at"] is not None
    assert [u["comment"] for u in out["updates"]] == ["Đã lấy ý kiến các bộ, ngành.", "Đã trình ký."]
    assert TaskUpdate.objects.filter(task=task, user=decided.members[0]).count() == 2
    assert AuditEntry.objects.filter(event=events.TASK_UPDATED, object_id=str(task.pk)).count() == 2


def test_task_update_by_someone_else_is_refused(decided):
    task = make_task(decided)
    url = f"/api/v1/tasks/{task.pk}/updates"
    update = {"version": 1, "state": "done", "comment": "Xong"}
    # Another minister sees the task through the meeting, but it is not theirs.
    assert_problem(post(signed_in(decided.members[1]), url, update), 403, "forbidden")
    assert_problem(post(signed_in(decided.chair), url, update), 403, "forbidden")
    outsider = UserFactory(role=Role.MEMBER, organisation=MinistryFactory(parent=decided.government))
    assert_problem(post(signed_in(outsider), url, update), 404, "not_found")
    assert_problem(post(Client(), url, update), 401, "not_authenticated")
    task.refresh_from_db()
    assert task.state == "open" and not TaskUpdate.objects.exists()
    # The office may report on the ministry's behalf.
    assert post(signed_in(decided.office_secretary), url, update).status_code == 201


def test_ministry_people_report_on_a_task_given_to_the_ministry_alone(decided):
    task = make_task(decided, assignee_id=None)
    response = post(signed_in(decided.ministry_secretary), f"/api/v1/tasks/{task.pk}/updates", {"version": 1, "state": "in_progress", "comment": "Đang làm"})
    assert response.status_code == 201, response.content


def test_stale_version_empty_comment_and_unknown_fields(decided):
    task = make_task(decided)
    client = signed_in(decided.members[0])
    url = f"/api/v1/tasks/{task.pk}/updates"
    assert post(client, url, {"version": 1, "state": "in_progress", "comment": "Bắt đầu"}).status_code == 201
    assert_problem(post(client, url, {"version": 1, "state": "done", "comment": "Xong"}), 409, "stale_version")
    assert_problem(post(client, url, {"version": 2, "state": "done", "comment": ""}), 422, "validation_error")
    assert_problem(post(client, url, {"version": 2, "state": "done", "comment": "   "}), 422, "invalid_task_data")
    assert_problem(post(client, url, {"version": 2, "state": "finished", "comment": "Xong"}), 422, "validation_error")
    assert_problem(post(client, url, {"version": 2, "state": "done", "comment": "Xong", "percent": 100}), 422, "validation_error")
    task.refresh_from_db()
    assert task.state == "in_progress" and task.version == 2 and TaskUpdate.objects.count() == 1


def test_editing_a_task_checks_version_and_due_date(decided):
    task = make_task(decided)
    client = signed_in(decided.office_secretary)
    new_due = (timezone.localdate() + timedelta(days=60)).isoformat()
    response = patch(client, f"/api/v1/tasks/{task.pk}", {"version": 1, "due_date": new_due, "clear_assignee": True})
    assert response.status_code == 200, response.content
    assert response.json()["due_date"] == new_due and response.json()["assignee"] is None and response.json()["version"] == 2
    assert_problem(patch(client, f"/api/v1/tasks/{task.pk}", {"version": 1, "title": "Khác"}), 409, "stale_version")
    assert_problem(patch(client, f"/api/v1/tasks/{task.pk}", {"version": 2, "due_date": "2000-01-01"}), 422, "invalid_task_data")
    assert_problem(patch(signed_in(decided.members[0]), f"/api/v1/tasks/{task.pk}", {"version": 2, "title": "Khác"}), 403, "forbidden")
    task.refresh_from_db()
    assert task.due_date.isoformat() == new_due and task.title.startswith("Hoàn thiện")


def test_overdue_is_computed_and_listed(decided):
    late = make_task(decided, title="Báo cáo đánh giá tác động")
    on_time = make_task(decided, title="Tổng kết")
    finished = make_task(decided, title="Gửi văn bản")
    make_overdue(late)
    make_overdue(finished)
    FollowUpTask.objects.filter(pk=finished.pk).update(state=FollowUpTask.State.DONE)
    overdue_ids = [t["id"] for t in signed_in(decided.office_secretary).get("/api/v1/tasks/overdue").json()]
    assert overdue_ids == [late.pk]
    mine = signed_in(decided.members[0]).get("/api/v1/tasks/mine?overdue=true").json()
    assert [t["id"] for t in mine] == [late.pk] and mine[0]["display_state"] == "overdue" and mine[0]["state"] == "open"
    assert {t["id"] for t in signed_in(decided.members[0]).get("/api/v1/tasks/mine?overdue=false").json()} == {on_time.pk, finished.pk}
    # Someone from another ministry has none of them.
    other = UserFactory(role=Role.MEMBER, organisation=MinistryFactory(parent=decided.government))
    assert signed_in(other).get("/api/v1/tasks/overdue").json() == []
    assert signed_in(other).get("/api/v1/tasks/mine").json() == []
    # The daily job lists the same tasks, and running it twice changes nothing.
    assert list_overdue_tasks.delay().get() == [late.pk]
    assert list_overdue_tasks() == [late.pk]
    assert followup.overdue_tasks() == [late]


def test_my_tasks_cover_the_person_and_their_ministry(decided):
    personal = make_task(decided)
    ministry_wide = make_task(decided, assignee_id=None, title="Chỉ đạo các đơn vị thuộc Bộ")
    ids = {t["id"] for t in signed_in(decided.members[0]).get("/api/v1/tasks/mine").json()}
    assert ids == {personal.pk, ministry_wide.pk}
    # A confidential item's tasks leave the lists of those not cleared for it.
    decided.items[0].__class__.objects.filter(pk=decided.items[0].pk).update(classification=Clearance.CONFIDENTIAL)
    assert signed_in(decided.members[1]).get("/api/v1/tasks/mine").json() == []
    assert_problem(signed_in(decided.members[1]).get(f"/api/v1/tasks/{personal.pk}"), 404, "not_found")
    assert_problem(Client().get("/api/v1/tasks/mine"), 401, "not_authenticated")


def test_meeting_task_list_shows_the_office_every_task(decided):
    make_task(decided)
    decide(decided, decided.items[1], "Giao Bộ Tài chính chủ trì.")
    post(signed_in(decided.office_secretary), tasks_url(decided, decided.items[1]), body(decided, title="Việc thứ hai"))
    listed = signed_in(decided.office_secretary).get(f"/api/v1/meetings/{decided.meeting.pk}/tasks").json()
    assert len(listed) == 2
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert_problem(signed_in(outsider).get(f"/api/v1/meetings/{decided.meeting.pk}/tasks"), 404, "not_found")


def test_task_pages(decided):
    task = make_task(decided)
    make_overdue(task)
    minister = signed_in(decided.members[0])
    page = minister.get("/meetings/tasks/")
    assert page.status_code == 200
    html = page.content.decode()
    assert task.title in html and 'data-state="overdue"' in html
    detail = minister.get(f"/meetings/tasks/{task.pk}/")
    assert detail.status_code == 200 and "progress-form" in detail.content.decode()
    response = minister.post(f"/meetings/tasks/{task.pk}/", {"version": 1, "state": "done", "comment": "Đã hoàn thành"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == "done"
    # Another minister may read it (through the meeting) but gets no form, and a post changes nothing.
    other = signed_in(decided.members[1])
    assert "progress-form" not in other.get(f"/meetings/tasks/{task.pk}/").content.decode()
    other.post(f"/meetings/tasks/{task.pk}/", {"version": 2, "state": "open", "comment": "?"})
    task.refresh_from_db()
    assert task.state == "done"
    late = make_task(decided, title="Báo cáo chậm")
    make_overdue(late)
    office = signed_in(decided.office_secretary).get("/meetings/tasks/").content.decode()
    assert 'id="overdue-tasks"' in office and "Báo cáo chậm" in office
    outsider = UserFactory(role=Role.MEMBER, organisation=GovernmentFactory())
    assert signed_in(outsider).get(f"/meetings/tasks/{task.pk}/").status_code == 404
    assert Client().get("/meetings/tasks/").status_code == 302


def test_assigning_from_the_meeting_page(decided):
    client = signed_in(decided.office_secretary)
    item = decided.items[0]
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(
        f"/meetings/{decided.meeting.pk}/items/{item.pk}/tasks/new/",
        {f"t{item.pk}-title": "Rà soát văn bản", f"t{item.pk}-assignee_org": decided.ministry.pk, f"t{item.pk}-due_date": due},
    )
    assert response.status_code == 302
    assert FollowUpTask.objects.get().title == "Rà soát văn bản"
    refused = signed_in(decided.members[0]).post(
        f"/meetings/{decided.meeting.pk}/items/{item.pk}/tasks/new/",
        {f"t{item.pk}-title": "Khác", f"t{item.pk}-assignee_org": decided.ministry.pk, f"t{item.pk}-due_date": due},
    )
    assert refused.status_code == 302 and FollowUpTask.objects.count() == 1
