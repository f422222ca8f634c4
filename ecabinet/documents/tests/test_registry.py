"""The paper registry of documents above the electronic limit, and the limit itself."""

from __future__ import annotations

import pytest

from ecabinet.audit.models import AuditEntry
from ecabinet.documents import events
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db
REG = "/api/v1/registry"


@pytest.fixture
def keeper(cabinet):
    cabinet.office_secretary.clearance = Clearance.SECRET
    cabinet.office_secretary.save()
    return cabinet.office_secretary


def new_record(api, keeper, cabinet, **extra):
    body = {"number_symbol": "01/TM-VPCP", "title": "Báo cáo Tối mật", "classification": "secret", "custodian_id": keeper.pk, "copies_total": 3, **extra}
    return api.post_json(keeper, REG, body)


def test_secret_document_exists_only_as_a_registry_record(api, cabinet, keeper):
    refused = api.upload(keeper, samples.pdf(), "tm.pdf", title="Báo cáo Tối mật", classification="secret")
    assert_problem(refused, 422, "classification_not_electronic")
    response = new_record(api, keeper, cabinet, meeting_id=cabinet.meeting.pk)
    assert response.status_code == 201, response.content
    rec = response.json()
    assert rec["classification"] == "secret" and rec["copies_out"] == [] and rec["meeting_id"] == cabinet.meeting.pk
    assert AuditEntry.objects.filter(event=events.REGISTRY_CREATED, object_id=str(rec["id"])).exists()


def test_copies_handed_out_and_returned(api, cabinet, keeper):
    rec = new_record(api, keeper, cabinet).json()
    member = cabinet.members[0]
    moves = f"{REG}/{rec['id']}/movements"
    assert api.post_json(keeper, moves, {"kind": "handed_out", "copy_number": 2, "holder_id": member.pk}).status_code == 201
    assert_problem(api.post_json(keeper, moves, {"kind": "handed_out", "copy_number": 2, "holder_id": member.pk}), 409, "copy_already_out")
    assert_problem(api.post_json(keeper, moves, {"kind": "returned", "copy_number": 1, "holder_id": member.pk}), 409, "copy_not_out")
    assert_problem(api.post_json(keeper, moves, {"kind": "handed_out", "copy_number": 4, "holder_id": member.pk}), 409, "copy_not_out")
    assert api.get(keeper, f"{REG}/{rec['id']}").json()["copies_out"] == [2]
    # The holder sees the record of the copy they hold, though their clearance is lower.
    assert [r["id"] for r in api.get(member, REG).json()] == [rec["id"]]
    assert_problem(api.post_json(keeper, f"{REG}/{rec['id']}", {}, method="delete"), 409, "copy_already_out")
    assert api.post_json(keeper, moves, {"kind": "returned", "copy_number": 2, "holder_id": member.pk}).status_code == 201
    closed = api.post_json(keeper, f"{REG}/{rec['id']}", {}, method="delete")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert AuditEntry.objects.filter(event__in=[events.COPY_HANDED_OUT, events.COPY_RETURNED]).count() == 2


def test_update_record(api, cabinet, keeper):
    rec = new_record(api, keeper, cabinet).json()
    patched = api.post_json(keeper, f"{REG}/{rec['id']}", {"title": "Báo cáo (bản sửa)", "copies_total": 5}, method="patch")
    assert patched.status_code == 200 and patched.json()["title"] == "Báo cáo (bản sửa)" and patched.json()["copies_total"] == 5
    assert_problem(api.post_json(keeper, f"{REG}/{rec['id']}", {"unknown": 1}, method="patch"), 422, "validation_error")


def test_registry_visibility_and_roles(api, cabinet, keeper):
    rec = new_record(api, keeper, cabinet).json()
    low_secretary = cabinet.ministry_secretary  # internal clearance
    assert api.get(low_secretary, REG).json() == []
    assert_problem(api.get(low_secretary, f"{REG}/{rec['id']}"), 404, "not_found")
    assert_problem(api.get(cabinet.members[1], f"{REG}/{rec['id']}"), 404, "not_found")
    assert_problem(api.get(None, REG), 401, "not_authenticated")
    assert_problem(new_record(api, low_secretary, cabinet), 403, "forbidden")
    cleared_member = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry, clearance=Clearance.TOP_SECRET)
    assert_problem(new_record(api, cleared_member, cabinet), 403, "forbidden")


def test_policy_sets_the_electronic_limit(api, cabinet):
    admin = UserFactory(role=Role.ADMIN, organisation=cabinet.government)
    assert api.get(cabinet.members[0], "/api/v1/documents-policy").json()["max_electronic_level"] == "confidential"
    assert_problem(api.post_json(cabinet.office_secretary, "/api/v1/documents-policy", {"max_electronic_level": "internal"}, method="put"), 403, "forbidden")
    response = api.post_json(admin, "/api/v1/documents-policy", {"max_electronic_level": "internal"}, method="put")
    assert response.status_code == 200 and response.json()["max_electronic_level"] == "internal"
    cabinet.office_secretary.clearance = Clearance.CONFIDENTIAL
    cabinet.office_secretary.save()
    refused = api.upload(cabinet.office_secretary, samples.pdf(), "mat.pdf", title="Mật", classification="confidential")
    assert_problem(refused, 422, "classification_not_electronic")
    assert AuditEntry.objects.filter(event=events.POLICY_CHANGED).count() == 1
