from __future__ import annotations

from ecabinet.errors import Conflict


class AlertAlreadyAcknowledged(Conflict):
    code = "alert_already_acknowledged"
    title = "The alert was already acknowledged"
