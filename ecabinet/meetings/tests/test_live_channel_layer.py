"""The embedded channel layer (ecabinet.web.channel_layer): same delivery, amortised expiry sweep."""

from __future__ import annotations

import asyncio

import pytest

from ecabinet.web.channel_layer import EmbeddedChannelLayer


async def test_group_messages_reach_every_member_in_order():
    layer = EmbeddedChannelLayer()
    channels = [await layer.new_channel() for _ in range(50)]
    for name in channels:
        await layer.group_add("meeting.1", name)
    await layer.group_send("meeting.1", {"type": "meeting.event", "n": 1})
    await layer.group_send("meeting.1", {"type": "meeting.event", "n": 2})
    for name in channels:
        assert [(await layer.receive(name))["n"] for _ in range(2)] == [1, 2]


async def test_the_sweep_runs_at_most_once_per_interval(monkeypatch):
    layer = EmbeddedChannelLayer()
    sweeps = 0
    original = EmbeddedChannelLayer.__mro__[1]._clean_expired

    def counting(self):
        nonlocal sweeps
        sweeps += 1
        original(self)

    monkeypatch.setattr(EmbeddedChannelLayer.__mro__[1], "_clean_expired", counting)
    name = await layer.new_channel()
    for n in range(20):
        await layer.send(name, {"type": "x", "n": n})
        await layer.receive(name)
    assert sweeps == 1


async def test_expired_messages_are_still_dropped_after_the_interval():
    layer = EmbeddedChannelLayer(expiry=0)
    layer.sweep_interval = 0.05
    stale, fresh = await layer.new_channel(), await layer.new_channel()
    await layer.send(stale, {"type": "x"})
    await asyncio.sleep(0.06)
    layer.expiry = 60
    await layer.send(fresh, {"type": "y"})
    assert (await asyncio.wait_for(layer.receive(fresh), 5))["type"] == "y"  # this receive sweeps
    assert stale not in layer.channels
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(stale), 0.1)
