"""``ecabinet meeting list`` and ``ecabinet meeting show ID``: meetings for operators."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ecabinet.meetings.models import AgendaItem, Decision, Meeting


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _minutes(seconds: int | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f}"


class Command(BaseCommand):
    help = "List meetings, or show one meeting's agenda with planned and actual times and decisions."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        listing = sub.add_parser("list", help="id, date, title and state of each meeting")
        listing.add_argument("--state", choices=Meeting.State.values, help="only meetings in this state")
        listing.add_argument("--limit", type=int, default=100)
        show = sub.add_parser("show", help="one meeting's agenda with planned/actual times and decisions")
        show.add_argument("meeting_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "list":
            self._list(options["state"], options["limit"])
        else:
            self._show(options["meeting_id"])

    def _list(self, state: str | None, limit: int) -> None:
        meetings = Meeting.objects.order_by("-starts_at")
        if state:
            meetings = meetings.filter(state=state)
        self.stdout.write(f"{'ID':>6}  {'DATE':16}  {'STATE':17}  TITLE")
        for m in meetings[:limit]:
            self.stdout.write(f"{m.pk:>6}  {_when(m.starts_at):16}  {m.state:17}  {m.title}")

    def _show(self, meeting_id: int) -> None:
        meeting = Meeting.objects.select_related("chair").filter(pk=meeting_id).first()
        if meeting is None:
            raise CommandError(f"No meeting with id {meeting_id}.")
        out = self.stdout.write
        out(f"Meeting {meeting.pk}: {meeting.title}")
        out(f"State: {meeting.state}   Chair: {meeting.chair}   Classification: {meeting.get_classification_display()}")
        out(f"Planned: {_when(meeting.starts_at)} - {_when(meeting.planned_end)} ({meeting.planned_minutes} min)")
        out(f"Actual:  {_when(meeting.opened_at)} - {_when(meeting.closed_at)}")
        out("")
        items = meeting.items.filter(status=AgendaItem.Status.ACCEPTED).order_by("order", "pk")
        decisions = {d.item_id: d for d in Decision.objects.filter(item__in=items)}
        out(f"{'#':>3}  {'ID':>6}  {'PLAN':>4}  {'ACTUAL':>6}  {'STARTED':16}  {'OUTCOME':9}  TITLE")
        for n, item in enumerate(items, start=1):
            actual = _minutes(item.actual_seconds)
            out(f"{n:>3}  {item.pk:>6}  {item.planned_minutes:>4}  {actual:>6}  {_when(item.started_at):16}  {item.outcome:9}  {item.title}")
            decision = decisions.get(item.pk)
            if decision is not None:
                how = " (by consent)" if decision.by_consent else ""
                out(f"{'':>13}Decision{how}: {decision.text}")
        if not items:
            out("(no accepted agenda items)")
