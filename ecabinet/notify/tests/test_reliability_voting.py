"""Stale "sending" claims handed back after a worker stopped; the voting hooks and the
"polls closing" reminder (urgent, pushed to the voters who have not voted)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.notify import actions, events, reminders, targets
from ecabinet.notify.models import Delivery, Notification, ReminderSent
from ecabinet.notify.tasks import DIGEST_CLAIM, requeue_stale
from ecabinet.notify.tests.test_delivery import _subscription
from ecabinet.voting import actions as voting_actions
from ecabinet.voting.models import Poll
from ecabinet.voting.tests.conftest import cast

pytestmark = pytest.mark.django_db(transaction=True)


def _stuck(cabinet: Any, member: Any, *, minutes: int, attempts: int = 1, reason: str = "") -> Delivery:
    [notification] = actions.notify(events.TASK_ASSIGNED, recipients=[member], obj=cabinet.meeting)
    delivery = Delivery.objects.get(notification=notification, channel="email")
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING, attempts=attempts, reason=reason, updated_at=timezone.now() - timedelta(minutes=minutes)
    )
    return delivery


def test_stale_sending_is_requeued_and_sent_once(cabinet: Any, smtp: Any, settings: Any) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 3
    smtp.refuse = 550  # the first notify() fails its own sends; only the requeue below may send
    crashed = _stuck(cabinet, cabinet.members[0], minutes=30)
    busy = _stuck(cabinet, cabinet.members[1], minutes=1)  # a send still going on: left alone
    spent = _stuck(cabinet, cabinet.members[2], minutes=30, attempts=3)
    digest = _stuck(cabinet, cabinet.members[3], minutes=30, reason=DIGEST_CLAIM)
    smtp.refuse = None
    failures_before = AuditEntry.objects.filter(event=events.DELIVERY_FAILED).count()
    counts = requeue_stale()
    assert counts == {"queued": 1, "digest": 1, "failed": 1}
    states = dict(Delivery.objects.filter(pk__in=[crashed.pk, busy.pk, spent.pk, digest.pk]).values_list("pk", "state"))
    assert states == {crashed.pk: "sent", busy.pk: "sending", spent.pk: "failed", digest.pk: "digest"}
    assert len(smtp.to(cabinet.members[0].email)) == 1
    assert "worker stopped" in Delivery.objects.get(pk=spent.pk).reason
    assert AuditEntry.objects.filter(event=events.DELIVERY_FAILED).count() == failures_before + 1
    # idempotent: a second run (or a second scheduler) moves nothing and sends nothing more
    assert requeue_stale() == {"queued": 0, "digest": 0, "failed": 0}
    assert len(smtp.to(cabinet.members[0].email)) == 1
    assert AuditEntry.objects.filter(event=events.DELIVERY_FAILED).count() == failures_before + 1


def test_notify_schedule_is_in_the_beat() -> None:
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "ecabinet.notify.tasks.run_reminders",
        "ecabinet.notify.tasks.send_digests",
        "ecabinet.notify.tasks.purge_messages",
        "ecabinet.notify.tasks.requeue_stale",
    } <= tasks
    from ecabinet.celery import app

    assert app.conf.beat_schedule["notify-requeue-stale"]["task"] == "ecabinet.notify.tasks.requeue_stale"
    assert "ecabinet.notify.tasks.requeue_stale" in app.tasks


def test_poll_target_follows_the_voting_permission(voting: Any, item_poll: Poll) -> None:
    target = targets.lookup(item_poll)
    assert target is not None and target.title(item_poll) == item_poll.question
    assert target.can_see(voting.cabinet.members[0], item_poll)
    outsider = UserFactory(role="member", organisation=GovernmentFactory())
    assert not target.can_see(outsider, item_poll) and not target.can_see(AnonymousUser(), item_poll)
    assert actions.notify(events.VOTE_CLOSING, recipients=[outsider], obj=item_poll) == []


def test_opening_and_closing_a_vote_tells_the_voters(voting: Any, item_poll: Poll) -> None:
    chair = voting.cabinet.chair
    opened = set(Notification.objects.filter(kind=events.VOTE_OPENED, object_id=str(item_poll.pk)).values_list("recipient_id", flat=True))
    assert opened == {m.pk for m in voting.cabinet.members}  # the chair who opened it is not told
    assert set(Notification.objects.filter(kind=events.VOTE_OPENED).values_list("urgency", flat=True)) == {"urgent"}
    voting_actions.close_poll(item_poll, acting_user=chair)
    closed = set(Notification.objects.filter(kind=events.VOTE_CLOSED, object_id=str(item_poll.pk)).values_list("recipient_id", flat=True))
    assert closed == opened


def test_poll_closing_soon_pushes_to_those_who_have_not_voted(voting: Any, http_sink: Any, settings: Any, tmp_path: Any) -> None:
    settings.KEY_DIR = tmp_path
    cab = voting.cabinet
    poll = voting_actions.create_poll(question="Thông qua Nghị quyết?", item=cab.items[0], acting_user=cab.chair, deadline=timezone.now() + timedelta(hours=1))
    poll = voting_actions.open_poll(poll, acting_user=cab.chair)
    voted, waiting = voting.members[0], voting.members[1]
    cast(voted, poll)
    sink = http_sink(201)
    for n, voter in enumerate((voted, waiting)):
        actions.subscribe_push(acting_user=voter.user, endpoint=f"{sink.url}/push/{n}", **_subscription()[2])
    reminded = reminders.run()
    expected = {cab.chair.pk, *[m.pk for m in cab.members]} - {voted.user.pk}
    got = list(Notification.objects.filter(kind=events.VOTE_CLOSING, object_id=str(poll.pk)).values_list("recipient_id", flat=True))
    assert sorted(got) == sorted(expected) and reminded["polls_closing"] == len(expected)
    assert {n.urgency for n in Notification.objects.filter(kind=events.VOTE_CLOSING)} == {"urgent"}
    pushed = Delivery.objects.filter(channel="webpush", notification__kind=events.VOTE_CLOSING)
    assert [d.notification.recipient_id for d in pushed] == [waiting.user.pk] and pushed[0].state == "sent"
    assert [path for path, _h, _b in sink.requests] == ["/push/1"]
    assert reminders.run()["polls_closing"] == 0  # once per voter and window
    assert ReminderSent.objects.filter(kind=events.VOTE_CLOSING).count() == len(expected)


def test_one_event_to_many_tablets_on_one_server_loses_none() -> None:
    """Many recipients' WebSockets on one server process, one burst of in-app events: each one
    arrives. (With Redis, channels_redis counts capacity per process, not per WebSocket.)"""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from ecabinet.notify.channels import inapp
    from ecabinet.web.consumers import user_group

    layer = get_channel_layer()
    users = range(900_001, 900_401)

    async def join() -> list[str]:
        names = []
        for user_id in users:
            name = await layer.new_channel()
            await layer.group_add(user_group(user_id), name)
            names.append(name)
        return names

    async def drain(names: list[str]) -> list[int | None]:
        got: list[int | None] = []
        for name in names:
            try:
                message = await asyncio.wait_for(layer.receive(name), 10)
            except TimeoutError:  # dropped by the layer
                got.append(None)
                continue
            got.append(message["event"]["n"])
        for user_id, name in zip(users, names, strict=True):
            await layer.group_discard(user_group(user_id), name)
        return got

    names = async_to_sync(join)()
    inapp.send_to_groups([(user_id, {"type": "notification", "n": user_id}) for user_id in users])
    assert async_to_sync(drain)(names) == list(users)
