"""Cabinet meetings: agenda, positions before the session, the live session, minutes and follow-up.

State changes go through ``meetings.actions`` (lifecycle, agenda, positions), ``meetings.live``
(the session in progress) and ``meetings.followup`` (minutes, decisions, tasks). Editable objects
carry a ``version`` for optimistic locking: a write names the version it read, and a stale one is
refused with 409.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecabinet.identity.models import Clearance, Organisation


class MeetingRules(models.Model):
    """An organisation's rules for its meetings: what counts for quorum, and the baseline length."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="meeting_rules")
    # Quorum: present voting members (chair included) must be at least this share of the invited ones.
    quorum_numerator = models.PositiveSmallIntegerField(default=1)
    quorum_denominator = models.PositiveSmallIntegerField(default=2)
    quorum_strictly_more = models.BooleanField(default=True, help_text="more than the share (a majority), not merely equal")
    remote_counts_for_quorum = models.BooleanField(default=True)
    substitutes_count_for_quorum = models.BooleanField(default=False)
    baseline_meeting_minutes = models.PositiveIntegerField(default=240, help_text="average meeting length before e-Cabinet")
    default_speaking_seconds = models.PositiveIntegerField(default=300)


class Meeting(models.Model):
    class Kind(models.TextChoices):
        REGULAR = "regular", _("Regular")
        EXTRAORDINARY = "extraordinary", _("Extraordinary")
        THEMATIC = "thematic", _("Thematic")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        DOSSIER_PUBLISHED = "dossier_published", _("Dossier published")
        IN_SESSION = "in_session", _("In session")
        ADJOURNED = "adjourned", _("Adjourned")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    class PositionsVisibility(models.TextChoices):
        ALL_MEMBERS = "all", _("Every participant sees every position")
        CHAIR_AND_SECRETARIES = "chair", _("Only the chair and secretaries see positions")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="meetings")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.REGULAR)
    title = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    planned_end = models.DateTimeField()
    place = models.CharField(max_length=200, blank=True)
    online_link = models.URLField(blank=True)
    chair = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chaired_meetings")
    classification = models.PositiveSmallIntegerField(choices=Clearance.choices, default=Clearance.INTERNAL)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    positions_deadline = models.DateTimeField(null=True, blank=True)
    positions_visibility = models.CharField(max_length=10, choices=PositionsVisibility.choices, default=PositionsVisibility.ALL_MEMBERS)
    allow_substitutes = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    dossier_published_at = models.DateTimeField(null=True, blank=True)
    consent_proposed_at = models.DateTimeField(null=True, blank=True)
    consent_confirmed_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    adjourned_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def planned_minutes(self) -> int:
        return max(0, int((self.planned_end - self.starts_at).total_seconds() // 60))


class Participant(models.Model):
    """Someone invited to the whole meeting. The chair is a participant too."""

    class Kind(models.TextChoices):
        MEMBER = "member", _("Member")
        GUEST = "guest", _("Guest")
        SECRETARY = "secretary", _("Secretary")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="meeting_participations")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MEMBER)
    invited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "user"], name="unique_participant")]

    @property
    def votes(self) -> bool:
        return self.kind == self.Kind.MEMBER


class AgendaItem(models.Model):
    class Kind(models.TextChoices):
        INFORMATION = "information", _("Information")
        DISCUSSION = "discussion", _("Discussion")
        DECISION = "decision", _("Decision")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        ACCEPTED = "accepted", _("Accepted")
        RETURNED = "returned", _("Returned with comments")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        ADOPTED_BY_CONSENT = "consent", _("Adopted without debate")
        DECIDED = "decided", _("Decided in session")
        DEFERRED = "deferred", _("Deferred")
        NOTED = "noted", _("Noted")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    order = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=400)
    summary = models.TextField(blank=True)
    presenting_org = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    presenter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    planned_minutes = models.PositiveIntegerField(default=15)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.DECISION)
    classification = models.PositiveSmallIntegerField(choices=Clearance.choices, default=Clearance.INTERNAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    document_refs = models.JSONField(default=list, blank=True, help_text="document references until the documents app links them")
    # Proposed for adoption without debate (consent agenda); the chair may take it out before confirming.
    in_consent_block = models.BooleanField(default=False)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    review_comment = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["meeting", "order", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def actual_seconds(self) -> int | None:
        if self.started_at is None:
            return None
        end = self.ended_at or timezone.now()
        return int((end - self.started_at).total_seconds())


class ItemGuest(models.Model):
    """A guest invited to one agenda item only."""

    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="guests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="unique_item_guest")]


class Position(models.Model):
    """A member's position on a decision item, recorded before the deadline."""

    class Stance(models.TextChoices):
        AGREE = "agree", _("Agree")
        AGREE_WITH_COMMENTS = "agree_with_comments", _("Agree with comments")
        OBJECT = "object", pgettext_lazy("position", "Object")
        ABSTAIN = "abstain", _("Abstain")
        WISH_TO_SPEAK = "wish_to_speak", _("Wish to speak")

    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="positions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    stance = models.CharField(max_length=24, choices=Stance.choices)
    comment = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="unique_position")]


class Attendance(models.Model):
    class Mode(models.TextChoices):
        IN_ROOM = "in_room", _("In the room")
        REMOTE = "remote", _("Remote")
        SUBSTITUTE = "substitute", _("Substitute")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.IN_ROOM)
    substitute_for = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    checked_in_at = models.DateTimeField(default=timezone.now)
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], condition=Q(left_at__isnull=True), name="one_open_attendance"),
        ]


class SpeakerRequest(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        SPEAKING = "speaking", _("Speaking")
        DONE = "done", _("Done")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="speakers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    requested_at = models.DateTimeField(default=timezone.now)
    granted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    time_limit_seconds = models.PositiveIntegerField(default=300)

    class Meta:
        ordering = ["requested_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], condition=Q(state__in=["waiting", "speaking"]), name="one_open_speaker_request"),
            models.UniqueConstraint(fields=["item"], condition=Q(state="speaking"), name="one_speaker_at_a_time"),
        ]


class Decision(models.Model):
    """The conclusion on one agenda item."""

    item = models.OneToOneField(AgendaItem, on_delete=models.CASCADE, related_name="decision")
    text = models.TextField()
    by_consent = models.BooleanField(default=False)
    decided_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)


class FollowUpTask(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=400)
    assignee_org = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="followup_tasks")
    due_date = models.DateField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    @property
    def overdue(self) -> bool:
        return self.state != self.State.DONE and self.due_date < timezone.localdate()

    @property
    def display_state(self) -> str:
        return "overdue" if self.overdue else self.state


class TaskUpdate(models.Model):
    task = models.ForeignKey(FollowUpTask, on_delete=models.CASCADE, related_name="updates")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=FollowUpTask.State.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class Minutes(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted for approval")
        APPROVED = "approved", _("Approved")

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="minutes")
    text = models.TextField(help_text="Markdown-like plain text, drafted from the session record, edited by a secretary")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    drafted_at = models.DateTimeField(default=timezone.now)
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    edited_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(default=1)


class CalendarFeed(models.Model):
    """A secret URL for a user's iCalendar feed. Only the token's SHA-256 is stored; revocable."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
