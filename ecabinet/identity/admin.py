from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from ecabinet.identity.models import Device, Organisation, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "short_name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("name", "short_name")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "role", "clearance", "organisation", "is_active")
    list_filter = ("role", "clearance", "is_active", "organisation")
    search_fields = ("username", "full_name", "email")
    # Role, clearance and activation change through the API and actions, which audit them.
    readonly_fields = ("role", "clearance", "is_active", "is_staff", "is_superuser", "totp_confirmed_at", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("full_name", "title", "email", "organisation", "language")}),
        ("Access", {"fields": ("role", "clearance", "is_active", "is_staff", "is_superuser", "totp_confirmed_at")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "kind", "created_at", "last_seen_at", "revoked_at")
    readonly_fields = ("user", "kind", "created_at", "last_seen_at", "revoked_at")
