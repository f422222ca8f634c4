"""Growing delays then lockout, per account name and per address; the officer unlocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit import events
from ecabinet.audit.models import AuditEntry
from ecabinet.identity import throttle
from ecabinet.identity.models import LoginThrottle, Role
from ecabinet.identity.tests.factories import PASSWORD
from ecabinet.identity.tests.test_api_auth import assert_problem, get_token, post_json

pytestmark = pytest.mark.django_db


def attempt(username: str, password: str = "wrong", ip: str = "10.1.1.1"):
    return post_json(Client(REMOTE_ADDR=ip), "/api/v1/auth/token", {"username": username, "password": password, "totp": "000000", "device_name": "x"})


@pytest.fixture(autouse=True)
def still_clock(monkeypatch):
    """The throttle's clock stands still, so a 1-second delay cannot lapse on a slow machine."""
    frozen = timezone.now()
    monkeypatch.setattr(throttle, "_now", lambda: frozen)
    return frozen


def rewind(seconds: int = 3600) -> None:
    """Pretend the delays have passed, without sleeping."""
    LoginThrottle.objects.update(next_allowed_at=throttle._now() - timedelta(seconds=1))


def test_delay_grows_after_threshold(settings):
    assert [throttle.delay_for(n) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 16]
    assert throttle.delay_for(100) == throttle.MAX_DELAY_SECONDS


def test_delay_then_same_answer_for_known_and_unknown(make_user, settings):
    user = make_user()
    for name in (user.username, "no-such-person"):
        for _ in range(settings.LOGIN_DELAY_AFTER):
            assert_problem(attempt(name, ip=f"10.0.0.{len(name)}"), 401, "bad_credentials")
        body = assert_problem(attempt(name, ip=f"10.0.0.{len(name)}"), 429, "login_throttled")
        assert body["retry_after"] >= 1
    # While delayed, even the right password is refused, and that refusal is audited.
    response = post_json(Client(REMOTE_ADDR="10.9.9.9"), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "device_name": "x"})
    assert_problem(response, 429, "login_throttled")
    assert AuditEntry.objects.filter(event=events.LOGIN_THROTTLED).count() >= 3


def test_lockout_needs_security_officer(make_user, settings):
    user = make_user()
    officer = make_user(Role.SECURITY_OFFICER)
    member = make_user(Role.MEMBER)
    for i in range(settings.LOGIN_LOCKOUT_AFTER):
        rewind()
        attempt(user.username, ip=f"10.2.0.{i}")
    rewind()
    assert_problem(attempt(user.username, password=PASSWORD, ip="10.3.0.1"), 429, "login_locked")
    assert AuditEntry.objects.filter(event=events.LOGIN_LOCKED).count() == 1

    # A member cannot unlock; the security officer can, and it is audited.
    member_token = get_token(member)["token"]
    denied = post_json(Client(), "/api/v1/login-throttles/unlock", {"username": user.username}, HTTP_AUTHORIZATION=f"Bearer {member_token}")
    assert_problem(denied, 403, "forbidden")
    assert_problem(Client().post("/api/v1/login-throttles/unlock", data='{"username": "x"}', content_type="application/json"), 401, "not_authenticated")
    officer_token = get_token(officer)["token"]
    listed = Client().get("/api/v1/login-throttles", HTTP_AUTHORIZATION=f"Bearer {officer_token}").json()
    assert any(row["key"] == user.username and row["locked_at"] for row in listed)
    ok = post_json(Client(), "/api/v1/login-throttles/unlock", {"username": user.username}, HTTP_AUTHORIZATION=f"Bearer {officer_token}")
    assert ok.status_code == 200 and ok.json()["count"] == 1
    assert AuditEntry.objects.filter(event=events.LOGIN_UNLOCKED, actor=officer).count() == 1
    # Unlocked: the right password passes the first step again (the code is what fails now).
    assert_problem(attempt(user.username, password=PASSWORD, ip="10.3.0.2"), 401, "mfa_invalid")


def test_address_is_throttled_across_names(settings):
    for i in range(settings.LOGIN_DELAY_AFTER):
        attempt(f"name{i}", ip="10.5.5.5")
    assert_problem(attempt("fresh-name", ip="10.5.5.5"), 429, "login_throttled")
    # Another address with a fresh name is not affected.
    assert_problem(attempt("fresh-name-2", ip="10.5.5.6"), 401, "bad_credentials")


def test_address_lock_expires_by_itself(settings):
    for i in range(settings.LOGIN_LOCKOUT_AFTER):
        rewind()
        attempt(f"spray{i}", ip="10.6.6.6")
    rewind()
    assert_problem(attempt("another", ip="10.6.6.6"), 429, "login_locked")
    LoginThrottle.objects.filter(scope="address").update(locked_at=throttle._now() - throttle.ADDRESS_LOCK - timedelta(seconds=1))
    assert_problem(attempt("another2", ip="10.6.6.6"), 401, "bad_credentials")


def test_success_resets_account_counter(make_user):
    user = make_user(Role.GUEST, mfa=False)
    attempt(user.username)
    assert LoginThrottle.objects.filter(scope="account", key=user.username).exists()
    response = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "device_name": "x"})
    assert response.status_code == 200
    assert not LoginThrottle.objects.filter(scope="account", key=user.username).exists()


def test_web_login_shows_throttle_message(make_user, settings):
    user = make_user()
    for _ in range(settings.LOGIN_DELAY_AFTER):
        Client(REMOTE_ADDR="10.7.0.1").post("/login/", {"username": user.username, "password": "bad"})
    response = Client(REMOTE_ADDR="10.7.0.2").post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert response.context["error"]


def test_officer_unlocks_from_the_page(make_user, login_client, settings):
    officer = make_user(Role.SECURITY_OFFICER)
    for i in range(settings.LOGIN_LOCKOUT_AFTER):
        rewind()
        attempt("victim", ip=f"10.8.0.{i}")
    client = login_client(officer)
    page = client.get("/security/sign-in-locks/")
    assert page.status_code == 200 and "victim" in page.content.decode()
    response = client.post("/security/sign-in-locks/", {"username": "victim"})
    assert response.status_code == 302
    assert not LoginThrottle.objects.filter(scope="account", key="victim").exists()
    member_client = login_client(make_user())
    assert member_client.get("/security/sign-in-locks/").status_code == 404
