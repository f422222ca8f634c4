from __future__ import annotations

import pytest
from django.test import Client

from ecabinet.audit import events
from ecabinet.audit.models import AuditEntry
from ecabinet.conftest import fresh_code
from ecabinet.identity.models import Role, UserSession
from ecabinet.identity.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_two_step_login_with_totp_reaches_home(make_user):
    user = make_user(Role.MEMBER)
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    # Past the password but not the code: still signed out.
    assert client.get("/").status_code == 302
    response = client.post("/login/code/", {"code": fresh_code(user)})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert user.full_name in home.content.decode()
    assert UserSession.objects.filter(user=user, ended_at=None).count() == 1
    assert AuditEntry.objects.filter(event=events.LOGIN_OK, actor=user).exists()


def test_wrong_password_same_answer_as_unknown_user(make_user):
    user = make_user()
    known = Client().post("/login/", {"username": user.username, "password": "wrong password"})
    unknown = Client().post("/login/", {"username": "nobody-here", "password": "wrong password"})
    assert known.status_code == unknown.status_code == 401
    assert known.context["error"] == unknown.context["error"]
    reasons = list(AuditEntry.objects.filter(event=events.LOGIN_FAILED).values_list("details__reason", flat=True))
    assert sorted(reasons) == ["bad_password", "unknown_user"]
