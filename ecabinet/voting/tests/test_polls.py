"""Polls: who creates, opens, closes and sees them; written consultations and their deadline;
live events on the meeting channel; the vote in the minutes; the tablet pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit.models import AuditEntry
from ecabinet.meetings import minutes
from ecabinet.meetings.models import Meeting
from ecabinet.voting import actions, events, tasks
from ecabinet.voting.models import Poll
from ecabinet.voting.tests.conftest import cast

pytestmark = pytest.mark.django_db


def api(voter, method: str, path: str, body=None):
    client = Client()
    call = getattr(client, method)
    if method == "post" and body is None:
        body = {}
    return call(f"/api/v1{path}", body, content_type="application/json", **voter.auth()) if body is not None else call(f"/api/v1{path}", **voter.auth())


def test_the_chair_creates_opens_and_closes_an_item_vote_through_the_api(voting):
    chair = voting.chair
    created = api(chair, "post", "/polls", {"question": "Thông qua tờ trình?", "item_id": voting.cabinet.items[0].pk, "rule": "absolute"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "draft" and body["roll_call"] is True and body["eligible"] == 5 and body["statement"]["roll_call"] is True
    assert [o["key"] for o in body["options"]] == ["approve", "reject", "abstain"]
    assert api(chair, "post", f"/polls/{body['id']}/open").json()["state"] == "open"
    poll = Poll.objects.get(pk=body["id"])
    for member in voting.members[:3]:
        cast(member, poll, "approve")
    closed = api(chair, "post", f"/polls/{body['id']}/close").json()
    assert closed["state"] == "closed" and closed["result"]["tally"]["outcome"] == "adopted" and closed["result_signature"]
    assert [e.event for e in AuditEntry.objects.filter(event__startswith="voting.poll")] == [events.POLL_CREATED, events.POLL_OPENED, events.POLL_CLOSED]


def test_members_guests_and_strangers_cannot_run_votes(voting, make_user):
    member = voting.members[0]
    item = voting.cabinet.items[0]
    response = api(member, "post", "/polls", {"question": "Tự mở?", "item_id": item.pk})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    poll = actions.create_poll(question="Q?", item=item, acting_user=voting.cabinet.chair)
    assert api(member, "post", f"/polls/{poll.pk}/open").status_code == 403
    assert Poll.objects.get(pk=poll.pk).state == "draft"
    consultation = api(member, "post", "/polls", {"question": "?", "voter_ids": [member.user.pk], "deadline": (timezone.now() + timedelta(days=1)).isoformat()})
    assert consultation.status_code == 403
    assert Client().post("/api/v1/polls", {"question": "?"}, content_type="application/json").status_code == 401


def test_an_item_vote_opens_only_in_session(voting):
    Meeting.objects.filter(pk=voting.cabinet.meeting.pk).update(state=Meeting.State.SCHEDULED)
    poll = actions.create_poll(question="Q?", item=voting.cabinet.items[0], acting_user=voting.cabinet.chair)
    response = api(voting.chair, "post", f"/polls/{poll.pk}/open")
    assert response.status_code == 409 and response.json()["code"] == "poll_wrong_state"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"question": " "}, "question"),
        ({"question": "Q", "rule": "most"}, "majority rule"),
        ({"question": "Q", "quorum": [3, 2]}, "quorum"),
        ({"question": "Q", "options": [{"key": "only", "label": "Only"}]}, "between 2 and 20"),
        ({"question": "Q", "options": [{"key": "A B", "label": "x"}, {"key": "b", "label": "y"}]}, "Option keys"),
        ({"question": "Q", "options": [{"key": "abstain", "label": "x"}, {"key": "abstain", "label": "y"}]}, "Option keys"),
    ],
)
def test_invalid_poll_definitions_are_refused(voting, body, detail):
    response = api(voting.chair, "post", "/polls", {**body, "item_id": voting.cabinet.items[0].pk})
    assert response.status_code == 422 and response.json()["code"] == "poll_invalid" and detail in response.json()["detail"]
    assert Poll.objects.count() == 0


def test_a_written_consultation_closes_at_its_deadline_idempotently(voting):
    chair = voting.cabinet.chair
    voters = [m.user.pk for m in voting.members]
    response = api(
        voting.chair,
        "post",
        "/polls",
        {
            "question": "Ý kiến về dự thảo Luật?",
            "voter_ids": voters,
            "deadline": (timezone.now() + timedelta(hours=2)).isoformat(),
            "options": [{"key": "agree", "label": "Đồng ý"}, {"key": "object", "label": "Không đồng ý"}, {"key": "abstain", "label": "Không có ý kiến"}],
            "quorum": [2, 3],
        },
    )
    assert response.status_code == 201, response.content
    poll = Poll.objects.get(pk=response.json()["id"])
    assert poll.kind == "consultation" and poll.meeting is None and poll.voters.count() == 4
    actions.open_poll(poll, acting_user=chair)
    cast(voting.members[0], poll, "agree")
    cast(voting.members[1], poll, "agree")
    cast(voting.members[2], poll, "object")
    assert tasks.close_poll_at_deadline(poll.pk) is False  # before the deadline: nothing happens
    assert Poll.objects.get(pk=poll.pk).state == "open"
    Poll.objects.filter(pk=poll.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert tasks.close_due_polls() == [poll.pk]
    assert tasks.close_due_polls() == [] and tasks.close_poll_at_deadline(poll.pk) is True
    poll.refresh_from_db()
    assert poll.state == "closed" and poll.closed_by is None and poll.result["tally"]["winner"] == "agree" and poll.result["tally"]["outcome"] == "decided"
    assert AuditEntry.objects.filter(event=events.POLL_CLOSED).count() == 1
    assert AuditEntry.objects.get(event=events.POLL_CLOSED).details["by"] == "deadline"


def test_consultation_voters_must_be_members_of_the_government(voting, make_user):
    stranger = make_user()  # another government
    response = api(
        voting.chair,
        "post",
        "/polls",
        {"question": "?", "voter_ids": [voting.members[0].user.pk, stranger.pk], "deadline": (timezone.now() + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 422 and response.json()["code"] == "poll_invalid"
    no_deadline = api(voting.chair, "post", "/polls", {"question": "?", "voter_ids": [voting.members[0].user.pk]})
    assert no_deadline.status_code == 422


def test_live_results_go_to_the_chair_and_turnout_to_everyone(voting, item_poll, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("ecabinet.meetings.broadcast.publish", lambda meeting_id, kind, data, **kw: sent.append((kind, data, kw)))
    with django_capture_on_commit_callbacks(execute=True):
        cast(voting.members[0], item_poll, "reject")
    kind, data, options = sent[-1]
    assert kind == events.LIVE_BALLOT and data["cast"] == 1 and "counts" not in data
    assert options == {"min_level": item_poll.classification, "item_id": item_poll.item_id}
    member_view = api(voting.members[1], "get", f"/polls/{item_poll.pk}/results").json()
    assert member_view["cast"] == 1 and member_view["counts"] is None and member_view["roll_call"] is None
    chair_view = api(voting.chair, "get", f"/polls/{item_poll.pk}/results").json()
    assert chair_view["counts"]["reject"] == 1 and chair_view["roll_call"][0]["voter"] == voting.members[0].user.pk
    actions.close_poll(item_poll, acting_user=voting.cabinet.chair)
    assert sent[-1][0] == events.LIVE_CLOSED and sent[-1][1]["tally"]["counts"]["reject"] == 1
    assert api(voting.members[1], "get", f"/polls/{item_poll.pk}/results").json()["counts"]["reject"] == 1


def test_public_results_are_pushed_to_all(voting, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("ecabinet.meetings.broadcast.publish", lambda meeting_id, kind, data, **kw: sent.append((kind, data)))
    chair = voting.cabinet.chair
    poll = actions.open_poll(
        actions.create_poll(question="Công khai?", item=voting.cabinet.items[2], results_public=True, acting_user=chair), acting_user=chair
    )
    with django_capture_on_commit_callbacks(execute=True):
        cast(voting.members[0], poll, "approve")
    assert sent[-1][1]["counts"] == {"approve": 1, "reject": 0, "abstain": 0}


def test_the_closed_vote_appears_in_the_items_minutes(voting, item_poll):
    for member in voting.members:
        cast(member, item_poll, "approve")
    actions.close_poll(item_poll, acting_user=voting.cabinet.chair)
    text = minutes.draft_text(voting.cabinet.meeting, language="en")
    assert "Vote (signed, roll-call) — Thông qua Dự thảo Nghị định?" in text
    assert "Adopted" in text and "4/5" in text


def test_tablet_pages(voting, item_poll, login_client, make_user):
    member = login_client(voting.members[0].user)
    page = member.get(f"/voting/{item_poll.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="ballot-form"' in html and 'id="roll-call-notice"' in html and item_poll.statement_sha256 in html and 'id="close-poll"' not in html
    assert voting.members[0].certificate.fingerprint in html
    chair = login_client(voting.cabinet.chair)
    assert 'id="close-poll"' in chair.get(f"/voting/{item_poll.pk}/").content.decode()
    listing = member.get("/voting/").content.decode()
    assert f'data-poll="{item_poll.pk}"' in listing
    stranger = login_client(make_user())  # another government
    assert stranger.get(f"/voting/{item_poll.pk}/").status_code == 404
    assert Client().get(f"/voting/{item_poll.pk}/").status_code == 302


def test_openapi_describes_the_voting_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/polls/{poll_id}/ballots" in paths and "/api/v1/polls/{poll_id}/ballots/{ballot_sha256}/receipt" in paths
