"""Who may see, run and vote in polls. A poll a user may not see does not exist for them (404).

Item polls follow their agenda item: whoever sees the item sees the poll, the chair or an office
secretary runs it, and the meeting's voting participants vote. Written consultations belong to the
government: the chair or an office secretary runs them, the chosen members vote, and nobody below
the consultation's classification sees it.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import Q, QuerySet

from ecabinet import rawsql
from ecabinet.identity.models import Role, User
from ecabinet.identity.permissions import is_signed_in
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.voting.models import Poll, PollVoter


def _government_id(user: Any) -> int | None:
    org = getattr(user, "organisation", None)
    return org.government.pk if org is not None else None


def is_voter(user: Any, poll: Poll) -> bool:
    return is_signed_in(user) and PollVoter.objects.filter(poll=poll, user=user).exists()


def _runs_consultations(user: Any) -> bool:
    return user.role == Role.CHAIR or meeting_permissions.is_office_secretary(user)


def can_see_poll(user: Any, poll: Poll) -> bool:
    if not is_signed_in(user):
        return False
    if poll.kind == Poll.Kind.ITEM:
        return meeting_permissions.can_see_item(user, poll.item)  # type: ignore[arg-type]
    if _government_id(user) != poll.organisation_id or user.clearance < poll.classification:
        return False
    return _runs_consultations(user) or poll.created_by_id == user.pk or is_voter(user, poll)


def can_create_item_poll(user: Any, item: Any) -> bool:
    return meeting_permissions.can_see_item(user, item) and meeting_permissions.can_run_session(user, item.meeting)


def can_create_consultation(user: Any) -> bool:
    return is_signed_in(user) and user.organisation is not None and _runs_consultations(user)


def can_manage_poll(user: Any, poll: Poll) -> bool:
    """Open and close it, see live results whatever the poll's setting."""
    if not can_see_poll(user, poll):
        return False
    if poll.kind == Poll.Kind.ITEM:
        # An item poll always has its meeting (poll_kind_matches_item).
        return poll.meeting is not None and meeting_permissions.can_run_session(user, poll.meeting)
    return _runs_consultations(user)


_BALLOT_POLL_FIELDS = ("id", "organisation", "kind", "meeting", "item", "options", "classification", "state", "statement_sha256", "allow_change", "deadline")


def ballot_poll_read(poll_id: int) -> Any:
    """What the ballot path reads of a poll, read in the caller's token statement (see
    ``identity.actions.AlsoRead``): the poll's fields and whether the token's user is its voter."""
    from ecabinet.identity.actions import AlsoRead

    return AlsoRead(name="voting.ballot_poll", build=_ballot_poll_sql, params=(poll_id,))


@functools.cache
def _ballot_poll_fields() -> list[Any]:
    """The poll fields the ballot path reads, in the model's order: made once, read per ballot."""
    return rawsql.fields_of(Poll, _BALLOT_POLL_FIELDS)


def _ballot_poll_sql(poll_id: str) -> tuple[str, str]:
    """``poll_id``: the SQL standing for the poll's id (a parameter, or a column of the batch's rows)."""
    fields = _ballot_poll_fields()
    voter, c = rawsql.table(PollVoter), rawsql.column
    columns = (
        f"{rawsql.column_list(Poll, fields, 'p')}, EXISTS(SELECT 1 FROM {voter} v"  # noqa: S608 - names from model metadata
        f" WHERE v.{c(PollVoter, 'poll')} = p.{c(Poll, 'id')} AND v.{c(PollVoter, 'user')} = u.{c(User, 'id')})"
    )
    return columns, f"LEFT JOIN {rawsql.table(Poll)} p ON p.{c(Poll, 'id')} = {poll_id}"


def poll_for_cleared_voter(user: Any, row: tuple[Any, ...]) -> Poll | None:
    """From the columns ``ballot_poll_read`` added to the token's row: the poll if ``user`` is a
    cleared voter of it, else None (what ``is_cleared_voter`` says). None does not mean "hidden":
    the caller then asks the full rules (``can_see_poll``)."""
    if not row or not is_signed_in(user) or row[0] is None or not row[-1]:
        return None
    poll = rawsql.instance(Poll, _ballot_poll_fields(), row[:-1])
    return poll if user.clearance >= poll.classification else None


def is_cleared_voter(user: Any, poll: Poll) -> bool:
    """The quick yes for a ballot: an eligible voter (fixed when the poll was made) still cleared for it."""
    return is_voter(user, poll) and user.clearance >= poll.classification


def can_vote(user: Any, poll: Poll) -> bool:
    return can_see_poll(user, poll) and is_voter(user, poll)


def can_see_results(user: Any, poll: Poll) -> bool:
    """Live counts before closing: managers always, everyone else if the poll says so; all after."""
    if not can_see_poll(user, poll):
        return False
    return poll.state == Poll.State.CLOSED or poll.results_public or can_manage_poll(user, poll)


def can_export_evidence(user: Any, poll: Poll) -> bool:
    return can_see_poll(user, poll) and poll.state == Poll.State.CLOSED


def visible_polls(user: Any) -> QuerySet[Poll]:
    """Polls the user may see (item visibility is checked per poll by the caller's filter)."""
    gov = _government_id(user) if is_signed_in(user) else None
    if gov is None:  # signed out, or in no organisation
        return Poll.objects.none()
    base = Poll.objects.filter(organisation_id=gov, classification__lte=user.clearance).select_related("meeting", "item", "organisation")
    if _runs_consultations(user):
        return base
    meetings = meeting_permissions.visible_meetings(user).values("pk")
    return base.filter(Q(kind=Poll.Kind.ITEM, meeting__in=meetings) | Q(voters__user=user) | Q(created_by=user)).distinct()
