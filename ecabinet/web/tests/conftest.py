"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live server.

Playwright's sync API keeps an asyncio loop marked as running in this thread while it is
started, and Django refuses ORM calls from a thread with a running loop unless
DJANGO_ALLOW_ASYNC_UNSAFE is set. The loop is started and stopped around each test (and the
variable set only for that time) so async tests elsewhere in the same run see a clean thread.
Tests that use these fixtures need ``django_db(transaction=True)``: the live server answers from
another thread, which must see what the test wrote.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

CHROMIUM = os.environ.get("ECABINET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = settings.PROJECT_DIR / "test-artifacts"

# Named viewports (CSS pixels) the shell is built for.
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
TABLET_LARGE = {"width": 1366, "height": 1024}
TABLET_PORTRAIT = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make sysdeps` (installs Debian's chromium)"
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            # While Playwright's loop runs, Django keeps this thread's database connections in a
            # context-local store of their own (asgiref's thread-critical Local); close them now,
            # or they outlive the test and PostgreSQL refuses to drop the test database.
            connections.close_all()
            browser.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Callable[..., Any]:
    """Open a page in a fresh browser context (its own cookies), like a separate tablet.

    Contexts default to a Vietnamese tablet: 1024×768, touch, ``vi-VN`` locale.
    """

    def open_page(viewport: dict[str, int] | None = None, locale: str = "vi-VN", **kwargs: Any) -> Any:
        viewport = viewport or TABLET_LANDSCAPE
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport,
            locale=locale,
            has_touch=True,
            is_mobile=viewport["width"] < 700,
            timezone_id="Asia/Ho_Chi_Minh",
            **kwargs,
        )
        context.set_default_timeout(15_000)
        return context.new_page()

    return open_page


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
