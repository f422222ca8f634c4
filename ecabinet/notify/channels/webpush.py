"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291), via
pywebpush. The VAPID key pair is made in KEY_DIR on first use.

The payload says what happened and links back; a title only under the e-mail rule (recipient's
choice and public/internal object), never content.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.utils import timezone, translation
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from ecabinet.notify.channels.base import PermanentError, TransientError
from ecabinet.notify.channels.email import title_allowed
from ecabinet.notify.events import LABELS
from ecabinet.notify.models import Notification, Preference, PushSubscription

_lock = threading.Lock()


def _key_path() -> Path:
    return Path(settings.KEY_DIR) / "vapid" / "private.pem"


def vapid() -> Vapid02:
    path = _key_path()
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = Vapid02()
            key.generate_keys()
            pem = key.private_pem()
            # O_EXCL: two processes starting together keep one key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
    return Vapid02.from_file(str(path))


def public_key() -> str:
    """The applicationServerKey a browser subscribes with: the raw P-256 point, base64url."""
    raw = vapid().public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def payload(notification: Notification, preference: Preference | None) -> dict[str, Any]:
    with translation.override(notification.recipient.language or settings.LANGUAGE_CODE):
        label = str(LABELS.get(notification.kind, notification.kind))
    return {
        "title": "e-Cabinet",
        "body": label + (f": {notification.title}" if title_allowed(notification, preference) else ""),
        "url": f"/notify/{notification.pk}/open/",
        "tag": f"{notification.kind}:{notification.object_id}",
        "urgency": notification.urgency,
    }


def send_one(subscription: PushSubscription, data: dict[str, Any], *, urgency: str) -> None:
    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    headers = {"Urgency": "high" if urgency == "urgent" else "normal"}
    try:
        webpush(
            info,
            data=json.dumps(data),
            vapid_private_key=vapid(),
            vapid_claims={"sub": f"mailto:{settings.DEFAULT_FROM_EMAIL}"},
            ttl=24 * 3600,
            timeout=15,
            headers=headers,
        )
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 410):
            PushSubscription.objects.filter(pk=subscription.pk, revoked_at=None).update(revoked_at=timezone.now(), revoked_reason=f"gone ({status})")
            raise PermanentError(f"subscription gone ({status})")
        if status is not None and 400 <= status < 500 and status != 429:
            raise PermanentError(f"push service refused ({status})")
        raise TransientError(f"push service: {status or exc}"[:300])
    except OSError as exc:
        raise TransientError(f"push service unreachable: {exc}"[:300])


def send(notification: Notification, preference: Preference | None) -> str:
    subscriptions = list(PushSubscription.objects.filter(user_id=notification.recipient_id, revoked_at=None))
    if not subscriptions:
        raise PermanentError("no live subscription")
    data = payload(notification, preference)
    delivered, transient, permanent = 0, [], []
    for subscription in subscriptions:
        try:
            send_one(subscription, data, urgency=notification.urgency)
            delivered += 1
        except TransientError as exc:
            transient.append(str(exc))
        except PermanentError as exc:
            permanent.append(str(exc))
    if delivered:
        return f"{delivered} of {len(subscriptions)} subscriptions"
    if transient:
        raise TransientError("; ".join(transient)[:300])
    raise PermanentError("; ".join(permanent)[:300])
