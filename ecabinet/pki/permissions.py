"""Who may enrol, approve, see and revoke signing certificates: decided here only.

Role checks that reveal nothing about a particular object come first (a member asking to approve
gets 403); then objects outside the actor's sight are 404, as if they did not exist.
"""

from __future__ import annotations

from typing import Any

from ecabinet.identity.models import Role, User
from ecabinet.identity.permissions import is_signed_in, same_government
from ecabinet.pki.models import EnrolmentRequest, MemberCertificate

# Everyone who may sign something: ballots (chair, members), minutes and decisions (secretaries).
ENROL_ROLES = frozenset({Role.CHAIR, Role.MEMBER, Role.SECRETARY, Role.ADMIN, Role.SECURITY_OFFICER})
APPROVER_ROLES = frozenset({Role.SECRETARY, Role.ADMIN})
# Who sees the certificates of others in the same government (to approve, audit, revoke).
OVERSIGHT_ROLES = frozenset({Role.SECRETARY, Role.ADMIN, Role.SECURITY_OFFICER})
REVOKER_ROLES = frozenset({Role.ADMIN, Role.SECURITY_OFFICER})


def can_enrol(actor: Any) -> bool:
    return is_signed_in(actor) and actor.role in ENROL_ROLES


def can_approve_any(actor: Any) -> bool:
    """The role allows deciding enrolment requests (of one's own government)."""
    return is_signed_in(actor) and actor.role in APPROVER_ROLES


def can_see_request(actor: User, request: EnrolmentRequest) -> bool:
    if not is_signed_in(actor):
        return False
    return request.user_id == actor.pk or (actor.role in OVERSIGHT_ROLES and same_government(actor, request.user))


def can_decide_request(actor: User, request: EnrolmentRequest) -> bool:
    # Nobody approves their own key: the point of the approval is a second person.
    return can_approve_any(actor) and same_government(actor, request.user) and request.user_id != actor.pk


def can_see_certificate(actor: User, certificate: MemberCertificate) -> bool:
    if not is_signed_in(actor):
        return False
    return certificate.user_id == actor.pk or (actor.role in OVERSIGHT_ROLES and same_government(actor, certificate.user))


def can_revoke_certificate(actor: User, certificate: MemberCertificate) -> bool:
    if not can_see_certificate(actor, certificate):
        return False
    return certificate.user_id == actor.pk or actor.role in REVOKER_ROLES


def can_import_certificates(actor: Any) -> bool:
    return is_signed_in(actor) and actor.role == Role.ADMIN
