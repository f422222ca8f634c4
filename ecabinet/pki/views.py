"""Tablet pages ("My signing keys", the approval queue) and the public CA files (/pki/crl, /pki/ca.cer)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from ecabinet.errors import ECabinetError
from ecabinet.identity.models import User
from ecabinet.identity.permissions import same_government
from ecabinet.pki import actions, authority, permissions
from ecabinet.pki.models import Authority, EnrolmentRequest, MemberCertificate
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required


@mfa_login_required
@require_GET
def my_keys_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    context = {
        "can_enrol": permissions.can_enrol(user),
        "mode": authority.mode(),
        "requests": EnrolmentRequest.objects.filter(user=user).select_related("decided_by")[:50],
        "certificates": MemberCertificate.objects.filter(user=user),
        "is_approver": permissions.can_approve_any(user),
        "reasons": MemberCertificate.Reason.choices,
    }
    return render(request, "pki/my_keys.html", context)


@mfa_login_required
@require_GET
def queue_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.role not in permissions.OVERSIGHT_ROLES:
        raise Http404
    pending = [
        r
        for r in EnrolmentRequest.objects.filter(state=EnrolmentRequest.State.PENDING).select_related("user__organisation").order_by("created_at")
        if same_government(user, r.user)
    ]
    certificates = [c for c in MemberCertificate.objects.select_related("user__organisation") if permissions.can_see_certificate(user, c)]
    context = {
        "pending": pending,
        "certificates": certificates,
        "can_decide": permissions.can_approve_any(user),
        "can_revoke": user.role in permissions.REVOKER_ROLES,
        "reasons": MemberCertificate.Reason.choices,
    }
    return render(request, "pki/queue.html", context)


def _decide(request: HttpRequest, request_id: int, approve: bool) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    req = EnrolmentRequest.objects.select_related("user__organisation").filter(pk=request_id).first()
    if req is None or not permissions.can_see_request(user, req) or not same_government(user, req.user):
        raise Http404
    if not permissions.can_decide_request(user, req):
        return HttpResponse(_("You may not decide this request."), status=403)
    try:
        if approve:
            actions.approve_enrolment(req, acting_user=user, source_ip=client_ip(request))
            messages.success(request, _("Certificate issued for %(name)s.") % {"name": req.user.display_name})
        else:
            actions.reject_enrolment(req, reason=request.POST.get("reason", "")[:300], acting_user=user, source_ip=client_ip(request))
            messages.info(request, _("Request rejected."))
    except ECabinetError as exc:
        messages.error(request, exc.detail)
    return redirect("pki:queue")


@mfa_login_required
@require_POST
def approve_view(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide(request, request_id, approve=True)


@mfa_login_required
@require_POST
def reject_view(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide(request, request_id, approve=False)


@mfa_login_required
@require_POST
def revoke_view(request: HttpRequest, certificate_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    cert = MemberCertificate.objects.select_related("user__organisation").filter(pk=certificate_id).first()
    if cert is None or not permissions.can_see_certificate(user, cert):
        raise Http404
    if not permissions.can_revoke_certificate(user, cert):
        return HttpResponse(_("You may not revoke this certificate."), status=403)
    reason = request.POST.get("reason", "unspecified")
    if reason not in MemberCertificate.Reason.values:
        reason = "unspecified"
    try:
        actions.revoke_certificate(cert, reason=reason, acting_user=user, source_ip=client_ip(request))
        messages.success(request, _("Certificate revoked."))
    except ECabinetError as exc:
        messages.error(request, exc.detail)
    return redirect("pki:queue" if request.POST.get("back") == "queue" else "pki:my-keys")


# --- public files ---------------------------------------------------------------------------


def _public_file(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@require_GET
@cache_control(public=True, max_age=300)
def crl_view(request: HttpRequest) -> HttpResponse:
    try:
        crl = actions.current_crl()
    except ECabinetError:
        raise Http404 from None
    return _public_file(bytes(crl.der), "application/pkix-crl", "ecabinet.crl")


@require_GET
@cache_control(public=True, max_age=300)
def root_crl_view(request: HttpRequest) -> HttpResponse:
    root = authority.active(Authority.Kind.ROOT)
    if root is None:
        raise Http404
    return _public_file(bytes(actions.current_crl(root).der), "application/pkix-crl", "ecabinet-root.crl")


@require_GET
@cache_control(public=True, max_age=3600)
def ca_cer_view(request: HttpRequest) -> HttpResponse:
    issuing = authority.active(Authority.Kind.ISSUING) or authority.active(Authority.Kind.IMPORTED_INTERMEDIATE)
    if issuing is None:
        raise Http404
    der = authority.certificate(issuing).public_bytes(serialization.Encoding.DER)
    return _public_file(der, "application/pkix-cert", "ecabinet-ca.cer")


@require_GET
@cache_control(public=True, max_age=3600)
def ca_pem_view(request: HttpRequest) -> HttpResponse:
    chain = authority.chain_pem()
    if not chain:
        raise Http404
    return _public_file(chain.encode(), "application/x-pem-file", "ecabinet-ca.pem")
