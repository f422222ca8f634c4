"""Who may read the audit log. The role rule itself lives with the other identity rules."""

from __future__ import annotations

from typing import Any

from ecabinet.identity import permissions as identity_permissions


def can_view_log(user: Any) -> bool:
    return identity_permissions.can_view_audit(user)


def can_export_log(user: Any) -> bool:
    # Export hands out the whole log at once; same people as reading it, and the export is audited.
    return identity_permissions.can_view_audit(user)
