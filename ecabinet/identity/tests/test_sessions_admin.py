"""Session lifetime, sign-out everywhere, disabling users, role and clearance changes, the admin site."""

from __future__ import annotations

import json
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from ecabinet.audit import events
from ecabinet.audit.models import AuditEntry
from ecabinet.identity import actions
from ecabinet.identity.models import Role, User, UserSession
from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory
from ecabinet.identity.tests.test_api_auth import assert_problem, bearer, get_token, post_json

pytestmark = pytest.mark.django_db


def age_session(client: Client, *, login_ago: int = 0, seen_ago: int = 0) -> None:
    session = client.session
    now = int(time.time())
    if login_ago:
        session[actions.SESSION_LOGIN_AT] = now - login_ago
    if seen_ago:
        session[actions.SESSION_SEEN_AT] = now - seen_ago
    session.save()


def test_idle_session_expires(make_user, login_client, settings):
    user = make_user()
    client = login_client(user)
    assert client.get("/").status_code == 200
    age_session(client, seen_ago=settings.SESSION_IDLE_SECONDS + 5)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert AuditEntry.objects.filter(event=events.SESSION_EXPIRED, actor=user, details__reason="idle").exists()
    assert UserSession.objects.get(user=user).ended_at is not None


def test_absolute_lifetime_ends_even_an_active_session(make_user, login_client, settings):
    user = make_user()
    client = login_client(user)
    age_session(client, login_ago=settings.SESSION_MAX_SECONDS + 5)
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.filter(event=events.SESSION_EXPIRED, details__reason="absolute_lifetime").exists()


def test_expired_session_api_is_401(make_user, login_client, settings):
    client = login_client(make_user())
    assert client.get("/api/v1/me").status_code == 200
    age_session(client, seen_ago=settings.SESSION_IDLE_SECONDS + 5)
    assert_problem(client.get("/api/v1/me"), 401, "session_expired")
    # The session is gone: the next request is simply not signed in.
    assert_problem(client.get("/api/v1/me"), 401, "not_authenticated")


def test_login_issues_a_new_session_key(make_user):
    user = make_user()
    client = Client()
    client.get("/login/")
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    before = client.session.session_key
    from ecabinet.conftest import fresh_code

    client.post("/login/code/", {"code": fresh_code(user)})
    after = client.session.session_key
    assert before != after
    assert not Session.objects.filter(session_key=before).exists()


def test_sign_out_everywhere_from_the_page(make_user, login_client):
    user = make_user()
    first, second = login_client(user), login_client(user)
    assert UserSession.objects.filter(user=user, ended_at=None).count() == 2
    page = first.get("/sessions/")
    assert page.status_code == 200
    response = first.post("/sessions/end-all/")
    assert response.status_code == 302
    assert second.get("/").status_code == 302
    assert first.get("/").status_code == 302
    assert UserSession.objects.filter(user=user, ended_at=None).count() == 0
    assert AuditEntry.objects.filter(event=events.SIGN_OUT_EVERYWHERE, actor=user).count() == 1


def test_session_api_needs_csrf_for_writes(make_user, login_client):
    client = login_client(make_user())
    client.handler.enforce_csrf_checks = True
    response = client.post("/api/v1/me/sign-out-everywhere", data="{}", content_type="application/json")
    assert_problem(response, 403, "csrf_failed")
    assert UserSession.objects.filter(ended_at=None).count() == 1
    assert client.get("/api/v1/me").status_code == 200


def test_disabling_a_user_ends_sessions_and_tokens_at_once(make_user, login_client):
    admin = make_user(Role.ADMIN)
    user = make_user()
    browser = login_client(user)
    token = get_token(user, "tablet")["token"]
    admin_token = get_token(admin)["token"]
    response = Client().post(f"/api/v1/users/{user.pk}/disable", content_type="application/json", **bearer(admin_token))
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert browser.get("/").status_code == 302
    assert_problem(Client().get("/api/v1/me", **bearer(token)), 401, "token_invalid")
    # A disabled user cannot sign in again, with the same answer as a wrong password.
    again = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "totp": "000000", "device_name": "x"})
    assert_problem(again, 401, "bad_credentials")
    assert AuditEntry.objects.filter(event=events.LOGIN_FAILED, details__reason="disabled").exists()
    assert AuditEntry.objects.filter(event=events.USER_DISABLED, actor=admin).count() == 1


def test_only_admins_manage_users(make_user):
    member, secretary, officer = make_user(), make_user(Role.SECRETARY), make_user(Role.SECURITY_OFFICER)
    target = make_user()
    for actor in (member, secretary, officer):
        token = get_token(actor)["token"]
        assert_problem(Client().post(f"/api/v1/users/{target.pk}/disable", content_type="application/json", **bearer(token)), 403, "forbidden")
        body = json.dumps({"role": "admin"})
        assert_problem(Client().put(f"/api/v1/users/{target.pk}/role", data=body, content_type="application/json", **bearer(token)), 403, "forbidden")
    assert_problem(Client().post(f"/api/v1/users/{target.pk}/disable", content_type="application/json"), 401, "not_authenticated")
    target.refresh_from_db()
    assert target.is_active and target.role == Role.MEMBER


