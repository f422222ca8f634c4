"""What the other apps' actions call to raise their notifications: one line at each source.

Each hook runs inside the caller's transaction, so the notifications commit (and leave) with the
change itself. Recipients are filtered again by ``notify`` through the object's permission.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps

from ecabinet.identity.models import Role, User
from ecabinet.notify import events
from ecabinet.notify.models import Urgency

TRANSITION_KINDS = {"schedule": events.MEETING_INVITATION, "publish": events.DOSSIER_PUBLISHED, "cancel": events.MEETING_CANCELLED}


def _on() -> bool:
    return apps.is_installed("ecabinet.notify")


def meeting_attendees(meeting: Any) -> list[User]:
    from ecabinet.meetings.models import Participant

    ids = set(Participant.objects.filter(meeting=meeting).values_list("user_id", flat=True)) | {meeting.chair_id}
    return list(User.objects.filter(pk__in=ids, is_active=True).select_related("organisation"))


def meeting_transition(meeting: Any, action: str, *, acting_user: Any) -> None:
    kind = TRANSITION_KINDS.get(action)
    if kind is None or not _on():
        return
    from ecabinet.notify.actions import notify

    recipients = [u for u in meeting_attendees(meeting) if u.pk != getattr(acting_user, "pk", None)]
    notify(kind, recipients=recipients, obj=meeting, urgency=Urgency.URGENT if action == "cancel" else Urgency.NORMAL, acting_user=acting_user)


def meeting_updated(meeting: Any, fields: list[str], *, acting_user: Any) -> None:
    from ecabinet.meetings.models import Meeting

    if not _on() or meeting.state not in (Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED):
        return
    if not set(fields) & {"starts_at", "planned_end", "place", "online_link", "title", "positions_deadline"}:
        return
    from ecabinet.notify.actions import notify

    recipients = [u for u in meeting_attendees(meeting) if u.pk != getattr(acting_user, "pk", None)]
    notify(events.MEETING_CHANGED, recipients=recipients, obj=meeting, acting_user=acting_user, context={"fields": sorted(fields)})


def task_assigned(task: Any, *, acting_user: Any) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    if task.assignee_id:
        people = [task.assignee]
    else:
        people = list(User.objects.filter(organisation_id=task.assignee_org_id, is_active=True, role__in=[Role.MEMBER, Role.SECRETARY]))
    notify(events.TASK_ASSIGNED, recipients=people, obj=task, acting_user=acting_user)


def minutes_submitted(minutes: Any, *, acting_user: Any) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    notify(events.MINUTES_READY, recipients=[minutes.meeting.chair], obj=minutes, acting_user=acting_user)


def device_registered(device: Any) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    notify(events.DEVICE_ENROLLED, recipients=[device.user], obj=device, acting_user=device.user, urgency=Urgency.URGENT)


def device_revoked(device: Any, *, acting_user: Any) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    notify(events.DEVICE_REVOKED, recipients=[device.user], obj=device, acting_user=acting_user)


def signed_in(user: Any, *, user_agent: str, session_id: int) -> None:
    """A sign-in from a browser never seen on this account before is a sign-in from a new device."""
    if not _on():
        return
    from ecabinet.identity.models import UserSession
    from ecabinet.notify.actions import notify

    seen_before = UserSession.objects.filter(user=user, user_agent=user_agent[:300]).exclude(pk=session_id).exists()
    first_ever = not UserSession.objects.filter(user=user).exclude(pk=session_id).exists()
    if seen_before or first_ever:
        return
    notify(events.NEW_DEVICE_SIGNIN, recipients=[user], obj=user, acting_user=user, urgency=Urgency.URGENT, context={"user_agent": user_agent[:120]})


def certificate_approved(certificate: Any, *, acting_user: Any) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    notify(events.DEVICE_ENROLLED, recipients=[certificate.user], obj=certificate.user, acting_user=acting_user, context={"certificate": certificate.pk})


def security_alert(alert: Any, *, acting_user: Any = None) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    officers = User.objects.filter(role=Role.SECURITY_OFFICER, is_active=True).select_related("organisation")
    urgency = Urgency.URGENT if alert.severity in ("high", "critical") else Urgency.NORMAL
    notify(events.SECURITY_ALERT, recipients=officers, obj=alert, urgency=urgency, acting_user=acting_user)


def _poll_voters(poll: Any) -> list[User]:
    from ecabinet.voting.models import PollVoter

    ids = PollVoter.objects.filter(poll=poll).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=list(ids), is_active=True).select_related("organisation"))


def poll_opened(poll: Any, *, acting_user: Any) -> None:
    """Voters are told a vote is open; a vote in session is urgent (it closes within minutes)."""
    if not _on():
        return
    from ecabinet.notify.actions import notify

    consultation = poll.item_id is None
    kind = events.CONSULTATION_OPENED if consultation else events.VOTE_OPENED
    urgency = Urgency.NORMAL if consultation else Urgency.URGENT
    recipients = [u for u in _poll_voters(poll) if u.pk != getattr(acting_user, "pk", None)]
    notify(kind, recipients=recipients, obj=poll, urgency=urgency, acting_user=acting_user)


def poll_closed(poll: Any, *, acting_user: Any) -> None:
    if not _on():
        return
    from ecabinet.notify.actions import notify

    recipients = [u for u in _poll_voters(poll) if u.pk != getattr(acting_user, "pk", None)]
    notify(events.VOTE_CLOSED, recipients=recipients, obj=poll, acting_user=acting_user, context={"state": poll.state})
