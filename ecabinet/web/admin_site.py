"""Django admin for the ``admin`` role only, behind the same sign-in and second factor."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from ecabinet.identity import actions, permissions


class ECabinetAdminSite(admin.AdminSite):
    site_header = "e-Cabinet"
    site_title = "e-Cabinet administration"

    def has_permission(self, request: HttpRequest) -> bool:
        return permissions.can_use_admin_site(request.user, mfa_done=bool(request.session.get(actions.SESSION_MFA)))

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:  # type: ignore[override]
        # One sign-in page for everything, so the admin site never gets a password-only door.
        return redirect(reverse("web:login") + "?next=" + request.GET.get("next", reverse("admin:index")))
