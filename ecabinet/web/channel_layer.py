"""The embedded mode's channel layer: channels' in-memory layer with an amortised expiry sweep.

Upstream's ``InMemoryChannelLayer`` sweeps every channel and every group for expired entries on
each ``receive``. Every connected tablet waits in ``receive``, so one event to a meeting with n
tablets costs n sweeps of n channels: with a thousand tablets a broadcast took over a second.
Sweeping at most once a second keeps the same expiry (an expired message may linger up to a
second longer, never delivered late: receive still pops in order) at a cost independent of n.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):
    sweep_interval = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_sweep = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        super()._clean_expired()
