"""How a channel reports the outcome of one attempt."""

from __future__ import annotations


class TransientError(Exception):
    """Worth retrying: the server was away, busy, or said 4xx."""


class PermanentError(Exception):
    """Retrying will not help: a refused address, a 5xx, a removed subscription."""
