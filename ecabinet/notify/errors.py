"""Problem codes of the notify app."""

from __future__ import annotations

from ecabinet.errors import ECabinetError


class InvalidPreferences(ECabinetError):
    code = "notify_invalid_preferences"
    status = 422
    title = "The notification preferences are not valid"


class InvalidSubscription(ECabinetError):
    code = "notify_invalid_subscription"
    status = 422
    title = "The push subscription is not valid"


class NudgeTooSoon(ECabinetError):
    code = "notify_nudge_too_soon"
    status = 429
    title = "Members were reminded recently; try again later"


class MessageTooLong(ECabinetError):
    code = "notify_message_too_long"
    status = 413
    title = "The message is too long"


class EmptyMessage(ECabinetError):
    code = "notify_empty_message"
    status = 422
    title = "The message is empty"


class InvalidConversation(ECabinetError):
    code = "notify_invalid_conversation"
    status = 422
    title = "The conversation cannot be created with these people"


class UnknownKind(ECabinetError):
    code = "notify_unknown_kind"
    status = 422
    title = "Unknown notification kind"
