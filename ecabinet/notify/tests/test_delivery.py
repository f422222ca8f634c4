"""The one way in and its channels, against a real SMTP server, push endpoint and SMS gateway."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import http_ece
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.meetings import actions as meeting_actions
from ecabinet.meetings.models import Meeting
from ecabinet.notify import actions, events
from ecabinet.notify.channels import sms
from ecabinet.notify.models import Delivery, Notification, Preference, PushSubscription
from ecabinet.notify.tasks import send_digests

pytestmark = pytest.mark.django_db(transaction=True)


def publish(cabinet: Any) -> None:
    cabinet.meeting.state = Meeting.State.SCHEDULED
    cabinet.meeting.save()
    meeting_actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)


def test_publishing_reaches_every_attendee_live_and_by_email_without_content(cabinet: Any, smtp: Any) -> None:
    layer = get_channel_layer()
    member = cabinet.members[0]
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{member.pk}", channel)
    publish(cabinet)
    expected = {cabinet.chair.pk, cabinet.guest.pk, *[m.pk for m in cabinet.members]}
    got = set(Notification.objects.filter(kind=events.DOSSIER_PUBLISHED).values_list("recipient_id", flat=True))
    assert got == expected  # the acting secretary is not told of her own act
    live = async_to_sync(layer.receive)(channel)
    assert live["event"]["type"] == "notification" and live["event"]["kind"] == events.DOSSIER_PUBLISHED and live["event"]["unread"] == 1
    mail = smtp.to(member.email)
    assert len(mail) == 1
    text = mail[0].get_payload()[0].get_payload(decode=True).decode()
    assert cabinet.meeting.title not in text and cabinet.meeting.title not in mail[0]["Subject"]
    assert "/notify/" in text
    assert {p.get_content_type() for p in mail[0].walk()} >= {"text/plain", "text/html"}
    assert Delivery.objects.filter(channel="email", state="sent").count() == len(expected)


def test_title_only_when_allowed_and_public_or_internal(cabinet: Any, smtp: Any) -> None:
    member = cabinet.members[0]
    Preference.objects.create(user=member, email_titles=True)
    publish(cabinet)
    assert cabinet.meeting.title in smtp.to(member.email)[0].get_payload()[0].get_payload(decode=True).decode()
    assert cabinet.meeting.title not in smtp.to(cabinet.members[1].email)[0].get_payload()[0].get_payload(decode=True).decode()


def test_confidential_meeting_reaches_only_the_cleared_and_never_its_title(cabinet: Any, smtp: Any) -> None:
    for user in [cabinet.chair, *cabinet.members[:3], cabinet.office_secretary]:
        user.clearance = Clearance.CONFIDENTIAL
        user.save()
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(classification=Clearance.CONFIDENTIAL)
    cabinet.meeting.refresh_from_db()
    Preference.objects.create(user=cabinet.members[0], email_titles=True)
    publish(cabinet)
    uncleared = cabinet.members[3]
    assert not Notification.objects.filter(recipient=uncleared).exists()
    assert smtp.to(uncleared.email) == []
    body = smtp.to(cabinet.members[0].email)[0].as_string()
    assert cabinet.meeting.title not in body


def test_invitation_carries_the_ics(cabinet: Any, smtp: Any) -> None:
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.DRAFT)
    cabinet.meeting.refresh_from_db()
    meeting_actions.schedule_meeting(cabinet.meeting, acting_user=cabinet.office_secretary)
    mail = smtp.to(cabinet.members[1].email)[0]
    ics = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert ics and b"BEGIN:VEVENT" in ics[0].get_payload(decode=True)


def test_smtp_refusal_fails_with_reason(cabinet: Any, smtp: Any) -> None:
    smtp.refuse = 554
    actions.notify(events.TASK_DUE, recipients=[cabinet.members[0]], obj=cabinet.meeting)
    delivery = Delivery.objects.get(channel="email")
    assert delivery.state == "failed" and "554" in delivery.reason and delivery.attempts == 1


def test_smtp_disappearing_is_retried_then_sent_or_failed(cabinet: Any, smtp: Any, settings: Any) -> None:
    smtp.drop = 1
    actions.notify(events.DOSSIER_PUBLISHED, recipients=[cabinet.members[0]], obj=cabinet.meeting)
    delivery = Delivery.objects.get(channel="email")
    assert delivery.state == "sent" and delivery.attempts == 2
    assert len(smtp.to(cabinet.members[0].email)) == 1
    settings.NOTIFY_MAX_ATTEMPTS = 3
    smtp.drop = 10
    actions.notify(events.DOSSIER_PUBLISHED, recipients=[cabinet.members[1]], obj=cabinet.meeting)
    failed = Delivery.objects.get(channel="email", notification__recipient=cabinet.members[1])
    assert failed.state == "failed" and failed.attempts == 3 and "after 3 attempts" in failed.reason
    assert smtp.to(cabinet.members[1].email) == []


def test_invalid_address_fails_without_sending(cabinet: Any, smtp: Any) -> None:
    member = cabinet.members[0]
    member.email = "not-an-address"
    member.save()
    actions.notify(events.DOSSIER_PUBLISHED, recipients=[member], obj=cabinet.meeting)
    assert Delivery.objects.get(channel="email").reason == "invalid_address"
    assert smtp.messages == []


def test_digest_collects_non_urgent_mail_into_one(cabinet: Any, smtp: Any) -> None:
    member = cabinet.members[0]
    Preference.objects.create(user=member, digest=True)
    actions.notify(events.DOSSIER_PUBLISHED, recipients=[member], obj=cabinet.meeting)
    actions.notify(events.POSITIONS_DUE, recipients=[member], obj=cabinet.meeting)
    actions.notify(events.MEETING_CANCELLED, recipients=[member], obj=cabinet.meeting, urgency="urgent")
    assert len(smtp.to(member.email)) == 1  # only the urgent one went at once
    assert send_digests() == 1
    assert len(smtp.to(member.email)) == 2
    assert send_digests() == 0


def _subscription() -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, str]]:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return private, auth, {"p256dh": b64(point), "auth": b64(auth)}


def test_web_push_is_encrypted_for_the_subscription(cabinet: Any, http_sink: Any, settings: Any, tmp_path: Any) -> None:
    settings.KEY_DIR = tmp_path
    private, auth, keys = _subscription()
    seen: list[dict[str, Any]] = []

    def check(headers: dict[str, str], body: bytes) -> None:
        assert headers["content-encoding"] == "aes128gcm" and headers["authorization"].startswith("vapid ")
        seen.append(json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")))

    sink = http_sink(201, check)
    member = cabinet.members[0]
    actions.subscribe_push(acting_user=member, endpoint=sink.url + "/push/1", **keys)
    actions.notify(events.VOTE_CLOSING, recipients=[member], obj=cabinet.meeting, urgency="urgent")
    assert Delivery.objects.get(channel="webpush").state == "sent"
    assert seen and seen[0]["title"] == "e-Cabinet" and cabinet.meeting.title not in json.dumps(seen[0])


def test_web_push_410_removes_the_subscription(cabinet: Any, http_sink: Any, settings: Any, tmp_path: Any) -> None:
    settings.KEY_DIR = tmp_path
    _private, _auth, keys = _subscription()
    sink = http_sink(410)
    member = cabinet.members[0]
    sub = actions.subscribe_push(acting_user=member, endpoint=sink.url + "/gone", **keys)
    actions.notify(events.VOTE_CLOSING, recipients=[member], obj=cabinet.meeting, urgency="urgent")
    delivery = Delivery.objects.get(channel="webpush")
    assert delivery.state == "failed" and "410" in delivery.reason
    sub.refresh_from_db()
    assert sub.revoked_at is not None
    actions.notify(events.VOTE_CLOSING, recipients=[member], obj=cabinet.meeting, urgency="urgent")
    assert Delivery.objects.filter(channel="webpush").count() == 1  # no more pushes to a removed subscription


@pytest.mark.parametrize("bad", [{"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}, {"p256dh": "!!", "auth": "x"}])
def test_bad_push_subscription_is_refused(cabinet: Any, bad: dict[str, str]) -> None:
    from ecabinet.notify import errors

    with pytest.raises(errors.InvalidSubscription):
        actions.subscribe_push(acting_user=cabinet.members[0], endpoint="https://push.example/x", **bad)
    with pytest.raises(errors.InvalidSubscription):
        actions.subscribe_push(acting_user=cabinet.members[0], endpoint="ftp://push.example/x", **_subscription()[2])
    assert not PushSubscription.objects.exists()


def test_sms_goes_through_the_http_gateway_for_sign_in_alerts_only(cabinet: Any, http_sink: Any, settings: Any) -> None:
    sink = http_sink(200)
    settings.SMS_URL = sink.url + "/sms"
    member = cabinet.members[0]
    Preference.objects.create(user=member, sms_number="+84912345678", channels={events.DOSSIER_PUBLISHED: ["sms"]})
    actions.notify(events.DOSSIER_PUBLISHED, recipients=[member], obj=cabinet.meeting)
    assert sink.requests == []
    actions.notify(events.NEW_DEVICE_SIGNIN, recipients=[member], obj=member, urgency="urgent")
    assert len(sink.requests) == 1
    body = json.loads(sink.requests[0][2])
    assert body["to"] == "+84912345678" and body["text"].startswith("e-Cabinet")
    assert Delivery.objects.get(channel="sms").state == "sent"


def test_sms_console_adapter_by_default(cabinet: Any, settings: Any) -> None:
    settings.SMS_URL = None
    sms.ConsoleGateway.sent.clear()
    member = cabinet.members[0]
    Preference.objects.create(user=member, sms_number="+84912345678")
    actions.notify(events.MEETING_CANCELLED, recipients=[member], obj=cabinet.meeting, urgency="urgent")
    assert sms.ConsoleGateway.sent and sms.ConsoleGateway.sent[0][0] == "+84912345678"


def test_security_alerts_go_to_security_officers_only(cabinet: Any, smtp: Any) -> None:
    from ecabinet.security.actions import raise_alert

    officer = UserFactory(role=Role.SECURITY_OFFICER, organisation=cabinet.government)
    raise_alert("malware", severity="high", summary="EICAR", organisation=cabinet.ministry)
    assert set(Notification.objects.filter(kind=events.SECURITY_ALERT).values_list("recipient_id", flat=True)) == {officer.pk}


def test_unknown_kind_is_refused(cabinet: Any) -> None:
    from ecabinet.notify import errors

    with pytest.raises(errors.UnknownKind):
        actions.notify("nope", recipients=[cabinet.chair], obj=cabinet.meeting)
