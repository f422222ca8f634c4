"""Delivery and scheduled work. Tasks take ids, re-read, are idempotent, and retry with backoff.

A delivery is claimed by a conditional update (queued → sending) so two workers never send it
twice; each failed attempt is recorded with its reason, retried after 30 s, 1 min, 2 min… up to
``NOTIFY_MAX_ATTEMPTS``, and then marked failed with the last reason: never dropped silently.
A worker that dies mid-send leaves its claim "sending"; ``requeue_stale`` (periodic) hands such
claims back after ``NOTIFY_STALE_MINUTES``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.notify import events, targets
from ecabinet.notify.channels.base import PermanentError, TransientError
from ecabinet.notify.models import Channel, Delivery, Notification, Preference

log = logging.getLogger(__name__)


def backoff(attempt: int) -> int:
    return int(min(3600, 30 * 2 ** max(0, attempt - 1)))


def _still_visible(notification: Notification) -> bool:
    """Re-check at send time: access may have been withdrawn since the event."""
    user = notification.recipient
    if not user.is_active:
        return False
    if not notification.object_type:
        return True
    try:
        model = apps.get_model(notification.object_type)
    except (LookupError, ValueError):
        return False
    obj = model.objects.filter(pk=notification.object_id).first()
    target = targets.lookup(obj) if obj is not None else None
    if obj is None or target is None:
        # The object is gone: only account notices (about the user themself) still make sense.
        return notification.object_type in ("identity.user", "identity.device") and obj is not None
    return target.can_see(user, obj)


def _send(delivery: Delivery) -> str:
    from ecabinet.notify.channels import email, sms, webpush

    notification = delivery.notification
    if not _still_visible(notification):
        raise PermanentError("recipient may no longer see the object")
    preference = Preference.objects.filter(user_id=notification.recipient_id).first()
    if delivery.channel == Channel.EMAIL:
        email.send(email.build(notification, preference))
        return "accepted by the mail server"
    if delivery.channel == Channel.WEBPUSH:
        return webpush.send(notification, preference)
    if delivery.channel == Channel.SMS:
        if preference is None or not preference.sms_number:
            raise PermanentError("no SMS number")
        from ecabinet.notify.channels.inapp import label

        return sms.gateway().send(preference.sms_number, f"e-Cabinet: {label(notification.kind, notification.recipient.language)}")
    raise PermanentError(f"channel {delivery.channel} is not delivered by a task")


def attempt(delivery_id: int) -> str | None:
    """One attempt; returns the new state, or None if someone else holds the delivery."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, state=Delivery.State.QUEUED).update(
        state=Delivery.State.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("notification__recipient").get(pk=delivery_id)
    try:
        note = _send(delivery)
    except TransientError as exc:
        if delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            return _fail(delivery, f"{exc} (after {delivery.attempts} attempts)")
        Delivery.objects.filter(pk=delivery_id).update(state=Delivery.State.QUEUED, reason=str(exc)[:300], updated_at=timezone.now())
        deliver.apply_async((delivery_id,), countdown=backoff(delivery.attempts))
        return Delivery.State.QUEUED
    except PermanentError as exc:
        return _fail(delivery, str(exc))
    except Exception as exc:  # a bug must not leave the delivery "sending" for ever
        log.exception("delivery %s crashed", delivery_id)
        return _fail(delivery, f"error: {exc.__class__.__name__}")
    Delivery.objects.filter(pk=delivery_id).update(state=Delivery.State.SENT, sent_at=timezone.now(), updated_at=timezone.now(), reason=note[:300])
    return Delivery.State.SENT


def _fail(delivery: Delivery, reason: str) -> str:
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED, reason=reason[:300], updated_at=timezone.now())
    log.warning("delivery %s (%s to user %s) failed: %s", delivery.pk, delivery.channel, delivery.notification.recipient_id, reason)
    record(
        events.DELIVERY_FAILED,
        obj=delivery.notification,
        details={"delivery": delivery.pk, "channel": delivery.channel, "attempts": delivery.attempts, "reason": reason[:300]},
    )
    return Delivery.State.FAILED


@shared_task(name="ecabinet.notify.tasks.deliver", acks_late=True)
def deliver(delivery_id: int) -> str | None:
    return attempt(delivery_id)


