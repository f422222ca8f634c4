"""Audit log endpoints (security officer). No ``from __future__ import annotations``: Ninja's
pagination rebuilds the signature elsewhere and needs the filter schema as a real class.

That the audit log exists is no secret, so a signed-in user with another role is told so (403
``audit_forbidden``) rather than shown a 404; the anonymous get 401.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router
from ninja.pagination import PageNumberPagination, paginate

from ecabinet.audit import actions, checks, errors, permissions, proofs, signing
from ecabinet.audit.filters import AuditFilter
from ecabinet.audit.models import AuditEntry, Checkpoint
from ecabinet.audit.schemas import CheckpointOut, EntryFilterIn, EntryOut, ProofOut, PublicKeyOut, StatusOut
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["audit"])


def _officer(request: HttpRequest) -> Any:
    user = api_user(request)
    if not permissions.can_view_log(user):
        raise errors.AuditAccessDenied()
    return user


@router.get("/entries", response=list[EntryOut], summary="Audit entries, newest first, filtered")
@paginate(PageNumberPagination, page_size=50, max_page_size=500)
def entries(request: HttpRequest, filters: Query[EntryFilterIn]) -> QuerySet[AuditEntry]:
    _officer(request)
    return AuditFilter.from_values(filters.dict()).apply(AuditEntry.objects.all()).order_by("-seq")


@router.get("/entries/{seq}", response=EntryOut, summary="One audit entry")
def entry(request: HttpRequest, seq: int) -> AuditEntry:
    _officer(request)
    found = AuditEntry.objects.filter(seq=seq).first()
    if found is None:
        raise errors.EntryNotFound(f"There is no audit entry #{seq}.")
    return found


@router.get("/checkpoints", response=list[CheckpointOut], summary="Signed checkpoints, newest first")
@paginate(PageNumberPagination, page_size=50, max_page_size=500)
def checkpoints(request: HttpRequest) -> QuerySet[Checkpoint]:
    _officer(request)
    return Checkpoint.objects.order_by("-size")


@router.get("/checkpoints/latest", response=CheckpointOut, summary="The newest signed checkpoint")
def latest_checkpoint(request: HttpRequest) -> Checkpoint:
    _officer(request)
    latest = Checkpoint.objects.order_by("-size").first()
    if latest is None:
        raise errors.NoCheckpoint()
    return latest


@router.get("/proof/{seq}", response=ProofOut, summary="Inclusion proof of one entry against the latest checkpoint")
def proof(request: HttpRequest, seq: int) -> dict[str, Any]:
    _officer(request)
    return proofs.inclusion_bundle(seq)


@router.get("/status", response=StatusOut, summary="Quick integrity check: latest checkpoint and the chain since")
def status(request: HttpRequest) -> dict[str, Any]:
    _officer(request)
    result = checks.quick_check()
    report = result.report
    return {
        "ok": report.ok,
        "quick": result.quick,
        "entries_checked": report.entries,
        "latest_checkpoint_size": report.latest_checkpoint_size,
        "first_bad_seq": report.first_bad_seq,
        "problems": [str(p) for p in report.problems],
        "missing_guards": result.missing_guards,
    }


@router.get("/pubkey", response=PublicKeyOut, summary="The checkpoint signing public key")
def pubkey(request: HttpRequest) -> dict[str, str]:
    _officer(request)
    return {"pem": signing.public_key_pem(), "verifier_key": signing.verifier_key(), "origin": signing.signer_name()}


@router.get(
    "/export",
    summary="The log as JSON lines: matching entries in seq order, then every checkpoint (the export is audited)",
    openapi_extra={"responses": {200: {"description": "JSON lines", "content": {"application/jsonl": {}}}}},
)
def export(request: HttpRequest, filters: Query[EntryFilterIn]) -> StreamingHttpResponse:
    user = _officer(request)
    if not permissions.can_export_log(user):
        raise errors.AuditAccessDenied()
    lines = actions.export_log(acting_user=user, source_ip=client_ip(request), filters=AuditFilter.from_values(filters.dict()), channel="api")
    response = StreamingHttpResponse(lines, content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="audit-log.jsonl"'
    return response
