"""/api/v1/audit: the security officer reads, filters, proves and exports; nobody else does."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit import actions, events, signing
from ecabinet.audit.core import proof
from ecabinet.audit.core.chain import canonical_json
from ecabinet.audit.models import AuditEntry
from ecabinet.audit.tests import tamper
from ecabinet.identity.models import Role

pytestmark = pytest.mark.django_db
BASE = "/api/v1/audit"
ENDPOINTS = ["/entries", "/entries/0", "/checkpoints", "/checkpoints/latest", "/proof/0", "/status", "/pubkey", "/export"]


@pytest.fixture
def api(login_client, officer):
    return login_client(officer)


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["type"].endswith("#" + code)
    return body


def test_anonymous_gets_401_everywhere(entries):
    entries(1)
    for path in ENDPOINTS:
        problem(Client().get(BASE + path), 401, "not_authenticated")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.CHAIR, Role.SECRETARY, Role.ADMIN, Role.GUEST])
def test_other_roles_get_403_everywhere(role, entries, make_user, login_client):
    entries(1)
    actions.make_checkpoint()
    client = login_client(make_user(role))
    for path in ENDPOINTS:
        body = problem(client.get(BASE + path), 403, "audit_forbidden")
        assert "security officer" in body["title"]
    assert not AuditEntry.objects.filter(event=events.AUDIT_EXPORTED).exists()


def test_a_device_token_of_another_role_gets_403(make_user, client):
    from ecabinet.identity import actions as identity_actions

    user = make_user(Role.ADMIN)
    _, raw = identity_actions.register_device(user, name="tablet", user_agent="test", source_ip=None)
    problem(client.get(BASE + "/entries", HTTP_AUTHORIZATION=f"Bearer {raw}"), 403, "audit_forbidden")


def test_entries_are_listed_newest_first_with_pages(api, entries):
    before = AuditEntry.objects.count()  # the officer's own sign-in is in the log too
    entries(60)
    first = api.get(BASE + "/entries").json()
    assert first["count"] == before + 60 and len(first["items"]) == 50
    assert first["items"][0]["seq"] == before + 59 and first["items"][0]["event"] == "test.thing.happened"
    second = api.get(BASE + "/entries", {"page": 2}).json()
    assert [i["seq"] for i in second["items"]] == list(range(before + 9, -1, -1))
    small = api.get(BASE + "/entries", {"page_size": 5}).json()
    assert len(small["items"]) == 5
    item = first["items"][0]
    assert set(item) == {"seq", "created_at", "actor_id", "actor_label", "event", "object_type", "object_id", "source_ip", "details", "prev_hash", "entry_hash"}


def test_entries_filters(api, entries, make_user):
    minister = make_user(Role.MEMBER, username="bo.truong", full_name="Lê Văn Minh")
    entries(3)
    entries(2, actor=minister, event="identity.login.ok", object_type="identity.user", object_id=str(minister.pk))
    entries(1, event="identity.login.failed", details={"reason": "bad_password", "who": "Nguyễn Thị Hoa"})
    old = entries(1, event="test.old")[0]

    def seqs(**params: str) -> list[int]:
        response = api.get(BASE + "/entries", params)
        assert response.status_code == 200, response.content
        return sorted(i["seq"] for i in response.json()["items"])

    logins = AuditEntry.objects.filter(event__startswith="identity.login.")
    assert seqs(event="identity.login") == sorted(logins.values_list("seq", flat=True))
    assert len(seqs(event="identity.login.ok")) == logins.filter(event="identity.login.ok").count()
    assert len(seqs(actor="bo.truo")) == 2
    assert len(seqs(actor="văn minh")) == 2
    assert len(seqs(object_type="identity.user", object_id=str(minister.pk))) == 2
    assert len(seqs(q="bad_password")) == 1
    assert len(seqs(q="Nguyễn Thị")) == 1
    today = timezone.localdate()
    assert old.seq in seqs(date_from=today.isoformat(), date_to=today.isoformat())
    assert seqs(date_to=(today - dt.timedelta(days=1)).isoformat()) == []
    assert seqs(date_from=(today + dt.timedelta(days=1)).isoformat()) == []
    assert seqs(event="no.such.event") == []


def test_bad_filter_values_are_422(api):
    problem(api.get(BASE + "/entries", {"date_from": "yesterday"}), 422, "validation_error")
    problem(api.get(BASE + "/entries", {"page": 0}), 422, "validation_error")


def test_one_entry_and_an_unknown_one(api, entries):
    made = entries(2)
    body = api.get(f"{BASE}/entries/{made[1].seq}").json()
    assert body["entry_hash"] == made[1].entry_hash and body["details"] == made[1].details
    problem(api.get(BASE + "/entries/99999"), 404, "audit_entry_not_found")


def test_checkpoints_and_the_latest(api, entries):
    problem(api.get(BASE + "/checkpoints/latest"), 404, "audit_no_checkpoint")
    entries(2)
    first, _ = actions.make_checkpoint()
    entries(2)
    second, _ = actions.make_checkpoint()
    assert first is not None and second is not None
    listed = api.get(BASE + "/checkpoints").json()
    assert listed["count"] == 2 and [c["size"] for c in listed["items"]] == [second.size, first.size]
    latest = api.get(BASE + "/checkpoints/latest").json()
    assert latest["size"] == second.size and latest["note"] == second.note and latest["key_id"] == signing.key_id()


def test_proof_of_an_entry(api, entries):
    made = entries(5)
    problem(api.get(f"{BASE}/proof/{made[2].seq}"), 404, "audit_no_checkpoint")
    actions.make_checkpoint()
    response = api.get(f"{BASE}/proof/{made[2].seq}")
    assert response.status_code == 200
    checked = proof.check(response.json(), signing.public_key())
    assert checked.seq == made[2].seq and checked.entry["event"] == "test.thing.happened"
    later = entries(1)[0]
    problem(api.get(f"{BASE}/proof/{later.seq}"), 409, "audit_not_checkpointed")
    problem(api.get(BASE + "/proof/99999"), 404, "audit_entry_not_found")


def test_proof_of_a_rewritten_entry_is_refused(api, entries):
    made = entries(3)
    actions.make_checkpoint()
    tamper.disable_guards()
    tamper.rewrite_from(made[1].seq, {"rewritten": True})
    problem(api.get(f"{BASE}/proof/{made[1].seq}"), 409, "audit_chain_broken")


def test_status_reports_the_quick_check(api, entries):
    made = entries(4)
    actions.make_checkpoint()
    entries(2)
    good = api.get(BASE + "/status").json()
    assert good["ok"] is True and good["quick"] is True and good["problems"] == [] and good["missing_guards"] == []
    assert good["entries_checked"] == 2 and good["latest_checkpoint_size"] == made[-1].seq + 1
    tamper.disable_guards()
    tamper.modify_details(made[-1].seq + 1, {"x": 1})
    bad = api.get(BASE + "/status").json()
    assert bad["ok"] is False and bad["first_bad_seq"] == made[-1].seq + 1 and bad["missing_guards"]


def test_pubkey(api):
    body = api.get(BASE + "/pubkey").json()
    assert body["pem"] == signing.public_key_pem() and body["verifier_key"] == signing.verifier_key()


def test_export_is_json_lines_and_audited(api, entries, officer):
    entries(3)
    actions.make_checkpoint()
    response = api.get(BASE + "/export")
    assert response.status_code == 200 and response["Content-Type"] == "application/jsonl"
    assert "attachment" in response["Content-Disposition"]
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    kinds = [line["type"] for line in lines]
    assert kinds == ["entry"] * (len(kinds) - 1) + ["checkpoint"]
    for line in lines[:-1]:
        assert hashlib.sha256(canonical_json(line["entry"])).hexdigest() == line["entry_hash"]
    record = AuditEntry.objects.get(event=events.AUDIT_EXPORTED)
    assert record.actor_id == officer.pk and record.details["channel"] == "api"
    assert record.details["through_seq"] == lines[-2]["entry"]["seq"] == record.seq - 1


def test_filtered_export(api, entries):
    entries(2)
    entries(1, event="test.special")
    response = api.get(BASE + "/export", {"event": "test.special"})
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["entry"]["event"] for line in lines] == ["test.special"]
    assert AuditEntry.objects.get(event=events.AUDIT_EXPORTED).details["filters"] == {"event": "test.special"}


def test_audit_problem_codes_are_listed(client):
    codes = {p["code"] for p in client.get("/api/v1/problems").json()}
    assert {"audit_forbidden", "audit_entry_not_found", "audit_no_checkpoint", "audit_not_checkpointed", "audit_chain_broken"} <= codes


def test_openapi_describes_the_audit_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("entries", "entries/{seq}", "checkpoints", "checkpoints/latest", "proof/{seq}", "status", "pubkey", "export"):
        assert f"{BASE}/{path}" in paths
    names = {p["name"] for p in paths[f"{BASE}/entries"]["get"]["parameters"]}
    assert {"event", "actor", "object_type", "object_id", "date_from", "date_to", "q", "page", "page_size"} <= names
