"""Which channels one notification takes for one recipient. Pure: no Django, no database.

Rules, in order:
- in-app always (the notification centre is the record of what was sent);
- the recipient's choice for the kind, else the default for the kind;
- web push only to someone with a live subscription, SMS only to someone with a number and only
  for urgent events and sign-in alerts, whatever the preferences say;
- quiet hours hold back push and SMS unless the event is urgent;
- digest mode turns a non-urgent e-mail into a line of tomorrow's digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time

INAPP, EMAIL, WEBPUSH, SMS = "inapp", "email", "webpush", "sms"
ALL = (INAPP, EMAIL, WEBPUSH, SMS)
URGENT = "urgent"

DEFAULTS: dict[str, tuple[str, ...]] = {
    "meeting.invitation": (EMAIL, WEBPUSH),
    "meeting.changed": (EMAIL, WEBPUSH),
    "meeting.cancelled": (EMAIL, WEBPUSH, SMS),
    "meeting.reminder": (WEBPUSH,),
    "dossier.published": (EMAIL, WEBPUSH),
    "dossier.nudge": (EMAIL, WEBPUSH),
    "document.updated": (),
    "positions.due": (EMAIL, WEBPUSH),
    "vote.opened": (EMAIL, WEBPUSH),
    "vote.closing": (WEBPUSH, SMS),
    "vote.closed": (),
    "consultation.opened": (EMAIL, WEBPUSH),
    "consultation.due": (WEBPUSH, SMS),
    "task.assigned": (EMAIL,),
    "task.due": (EMAIL,),
    "task.overdue": (EMAIL,),
    "minutes.ready": (EMAIL, WEBPUSH),
    "security.alert": (EMAIL, WEBPUSH, SMS),
    "device.enrolled": (EMAIL,),
    "device.revoked": (EMAIL,),
    "signin.new_device": (EMAIL, WEBPUSH, SMS),
}


@dataclass(frozen=True)
class Prefs:
    channels: Mapping[str, Iterable[str]] = field(default_factory=dict)
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: bool = False


@dataclass(frozen=True)
class Choice:
    channels: frozenset[str]
    digest_email: bool = False


def in_quiet_hours(now: time, start: time | None, end: time | None) -> bool:
    """Quiet hours may cross midnight (22:00–07:00)."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def choose(kind: str, urgency: str, prefs: Prefs, *, local_time: time, has_push: bool, has_sms: bool, sms_kinds: frozenset[str]) -> Choice:
    wanted = set(prefs.channels.get(kind, DEFAULTS.get(kind, ())))
    wanted &= set(ALL)
    wanted.add(INAPP)
    urgent = urgency == URGENT
    if not has_push:
        wanted.discard(WEBPUSH)
    if not has_sms or not (urgent or kind in sms_kinds):
        wanted.discard(SMS)
    if not urgent and in_quiet_hours(local_time, prefs.quiet_start, prefs.quiet_end):
        wanted -= {WEBPUSH, SMS}
    return Choice(frozenset(wanted), digest_email=EMAIL in wanted and prefs.digest and not urgent)
