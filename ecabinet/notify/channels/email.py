"""E-mail channel: multipart text + HTML, the meeting's .ics attached to invitations.

Nothing above ``public`` leaves by e-mail and never any document content: the message says what
happened and links back. The object's title is included only when the recipient asked for titles
AND the object is public or internal.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.utils import translation

from ecabinet.identity.models import Clearance
from ecabinet.notify.channels.base import PermanentError, TransientError
from ecabinet.notify.events import ICS_KINDS, LABELS
from ecabinet.notify.models import Notification, Preference


def site_url() -> str:
    return str(settings.SITE_URL).rstrip("/")


def title_allowed(notification: Notification, preference: Preference | None) -> bool:
    return bool(preference is not None and preference.email_titles and notification.level <= Clearance.INTERNAL and notification.title)


def check_address(address: str) -> None:
    if not address:
        raise PermanentError("no_address")
    try:
        validate_email(address)
    except ValidationError:
        raise PermanentError("invalid_address")


def _ics(notification: Notification) -> bytes | None:
    if notification.kind not in ICS_KINDS or notification.object_type != "meetings.meeting":
        return None
    from ecabinet.meetings import ics
    from ecabinet.meetings.models import Meeting

    meeting = Meeting.objects.filter(pk=notification.object_id).first()
    if meeting is None:
        return None
    domain = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "ecabinet.local"
    return ics.calendar([(meeting, site_url() + notification.url)], domain=domain)


def build(notification: Notification, preference: Preference | None) -> EmailMultiAlternatives:
    user = notification.recipient
    check_address(user.email)
    with translation.override(user.language or settings.LANGUAGE_CODE):
        label = str(LABELS.get(notification.kind, notification.kind))
        context: dict[str, Any] = {
            "user": user,
            "label": label,
            "title": notification.title if title_allowed(notification, preference) else "",
            "link": site_url() + f"/notify/{notification.pk}/open/",
            "urgent": notification.urgency == "urgent",
        }
        subject = f"[e-Cabinet] {label}"
        text = render_to_string("notify/email/notification.txt", context)
        html = render_to_string("notify/email/notification.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email])
    message.attach_alternative(html, "text/html")
    calendar = _ics(notification)
    if calendar is not None:
        message.attach("meeting.ics", calendar, "text/calendar; method=PUBLISH; charset=utf-8")
    return message


def build_digest(user: Any, notifications: list[Notification], preference: Preference | None) -> EmailMultiAlternatives:
    check_address(user.email)
    with translation.override(user.language or settings.LANGUAGE_CODE):
        lines = [
            {"label": str(LABELS.get(n.kind, n.kind)), "title": n.title if title_allowed(n, preference) else "", "link": site_url() + f"/notify/{n.pk}/open/"}
            for n in notifications
        ]
        context = {"user": user, "lines": lines, "link": site_url() + "/notify/"}
        subject = "[e-Cabinet] " + translation.gettext("Your daily summary")
        text = render_to_string("notify/email/digest.txt", context)
        html = render_to_string("notify/email/digest.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email])
    message.attach_alternative(html, "text/html")
    return message


def send(message: EmailMultiAlternatives) -> None:
    """Send one message; sort failures into retry-worthy and final ones."""
    try:
        connection = get_connection(fail_silently=False)
        sent = connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise TransientError(f"recipient deferred: {codes[0]}")
        raise PermanentError(f"recipient refused: {codes[0] if codes else '?'}")
    except smtplib.SMTPResponseException as exc:
        detail = f"smtp {exc.smtp_code}: {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"[:300]
        if 400 <= exc.smtp_code < 500:
            raise TransientError(detail)
        raise PermanentError(detail)
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError) as exc:
        raise TransientError(f"smtp connection: {exc.__class__.__name__}: {exc}"[:300])
    except smtplib.SMTPException as exc:
        raise TransientError(f"smtp: {exc}"[:300])
    except OSError as exc:
        raise TransientError(f"smtp connection: {exc}"[:300])
    if not sent:
        raise TransientError("the mail backend sent nothing")
