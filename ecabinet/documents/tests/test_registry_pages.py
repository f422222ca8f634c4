"""The paper registry's pages: a secretary registers a paper-only document, hands copies out and
records their return. Same rules as the API (``POST /registry``, ``/registry/{id}/movements``):
the same permissions, the same actions and audit entries; every refusal is shown on the form
with status 400 and stores nothing; a file is never accepted."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.translation import gettext, override

from ecabinet.audit.models import AuditEntry
from ecabinet.documents import actions, events
from ecabinet.documents.models import CopyMovement, Document, RegistryRecord, StoredBlob
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory

pytestmark = pytest.mark.django_db
NEW = "/documents/registry/new/"


@pytest.fixture
def keeper(cabinet):
    cabinet.office_secretary.clearance = Clearance.SECRET
    cabinet.office_secretary.save(update_fields=["clearance"])
    return cabinet.office_secretary


def valid(cabinet, keeper, **changes):
    body = {
        "number_symbol": "07/TM-VPCP",
        "title": "Phương án quốc phòng",
        "classification": str(Clearance.SECRET),
        "custodian": str(keeper.pk),
        "copies_total": "3",
        "meeting": str(cabinet.meeting.pk),
        "item": str(cabinet.items[0].pk),
        "notes": "Két sắt phòng 204",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def nothing_stored(before_audit):
    assert RegistryRecord.objects.count() == 0
    assert AuditEntry.objects.count() == before_audit


def test_secretary_registers_a_paper_document(cabinet, keeper, login_client):
    client = login_client(keeper)
    page = client.get(f"{NEW}?meeting={cabinet.meeting.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "csrfmiddlewaretoken" in html and 'type="file"' not in html
    levels = re.findall(r'<option value="(\d+)"', re.search(r'<select name="classification".*?</select>', html, re.S).group(0))
    assert levels == [str(Clearance.SECRET)]  # above the electronic limit (confidential), up to the keeper's clearance
    response = client.post(NEW, valid(cabinet, keeper))
    rec = RegistryRecord.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/documents/registry/{rec.pk}/"
    assert (rec.number_symbol, rec.classification, rec.copies_total, rec.custodian, rec.meeting, rec.item, rec.created_by) == (
        "07/TM-VPCP",
        Clearance.SECRET,
        3,
        keeper,
        cabinet.meeting,
        cabinet.items[0],
        keeper,
    )
    entry = AuditEntry.objects.get(event=events.REGISTRY_CREATED, object_id=str(rec.pk))
    assert entry.actor_id == keeper.pk
    # The item alone is enough: its meeting is taken with it, as the API does.
    client.post(NEW, valid(cabinet, keeper, number_symbol="08/TM-VPCP", meeting=""))
    assert RegistryRecord.objects.get(number_symbol="08/TM-VPCP").meeting == cabinet.meeting
    # Nothing electronic came of it.
    assert not Document.objects.exists() and not StoredBlob.objects.exists()
    detail = client.get(f"/documents/registry/{rec.pk}/").content.decode()
    assert "Phương án quốc phòng" in detail and 'id="hand-out-form"' in detail


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"number_symbol": ""}, "number_symbol"),
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"classification": str(Clearance.CONFIDENTIAL)}, "classification"),  # stored electronically: upload it instead
        ({"classification": str(Clearance.TOP_SECRET)}, "classification"),  # above the keeper's clearance
        ({"classification": "secret"}, "classification"),
        ({"custodian": ""}, "custodian"),
        ({"copies_total": "0"}, "copies_total"),
        ({"copies_total": "10001"}, "copies_total"),
        ({"copies_total": "ba"}, "copies_total"),
        ({"notes": "x" * 5001}, "notes"),
        ({"meeting": "999999"}, "meeting"),
    ],
)
def test_each_validation_error_is_shown_and_nothing_is_stored(cabinet, keeper, login_client, changes, field):
    client = login_client(keeper)
    before = AuditEntry.objects.count()
    response = client.post(NEW, valid(cabinet, keeper, **changes))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="errorlist' in response.content.decode()
    nothing_stored(before)


def test_people_meetings_and_items_the_keeper_may_not_use_are_refused(cabinet, keeper, login_client):
    client = login_client(keeper)
    before = AuditEntry.objects.count()
    foreign = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory(name="Chính phủ khác"))
    assert "custodian" in client.post(NEW, valid(cabinet, keeper, custodian=str(foreign.pk))).context["form"].errors
    # A meeting above the keeper's clearance, its item, and a top-secret item of a meeting they see.
    elsewhere = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, created_by=keeper, classification=Clearance.TOP_SECRET)
    other_item = AgendaItemFactory(meeting=elsewhere, order=1, proposed_by=cabinet.ministry_secretary)
    hidden_item = AgendaItemFactory(meeting=cabinet.meeting, order=9, proposed_by=cabinet.ministry_secretary, classification=Clearance.TOP_SECRET)
    assert "meeting" in client.post(NEW, valid(cabinet, keeper, meeting=str(elsewhere.pk), item="")).context["form"].errors
    assert "item" in client.post(NEW, valid(cabinet, keeper, item=str(other_item.pk))).context["form"].errors
    with override("vi"):
        assert client.post(NEW, valid(cabinet, keeper, item=str(hidden_item.pk))).context["form"].errors["item"] == [gettext("No such agenda item.")]
    # An item of another meeting the keeper may see.
    second = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, created_by=keeper)
    second_item = AgendaItemFactory(meeting=second, order=1, proposed_by=cabinet.ministry_secretary)
    response = client.post(NEW, valid(cabinet, keeper, item=str(second_item.pk)))
    with override("vi"):  # the pages' default language
        assert response.status_code == 400 and response.context["form"].errors["item"] == [gettext("The agenda item belongs to another meeting.")]
    nothing_stored(before)


def test_a_file_is_never_accepted(cabinet, keeper, login_client):
    client = login_client(keeper)
    before = AuditEntry.objects.count()
    body = valid(cabinet, keeper)
    body["file"] = SimpleUploadedFile("toi-mat.pdf", b"%PDF-1.4 the secret text")
    response = client.post(NEW, body)
    assert response.status_code == 400 and 'id="form-errors"' in response.content.decode()
    nothing_stored(before)
    assert not StoredBlob.objects.exists()


def test_wrong_role_gets_403_as_from_the_api(cabinet, keeper, login_client, api):
    low_secretary = cabinet.ministry_secretary  # internal clearance
    cleared_member = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry, clearance=Clearance.TOP_SECRET)
    clients = {}
    for user in (cabinet.members[0], low_secretary, cleared_member):
        client = clients[user.pk] = login_client(user)
        assert client.get(NEW).status_code == 403
        assert client.post(NEW, valid(cabinet, keeper, custodian=str(user.pk))).status_code == 403
        # The API answers the same person the same way.
        body = {"number_symbol": "1", "title": "t", "classification": "secret", "custodian_id": user.pk}
        assert_problem(api.post_json(user, "/api/v1/registry", body), 403, "forbidden")
    assert RegistryRecord.objects.count() == 0
    assert 'id="new-record"' not in clients[cabinet.members[0].pk].get("/documents/registry/").content.decode()
    assert 'id="new-record"' in login_client(keeper).get("/documents/registry/").content.decode()
    assert Client().get(NEW).status_code == 302  # signed out: to the sign-in page


def test_csrf_is_required(cabinet, keeper, login_client):
    client = login_client(keeper)
    client.handler.enforce_csrf_checks = True
    assert client.post(NEW, valid(cabinet, keeper)).status_code == 403
    rec = actions.create_registry_record(
        acting_user=keeper, organisation=cabinet.office, number_symbol="1", title="t", classification=Clearance.SECRET, custodian=keeper
    )
    moves = f"/documents/registry/{rec.pk}/movements/"
    assert client.post(moves, {"kind": "handed_out", "copy_number": "1", "holder": str(cabinet.chair.pk)}).status_code == 403
    assert RegistryRecord.objects.count() == 1 and not CopyMovement.objects.exists()


@pytest.fixture
def record(cabinet, keeper):
    return actions.create_registry_record(
        acting_user=keeper,
        organisation=cabinet.office,
        number_symbol="09/TM-VPCP",
        title="Kế hoạch tối mật",
        classification=Clearance.SECRET,
        custodian=keeper,
        copies_total=2,
        meeting=cabinet.meeting,
    )


def test_copies_handed_out_and_returned(cabinet, keeper, record, login_client):
    client = login_client(keeper)
    moves = f"/documents/registry/{record.pk}/movements/"
    chair = cabinet.chair
    response = client.post(moves, {"kind": "handed_out", "copy_number": "2", "holder": str(chair.pk), "note": "Tại phòng họp"})
    assert response.status_code == 302 and response["Location"] == f"/documents/registry/{record.pk}/"
    move = CopyMovement.objects.get()
    assert (move.kind, move.copy_number, move.holder, move.recorded_by, move.note) == ("handed_out", 2, chair, keeper, "Tại phòng họp")
    assert AuditEntry.objects.filter(event=events.COPY_HANDED_OUT, object_id=str(record.pk)).count() == 1
    page = client.get(f"/documents/registry/{record.pk}/").content.decode()
    out_row = re.search(r'<tr data-copy="2">.*?</tr>', page.split('id="copies-out"')[1], re.S).group(0)
    assert chair.display_name in out_row and 'id="return-2"' in out_row
    # Only copy 1 is still offered for handing out.
    offered = re.findall(r'<option value="(\d+)"', re.search(r'<select name="copy_number".*?</select>', page, re.S).group(0))
    assert offered == ["1"]
    # The holder sees the record (of the copy they hold), without the keeper's forms.
    held = login_client(chair).get(f"/documents/registry/{record.pk}/").content.decode()
    assert "Kế hoạch tối mật" in held and 'id="hand-out-form"' not in held and 'id="return-2"' not in held
    response = client.post(moves, {"kind": "returned", "copy_number": "2"})
    assert response.status_code == 302
    returned = CopyMovement.objects.get(kind="returned")
    assert returned.holder == chair and returned.copy_number == 2
    assert AuditEntry.objects.filter(event=events.COPY_RETURNED, object_id=str(record.pk)).count() == 1
    assert 'id="none-out"' in client.get(f"/documents/registry/{record.pk}/").content.decode()


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "handed_out", "copy_number": "3", "holder": "{chair}"},  # copies are 1 and 2
        {"kind": "handed_out", "copy_number": "1", "holder": "{chair}"},  # copy 1 is out already
        {"kind": "handed_out", "copy_number": "2", "holder": ""},
        {"kind": "handed_out", "copy_number": "2", "holder": "{foreign}"},
        {"kind": "handed_out", "copy_number": "2", "holder": "{chair}", "note": "x" * 501},
        {"kind": "returned", "copy_number": "2"},  # not handed out
        {"kind": "returned", "copy_number": "mot"},
        {"kind": "lost", "copy_number": "2"},
        {"copy_number": "2", "holder": "{chair}"},
    ],
)
def test_each_movement_error_is_shown_and_nothing_is_recorded(cabinet, keeper, record, login_client, body):
    actions.record_copy_movement(record, kind="handed_out", copy_number=1, holder=cabinet.members[0], acting_user=keeper)
    foreign = UserFactory(role=Role.MEMBER, organisation=GovernmentFactory(name="Chính phủ khác"))
    body = {k: v.format(chair=cabinet.chair.pk, foreign=foreign.pk) for k, v in body.items()}
    client = login_client(keeper)
    before = AuditEntry.objects.count()
    response = client.post(f"/documents/registry/{record.pk}/movements/", body)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="movement-errors"' in html or 'class="errorlist' in html
    assert CopyMovement.objects.count() == 1 and AuditEntry.objects.count() == before


def test_movements_by_others_are_refused_as_by_the_api(cabinet, keeper, record, login_client, api):
    actions.record_copy_movement(record, kind="handed_out", copy_number=1, holder=cabinet.chair, acting_user=keeper)
    moves = f"/documents/registry/{record.pk}/movements/"
    body = {"kind": "handed_out", "copy_number": "2", "holder": str(cabinet.chair.pk)}
    # The chair holds a copy: sees the record, may not record movements (403, as the API).
    assert login_client(cabinet.chair).post(moves, body).status_code == 403
    assert_problem(
        api.post_json(cabinet.chair, f"/api/v1/registry/{record.pk}/movements", {"kind": "handed_out", "copy_number": 2, "holder_id": cabinet.chair.pk}),
        403,
        "forbidden",
    )
    # A member with no copy does not see it at all (404, as the API).
    member = login_client(cabinet.members[1])
    assert member.get(f"/documents/registry/{record.pk}/").status_code == 404
    assert member.post(moves, body).status_code == 404
    assert_problem(api.get(cabinet.members[1], f"/api/v1/registry/{record.pk}"), 404, "not_found")
    assert CopyMovement.objects.count() == 1


def test_a_closed_record_hands_out_nothing(cabinet, keeper, record, login_client, api):
    actions.close_registry_record(record, acting_user=keeper)
    client = login_client(keeper)
    response = client.post(f"/documents/registry/{record.pk}/movements/", {"kind": "handed_out", "copy_number": "1", "holder": str(keeper.pk)})
    assert response.status_code == 400 and "archived or destroyed" in response.content.decode()
    assert 'id="hand-out-form"' not in client.get(f"/documents/registry/{record.pk}/").content.decode()
    refused = api.post_json(keeper, f"/api/v1/registry/{record.pk}/movements", {"kind": "handed_out", "copy_number": 1, "holder_id": keeper.pk})
    assert_problem(refused, 409, "registry_record_closed")
    assert not CopyMovement.objects.exists()


def test_record_appears_in_the_dossier_as_a_paper_row(cabinet, keeper, record, login_client):
    html = login_client(keeper).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
    row = re.search(rf'<tr class="paper-only" data-record="{record.pk}">.*?</tr>', html, re.S).group(0)
    assert "Kế hoạch tối mật" in row and keeper.display_name in row and "/read/" not in row
    # A member who holds no copy and is not cleared does not see the record's row.
    assert f'data-record="{record.pk}"' not in login_client(cabinet.members[0]).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