@shared_task(name="ecabinet.notify.tasks.deliver_batch", acks_late=True)
def deliver_batch(delivery_ids: list[int]) -> int:
    """Several deliveries in one task (a large event); each keeps its own retries."""
    return sum(1 for delivery_id in delivery_ids if attempt(delivery_id) == Delivery.State.SENT)


# Marks a digest claim, so a stale one goes back to the digest and not to the single-send queue.
DIGEST_CLAIM = "sending in the daily digest"


@shared_task(name="ecabinet.notify.tasks.send_digests")
def send_digests() -> int:
    """One e-mail per user of what waited for the digest; urgent things never wait."""
    from ecabinet.notify.channels import email

    waiting: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in Delivery.objects.filter(state=Delivery.State.DIGEST, channel=Channel.EMAIL).select_related("notification__recipient").order_by("pk"):
        waiting[delivery.notification.recipient_id].append(delivery)
    sent = 0
    for user_id, deliveries in waiting.items():
        ids = [d.pk for d in deliveries]
        claimed = Delivery.objects.filter(pk__in=ids, state=Delivery.State.DIGEST).update(
            state=Delivery.State.SENDING, attempts=F("attempts") + 1, reason=DIGEST_CLAIM, updated_at=timezone.now()
        )
        if claimed != len(ids):  # another scheduler took some of them; leave them to it
            Delivery.objects.filter(pk__in=ids, state=Delivery.State.SENDING).update(state=Delivery.State.DIGEST)
            continue
        visible = [d.notification for d in deliveries if _still_visible(d.notification)]
        user = deliveries[0].notification.recipient
        try:
            if visible:
                email.send(email.build_digest(user, visible, Preference.objects.filter(user_id=user_id).first()))
        except TransientError as exc:
            Delivery.objects.filter(pk__in=ids).update(state=Delivery.State.DIGEST, reason=str(exc)[:300])
            continue
        except PermanentError as exc:
            Delivery.objects.filter(pk__in=ids).update(state=Delivery.State.FAILED, reason=str(exc)[:300], updated_at=timezone.now())
            continue
        Delivery.objects.filter(pk__in=ids).update(state=Delivery.State.SENT, sent_at=timezone.now(), updated_at=timezone.now(), reason="daily digest")
        sent += 1
    return sent


@shared_task(name="ecabinet.notify.tasks.run_reminders")
def run_reminders() -> dict[str, int]:
    from ecabinet.notify import reminders

    return reminders.run()


@shared_task(name="ecabinet.notify.tasks.purge_messages")
def purge_messages() -> int:
    from ecabinet.notify.actions import purge_messages as purge

    return purge()


@shared_task(name="ecabinet.notify.tasks.requeue_stale")
def requeue_stale(minutes: int | None = None) -> dict[str, int]:
    """Hand back deliveries left "sending" longer than ``minutes`` (a worker died mid-send).

    A single send goes back to the queue and is dispatched again, unless it has used all its
    attempts (then it fails with the reason, as a send that kept failing would); a digest claim goes
    back to wait for the digest. Each row moves by a conditional update, so running this twice, or
    on two schedulers, moves each once; a delivery that is merely slow is younger than the cutoff.
    """
    now = timezone.now()
    cutoff = now - timedelta(minutes=settings.NOTIFY_STALE_MINUTES if minutes is None else minutes)
    stale = Delivery.objects.filter(state=Delivery.State.SENDING, updated_at__lt=cutoff)
    counts = {"queued": 0, "digest": 0, "failed": 0}
    requeued: list[int] = []
    for delivery in stale.select_related("notification").order_by("pk"):
        still = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING, updated_at__lt=cutoff)
        if delivery.reason == DIGEST_CLAIM:
            counts["digest"] += still.update(state=Delivery.State.DIGEST, reason="requeued: the worker stopped during the digest", updated_at=now)
        elif delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            if still.update(updated_at=now):  # claim the row so a second run does not fail it twice
                _fail(delivery, f"the worker stopped during the last attempt (after {delivery.attempts} attempts)")
                counts["failed"] += 1
        elif still.update(state=Delivery.State.QUEUED, reason="requeued: the worker stopped during the send", updated_at=now):
            requeued.append(delivery.pk)
            counts["queued"] += 1
    if requeued:
        transaction.on_commit(lambda: [deliver.delay(pk) for pk in requeued])
    if any(counts.values()):
        log.warning("requeued stale deliveries: %s", counts)
    return counts
