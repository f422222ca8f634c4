"""Identity endpoints: device sign-in, the caller's sessions and devices, user administration."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Router

from ecabinet import errors as base_errors
from ecabinet.identity import actions, errors, permissions
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import Clearance, Device, LoginThrottle, Organisation, User, UserSession
from ecabinet.identity.schemas import (
    ClearanceIn,
    CountOut,
    DeviceOut,
    OrganisationOut,
    RoleIn,
    SessionOut,
    ThrottleOut,
    TokenIn,
    TokenOut,
    UnlockIn,
    UserOut,
)
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["identity"])


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.full_name,
        "title": user.title,
        "role": user.role,
        "clearance": Clearance(user.clearance).key,
        "organisation": user.organisation,
        "is_active": user.is_active,
        "mfa_enrolled": user.mfa_enrolled,
        "language": user.language,
    }


def _visible_user(request: HttpRequest, user_id: int) -> User:
    other = User.objects.select_related("organisation").filter(pk=user_id).first()
    if other is None or not permissions.can_see_user(api_user(request), other):
        raise base_errors.NotFound()
    return other


@router.post("/auth/token", auth=None, response={200: TokenOut}, summary="Sign a native client in and register its device")
def issue_token(request: HttpRequest, payload: TokenIn) -> dict[str, Any]:
    ip = client_ip(request)
    user = actions.check_password(payload.username, payload.password, source_ip=ip)
    if user.mfa_required or user.mfa_enrolled:
        if not user.mfa_enrolled:
            raise errors.MfaNotEnrolled()
        if not payload.totp:
            raise errors.MfaRequired()
        actions.check_totp(user, payload.totp, source_ip=ip)
    device, raw = actions.register_device(user, name=payload.device_name, user_agent=request.META.get("HTTP_USER_AGENT", ""), source_ip=ip)
    token = device.tokens.get()
    return {"token": raw, "device_id": device.pk, "expires_at": token.expires_at, "user": user_out(user)}


@router.get("/me", response=UserOut, summary="The signed-in user")
def me(request: HttpRequest) -> dict[str, Any]:
    return user_out(api_user(request))


@router.get("/me/sessions", response=list[SessionOut], summary="The caller's browser sessions")
def my_sessions(request: HttpRequest) -> list[dict[str, Any]]:
    current = request.session.session_key if hasattr(request, "session") else None
    return [
        {**{f: getattr(s, f) for f in ("id", "created_at", "last_seen_at", "ended_at", "source_ip", "user_agent")}, "current": s.session_key == current}
        for s in UserSession.objects.filter(user=api_user(request))[:100]
    ]


@router.get("/me/devices", response=list[DeviceOut], summary="The caller's registered devices")
def my_devices(request: HttpRequest) -> Any:
    return Device.objects.filter(user=api_user(request))


@router.post("/me/sign-out-everywhere", response=CountOut, summary="End every session and token of the caller")
def my_sign_out_everywhere(request: HttpRequest) -> dict[str, int]:
    user = api_user(request)
    return {"count": actions.sign_out_everywhere(user, acting_user=user, source_ip=client_ip(request))}


@router.delete("/devices/{device_id}", response=DeviceOut, summary="Revoke a device and its tokens")
def revoke_device(request: HttpRequest, device_id: int) -> Device:
    device = Device.objects.select_related("user__organisation").filter(pk=device_id).first()
    if device is None or not permissions.can_revoke_device(api_user(request), device):
        raise base_errors.NotFound()
    actions.revoke_device(device, acting_user=api_user(request), source_ip=client_ip(request))
    return device


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations of the caller's government")
def organisations(request: HttpRequest) -> list[Organisation]:
    actor: User = api_user(request)
    if actor.organisation is None:
        return []
    gov = actor.organisation.government
    return list(Organisation.objects.filter(Q(pk=gov.pk) | Q(parent=gov) | Q(parent__parent=gov)))


@router.get("/users", response=list[UserOut], summary="People of the caller's government")
def users(request: HttpRequest, role: str | None = None) -> list[dict[str, Any]]:
    actor: User = api_user(request)
    found = [u for u in User.objects.select_related("organisation").order_by("full_name", "username") if permissions.can_see_user(actor, u)]
    return [user_out(u) for u in found if role is None or u.role == role]


@router.get("/users/{user_id}", response=UserOut)
def user_detail(request: HttpRequest, user_id: int) -> dict[str, Any]:
    return user_out(_visible_user(request, user_id))


def _managed_user(request: HttpRequest, user_id: int) -> User:
    other = _visible_user(request, user_id)
    if not permissions.can_manage_user(api_user(request), other):
        raise base_errors.Forbidden("Only an administrator of this government can change users.")
    return other


@router.post("/users/{user_id}/disable", response=UserOut, summary="Disable a user and end all their sessions")
def disable(request: HttpRequest, user_id: int) -> dict[str, Any]:
    other = _managed_user(request, user_id)
    actions.disable_user(other, acting_user=api_user(request), source_ip=client_ip(request))
    return user_out(other)


@router.post("/users/{user_id}/enable", response=UserOut)
def enable(request: HttpRequest, user_id: int) -> dict[str, Any]:
    other = _managed_user(request, user_id)
    actions.enable_user(other, acting_user=api_user(request), source_ip=client_ip(request))
    return user_out(other)


@router.put("/users/{user_id}/role", response=UserOut)
def set_role(request: HttpRequest, user_id: int, payload: RoleIn) -> dict[str, Any]:
    other = _managed_user(request, user_id)
    actions.change_role(other, payload.role, acting_user=api_user(request), source_ip=client_ip(request))
    return user_out(other)


@router.put("/users/{user_id}/clearance", response=UserOut)
def set_clearance(request: HttpRequest, user_id: int, payload: ClearanceIn) -> dict[str, Any]:
    other = _managed_user(request, user_id)
    actions.change_clearance(other, payload.clearance, acting_user=api_user(request), source_ip=client_ip(request))
    return user_out(other)


@router.post("/users/{user_id}/reset-mfa", response=UserOut, summary="Clear a lost authenticator")
def reset_mfa(request: HttpRequest, user_id: int) -> dict[str, Any]:
    other = _visible_user(request, user_id)
    if not permissions.can_reset_mfa(api_user(request), other):
        raise base_errors.Forbidden("Only the security officer or an administrator can reset another user's authenticator.")
    actions.reset_mfa(other, acting_user=api_user(request), source_ip=client_ip(request))
    return user_out(other)


@router.post("/users/{user_id}/sign-out-everywhere", response=CountOut)
def user_sign_out_everywhere(request: HttpRequest, user_id: int) -> dict[str, int]:
    other = _visible_user(request, user_id)
    if not permissions.can_end_sessions_of(api_user(request), other):
        raise base_errors.Forbidden("You may end only your own sessions.")
    return {"count": actions.sign_out_everywhere(other, acting_user=api_user(request), source_ip=client_ip(request))}


@router.get("/login-throttles", response=list[ThrottleOut], summary="Accounts and addresses with failed sign-ins")
def throttles(request: HttpRequest) -> Any:
    if not permissions.can_unlock_logins(api_user(request)):
        raise base_errors.Forbidden("Only the security officer can see sign-in throttles.")
    return LoginThrottle.objects.order_by("-last_failure_at")[:500]


@router.post("/login-throttles/unlock", response=CountOut, summary="Unlock an account name after too many failures")
def unlock(request: HttpRequest, payload: UnlockIn) -> dict[str, int]:
    if not permissions.can_unlock_logins(api_user(request)):
        raise base_errors.Forbidden("Only the security officer can unlock sign-ins.")
    return {"count": actions.unlock_login(payload.username, acting_user=api_user(request), source_ip=client_ip(request))}
