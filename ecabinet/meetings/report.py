"""Measured efficiency: planned against actual time, consent adoption, time on speakers, and the
reduction against the organisation's baseline meeting length (the aim: at least 30 % shorter).

The figures are pure functions of plain inputs (``ItemInput``, ``meeting_figures``,
``summarise``); ``meeting_report`` and ``organisation_report`` read the database and keep to what
the user may see, so hidden items never enter a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from ecabinet.meetings import permissions
from ecabinet.meetings.models import AgendaItem, Meeting, SpeakerRequest

AIM_REDUCTION_PERCENT = 30.0


@dataclass(frozen=True)
class ItemInput:
    item_id: int
    order: int
    title: str
    planned_minutes: int
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    speaker_seconds: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ItemFigures:
    item_id: int
    order: int
    title: str
    planned_minutes: int
    actual_minutes: float | None
    difference_minutes: float | None
    over_time: bool
    by_consent: bool
    outcome: str
    speakers: int
    speaker_minutes: float

    @property
    def outcome_label(self) -> str:
        """The outcome in the reader's language (the API keeps the stable code in ``outcome``)."""
        return str(AgendaItem.Outcome(self.outcome).label) if self.outcome in AgendaItem.Outcome.values else self.outcome


@dataclass(frozen=True)
class MeetingFigures:
    meeting_id: int
    title: str
    planned_minutes: int
    actual_minutes: float | None
    baseline_minutes: int
    reduction_percent: float | None
    aim_percent: float
    aim_met: bool | None
    items_total: int
    items_by_consent: int
    consent_share_percent: float | None
    items_planned_minutes: int
    items_actual_minutes: float
    speaker_minutes: float
    speaker_share_percent: float | None
    items: list[ItemFigures]


@dataclass(frozen=True)
class OrganisationSummary:
    meetings: int
    baseline_minutes: int
    average_actual_minutes: float | None
    average_planned_minutes: float | None
    average_reduction_percent: float | None
    meetings_meeting_aim: int
    aim_percent: float
    items_total: int
    items_by_consent: int
    consent_share_percent: float | None
    speaker_minutes: float


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


