"""Tablet pages: the polls a member may see, and one poll (sign and cast, receipt, chair's controls).

The page renders the poll; ``voting/vote.js`` builds the canonical ballot, signs it with the
device key kept by the enrolment page (WebCrypto, non-extractable, IndexedDB), sends it with the
step-up code, shows the receipt and checks its audit inclusion proof. The chair's controls and
live results use the same JSON API and the meeting's WebSocket.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from ecabinet.identity.models import User
from ecabinet.pki.models import MemberCertificate
from ecabinet.voting import labels, permissions
from ecabinet.voting.api import poll_out
from ecabinet.voting.models import Poll
from ecabinet.web.views import mfa_login_required


def _labels() -> dict[str, str]:
    return {
        "signing": _("Signing on this tablet…"),
        "sent": _("Ballot accepted and recorded."),
        "no_key": _("This tablet holds no signing key with a valid certificate. Enrol it under “My signing keys”."),
        "choose": _("Choose an option."),
        "code": _("Enter the current one-time code from your authenticator to confirm."),
        "error": _("The ballot was refused"),
        "included": _("Checked: the ballot's hash is in the signed audit log."),
        "pending": _("Recorded; the audit log has not been checkpointed since. Check again later."),
        "mismatch": _("The receipt does not match this ballot."),
        "outcome_adopted": _("Adopted"),
        "outcome_not_adopted": _("Not adopted"),
        "outcome_no_quorum": _("No quorum"),
        "outcome_decided": _("Decided"),
        "outcome_no_decision": _("No decision"),
    }


@mfa_login_required
def poll_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    polls = [p for p in permissions.visible_polls(user)[:200] if permissions.can_see_poll(user, p)]
    return render(request, "voting/list.html", {"polls": polls, "can_create": permissions.can_create_consultation(user)})


@mfa_login_required
def poll_page(request: HttpRequest, poll_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    poll = Poll.objects.select_related("meeting", "item__meeting", "organisation").filter(pk=poll_id).first()
    if poll is None or not permissions.can_see_poll(user, poll):
        raise Http404
    now = timezone.now()
    certificates = [
        {"fingerprint": c.fingerprint, "spki_sha256": c.spki_sha256, "device_label": c.device_label}
        for c in MemberCertificate.objects.filter(user=user, revoked_at__isnull=True, not_after__gt=now)
    ]
    context = {
        "poll": poll,
        "options": labels.display_options(poll.options),
        "data": poll_out(poll, user),
        "certificates": certificates,
        "can_vote": permissions.can_vote(user, poll),
        "can_manage": permissions.can_manage_poll(user, poll),
        "can_see_results": permissions.can_see_results(user, poll),
        "labels": _labels(),
        "ws_path": f"/ws/meetings/{poll.meeting_id}/" if poll.meeting_id else "",
    }
    return render(request, "voting/poll.html", context)
