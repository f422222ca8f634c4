"""API access (anonymous, wrong person, wrong role), receipts and nudges, chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.notify import actions, events
from ecabinet.notify.models import Message, Notification

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_gets_401_and_others_notifications_are_404(cabinet: Any, login_client: Any) -> None:
    assert Client().get("/api/v1/notifications").status_code == 401
    [n] = actions.notify(events.DOSSIER_PUBLISHED, recipients=[cabinet.members[0]], obj=cabinet.meeting)
    other = login_client(cabinet.members[1])
    assert other.post(f"/api/v1/notifications/{n.pk}/read", content_type="application/json").status_code == 404
    assert other.get("/api/v1/notifications").json() == []
    owner = login_client(cabinet.members[0])
    assert owner.get("/api/v1/notifications/unread-count").json() == {"unread": 1}
    assert owner.post(f"/api/v1/notifications/{n.pk}/read", content_type="application/json").json()["read_at"]
    assert owner.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
    page = owner.get("/notify/?unread=1")
    assert page.status_code == 200 and b"notify-list" in page.content


def test_preferences_validate_input(cabinet: Any, login_client: Any) -> None:
    client = login_client(cabinet.members[0])
    bad = client.put("/api/v1/notify/preferences", {"channels": {"dossier.published": ["pigeon"]}}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["code"] == "notify_invalid_preferences"
    bad = client.put("/api/v1/notify/preferences", {"sms_number": "0912"}, content_type="application/json")
    assert bad.status_code == 422
    ok = client.put("/api/v1/notify/preferences", {"channels": {"dossier.published": ["email"]}, "digest": True}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["digest"] is True


def test_secretary_sees_unread_members_and_nudges_once(cabinet: Any, login_client: Any, settings: Any) -> None:
    actions.notify(events.DOSSIER_PUBLISHED, recipients=cabinet.members, obj=cabinet.meeting)
    Notification.objects.filter(recipient=cabinet.members[0]).update(read_at=timezone.now())
    secretary = login_client(cabinet.office_secretary)
    rows = secretary.get(f"/api/v1/meetings/{cabinet.meeting.pk}/dossier/receipts").json()
    unread = {r["user_id"] for r in rows if r["kind"] == "member" and r["received_at"] and not r["opened_at"]}
    assert unread == {m.pk for m in cabinet.members[1:]}
    member = login_client(cabinet.members[1])
    assert member.get(f"/api/v1/meetings/{cabinet.meeting.pk}/dossier/receipts").status_code == 403
    assert member.post(f"/api/v1/meetings/{cabinet.meeting.pk}/dossier/nudge", content_type="application/json").status_code == 403
    outsider = UserFactory(role="secretary", organisation=GovernmentFactory())
    assert login_client(outsider).post(f"/api/v1/meetings/{cabinet.meeting.pk}/dossier/nudge", content_type="application/json").status_code == 404
    sent = secretary.post(f"/api/v1/meetings/{cabinet.meeting.pk}/dossier/nudge", content_type="application/json")
    assert sent.status_code == 200 and set(sent.json()["reminded"]) == unread
    again = secretary.post(f"/api/v1/meetings/{cabinet.meeting.pk}/dossier/nudge", content_type="application/json")
    assert again.status_code == 429 and again.json()["code"] == "notify_nudge_too_soon"
    assert b"nudge" in secretary.get(f"/notify/meetings/{cabinet.meeting.pk}/receipts/").content


def test_meeting_chat_is_live_encrypted_escaped_and_closed_to_outsiders(cabinet: Any, login_client: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    member, other = cabinet.members[0], cabinet.members[1]
    client = login_client(member)
    conv = client.post(f"/api/v1/meetings/{cabinet.meeting.pk}/conversation", content_type="application/json").json()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{other.pk}", channel)
    text = "<script>alert(1)</script> họp lúc 8h"
    posted = client.post(f"/api/v1/conversations/{conv['id']}/messages", {"text": text}, content_type="application/json")
    assert posted.status_code == 201
    live = async_to_sync(layer.receive)(channel)
    assert live["event"]["type"] == "message" and live["event"]["text"] == text
    stored = Message.objects.get()
    assert b"script" not in bytes(stored.sealed) and b"8h" not in bytes(stored.sealed)
    page = login_client(other).get(f"/notify/conversations/{conv['id']}/")
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content and b"<script>alert(1)" not in page.content
    # the ministry secretary is not a participant: the conversation does not exist for her
    outsider = login_client(cabinet.ministry_secretary)
    assert outsider.post(f"/api/v1/conversations/{conv['id']}/messages", {"text": "hi"}, content_type="application/json").status_code == 404
    assert outsider.get(f"/api/v1/conversations/{conv['id']}/messages").status_code == 404
    assert Client().get(f"/api/v1/conversations/{conv['id']}/messages").status_code == 401
    big = client.post(f"/api/v1/conversations/{conv['id']}/messages", {"text": "x" * 5000}, content_type="application/json")
    assert big.status_code == 413 and big.json()["code"] == "notify_message_too_long"
    assert client.post(f"/api/v1/conversations/{conv['id']}/messages", {"text": "  "}, content_type="application/json").status_code == 422
    assert Message.objects.count() == 1


def test_direct_conversation_only_within_the_government(cabinet: Any, login_client: Any) -> None:
    client = login_client(cabinet.members[0])
    stranger = UserFactory(role="member", organisation=GovernmentFactory())
    refused = client.post("/api/v1/conversations", {"members": [stranger.pk]}, content_type="application/json")
    assert refused.status_code == 422
    made = client.post("/api/v1/conversations", {"members": [cabinet.members[1].pk]}, content_type="application/json")
    assert made.status_code == 201 and made.json()["kind"] == "direct"
    assert login_client(cabinet.members[2]).get(f"/api/v1/conversations/{made.json()['id']}/messages").status_code == 404


def test_retention_purges_old_messages(cabinet: Any) -> None:
    admin = UserFactory(role="admin", organisation=cabinet.government)
    conv = actions.create_conversation(acting_user=cabinet.members[0], members=[cabinet.members[1]])
    old = actions.send_message(conv, acting_user=cabinet.members[0], text="old")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    actions.send_message(conv, acting_user=cabinet.members[1], text="new")
    from ecabinet import errors as base_errors

    with pytest.raises(base_errors.Forbidden):
        actions.set_retention(cabinet.government, days=30, acting_user=cabinet.members[0])
    actions.set_retention(cabinet.government, days=30, acting_user=admin)
    assert actions.purge_messages() == 1
    assert [actions.message_view(m, cabinet.members[0])["text"] for m in Message.objects.all()] == ["new"]
