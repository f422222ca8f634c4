"""Signals other apps listen to, sent inside the identity action's transaction."""

from django.dispatch import Signal

# Sent by identity.actions.disable_user after the user is disabled, inside its transaction, with
# ``user``, ``acting_user`` and ``source_ip``. A receiver that raises rolls the disabling back.
user_disabled = Signal()
