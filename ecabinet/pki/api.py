"""PKI endpoints under /api/v1/pki: the CA, enrolment requests, certificates, revocation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import User
from ecabinet.identity.permissions import can_see_user, same_government
from ecabinet.pki import actions, authority, permissions
from ecabinet.pki.models import EnrolmentRequest, MemberCertificate
from ecabinet.pki.schemas import CaOut, CertificateOut, EnrolIn, ImportCertificateIn, RejectIn, RequestOut, RevokeIn
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["pki"])


def _owner(user: User) -> dict[str, Any]:
    return {"id": user.pk, "username": user.username, "full_name": user.full_name}


def certificate_out(cert: MemberCertificate) -> dict[str, Any]:
    return {
        **{f: getattr(cert, f) for f in ("id", "device_label", "serial", "fingerprint", "spki_sha256", "not_before", "not_after", "issued_at", "imported")},
        "user": _owner(cert.user),
        "state": cert.state,
        "revoked_at": cert.revoked_at,
        "revocation_reason": cert.revocation_reason,
        "certificate_pem": cert.certificate_pem,
    }


def request_out(req: EnrolmentRequest) -> dict[str, Any]:
    cert = MemberCertificate.objects.select_related("user").filter(request=req).first()
    return {
        **{f: getattr(req, f) for f in ("id", "device_label", "source", "spki_sha256", "state", "created_at", "decided_at", "rejection_reason")},
        "user": _owner(req.user),
        "certificate": certificate_out(cert) if cert else None,
    }


def ca_info() -> dict[str, Any]:
    mode = authority.mode()
    latest = None
    if mode != "uninitialised":
        try:
            latest = actions.current_crl()
        except base_errors.ECabinetError:
            latest = None
    return {
        "mode": mode,
        "authorities": [a for a in (*authority.anchors(), *authority.intermediates())],
        "chain_pem": authority.chain_pem(),
        "crl_url": f"{settings.PKI_PUBLIC_URL}/pki/crl",
        "crl_number": latest.number if latest else None,
        "crl_next_update": latest.next_update if latest else None,
    }


@router.get("/ca", auth=None, response=CaOut, summary="The trust anchor, CA chain and CRL of this installation (public)")
def ca(request: HttpRequest) -> dict[str, Any]:
    return ca_info()


def _visible_requests(actor: User) -> QuerySet[EnrolmentRequest]:
    queryset = EnrolmentRequest.objects.select_related("user__organisation")
    if actor.role in permissions.OVERSIGHT_ROLES:
        return queryset
    return queryset.filter(user=actor)


@router.get("/requests", response=list[RequestOut], summary="Enrolment requests: the caller's own, and the approval queue for approvers")
def list_requests(request: HttpRequest, state: str | None = None, mine: bool = False) -> list[dict[str, Any]]:
    actor: User = api_user(request)
    found = _visible_requests(actor)
    if mine:
        found = found.filter(user=actor)
    if state:
        found = found.filter(state=state)
    return [request_out(r) for r in found[:500] if permissions.can_see_request(actor, r)]


@router.post("/requests", response={201: RequestOut}, summary="Send a device's CSR (the private key stays on the device)")
def create_request(request: HttpRequest, payload: EnrolIn) -> Status:
    actor: User = api_user(request)
    if not permissions.can_enrol(actor):
        raise base_errors.Forbidden("Your role does not sign documents or ballots.")
    req = actions.request_enrolment(
        actor, csr=payload.csr, device_label=payload.device_label, source=payload.source, acting_user=actor, source_ip=client_ip(request)
    )
    return Status(201, request_out(req))


def _visible_request(request: HttpRequest, request_id: int) -> EnrolmentRequest:
    req = EnrolmentRequest.objects.select_related("user__organisation").filter(pk=request_id).first()
    if req is None or not permissions.can_see_request(api_user(request), req):
        raise base_errors.NotFound()
    return req


@router.get("/requests/{request_id}", response=RequestOut)
def get_request(request: HttpRequest, request_id: int) -> dict[str, Any]:
    return request_out(_visible_request(request, request_id))


def _decidable_request(request: HttpRequest, request_id: int) -> EnrolmentRequest:
    actor: User = api_user(request)
    if not permissions.can_approve_any(actor):
        raise base_errors.Forbidden("Only a secretary or an administrator approves signing keys.")
    req = EnrolmentRequest.objects.select_related("user__organisation").filter(pk=request_id).first()
    if req is None or not same_government(actor, req.user):
        raise base_errors.NotFound()
    if not permissions.can_decide_request(actor, req):
        raise base_errors.Forbidden("Someone else must approve your own signing key.")
    return req


@router.post("/requests/{request_id}/approve", response=RequestOut, summary="Issue the certificate for a pending request")
def approve(request: HttpRequest, request_id: int) -> dict[str, Any]:
    req = _decidable_request(request, request_id)
    actions.approve_enrolment(req, acting_user=api_user(request), source_ip=client_ip(request))
    req.refresh_from_db()
    return request_out(req)


@router.post("/requests/{request_id}/reject", response=RequestOut)
def reject(request: HttpRequest, request_id: int, payload: RejectIn) -> dict[str, Any]:
    req = _decidable_request(request, request_id)
    actions.reject_enrolment(req, reason=payload.reason, acting_user=api_user(request), source_ip=client_ip(request))
    return request_out(req)


@router.get("/certificates", response=list[CertificateOut], summary="Signing certificates the caller may see (own, or the government's for staff)")
def list_certificates(request: HttpRequest, mine: bool = False, user_id: int | None = None) -> list[dict[str, Any]]:
    actor: User = api_user(request)
    found = MemberCertificate.objects.select_related("user__organisation")
    if mine or actor.role not in permissions.OVERSIGHT_ROLES:
        found = found.filter(user=actor)
    if user_id is not None:
        found = found.filter(user_id=user_id)
    return [certificate_out(c) for c in found[:1000] if permissions.can_see_certificate(actor, c)]


@router.post("/certificates/import", response={201: CertificateOut}, summary="Register a certificate issued by the imported government CA to a member")
def import_certificate(request: HttpRequest, payload: ImportCertificateIn) -> Status:
    actor: User = api_user(request)
    if not permissions.can_import_certificates(actor):
        raise base_errors.Forbidden("Only an administrator registers imported certificates.")
    owner = User.objects.select_related("organisation").filter(pk=payload.user_id).first()
    if owner is None or not can_see_user(actor, owner):
        raise base_errors.NotFound()
    cert = actions.import_member_certificate(
        owner, certificate=payload.certificate, device_label=payload.device_label, acting_user=actor, source_ip=client_ip(request)
    )
    return Status(201, certificate_out(cert))


def _visible_certificate(request: HttpRequest, certificate_id: int) -> MemberCertificate:
    cert = MemberCertificate.objects.select_related("user__organisation").filter(pk=certificate_id).first()
    if cert is None or not permissions.can_see_certificate(api_user(request), cert):
        raise base_errors.NotFound()
    return cert


@router.get("/certificates/{certificate_id}", response=CertificateOut)
def get_certificate(request: HttpRequest, certificate_id: int) -> dict[str, Any]:
    return certificate_out(_visible_certificate(request, certificate_id))


@router.post("/certificates/{certificate_id}/revoke", response=CertificateOut, summary="Revoke at once (lost tablet, left office); the CRL is re-issued")
def revoke(request: HttpRequest, certificate_id: int, payload: RevokeIn) -> dict[str, Any]:
    cert = _visible_certificate(request, certificate_id)
    if not permissions.can_revoke_certificate(api_user(request), cert):
        raise base_errors.Forbidden("Only the owner, an administrator or the security officer revokes a certificate.")
    actions.revoke_certificate(cert, reason=payload.reason, acting_user=api_user(request), source_ip=client_ip(request))
    return certificate_out(cert)