def test_role_and_clearance_changes_are_audited(make_user):
    admin = make_user(Role.ADMIN)
    target = make_user()
    token = get_token(admin)["token"]
    response = Client().put(f"/api/v1/users/{target.pk}/role", data=json.dumps({"role": "secretary"}), content_type="application/json", **bearer(token))
    assert response.status_code == 200 and response.json()["role"] == "secretary"
    response = Client().put(f"/api/v1/users/{target.pk}/clearance", data=json.dumps({"clearance": "secret"}), content_type="application/json", **bearer(token))
    assert response.status_code == 200 and response.json()["clearance"] == "secret"
    entry = AuditEntry.objects.get(event=events.CLEARANCE_CHANGED)
    assert entry.details == {"from": "internal", "to": "secret"} and entry.actor == admin
    assert AuditEntry.objects.get(event=events.ROLE_CHANGED).details == {"from": "member", "to": "secretary"}
    bad = Client().put(f"/api/v1/users/{target.pk}/clearance", data=json.dumps({"clearance": "cosmic"}), content_type="application/json", **bearer(token))
    assert_problem(bad, 422, "validation_error")
    target.refresh_from_db()
    assert target.clearance == 30


def test_last_admin_cannot_be_removed(make_user):
    admin = make_user(Role.ADMIN)
    token = get_token(admin)["token"]
    response = Client().put(f"/api/v1/users/{admin.pk}/role", data=json.dumps({"role": "member"}), content_type="application/json", **bearer(token))
    assert_problem(response, 409, "last_admin")
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_other_government_is_invisible(make_user):
    admin = make_user(Role.ADMIN)
    foreign = make_user(organisation=GovernmentFactory())
    token = get_token(admin)["token"]
    assert_problem(Client().get(f"/api/v1/users/{foreign.pk}", **bearer(token)), 404, "not_found")
    assert_problem(Client().post(f"/api/v1/users/{foreign.pk}/disable", content_type="application/json", **bearer(token)), 404, "not_found")
    listed = {u["username"] for u in Client().get("/api/v1/users", **bearer(token)).json()}
    assert foreign.username not in listed and admin.username in listed


def test_security_officer_resets_lost_authenticator(make_user, login_client):
    officer = make_user(Role.SECURITY_OFFICER)
    user = make_user()
    browser = login_client(user)
    token = get_token(officer)["token"]
    response = Client().post(f"/api/v1/users/{user.pk}/reset-mfa", content_type="application/json", **bearer(token))
    assert response.status_code == 200 and response.json()["mfa_enrolled"] is False
    assert browser.get("/").status_code == 302
    # At the next sign-in the user is sent to enrol again.
    response = Client().post("/login/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/login/enrol/"
    assert AuditEntry.objects.filter(event=events.MFA_RESET, actor=officer).count() == 1
    member_token = get_token(make_user())["token"]
    assert_problem(Client().post(f"/api/v1/users/{officer.pk}/reset-mfa", content_type="application/json", **bearer(member_token)), 403, "forbidden")


def test_enrolment_in_the_browser(make_user):
    from ecabinet.identity.core import totp

    user = make_user(mfa=False)
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/login/enrol/"
    page = client.get("/login/enrol/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    secret = page.context["secret"]
    wrong = client.post("/login/enrol/", {"code": "000000" if totp.code_for(secret) != "000000" else "111111"})
    assert wrong.status_code == 401
    assert User.objects.get(pk=user.pk).totp_confirmed_at is None
    ok = client.post("/login/enrol/", {"code": totp.code_for(secret)})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200
    assert User.objects.get(pk=user.pk).mfa_enrolled
    assert AuditEntry.objects.filter(event=events.MFA_ENROLLED, actor=user).count() == 1


def test_code_page_without_password_step_goes_back_to_login():
    client = Client()
    assert client.get("/login/code/")["Location"] == "/login/"
    assert client.post("/login/enrol/", {"code": "123456"})["Location"] == "/login/"


def test_admin_site_only_for_admins_past_mfa(make_user, login_client):
    admin = make_user(Role.ADMIN)
    assert login_client(admin).get("/admin/").status_code == 200
    member_page = login_client(make_user()).get("/admin/")
    assert member_page.status_code == 302 and "/login/" in member_page["Location"]
    officer_page = login_client(make_user(Role.SECURITY_OFFICER)).get("/admin/identity/user/")
    assert officer_page.status_code == 302
    # Password alone (no second factor yet) does not open the admin site.
    half = Client()
    half.post("/login/", {"username": admin.username, "password": PASSWORD})
    assert half.get("/admin/").status_code == 302
    # The admin site has no password-only login form of its own.
    assert Client().get("/admin/login/")["Location"].startswith("/login/")


def test_logout_ends_the_session(make_user, login_client):
    user = make_user()
    client = login_client(user)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.filter(event=events.LOGOUT, actor=user).exists()


def test_open_redirect_is_refused(make_user):
    from ecabinet.conftest import fresh_code

    user = make_user()
    client = Client()
    client.post("/login/?next=https://evil.example/", {"username": user.username, "password": PASSWORD})
    response = client.post("/login/code/", {"code": fresh_code(user)})
    assert response["Location"] == "/"
