"""Who may do what with identities, sessions, devices and the audit log: decided here only.

Objects in another government are out of sight altogether (the API answers 404).
"""

from __future__ import annotations

from typing import Any

from ecabinet.identity.models import Device, Role, User


def is_signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def same_government(actor: User, other: User) -> bool:
    if actor.organisation_id is None or other.organisation_id is None:
        return actor.organisation_id == other.organisation_id
    return actor.organisation.government.pk == other.organisation.government.pk  # type: ignore[union-attr]


def can_see_user(actor: User, other: User) -> bool:
    return is_signed_in(actor) and (actor.pk == other.pk or same_government(actor, other))


def can_administer_users(actor: User) -> bool:
    return is_signed_in(actor) and actor.role == Role.ADMIN


def can_manage_user(actor: User, other: User) -> bool:
    return can_administer_users(actor) and same_government(actor, other)


def can_reset_mfa(actor: User, other: User) -> bool:
    return is_signed_in(actor) and actor.role in (Role.ADMIN, Role.SECURITY_OFFICER) and same_government(actor, other) and actor.pk != other.pk


def can_unlock_logins(actor: User) -> bool:
    return is_signed_in(actor) and actor.role in (Role.SECURITY_OFFICER, Role.ADMIN)


def can_end_sessions_of(actor: User, other: User) -> bool:
    if actor.pk == other.pk:
        return is_signed_in(actor)
    return is_signed_in(actor) and actor.role in (Role.ADMIN, Role.SECURITY_OFFICER) and same_government(actor, other)


def can_revoke_device(actor: User, device: Device) -> bool:
    return can_end_sessions_of(actor, device.user)


def can_view_audit(actor: User) -> bool:
    # Separation of duties: the people who run the system do not audit it.
    return is_signed_in(actor) and actor.role == Role.SECURITY_OFFICER


def can_use_admin_site(actor: Any, *, mfa_done: bool) -> bool:
    return is_signed_in(actor) and actor.role == Role.ADMIN and mfa_done
