"""Tablet pages of the shell: sign-in with TOTP, enrolment, home, profile, sessions and devices."""

from __future__ import annotations

from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ecabinet.errors import ECabinetError, NotAuthenticated
from ecabinet.identity import actions, permissions
from ecabinet.identity.core import totp
from ecabinet.identity.models import Clearance, Device, LoginThrottle, User, UserSession
from ecabinet.web.forms import CodeForm, LoginForm
from ecabinet.web.net import client_ip

NEXT = "ecab_next"


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return candidate
    return reverse("web:home")


def mfa_login_required(view: Any) -> Any:
    """Signed in, and past the second factor where the role needs one."""

    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if getattr(user, "mfa_required", True) and not request.session.get(actions.SESSION_MFA):
            actions.logout_web(request, source_ip=client_ip(request))
            return redirect("web:login")
        return view(request, *args, **kwargs)  # type: ignore[no-any-return]

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def signed_in_user(request: HttpRequest) -> User:
    """The signed-in user of a view behind ``mfa_login_required`` (or ``login_required``), typed."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.session.get(actions.SESSION_MFA, not getattr(request.user, "mfa_required", True)):
        return redirect("web:home")
    form = LoginForm(request.POST or None)
    error = None
    status = 200
    if getattr(request, "session_expired", False):
        messages.info(request, _("Your session has expired. Please sign in again."))
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.check_password(form.cleaned_data["username"], form.cleaned_data["password"], source_ip=client_ip(request))
        except ECabinetError as exc:
            error, status = _login_error_text(exc), exc.status
        else:
            request.session[NEXT] = _safe_next(request, request.GET.get("next"))
            if user.mfa_enrolled:
                actions.begin_pending_login(request, user)
                return redirect("web:login-totp")
            if user.mfa_required:
                actions.begin_pending_login(request, user)
                return redirect("web:enrol-totp")
            actions.complete_web_login(request, user, source_ip=client_ip(request), mfa=False)
            return HttpResponseRedirect(_safe_next(request, request.GET.get("next")))
    elif request.method == "POST":
        status = 400
    return render(request, "web/login.html", {"form": form, "error": error}, status=status)


def _login_error_text(exc: ECabinetError) -> str:
    texts = {
        "bad_credentials": _("Wrong user name or password."),
        "login_throttled": _("Too many failed attempts. Wait %(seconds)s seconds and try again.") % {"seconds": exc.extra.get("retry_after", 60)},
        "login_locked": _("Sign-in is locked after too many failed attempts. Ask the security officer to unlock it."),
        "mfa_invalid": _("The code is wrong, expired or already used."),
    }
    return texts.get(exc.code, str(exc.detail))


@require_http_methods(["GET", "POST"])
def login_totp_view(request: HttpRequest) -> HttpResponse:
    user = actions.pending_user(request)
    if user is None or not user.mfa_enrolled:
        return redirect("web:login")
    form = CodeForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST" and form.is_valid():
        try:
            actions.check_totp(user, form.cleaned_data["code"], source_ip=client_ip(request))
        except ECabinetError as exc:
            error, status = _login_error_text(exc), exc.status
        else:
            next_url = request.session.get(NEXT)
            actions.complete_web_login(request, user, source_ip=client_ip(request), mfa=True)
            return HttpResponseRedirect(_safe_next(request, next_url))
    return render(request, "web/login_totp.html", {"form": form, "error": error, "pending": user}, status=status)


@require_http_methods(["GET", "POST"])
def enrol_totp_view(request: HttpRequest) -> HttpResponse:
    user = actions.pending_user(request)
    if user is None:
        return redirect("web:login")
    if user.mfa_enrolled:
        return redirect("web:login-totp")
    secret = actions.pending_totp_secret(user) or actions.start_totp_enrolment(user)
    form = CodeForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST" and form.is_valid():
        try:
            actions.confirm_totp_enrolment(user, form.cleaned_data["code"], source_ip=client_ip(request))
        except ECabinetError as exc:
            error, status = _login_error_text(exc), exc.status
        else:
            next_url = request.session.get(NEXT)
            actions.complete_web_login(request, user, source_ip=client_ip(request), mfa=True)
            messages.success(request, _("Your authenticator app is set up."))
            return HttpResponseRedirect(_safe_next(request, next_url))
    uri = totp.provisioning_uri(secret, user.username)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#10233f")
    return render(request, "web/enrol_totp.html", {"form": form, "error": error, "qr_svg": qr_svg, "secret": secret, "pending": user}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    actions.logout_web(request, source_ip=client_ip(request))
    return redirect("web:login")


@mfa_login_required
def home_view(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {})


@mfa_login_required
def profile_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(request, "web/profile.html", {"clearance": Clearance(user.clearance).label})


@mfa_login_required
def sessions_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    sessions = UserSession.objects.filter(user=user, ended_at=None)
    devices = Device.objects.filter(user=user)
    return render(request, "web/sessions.html", {"sessions": sessions, "devices": devices, "current_key": request.session.session_key})


@mfa_login_required
@require_POST
def sign_out_everywhere_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    actions.sign_out_everywhere(user, acting_user=user, source_ip=client_ip(request))
    messages.success(request, _("You have been signed out on every device."))
    return redirect("web:login")


@mfa_login_required
@require_POST
def revoke_device_view(request: HttpRequest, device_id: int) -> HttpResponse:
    device = get_object_or_404(Device.objects.select_related("user__organisation"), pk=device_id)
    if not permissions.can_revoke_device(request.user, device):  # type: ignore[arg-type]
        return render(request, "web/404.html", status=404)
    actions.revoke_device(device, acting_user=request.user, source_ip=client_ip(request))  # type: ignore[arg-type]
    messages.success(request, _("Device %(name)s was revoked.") % {"name": device.name})
    return redirect("web:sessions")


@mfa_login_required
@require_http_methods(["GET", "POST"])
def throttles_view(request: HttpRequest) -> HttpResponse:
    if not permissions.can_unlock_logins(request.user):  # type: ignore[arg-type]
        return render(request, "web/404.html", status=404)
    if request.method == "POST":
        username = request.POST.get("username", "")[:200]
        if username:
            actions.unlock_login(username, acting_user=request.user, source_ip=client_ip(request))  # type: ignore[arg-type]
            messages.success(request, _("Sign-in for %(name)s is unlocked.") % {"name": username})
        return redirect("web:throttles")
    rows = LoginThrottle.objects.order_by("-last_failure_at")[:200]
    return render(request, "web/throttles.html", {"rows": rows})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "web/404.html", status=404)
