"""In two real browsers (Debian's Chromium) against a real ``ecabinet serve``: a published dossier
reaches an invited member's open page at once, and a meeting group chat works live both ways.

pytest-django's live server does not speak WebSocket, so the server is ``ecabinet serve
--no-worker`` on its own port, var/ directory and database (an SQLite file, or a scratch
PostgreSQL database on the PostgreSQL pass), as in ``web/tests/test_serve.py``.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecabinet.meetings.tests import live_servers
from ecabinet.web.tests.conftest import TABLET_LANDSCAPE

LIVE_TIMEOUT_MS = 20_000  # generous: a wait, not a measurement


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[live_servers.Server, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("notify-browser")
    with live_servers.private_database(work, f"browser_{secrets.token_hex(3)}") as database_url:
        env = live_servers.child_env(work, database_url=database_url, redis_url=None)
        live_servers.run_cli(env, "migrate", "--noinput", "-v", "0")
        seeded = subprocess.run([sys.executable, "-m", "ecabinet.notify.tests.browser_seed"], env=env, capture_output=True, text=True, timeout=300)
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        server = live_servers.Server(env, live_servers.free_port(), Path(work) / "serve.log")
        try:
            server.wait_ready(timeout=120)
            yield server, data
        finally:
            server.stop()


def tablet(chromium: Any, server: live_servers.Server, session: str) -> Any:
    """A separate browser (its own cookies) signed in as one member."""
    context = chromium.new_context(base_url=server.url, viewport=TABLET_LANDSCAPE, locale="vi-VN", has_touch=True, timezone_id="Asia/Ho_Chi_Minh")
    context.set_default_timeout(LIVE_TIMEOUT_MS)
    context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    return context.new_page()


def test_published_dossier_appears_on_the_members_page_at_once(site: Any, chromium: Any) -> None:
    server, data = site
    member = data["members"][0]
    page = tablet(chromium, server, member["session"])
    page.goto("/notify/")
    page.wait_for_selector("html[data-notify-live='1']", state="attached")
    badge = page.locator("[data-notify-unread]").first
    assert badge.is_hidden()  # nothing unread yet
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates
    secretary = live_servers.web_login(server.url, data["secretary"]["username"], data["password"], data["secretary"]["totp"])
    published = live_servers.api_post(secretary, f"{server.url}/api/v1/meetings/{data['meeting']}/publish")
    assert published.status_code == 200, published.text[:500]
    page.wait_for_function("document.querySelector('[data-notify-unread]').textContent === '1'")
    assert badge.is_visible()
    item = page.locator("#notify-list li.notification.unread").first
    item.wait_for()
    assert "hồ sơ" in item.inner_text().lower() or "dossier" in item.inner_text().lower()
    assert page.evaluate("window.__sameDocument === true")
    page.context.close()


def test_meeting_group_chat_is_live_between_two_browsers(site: Any, chromium: Any) -> None:
    server, data = site
    first, second = (tablet(chromium, server, m["session"]) for m in data["members"])
    for page in (first, second):
        page.goto(f"/notify/meetings/{data['meeting']}/chat/")
        page.wait_for_selector("#chat-log", state="attached")
        page.wait_for_selector("html[data-notify-live='1']", state="attached")
    assert first.url == second.url  # the same meeting conversation
    first.fill("#chat-text", "<b>Đề nghị</b> họp lúc 8h")
    first.click("#chat-send")
    arrived = second.locator("#chat-log li.message .text", has_text="họp lúc 8h")
    arrived.wait_for()
    assert arrived.inner_text() == "<b>Đề nghị</b> họp lúc 8h"  # shown as text, never as HTML
    assert second.locator("#chat-log b.sender", has_text=data["members"][0]["name"]).count() == 1
    second.fill("#chat-text", "Đồng ý")
    second.click("#chat-send")
    first.locator("#chat-log li.message .text", has_text="Đồng ý").wait_for()
    assert first.locator("#chat-log li.message").count() == 2
    first.context.close()
    second.context.close()
