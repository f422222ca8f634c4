"""Minutes drafted from the session record: who attended, each item with its times, presenters,
speakers, positions and decision, and the follow-up tasks.

``session_record`` reads the record once; ``render_text`` turns it into the plain text that the
secretary edits (Vietnamese administrative style by default). The text uses a small line markup
that ``meetings.pdf`` understands:

    ^ centred line          # title          ## section          ### item          - bullet

Vote results arrive with the voting app: it registers a provider with
``register_item_section``, and each item of the minutes gets the lines it returns. Until then no
provider is registered and the minutes have no vote section at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from ecabinet.identity.models import User
from ecabinet.meetings.models import AgendaItem, Attendance, Decision, FollowUpTask, Meeting, Participant, Position, SpeakerRequest

# --- the extension point for other apps (the voting app adds its results here) ----------------

ItemSectionProvider = Callable[[AgendaItem, str], list[str]]
ITEM_SECTION_PROVIDERS: list[ItemSectionProvider] = []


def register_item_section(provider: ItemSectionProvider) -> ItemSectionProvider:
    """Add lines to each item of drafted minutes: ``provider(item, language) -> lines``.

    Meant for the voting app's results; returns the provider so it can be used as a decorator.
    """
    if provider not in ITEM_SECTION_PROVIDERS:
        ITEM_SECTION_PROVIDERS.append(provider)
    return provider


# --- the session record ------------------------------------------------------------------------


@dataclass
class Speaker:
    name: str
    seconds: int | None


@dataclass
class ItemRecord:
    number: int
    item: AgendaItem
    planned_start: datetime
    speakers: list[Speaker]
    stances: Counter[str]
    unanswered: int
    decision: Decision | None
    tasks: list[FollowUpTask]


@dataclass
class AttendanceRecord:
    in_room: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)
    substitutes: list[tuple[str, str]] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    guests: list[str] = field(default_factory=list)
    secretaries: list[str] = field(default_factory=list)


@dataclass
class SessionRecord:
    meeting: Meeting
    attendance: AttendanceRecord
    items: list[ItemRecord]


def person(user: User | None) -> str:
    if user is None:
        return ""
    return f"{user.display_name} ({user.title})" if user.title else user.display_name


def _attendance(meeting: Meeting) -> AttendanceRecord:
    result = AttendanceRecord()
    participants = list(Participant.objects.filter(meeting=meeting).select_related("user").order_by("pk"))
    kinds = {p.user_id: p.kind for p in participants}
    present: set[int] = set()
    substituted: set[int] = set()
    for row in Attendance.objects.filter(meeting=meeting).select_related("user", "substitute_for").order_by("checked_in_at", "pk"):
        if row.user_id in present:
            continue  # checked in again after leaving: one line per person
        present.add(row.user_id)
        kind = kinds.get(row.user_id)
        if kind == Participant.Kind.SECRETARY:
            continue  # named as the meeting's secretaries
        if kind == Participant.Kind.GUEST:
            result.guests.append(person(row.user))
        elif row.mode == Attendance.Mode.SUBSTITUTE and row.substitute_for is not None:
            substituted.add(row.substitute_for_id)  # type: ignore[arg-type]
            result.substitutes.append((person(row.user), person(row.substitute_for)))
        elif row.mode == Attendance.Mode.REMOTE:
            result.remote.append(person(row.user))
        else:
            result.in_room.append(person(row.user))
    expected = [p.user for p in participants if p.kind == Participant.Kind.MEMBER]
    if meeting.chair_id not in kinds:
        expected.insert(0, meeting.chair)
    result.absent = [person(user) for user in expected if user.pk not in present and user.pk not in substituted]
    result.secretaries = [person(p.user) for p in participants if p.kind == Participant.Kind.SECRETARY]
    return result


def session_record(meeting: Meeting) -> SessionRecord:
    items = list(meeting.items.filter(status=AgendaItem.Status.ACCEPTED).select_related("presenting_org", "presenter").order_by("order", "pk"))
    voters = Participant.objects.filter(meeting=meeting, kind=Participant.Kind.MEMBER).values_list("user_id", flat=True)
    voter_ids = {*voters, meeting.chair_id}
    decisions = {d.item_id: d for d in Decision.objects.filter(item__in=items)}
    tasks: dict[int, list[FollowUpTask]] = {}
    for task in FollowUpTask.objects.filter(decision__item__in=items).select_related("assignee_org", "assignee").order_by("due_date", "pk"):
        tasks.setdefault(task.decision.item_id, []).append(task)
    records = []
    planned_start = meeting.starts_at
    for number, item in enumerate(items, start=1):
        speakers = [
            Speaker(person(s.user), int((s.ended_at - s.granted_at).total_seconds()) if s.granted_at and s.ended_at else None)
            for s in SpeakerRequest.objects.filter(item=item, granted_at__isnull=False).select_related("user").order_by("granted_at", "pk")
        ]
        positions = list(Position.objects.filter(item=item).values_list("user_id", "stance"))
        stances = Counter(stance for _user, stance in positions)
        answered = {user_id for user_id, _stance in positions}
        unanswered = len(voter_ids - answered) if item.kind == AgendaItem.Kind.DECISION else 0
        records.append(
            ItemRecord(
                number=number,
                item=item,
                planned_start=planned_start,
                speakers=speakers,
                stances=stances,
                unanswered=unanswered,
                decision=decisions.get(item.pk),
                tasks=tasks.get(item.pk, []),
            )
        )
        planned_start = planned_start + timedelta(minutes=item.planned_minutes)
    return SessionRecord(meeting=meeting, attendance=_attendance(meeting), items=records)


# --- the text ----------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "nation": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto": "Độc lập - Tự do - Hạnh phúc",
        "title": "BIÊN BẢN PHIÊN HỌP CHÍNH PHỦ",
        "time": "Thời gian",
        "planned": "dự kiến",
        "actual": "thực tế",
        "from_to": "từ {start} đến {end} ngày {day}",
        "not_held": "chưa diễn ra",
        "place": "Địa điểm",
        "online": "Trực tuyến",
        "chair": "Chủ trì",
        "secretary": "Thư ký",
        "attendance": "I. Thành phần tham dự",
        "in_room": "Có mặt tại phòng họp",
        "remote": "Tham dự trực tuyến",
        "substitutes": "Dự thay",
        "substitute_for": "dự thay {name}",
        "absent": "Vắng mặt",
        "guests": "Khách mời",
        "nobody": "không có",
        "content": "II. Nội dung",
        "presented_by": "Cơ quan trình",
        "presenter": "Người trình bày",
        "item_time": "Thời gian: {planned} {planned_minutes}; {actual} {actual_text}",
        "item_not_taken": "không thảo luận tại phiên họp",
        "positions": "Ý kiến trước phiên họp",
        "unanswered": "Chưa gửi ý kiến",
        "speakers": "Phát biểu",
        "no_speakers": "Không có ý kiến phát biểu.",
        "conclusion": "Kết luận",
        "no_conclusion": "Chưa có kết luận.",
        "tasks": "Nhiệm vụ",
        "task_line": "{title} — giao: {assignee}; thời hạn: {due}",
        "conclusions": "III. Kết luận",
        "consent_block": "Các nội dung thông qua theo danh mục đồng thuận, không thảo luận",
        "decided": "Các nội dung đã kết luận tại phiên họp",
        "deferred": "Các nội dung hoãn xem xét",
        "noted": "Các nội dung ghi nhận",
        "pending": "Các nội dung chưa có kết luận",
        "followup": "IV. Nhiệm vụ triển khai",
        "no_tasks": "Không có nhiệm vụ giao.",
        "closing": "Phiên họp kết thúc lúc {time} ngày {day}.",
        "signatures": "Xác nhận",
        "minutes_unit": "phút",
        "seconds_unit": "giây",
        "agree": "Đồng ý",
        "agree_with_comments": "Đồng ý, có góp ý",
        "object": "Không đồng ý",
        "abstain": "Không biểu thị ý kiến",
        "wish_to_speak": "Đề nghị phát biểu",
    },
    "en": {
        "nation": "SOCIALIST REPUBLIC OF VIET NAM",
        "motto": "Independence - Freedom - Happiness",
        "title": "MINUTES OF THE GOVERNMENT MEETING",
        "time": "Time",
        "planned": "planned",
        "actual": "actual",
        "from_to": "from {start} to {end} on {day}",
        "not_held": "not held",
        "place": "Place",
        "online": "Online",
        "chair": "Chair",
        "secretary": "Secretary",
        "attendance": "I. Attendance",
        "in_room": "Present in the room",
        "remote": "Attending remotely",
        "substitutes": "Substitutes",
        "substitute_for": "for {name}",
        "absent": "Absent",
        "guests": "Guests",
        "nobody": "none",
        "content": "II. Proceedings",
        "presented_by": "Presented by",
        "presenter": "Presenter",
        "item_time": "Time: {planned} {planned_minutes}; {actual} {actual_text}",
        "item_not_taken": "not discussed in the session",
        "positions": "Positions before the meeting",
        "unanswered": "No answer",
        "speakers": "Speakers",
        "no_speakers": "Nobody asked to speak.",
        "conclusion": "Conclusion",
        "no_conclusion": "No conclusion yet.",
        "tasks": "Tasks",
        "task_line": "{title} — assigned to: {assignee}; due: {due}",
        "conclusions": "III. Conclusions",
        "consent_block": "Adopted without debate in the consent block",
        "decided": "Decided in the session",
        "deferred": "Deferred",
        "noted": "Noted",
        "pending": "Without a conclusion",
        "followup": "IV. Follow-up tasks",
        "no_tasks": "No tasks were assigned.",
        "closing": "The session ended at {time} on {day}.",
        "signatures": "Signatures",
        "minutes_unit": "min",
        "seconds_unit": "s",
        "agree": "Agree",
        "agree_with_comments": "Agree with comments",
        "object": "Object",
        "abstain": "Abstain",
        "wish_to_speak": "Wish to speak",
    },
}
LANGUAGES = tuple(LABELS)


def _day(value: datetime | date) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return value.strftime("%d/%m/%Y")


def _clock(value: datetime) -> str:
    return timezone.localtime(value).strftime("%H:%M")


def duration(seconds: int | None, labels: dict[str, str]) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(max(0, seconds), 60)
    if minutes and rest:
        return f"{minutes} {labels['minutes_unit']} {rest} {labels['seconds_unit']}"
    if minutes:
        return f"{minutes} {labels['minutes_unit']}"
    return f"{rest} {labels['seconds_unit']}"


def _names(lines: list[str], names: list[str], labels: dict[str, str]) -> None:
    if not names:
        lines.append(f"  - {labels['nobody']}")
    lines.extend(f"  - {name}" for name in names)


def _session_end(meeting: Meeting) -> datetime | None:
    return meeting.adjourned_at or meeting.closed_at


def _assignee(task: FollowUpTask) -> str:
    org = task.assignee_org.name
    return f"{org} ({person(task.assignee)})" if task.assignee else org


def render_text(record: SessionRecord, *, language: str = "vi") -> str:
    labels = LABELS.get(language, LABELS["vi"])
    meeting = record.meeting
    lines = [f"^ {labels['nation']}", f"^ {labels['motto']}", "", f"# {labels['title']}", f"# {meeting.title}", ""]
    planned = labels["from_to"].format(start=_clock(meeting.starts_at), end=_clock(meeting.planned_end), day=_day(meeting.starts_at))
    end = _session_end(meeting)
    if meeting.opened_at and end:
        actual = labels["from_to"].format(start=_clock(meeting.opened_at), end=_clock(end), day=_day(meeting.opened_at))
    else:
        actual = labels["not_held"]
    lines.append(f"{labels['time']}: {labels['actual']} {actual} ({labels['planned']} {planned}).")
    if meeting.place:
        lines.append(f"{labels['place']}: {meeting.place}.")
    if meeting.online_link:
        lines.append(f"{labels['online']}: {meeting.online_link}")
    lines.append(f"{labels['chair']}: {person(meeting.chair)}.")
    att = record.attendance
    if att.secretaries:
        lines.append(f"{labels['secretary']}: {', '.join(att.secretaries)}.")

    lines += ["", f"## {labels['attendance']}"]
    for key, names in (("in_room", att.in_room), ("remote", att.remote)):
        lines.append(f"- {labels[key]} ({len(names)}):")
        _names(lines, names, labels)
    lines.append(f"- {labels['substitutes']} ({len(att.substitutes)}):")
    _names(lines, [f"{who}, {labels['substitute_for'].format(name=whom)}" for who, whom in att.substitutes], labels)
    lines.append(f"- {labels['absent']} ({len(att.absent)}):")
    _names(lines, att.absent, labels)
    if att.guests:
        lines.append(f"- {labels['guests']} ({len(att.guests)}):")
        _names(lines, att.guests, labels)

    lines += ["", f"## {labels['content']}"]
    for rec in record.items:
        lines += _item_lines(rec, labels, language)

    lines += ["", f"## {labels['conclusions']}"]
    groups = [
        ("consent_block", AgendaItem.Outcome.ADOPTED_BY_CONSENT),
        ("decided", AgendaItem.Outcome.DECIDED),
        ("deferred", AgendaItem.Outcome.DEFERRED),
        ("noted", AgendaItem.Outcome.NOTED),
        ("pending", AgendaItem.Outcome.PENDING),
    ]
    for key, outcome in groups:
        chosen = [rec for rec in record.items if rec.item.outcome == outcome]
        if not chosen:
            continue
        lines.append(f"- {labels[key]} ({len(chosen)}):")
        for rec in chosen:
            text = f": {rec.decision.text}" if rec.decision else ""
            lines.append(f"  - {rec.number}. {rec.item.title}{text}")

    lines += ["", f"## {labels['followup']}"]
    all_tasks = [(rec, task) for rec in record.items for task in rec.tasks]
    if not all_tasks:
        lines.append(labels["no_tasks"])
    for rec, task in all_tasks:
        lines.append(f"- ({rec.number}) " + labels["task_line"].format(title=task.title, assignee=_assignee(task), due=_day(task.due_date)))

    if end:
        lines += ["", labels["closing"].format(time=_clock(end), day=_day(end))]
    lines += ["", f"## {labels['signatures']}", f"- {labels['chair']}: {person(meeting.chair)}"]
    if att.secretaries:
        lines.append(f"- {labels['secretary']}: {', '.join(att.secretaries)}")
    return "\n".join(lines) + "\n"


def _item_lines(rec: ItemRecord, labels: dict[str, str], language: str) -> list[str]:
    item = rec.item
    lines = ["", f"### {rec.number}. {item.title}"]
    if item.presenting_org or item.presenter:
        presented = [f"{labels['presented_by']}: {item.presenting_org.name}"] if item.presenting_org else []
        if item.presenter:
            presented.append(f"{labels['presenter']}: {person(item.presenter)}")
        lines.append("; ".join(presented) + ".")
    planned_minutes = f"{item.planned_minutes} {labels['minutes_unit']} ({_clock(rec.planned_start)})"
    if item.started_at:
        span = f" ({_clock(item.started_at)}–{_clock(item.ended_at)})" if item.ended_at else ""
        actual_text = duration(item.actual_seconds, labels) + span
    else:
        actual_text = labels["item_not_taken"]
    lines.append(labels["item_time"].format(planned=labels["planned"], planned_minutes=planned_minutes, actual=labels["actual"], actual_text=actual_text) + ".")
    if item.kind == AgendaItem.Kind.DECISION:
        counts = [f"{labels[stance]} {rec.stances.get(stance, 0)}" for stance in Position.Stance.values]
        counts.append(f"{labels['unanswered']} {rec.unanswered}")
        lines.append(f"{labels['positions']}: {', '.join(counts)}.")
    if item.started_at:
        if rec.speakers:
            lines.append(f"{labels['speakers']}:")
            lines.extend(f"- {n}. {s.name} — {duration(s.seconds, labels)}" for n, s in enumerate(rec.speakers, start=1))
        else:
            lines.append(labels["no_speakers"])
    for provider in ITEM_SECTION_PROVIDERS:
        lines.extend(provider(item, language))
    conclusion = rec.decision.text if rec.decision else labels["no_conclusion"]
    lines.append(f"{labels['conclusion']}: {conclusion}")
    if rec.tasks:
        lines.append(f"{labels['tasks']}:")
        lines.extend("- " + labels["task_line"].format(title=t.title, assignee=_assignee(t), due=_day(t.due_date)) for t in rec.tasks)
    return lines


def draft_text(meeting: Meeting, *, language: str = "vi") -> str:
    return render_text(session_record(meeting), language=language)
