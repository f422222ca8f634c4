"""What a notification is about: who may see it, its title and level, and its link.

The owning app's permission function decides who may see an object; ``notify`` sends nothing
about an object to anyone it refuses. Apps register their object types here (or pass
``can_see`` to ``notify`` directly); the types that exist today are registered below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from ecabinet.identity.models import Clearance, Role


@dataclass(frozen=True)
class Target:
    can_see: Callable[[Any, Any], bool]
    title: Callable[[Any], str]
    level: Callable[[Any], int]
    url: Callable[[Any], str]


REGISTRY: dict[str, Target] = {}


def register(label: str, target: Target) -> None:
    REGISTRY[label] = target


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return "/"


def lookup(obj: Any) -> Target | None:
    if obj is None:
        return None
    _register_defaults()
    return REGISTRY.get(obj._meta.label_lower)


_defaults_done = False


def _register_defaults() -> None:
    global _defaults_done
    if _defaults_done:
        return
    _defaults_done = True
    from ecabinet.meetings import permissions as mp

    register(
        "meetings.meeting",
        Target(
            can_see=mp.can_see_meeting,
            title=lambda m: m.title,
            level=lambda m: m.classification,
            url=lambda m: _url("meetings:detail", m.pk),
        ),
    )
    register(
        "meetings.followuptask",
        Target(
            can_see=mp.can_see_task,
            title=lambda t: t.title,
            level=lambda t: max(t.decision.item.classification, t.decision.item.meeting.classification),
            url=lambda t: _url("followup:task", t.pk),
        ),
    )
    register(
        "meetings.minutes",
        Target(
            can_see=lambda user, minutes: mp.can_see_minutes(user, minutes) or mp.can_approve_minutes(user, minutes.meeting),
            title=lambda m: m.meeting.title,
            level=lambda m: mp.minutes_level(m.meeting),
            url=lambda m: _url("followup:minutes", m.meeting_id),
        ),
    )
    register(
        "identity.device",
        Target(
            can_see=lambda user, device: getattr(user, "pk", None) == device.user_id,
            title=lambda d: d.name,
            level=lambda d: Clearance.PUBLIC,
            url=lambda d: _url("web:sessions"),
        ),
    )
    register(
        "identity.user",
        Target(
            can_see=lambda user, subject: getattr(user, "pk", None) == subject.pk,
            title=lambda u: "",
            level=lambda u: Clearance.PUBLIC,
            url=lambda u: _url("web:sessions"),
        ),
    )

    def can_see_alert(user: Any, alert: Any) -> bool:
        if getattr(user, "role", None) != Role.SECURITY_OFFICER or not user.is_active:
            return False
        if alert.organisation_id is None:
            return True
        return user.organisation is not None and user.organisation.government.pk == alert.organisation_id

    register(
        "security.securityalert",
        Target(can_see=can_see_alert, title=lambda a: a.get_kind_display(), level=lambda a: Clearance.INTERNAL, url=lambda a: _url("audit:log")),
    )

    if apps.is_installed("ecabinet.voting"):
        # Registered here rather than in the voting app, so voting needs no import of notify.
        from ecabinet.voting import permissions as vp

        register(
            "voting.poll",
            Target(
                can_see=vp.can_see_poll,
                title=lambda p: p.question,
                level=lambda p: p.classification,
                url=lambda p: _url("voting:poll", p.pk),
            ),
        )
