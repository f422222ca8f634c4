"""The PKI's answers to other apps' signals."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ecabinet.identity.signals import user_disabled


@receiver(user_disabled, dispatch_uid="pki-revoke-on-disable")
def revoke_certificates_of_disabled_user(sender: Any, *, user: Any, acting_user: Any, source_ip: str | None, **kwargs: Any) -> None:
    # A member who leaves office can no longer sign: their certificates are revoked in the same
    # transaction that disables the account, and the CRL is re-issued at once.
    from ecabinet.pki.actions import revoke_all_for_user

    revoke_all_for_user(user, reason="affiliation_changed", acting_user=acting_user, source_ip=source_ip)
