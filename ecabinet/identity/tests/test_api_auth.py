"""Device sign-in over the API, bearer tokens, and the problem answers for bad input."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit import events
from ecabinet.audit.models import AuditEntry
from ecabinet.conftest import fresh_code
from ecabinet.identity.models import ApiToken, Device, Role
from ecabinet.identity.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def post_json(client: Client, path: str, body: object, **extra: str):
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


def get_token(user, device_name: str = "iPad của Bộ trưởng") -> dict:
    user.refresh_from_db()
    response = post_json(
        Client(),
        "/api/v1/auth/token",
        {"username": user.username, "password": PASSWORD, "totp": fresh_code(user), "device_name": device_name},
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("#" + code)
    assert body["title"] and body["detail"]
    return body


def test_token_login_registers_device_and_authenticates(make_user):
    user = make_user(Role.MEMBER)
    issued = get_token(user)
    assert issued["token"].startswith("ecab_")
    device = Device.objects.get(pk=issued["device_id"])
    assert device.user == user and device.name == "iPad của Bộ trưởng"
    # Only the hash is stored.
    assert not ApiToken.objects.filter(key_hash=issued["token"]).exists()
    me = Client().get("/api/v1/me", **bearer(issued["token"]))
    assert me.status_code == 200
    assert me.json()["username"] == user.username and me.json()["clearance"] == "internal"
    assert AuditEntry.objects.filter(event=events.DEVICE_REGISTERED, actor=user).count() == 1


def test_anonymous_and_garbage_tokens_are_401():
    assert_problem(Client().get("/api/v1/me"), 401, "not_authenticated")
    assert_problem(Client().get("/api/v1/me", **bearer("ecab_not-a-real-token")), 401, "token_invalid")
    assert_problem(Client().get("/api/v1/me", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg=="), 401, "not_authenticated")


def test_token_login_requires_totp_for_members(make_user):
    user = make_user(Role.MEMBER)
    response = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "device_name": "x"})
    assert_problem(response, 401, "mfa_required")
    assert not Device.objects.exists()


def test_token_login_refuses_unenrolled_member(make_user):
    user = make_user(Role.MEMBER, mfa=False)
    response = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "totp": "123456", "device_name": "x"})
    assert_problem(response, 403, "mfa_not_enrolled")
    assert not Device.objects.exists()


def test_guest_signs_in_without_second_factor(make_user):
    guest = make_user(Role.GUEST, mfa=False)
    response = post_json(Client(), "/api/v1/auth/token", {"username": guest.username, "password": PASSWORD, "device_name": "phone"})
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "guest"


def test_wrong_password_and_unknown_user_get_same_problem(make_user):
    user = make_user()
    known = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": "nope", "totp": "000000", "device_name": "x"})
    unknown = post_json(Client(), "/api/v1/auth/token", {"username": "ghost", "password": "nope", "totp": "000000", "device_name": "x"})
    a, b = assert_problem(known, 401, "bad_credentials"), assert_problem(unknown, 401, "bad_credentials")
    assert a["detail"] == b["detail"] and a["title"] == b["title"]
    assert AuditEntry.objects.filter(event=events.LOGIN_FAILED).count() == 2


def test_totp_code_is_single_use(make_user):
    user = make_user()
    code = fresh_code(user)
    body = {"username": user.username, "password": PASSWORD, "totp": code, "device_name": "a"}
    assert post_json(Client(), "/api/v1/auth/token", body).status_code == 200
    again = post_json(Client(), "/api/v1/auth/token", {**body, "device_name": "b"})
    assert_problem(again, 401, "mfa_invalid")
    assert Device.objects.filter(user=user).count() == 1
    assert AuditEntry.objects.filter(event=events.MFA_REPLAYED, actor=user).count() == 1


def test_wrong_totp_is_refused_and_audited(make_user):
    user = make_user()
    good = fresh_code(user)
    wrong = "000000" if good != "000000" else "111111"
    response = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "totp": wrong, "device_name": "a"})
    assert_problem(response, 401, "mfa_invalid")
    assert AuditEntry.objects.filter(event=events.MFA_FAILED, actor=user).exists()
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "malformed_json"),
        ('{"username": "a"}', "validation_error"),
        ('{"username": "a", "password": "b", "device_name": "c", "admin": true}', "validation_error"),
        ('{"username": 12, "password": ["b"], "device_name": "c"}', "validation_error"),
        ("[]", "validation_error"),
    ],
)
def test_bad_bodies_get_clear_problems(raw, code):
    response = Client().post("/api/v1/auth/token", data=raw, content_type="application/json")
    status = 400 if code == "malformed_json" else 422
    assert_problem(response, status, code)
    assert not Device.objects.exists()


def test_unknown_field_names_the_field():
    raw = json.dumps({"username": "a", "password": "b", "device_name": "c", "is_admin": True})
    body = assert_problem(Client().post("/api/v1/auth/token", data=raw, content_type="application/json"), 422, "validation_error")
    assert any(err["field"] == "is_admin" for err in body["errors"])


def test_wrong_content_type_is_415():
    response = Client().post("/api/v1/auth/token", data="username=a&password=b", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")


def test_oversize_body_is_413(settings):
    big = json.dumps({"username": "a", "password": "b" * (settings.MAX_BODY_BYTES + 10), "device_name": "c"})
    body = assert_problem(Client().post("/api/v1/auth/token", data=big, content_type="application/json"), 413, "payload_too_large")
    assert body["limit"] == settings.MAX_BODY_BYTES


def test_unknown_route_and_wrong_method_are_problems(make_user):
    user = make_user()
    token = get_token(user)["token"]
    assert_problem(Client().get("/api/v1/users/999999", **bearer(token)), 404, "not_found")
    assert_problem(Client().delete("/api/v1/me", **bearer(token)), 405, "method_not_allowed")
    assert_problem(Client().get("/api/v1/no-such-endpoint"), 404, "not_found")


def test_problem_catalogue_lists_every_code():
    response = Client().get("/api/v1/problems")
    codes = {p["code"] for p in response.json()}
    for code in ("bad_credentials", "mfa_invalid", "login_throttled", "login_locked", "validation_error", "malformed_json", "payload_too_large"):
        assert code in codes


def test_openapi_document_describes_endpoints():
    doc = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/auth/token" in doc["paths"]
    assert "/api/v1/me" in doc["paths"]


def test_revoked_device_token_stops_working(make_user):
    user = make_user()
    issued = get_token(user)
    other = get_token(user, "phone")
    response = Client().delete(f"/api/v1/devices/{issued['device_id']}", **bearer(other["token"]))
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert_problem(Client().get("/api/v1/me", **bearer(issued["token"])), 401, "token_invalid")
    assert Client().get("/api/v1/me", **bearer(other["token"])).status_code == 200
    assert AuditEntry.objects.filter(event=events.DEVICE_REVOKED).count() == 1
    assert AuditEntry.objects.filter(event=events.TOKEN_REJECTED).count() == 1


def test_cannot_revoke_someone_elses_device(make_user):
    owner, stranger = make_user(), make_user()
    issued = get_token(owner)
    stranger_token = get_token(stranger)["token"]
    response = Client().delete(f"/api/v1/devices/{issued['device_id']}", **bearer(stranger_token))
    assert_problem(response, 404, "not_found")
    assert Device.objects.get(pk=issued["device_id"]).revoked_at is None


def test_sign_out_everywhere_revokes_tokens_and_sessions(make_user, login_client):
    user = make_user()
    browser = login_client(user)
    token = get_token(user)["token"]
    response = Client().post("/api/v1/me/sign-out-everywhere", **bearer(token), content_type="application/json")
    assert response.status_code == 200 and response.json()["count"] == 1
    assert_problem(Client().get("/api/v1/me", **bearer(token)), 401, "token_invalid")
    assert browser.get("/").status_code == 302


def test_several_tokens_are_read_at_once_each_request_with_its_own_answer(make_user):
    """The ballot front door reads a batch's tokens with one statement: each request gets the
    answer it would get alone, in order, a token sent twice gets two, a dead token none."""
    from ecabinet.identity import actions

    alive, other, revoked = (make_user(Role.MEMBER) for _ in range(3))
    tokens = [get_token(user)["token"] for user in (alive, other, revoked)]
    Device.objects.filter(user=revoked).update(revoked_at=timezone.now())
    requests = [
        (tokens[0], "10.0.0.1", None),
        ("ecab_" + "z" * 40, "10.0.0.2", None),  # unknown
        (tokens[2], "10.0.0.3", None),  # its device was revoked
        ("not-a-token", "10.0.0.4", None),
        (tokens[1], "10.0.0.5", None),
        (tokens[0], "10.0.0.6", None),
    ]
    answers = actions.users_and_more_for_tokens(requests, record_rejection=True)
    assert [user.pk if user else None for user, _ in answers] == [alive.pk, None, None, None, other.pk, alive.pk]
    assert answers[0][0] is not answers[5][0]  # one instance per request
    assert answers[0][0].api_device.user_id == alive.pk
    rejected = AuditEntry.objects.filter(event=events.TOKEN_REJECTED)
    assert [(e.actor_id, e.source_ip) for e in rejected] == [(revoked.pk, "10.0.0.3")]
    assert [actions.user_and_more_for_token(t, source_ip=None)[0] for t in tokens[:2]] == [alive, other]
    with pytest.raises(ValueError):  # one statement reads one variant of extra columns
        mixed = actions.AlsoRead(name="x", build=lambda v: ("1", ""), params=(1,))
        actions.users_and_more_for_tokens([(tokens[0], None, mixed), (tokens[1], None, None)])