def _share(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def reduction_percent(baseline_minutes: int, actual_minutes: float | None) -> float | None:
    """How much shorter than the baseline, in percent (negative when longer)."""
    if actual_minutes is None or baseline_minutes <= 0:
        return None
    return round(100 * (baseline_minutes - actual_minutes) / baseline_minutes, 1)


def item_figures(item: ItemInput, *, now: datetime | None = None) -> ItemFigures:
    actual: float | None = None
    if item.started_at is not None:
        end = item.ended_at or now or timezone.now()
        actual = _minutes((end - item.started_at).total_seconds())
    difference = round(actual - item.planned_minutes, 1) if actual is not None else None
    return ItemFigures(
        item_id=item.item_id,
        order=item.order,
        title=item.title,
        planned_minutes=item.planned_minutes,
        actual_minutes=actual,
        difference_minutes=difference,
        over_time=difference is not None and difference > 0,
        by_consent=item.outcome == AgendaItem.Outcome.ADOPTED_BY_CONSENT,
        outcome=item.outcome,
        speakers=len(item.speaker_seconds),
        speaker_minutes=_minutes(sum(item.speaker_seconds)),
    )


def meeting_figures(
    *,
    meeting_id: int,
    title: str,
    planned_minutes: int,
    actual_seconds: float | None,
    baseline_minutes: int,
    items: list[ItemInput],
    now: datetime | None = None,
) -> MeetingFigures:
    figures = [item_figures(item, now=now) for item in sorted(items, key=lambda i: (i.order, i.item_id))]
    actual = _minutes(actual_seconds) if actual_seconds is not None else None
    reduction = reduction_percent(baseline_minutes, actual)
    by_consent = sum(1 for f in figures if f.by_consent)
    speaker_minutes = round(sum(f.speaker_minutes for f in figures), 1)
    return MeetingFigures(
        meeting_id=meeting_id,
        title=title,
        planned_minutes=planned_minutes,
        actual_minutes=actual,
        baseline_minutes=baseline_minutes,
        reduction_percent=reduction,
        aim_percent=AIM_REDUCTION_PERCENT,
        aim_met=None if reduction is None else reduction >= AIM_REDUCTION_PERCENT,
        items_total=len(figures),
        items_by_consent=by_consent,
        consent_share_percent=_share(by_consent, len(figures)),
        items_planned_minutes=sum(f.planned_minutes for f in figures),
        items_actual_minutes=round(sum(f.actual_minutes or 0 for f in figures), 1),
        speaker_minutes=speaker_minutes,
        speaker_share_percent=_share(speaker_minutes, actual) if actual else None,
        items=figures,
    )


def summarise(meetings: list[MeetingFigures], *, baseline_minutes: int) -> OrganisationSummary:
    """Averages over held meetings (those with an actual length), against the current baseline."""
    held = [m for m in meetings if m.actual_minutes is not None]
    average_actual = round(sum(m.actual_minutes or 0 for m in held) / len(held), 1) if held else None
    items_total = sum(m.items_total for m in meetings)
    by_consent = sum(m.items_by_consent for m in meetings)
    reductions = [reduction_percent(baseline_minutes, m.actual_minutes) for m in held]
    return OrganisationSummary(
        meetings=len(meetings),
        baseline_minutes=baseline_minutes,
        average_actual_minutes=average_actual,
        average_planned_minutes=round(sum(m.planned_minutes for m in meetings) / len(meetings), 1) if meetings else None,
        average_reduction_percent=reduction_percent(baseline_minutes, average_actual),
        meetings_meeting_aim=sum(1 for r in reductions if r is not None and r >= AIM_REDUCTION_PERCENT),
        aim_percent=AIM_REDUCTION_PERCENT,
        items_total=items_total,
        items_by_consent=by_consent,
        consent_share_percent=_share(by_consent, items_total),
        speaker_minutes=round(sum(m.speaker_minutes for m in meetings), 1),
    )


# --- reading the database ------------------------------------------------------------------------


def session_seconds(meeting: Meeting, *, now: datetime | None = None) -> float | None:
    """From opening to adjournment (or closing); a session still running counts up to now."""
    if meeting.opened_at is None:
        return None
    end = meeting.adjourned_at or meeting.closed_at
    if end is None:
        if meeting.state != Meeting.State.IN_SESSION:
            return None
        end = now or timezone.now()
    return max(0.0, (end - meeting.opened_at).total_seconds())


def baseline_for(meeting: Meeting) -> int:
    from ecabinet.meetings.followup import rules_for

    return rules_for(meeting.organisation).baseline_meeting_minutes


def _item_inputs(user: Any, meeting: Meeting) -> list[ItemInput]:
    items = [i for i in permissions.visible_items(user, meeting) if i.status == AgendaItem.Status.ACCEPTED]
    seconds: dict[int, list[int]] = {}
    spoken = SpeakerRequest.objects.filter(item__in=items, granted_at__isnull=False, ended_at__isnull=False).values_list("item_id", "granted_at", "ended_at")
    for item_id, granted, ended in spoken:
        if granted is not None and ended is not None:
            seconds.setdefault(item_id, []).append(int((ended - granted).total_seconds()))
    return [
        ItemInput(
            item_id=i.pk,
            order=i.order,
            title=i.title,
            planned_minutes=i.planned_minutes,
            started_at=i.started_at,
            ended_at=i.ended_at,
            outcome=i.outcome,
            speaker_seconds=seconds.get(i.pk, []),
        )
        for i in items
    ]


def meeting_report(user: Any, meeting: Meeting, *, baseline_minutes: int | None = None) -> MeetingFigures:
    return meeting_figures(
        meeting_id=meeting.pk,
        title=meeting.title,
        planned_minutes=meeting.planned_minutes,
        actual_seconds=session_seconds(meeting),
        baseline_minutes=baseline_minutes if baseline_minutes is not None else baseline_for(meeting),
        items=_item_inputs(user, meeting),
    )


def organisation_report(user: Any, organisation: Any) -> tuple[OrganisationSummary, list[MeetingFigures]]:
    """Every closed meeting of the organisation that the user may see, and their summary."""
    from ecabinet.meetings.followup import rules_for

    baseline = rules_for(organisation).baseline_meeting_minutes
    meetings = permissions.visible_meetings(user).filter(organisation=organisation, state=Meeting.State.CLOSED).order_by("-starts_at")
    figures = [meeting_report(user, m, baseline_minutes=baseline) for m in meetings]
    return summarise(figures, baseline_minutes=baseline), figures
