"""Who sees which documents: role × meeting/item membership × clearance; everything else is 404."""

from __future__ import annotations

import pytest

from ecabinet.documents import actions
from ecabinet.documents.models import DocumentVersion
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings.models import AgendaItem
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db
DOCS = "/api/v1/documents"


@pytest.fixture
def docs(api, cabinet):
    """An internal document on item 1, a confidential one on item 2, an unlinked ministry draft."""
    cabinet.office_secretary.clearance = Clearance.CONFIDENTIAL
    cabinet.office_secretary.save()
    on_item = api.upload(cabinet.office_secretary, samples.pdf(), "a.pdf", title="Nội bộ", item_id=cabinet.items[0].pk).json()
    secret_item = cabinet.items[1]
    secret_item.classification = Clearance.CONFIDENTIAL
    secret_item.save()
    confidential = api.upload(cabinet.office_secretary, samples.pdf(), "b.pdf", title="Mật", item_id=secret_item.pk, classification="confidential").json()
    draft = api.upload(cabinet.ministry_secretary, samples.pdf(), "c.pdf", title="Dự thảo của Bộ").json()
    return {"on_item": on_item, "confidential": confidential, "draft": draft}


def titles(api, user, query=""):
    response = api.get(user, f"{DOCS}{query}")
    assert response.status_code == 200, response.content
    return sorted(d["title"] for d in response.json())


def test_lists_hold_only_what_each_person_may_see(api, cabinet, docs):
    member = cabinet.members[0]
    assert titles(api, member) == ["Nội bộ"]  # internal clearance: not the confidential one; not the unlinked draft
    member.clearance = Clearance.CONFIDENTIAL
    member.save()
    assert titles(api, member) == ["Mật", "Nội bộ"]
    assert titles(api, cabinet.ministry_secretary) == ["Dự thảo của Bộ", "Nội bộ"]  # own ministry's draft; can see accepted item 1
    assert titles(api, cabinet.office_secretary) == ["Mật", "Nội bộ"]
    assert titles(api, member, f"?item_id={cabinet.items[0].pk}") == ["Nội bộ"]


def test_invisible_documents_are_404_everywhere(api, cabinet, docs):
    member = cabinet.members[0]
    for doc in (docs["confidential"], docs["draft"]):
        assert_problem(api.get(member, f"{DOCS}/{doc['document_id']}"), 404, "not_found")
        assert_problem(api.get(member, f"{DOCS}/{doc['document_id']}/versions"), 404, "not_found")
        assert_problem(api.get(member, f"{DOCS}/versions/{doc['id']}"), 404, "not_found")
        assert_problem(api.get(member, f"{DOCS}/versions/{doc['id']}/content"), 404, "not_found")


def test_item_not_yet_accepted_hides_its_documents_from_members(api, cabinet, docs):
    item = cabinet.items[0]
    item.status = AgendaItem.Status.PROPOSED
    item.save()
    assert titles(api, cabinet.members[0]) == []
    assert "Nội bộ" in titles(api, cabinet.office_secretary)


def test_other_government_and_uninvited_people_see_nothing(api, cabinet, docs):
    stranger = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory(), clearance=Clearance.TOP_SECRET)
    uninvited = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry, clearance=Clearance.TOP_SECRET)
    for user in (stranger, uninvited):
        assert titles(api, user) == []
        assert_problem(api.get(user, f"{DOCS}/versions/{docs['on_item']['id']}/content"), 404, "not_found")


def test_guest_sees_only_documents_of_items_they_may_see(api, cabinet, docs):
    assert titles(api, cabinet.guest) == ["Nội bộ"]


def test_anonymous_gets_401(api, docs):
    assert_problem(api.get(None, DOCS), 401, "not_authenticated")
    assert_problem(api.get(None, f"{DOCS}/versions/{docs['on_item']['id']}/content"), 401, "not_authenticated")


def test_new_versions_by_the_wrong_people_are_refused(api, cabinet, docs):
    path = f"{DOCS}/{docs['on_item']['document_id']}/versions"
    assert_problem(api.upload(cabinet.members[0], samples.pdf(2), "v2.pdf", path=path), 403, "forbidden")
    assert_problem(api.upload(cabinet.members[0], samples.pdf(2), "v2.pdf", path=f"{DOCS}/{docs['draft']['document_id']}/versions"), 404, "not_found")
    assert DocumentVersion.objects.count() == 3


def test_upload_above_own_clearance_is_refused(api, cabinet):
    response = api.upload(cabinet.ministry_secretary, samples.pdf(), "m.pdf", title="M", classification="confidential")
    assert_problem(response, 403, "forbidden")


def test_freeze_dossier_then_a_new_version_is_flagged_changed_after_publication(api, cabinet, docs):
    actions.freeze_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    dossier = api.get(cabinet.members[0], f"/api/v1/dossiers/{cabinet.meeting.pk}").json()
    assert [e["title"] for e in dossier] == ["Nội bộ"]  # the confidential one is not even counted
    assert dossier[0]["frozen_version_id"] == docs["on_item"]["id"] and dossier[0]["changed_after_publication"] is False
    v2 = api.upload(cabinet.office_secretary, samples.pdf(2), "v2.pdf", path=f"{DOCS}/{docs['on_item']['document_id']}/versions", change_note="Sửa").json()
    assert v2["changed_after_publication"] is True
    dossier = api.get(cabinet.members[0], f"/api/v1/dossiers/{cabinet.meeting.pk}").json()
    assert dossier[0]["frozen_version_id"] == docs["on_item"]["id"] and dossier[0]["current_version_id"] == v2["id"]
    assert dossier[0]["changed_after_publication"] is True


def test_linking_a_document_to_a_meeting(api, cabinet, docs):
    # The office cannot see (so cannot link) a ministry's unlinked draft.
    hidden = api.post_json(cabinet.office_secretary, f"{DOCS}/{docs['draft']['document_id']}/dossier", {"meeting_id": cabinet.meeting.pk})
    assert_problem(hidden, 404, "not_found")
    annex = api.upload(cabinet.office_secretary, samples.pdf(), "phu-luc.pdf", title="Phụ lục").json()
    assert "Phụ lục" not in titles(api, cabinet.members[0])
    path = f"{DOCS}/{annex['document_id']}/dossier"
    response = api.post_json(cabinet.office_secretary, path, {"meeting_id": cabinet.meeting.pk, "item_id": cabinet.items[2].pk})
    assert response.status_code == 201, response.content
    assert response.json()["item_id"] == cabinet.items[2].pk
    assert "Phụ lục" in titles(api, cabinet.members[0])
    again = api.post_json(cabinet.office_secretary, path, {"meeting_id": cabinet.meeting.pk})
    assert_problem(again, 409, "already_in_dossier")
    by_member = api.post_json(cabinet.members[0], f"{DOCS}/{docs['on_item']['document_id']}/dossier", {"meeting_id": cabinet.meeting.pk})
    assert_problem(by_member, 403, "forbidden")
