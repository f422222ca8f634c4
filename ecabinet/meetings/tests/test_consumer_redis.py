"""Across app servers: an item started through server B's API reaches a WebSocket client on A.

Two real `ecabinet serve --no-worker` processes share one Redis (a private database number on the
local Redis, whatever the outer run is configured with) and one database (PostgreSQL when the
outer run uses it, else a SQLite file); nothing else connects them.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
import websockets

from ecabinet.meetings.tests.live_servers import LOCAL_REDIS, Server, api_post, child_env, free_port, private_database, run_cli, seed, web_login

REDIS_URL = f"{LOCAL_REDIS}/5"


@pytest.mark.redis
def test_an_action_on_server_b_reaches_a_client_on_server_a(tmp_path):
    redis.Redis.from_url(REDIS_URL).flushdb()
    with private_database(tmp_path, "xproc") as database_url:
        env = child_env(tmp_path, database_url=database_url, redis_url=REDIS_URL)
        run_cli(env, "migrate", "--noinput", "-v", "0")
        data = seed(env)
        a, b = Server(env, free_port(), tmp_path / "a.log"), Server(env, free_port(), tmp_path / "b.log")
        try:
            a.wait_ready()
            b.wait_ready()
            member = web_login(b.url, data["member"]["username"], data["password"], data["member"]["totp"])
            chair = web_login(b.url, data["chair"]["username"], data["password"], data["chair"]["totp"])
            item = data["items"][0]

            async def scenario() -> tuple[dict, dict]:
                headers = {"Cookie": f"sessionid={member.cookies['sessionid']}", "Origin": a.url}
                async with websockets.connect(f"ws://127.0.0.1:{a.port}/ws/meetings/{data['meeting']}/", additional_headers=headers) as ws:
                    snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    response = await asyncio.to_thread(api_post, chair, f"{b.url}/api/v1/meetings/{data['meeting']}/items/{item}/start")
                    assert response.status_code == 200, response.text
                    event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    return snapshot, event

            snapshot, event = asyncio.run(scenario())
        finally:
            a.stop()
            b.stop()
    assert snapshot["type"] == "snapshot" and snapshot["running_item"] is None
    assert (event["type"], event["kind"], event["item"], event["meeting"]) == ("event", "item.started", item, data["meeting"])
    assert event["data"]["item"]["running"] is True
