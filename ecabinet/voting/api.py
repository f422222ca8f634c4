"""Voting endpoints under /api/v1: polls, signed ballots and receipts, results, evidence, signed PDFs.

Every poll is roll-call: ballots are signed and named, and after closing every participant who
sees the poll sees who chose what. Nothing here offers or implies a secret ballot.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import User
from ecabinet.meetings.models import AgendaItem, Decision, Meeting
from ecabinet.voting import actions, decisions, errors, evidence, permissions
from ecabinet.voting.models import Ballot, Poll, SignedDocument
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["voting"])


class OptionIn(Schema):
    key: str = Field(..., max_length=64)
    label: str = Field(..., max_length=200)


class PollIn(Schema):
    question: str = Field(..., max_length=2000)
    description: str = Field("", max_length=10000)
    item_id: int | None = Field(None, description="an accepted agenda item: a vote in session; leave out for a written consultation")
    voter_ids: list[int] = Field(default_factory=list, description="written consultations: who is asked")
    deadline: datetime | None = Field(None, description="written consultations: closes by itself then")
    options: list[OptionIn] | None = Field(None, description="default: approve / reject / abstain")
    rule: str = Field("simple", description="simple | absolute | two_thirds")
    quorum: tuple[int, int] = Field((1, 2), description="at least n/d of the eligible members must vote")
    allow_change: bool = False
    results_public: bool = Field(False, description="live counts to every participant, not only the chair")
    classification: int | None = None


class OptionOut(Schema):
    key: str
    label: str


class PollOut(Schema):
    id: int
    kind: str
    meeting_id: int | None
    item_id: int | None
    question: str
    description: str
    options: list[OptionOut]
    rule: str
    quorum: list[int]
    allow_change: bool
    results_public: bool
    roll_call: bool = Field(True, description="always true: ballots are named; secret ballots are not offered")
    classification: int
    deadline: datetime | None
    state: str
    statement: dict[str, Any]
    question_sha256: str
    opened_at: datetime | None
    closed_at: datetime | None
    eligible: int
    can_vote: bool
    can_manage: bool
    my_ballot: str | None = Field(None, description="SHA-256 of the caller's counted ballot")
    result: dict[str, Any] | None
    result_signature: str | None = Field(None, description="Ed25519 over the canonical result, base64")


class BallotIn(Schema):
    ballot: str = Field(..., max_length=4096, description="the canonical ballot JSON text, exactly as signed")
    signature: str | None = Field(None, max_length=400, description="base64 ECDSA P-256/SHA-256 signature, DER or raw r||s")
    cms: str | None = Field(None, max_length=20000, description="or: base64 detached CMS SignedData over the ballot")
    totp: str | None = Field(None, max_length=12, description="a fresh one-time code: the step-up that confirms the ballot")


class ReceiptOut(Schema):
    poll: int
    ballot_sha256: str
    audit_seq: int
    received_at: datetime
    counted: bool
    status: str = Field(..., description="included (proof given) | pending_checkpoint")
    proof: dict[str, Any] | None


class ResultsOut(Schema):
    poll: int
    state: str
    cast: int
    eligible: int
    counts: dict[str, int] | None = None
    roll_call: list[dict[str, Any]] | None = None


class SignedDocumentOut(Schema):
    id: int
    kind: str
    meeting_id: int
    decision_id: int | None
    sha256: str
    signed_at: datetime
    signer: str
    pdf_url: str


def poll_out(poll: Poll, user: User) -> dict[str, Any]:
    mine = Ballot.objects.filter(poll=poll, voter=user, counted=True).values_list("sha256", flat=True).first()
    return {
        **{f: getattr(poll, f) for f in ("id", "kind", "meeting_id", "item_id", "question", "description", "options", "rule")},
        **{f: getattr(poll, f) for f in ("allow_change", "results_public", "classification", "deadline", "state", "statement", "opened_at", "closed_at")},
        "quorum": list(poll.quorum),
        "roll_call": True,
        "question_sha256": poll.statement_sha256,
        "eligible": poll.voters.count(),
        "can_vote": permissions.can_vote(user, poll),
        "can_manage": permissions.can_manage_poll(user, poll),
        "my_ballot": mine,
        "result": poll.result,
        "result_signature": base64.b64encode(bytes(poll.result_signature)).decode() if poll.result_signature else None,
    }


def visible_poll(request: HttpRequest, poll_id: int) -> Poll:
    poll = Poll.objects.select_related("meeting", "item__meeting", "organisation").filter(pk=poll_id).first()
    if poll is None or not permissions.can_see_poll(api_user(request), poll):
        raise errors.PollNotFound()
    return poll


@router.get("/polls", response=list[PollOut], summary="Polls the caller may see, newest first")
def list_polls(request: HttpRequest, state: str | None = None, meeting_id: int | None = None) -> list[dict[str, Any]]:
    user: User = api_user(request)
    found = permissions.visible_polls(user)
    if state:
        found = found.filter(state=state)
    if meeting_id is not None:
        found = found.filter(meeting_id=meeting_id)
    return [poll_out(p, user) for p in found[:200] if permissions.can_see_poll(user, p)]


@router.post("/polls", response={201: PollOut}, summary="Create a roll-call poll on an agenda item, or a written consultation")
def create_poll(request: HttpRequest, payload: PollIn) -> Status:
    user: User = api_user(request)
    item = None
    if payload.item_id is not None:
        item = AgendaItem.objects.select_related("meeting__organisation").filter(pk=payload.item_id).first()
        if item is None or not permissions.meeting_permissions.can_see_item(user, item):
            raise base_errors.NotFound()
    poll = actions.create_poll(
        question=payload.question,
        description=payload.description,
        item=item,
        voter_ids=payload.voter_ids,
        deadline=payload.deadline,
        options=[(o.key, o.label) for o in payload.options] if payload.options is not None else None,
        rule=payload.rule,
        quorum=payload.quorum,
        allow_change=payload.allow_change,
        results_public=payload.results_public,
        classification=payload.classification,
        acting_user=user,
        source_ip=client_ip(request),
    )
    return Status(201, poll_out(poll, user))


@router.get("/polls/{poll_id}", response=PollOut)
def get_poll(request: HttpRequest, poll_id: int) -> dict[str, Any]:
    return poll_out(visible_poll(request, poll_id), api_user(request))


@router.post("/polls/{poll_id}/open", response=PollOut, summary="Open the poll (the chair or an office secretary)")
def open_poll(request: HttpRequest, poll_id: int) -> dict[str, Any]:
    poll = visible_poll(request, poll_id)
    actions.open_poll(poll, acting_user=api_user(request), source_ip=client_ip(request))
    poll.refresh_from_db()
    return poll_out(poll, api_user(request))


@router.post("/polls/{poll_id}/close", response=PollOut, summary="Close, count with the rule, and sign the result")
def close_poll(request: HttpRequest, poll_id: int) -> dict[str, Any]:
    poll = visible_poll(request, poll_id)
    closed = actions.close_poll(poll, acting_user=api_user(request), source_ip=client_ip(request))
    return poll_out(closed, api_user(request))


@router.post("/polls/{poll_id}/ballots", response={201: ReceiptOut}, summary="Cast a signed ballot; the answer is the receipt")
def cast_ballot(request: HttpRequest, poll_id: int, payload: BallotIn) -> Status:
    poll = Poll.objects.filter(pk=poll_id).first()
    user: User = api_user(request)
    if poll is None or not (permissions.is_cleared_voter(user, poll) or permissions.can_see_poll(user, poll)):
        raise errors.PollNotFound()
    ballot = actions.cast_ballot(
        poll,
        ballot=payload.ballot,
        signature=payload.signature,
        cms=payload.cms,
        totp=payload.totp,
        acting_user=api_user(request),
        source_ip=client_ip(request),
    )
    return Status(201, actions.receipt_for(ballot, just_stored=True))


@router.get("/polls/{poll_id}/ballots/{ballot_sha256}/receipt", response=ReceiptOut, summary="The receipt, with its audit inclusion proof once checkpointed")
def receipt(request: HttpRequest, poll_id: int, ballot_sha256: str) -> dict[str, Any]:
    poll = visible_poll(request, poll_id)
    ballot = Ballot.objects.filter(poll=poll, sha256=ballot_sha256.lower()).first()
    user: User = api_user(request)
    if ballot is None or not (ballot.voter_id == user.pk or permissions.can_see_results(user, poll)):
        raise errors.ReceiptNotFound()
    return actions.receipt_for(ballot)


@router.get("/polls/{poll_id}/results", response=ResultsOut, summary="Live turnout; counts for the chair (or all, per poll); roll-call after closing")
def results(request: HttpRequest, poll_id: int) -> dict[str, Any]:
    poll = visible_poll(request, poll_id)
    user: User = api_user(request)
    data = actions.live_results(poll, public_only=not permissions.can_see_results(user, poll))
    roll = None
    if permissions.can_see_results(user, poll):
        roll = [
            {"voter": b.voter_id, "name": b.voter.display_name, "choice": b.choice, "ballot_sha256": b.sha256, "audit_seq": b.audit_seq}
            for b in Ballot.objects.filter(poll=poll, counted=True).select_related("voter").order_by("audit_seq")
        ]
    return {"poll": poll.pk, **data, "roll_call": roll}


@router.get("/polls/{poll_id}/evidence.zip", summary="The evidence folder as a zip (closed polls)")
def evidence_zip(request: HttpRequest, poll_id: int) -> HttpResponse:
    poll = visible_poll(request, poll_id)
    if not permissions.can_export_evidence(api_user(request), poll):
        raise errors.PollWrongState("Evidence is exported once the poll is closed.", state=poll.state)
    files = evidence.export(poll, acting_user=api_user(request), source_ip=client_ip(request), channel="api")
    response = HttpResponse(evidence.as_zip(files, f"poll-{poll.pk}"), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="poll-{poll.pk}-evidence.zip"'
    return response


# --- signed decisions and minutes --------------------------------------------------------------


def document_out(doc: SignedDocument) -> dict[str, Any]:
    return {
        "id": doc.pk,
        "kind": doc.kind,
        "meeting_id": doc.meeting_id,
        "decision_id": doc.decision_id,
        "sha256": doc.sha256,
        "signed_at": doc.signed_at,
        "signer": doc.certificate.device_label,
        "pdf_url": f"/api/v1/signed-documents/{doc.pk}/pdf",
    }


@router.post("/meetings/{meeting_id}/minutes/signed", response={201: SignedDocumentOut}, summary="Sign the approved minutes (PAdES B-LT, office seal)")
def sign_minutes(request: HttpRequest, meeting_id: int) -> Status:
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    user: User = api_user(request)
    if meeting is None or not permissions.meeting_permissions.can_see_meeting(user, meeting):
        raise base_errors.NotFound()
    doc = decisions.sign_minutes(meeting, acting_user=user, source_ip=client_ip(request))
    return Status(201, document_out(doc))


@router.post("/decisions/{decision_id}/signed", response={201: SignedDocumentOut}, summary="Sign a decision as PDF (PAdES B-LT, office seal)")
def sign_decision(request: HttpRequest, decision_id: int) -> Status:
    decision = Decision.objects.select_related("item__meeting").filter(pk=decision_id).first()
    user: User = api_user(request)
    if decision is None or not permissions.meeting_permissions.can_see_item(user, decision.item):
        raise base_errors.NotFound()
    doc = decisions.sign_decision(decision, acting_user=user, source_ip=client_ip(request))
    return Status(201, document_out(doc))


@router.get("/signed-documents", response=list[SignedDocumentOut], summary="Signed PDFs the caller may see")
def list_documents(request: HttpRequest, meeting_id: int | None = None) -> list[dict[str, Any]]:
    user: User = api_user(request)
    found = SignedDocument.objects.select_related("meeting", "decision__item", "certificate")
    if meeting_id is not None:
        found = found.filter(meeting_id=meeting_id)
    return [document_out(d) for d in found[:200] if decisions.can_see_document(user, d)]


@router.get("/signed-documents/{document_id}/pdf", summary="The signed PDF")
def document_pdf(request: HttpRequest, document_id: int) -> HttpResponse:
    doc = SignedDocument.objects.select_related("meeting", "decision__item", "certificate").filter(pk=document_id).first()
    user: User = api_user(request)
    if doc is None or not decisions.can_see_document(user, doc):
        raise base_errors.NotFound()
    response = HttpResponse(decisions.read_pdf(doc), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{doc.kind}-{doc.meeting_id}-{doc.pk}.pdf"'
    return response
