"""Fixtures every app's tests use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from ecabinet.identity.core import totp
from ecabinet.identity.models import Role, User
from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory, UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Argon2 costs about half a second per password by design; tests make hundreds of users.

    The configured hasher is checked in identity/tests/test_passwords.py, with this lifted.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test module, for tests that drive a real
    ``ecabinet serve`` (each test opens its own contexts: separate tablets, separate cookies)."""
    from playwright.sync_api import sync_playwright

    from ecabinet.web.tests.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def government() -> Any:
    return GovernmentFactory()


@pytest.fixture
def make_user(government: Any) -> Callable[..., User]:
    def make(role: str = Role.MEMBER, **kwargs: Any) -> User:
        kwargs.setdefault("organisation", government)
        return UserFactory.create(role=role, **kwargs)

    return make


def fresh_code(user: User, *, offset_steps: int = 0) -> str:
    """A valid code for a step later than any the user has used (tests run faster than 30 s)."""
    step = max(int(time.time() // totp.STEP_SECONDS), user.totp_last_step + 1) + offset_steps
    return totp.code_for(user.test_totp_secret, now=step * totp.STEP_SECONDS)  # type: ignore[attr-defined]


@pytest.fixture
def login_client() -> Callable[[User], Client]:
    """A browser client signed in through the real two-step sign-in pages."""

    def login(user: User) -> Client:
        client = Client()
        response = client.post("/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.content
        if user.mfa_enrolled:
            user.refresh_from_db()
            response = client.post("/login/code/", {"code": fresh_code(user)})
            assert response.status_code == 302, response.content
        return client

    return login
