"""Audit event constants of the security app."""

ALERT_RAISED = "security.alert.raised"
ALERT_ACKNOWLEDGED = "security.alert.acknowledged"
