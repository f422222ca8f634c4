"""Minutes: drafted from the session record, edited by the office, approved by the chair only,
frozen once approved, and exported as a PDF whose Vietnamese text survives exactly."""

from __future__ import annotations

import hashlib
import io
import unicodedata
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events, followup
from ecabinet.meetings import minutes as minutes_module
from ecabinet.meetings.models import AgendaItem, FollowUpTask, Meeting, Minutes
from ecabinet.meetings.tests.followup_helpers import CONSENT_TEXT, decide, hold_session, post, put, signed_in

pytestmark = pytest.mark.django_db

DECISION = "Thống nhất thông qua dự thảo Nghị định; giao Bộ Tài chính tiếp thu đầy đủ ý kiến, hoàn thiện, trình ký ban hành."
DIACRITICS = "Kết luận: ố ệ ự đ ữ Đ ẫ ỷ ơ ư — Thủ tướng"


def base(cabinet) -> str:
    return f"/api/v1/meetings/{cabinet.meeting.pk}/minutes"


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def held(cabinet):
    hold_session(cabinet)
    decision = decide(cabinet, cabinet.items[0], DECISION)
    FollowUpTask.objects.create(
        decision=decision,
        title="Trình Thủ tướng ký ban hành Nghị định",
        assignee_org=cabinet.ministry,
        assignee=cabinet.members[0],
        due_date=timezone.localdate() + timedelta(days=20),
        created_by=cabinet.office_secretary,
    )
    return cabinet


def draft(cabinet, **body) -> dict:
    response = post(signed_in(cabinet.office_secretary), f"{base(cabinet)}/draft", body)
    assert response.status_code == 200, response.content
    return response.json()


def test_draft_from_the_session_record(held):
    out = draft(held)
    text = out["text"]
    assert out["state"] == "draft" and out["version"] == 1
    assert text == unicodedata.normalize("NFC", text)
    for heading in ("BIÊN BẢN PHIÊN HỌP CHÍNH PHỦ", "## I. Thành phần tham dự", "## II. Nội dung", "## III. Kết luận", "## IV. Nhiệm vụ triển khai"):
        assert heading in text
    m1, m2, m3, m4 = held.members
    # Attendance: in the room, remote, the substitute for member 3, and member 4 absent.
    attendance = text.split("## I. Thành phần tham dự")[1].split("## II.")[0]
    assert "Có mặt tại phòng họp (2):" in attendance and f"  - {m1.display_name}" in attendance
    assert f"Tham dự trực tuyến (1):\n  - {m2.display_name}" in attendance
    assert f"Thứ trưởng Lê Thị Hương (Thứ trưởng), dự thay {m3.display_name}" in attendance
    assert f"Vắng mặt (1):\n  - {m4.display_name}" in attendance
    # Items in order, planned against actual time, speakers in order with their times.
    content = text.split("## II. Nội dung")[1].split("## III.")[0]
    titles = [item.title for item in held.items]
    assert [content.index(f"### {n}. {t}") for n, t in enumerate(titles, start=1)] == sorted(
        content.index(f"### {n}. {t}") for n, t in enumerate(titles, start=1)
    )
    assert "Thời gian: dự kiến 15 phút (08:00); thực tế 20 phút (08:01–08:21)." in content
    assert f"- 1. {m2.display_name} — 3 phút 20 giây\n- 2. {m1.display_name} — 2 phút" in content
    assert "Đồng ý 1, Đồng ý, có góp ý 0, Không đồng ý 1, Không biểu thị ý kiến 0, Đề nghị phát biểu 1, Chưa gửi ý kiến 2." in content
    assert f"Kết luận: {DECISION}" in content
    assert "Cơ quan trình: Bộ Tài chính" in content
    assert "thực tế không thảo luận tại phiên họp" in content  # item 3, settled by consent
    conclusions = text.split("## III. Kết luận")[1].split("## IV.")[0]
    assert "Các nội dung thông qua theo danh mục đồng thuận, không thảo luận (1):" in conclusions and CONSENT_TEXT in conclusions
    assert "Các nội dung đã kết luận tại phiên họp (1):" in conclusions
    assert "Trình Thủ tướng ký ban hành Nghị định — giao: Bộ Tài chính" in text.split("## IV.")[1]
    assert "Phiên họp kết thúc lúc 09:30" in text
    entry = AuditEntry.objects.get(event=events.MINUTES_DRAFTED)
    assert entry.actor_id == held.office_secretary.pk and entry.details["meeting"] == held.meeting.pk


def test_draft_in_english_on_request(held):
    text = draft(held, language="en")["text"]
    assert "MINUTES OF THE GOVERNMENT MEETING" in text and "## I. Attendance" in text and "BIÊN BẢN" not in text


def test_vote_results_have_an_extension_point_and_no_section_without_it(held):
    assert "biểu quyết điện tử" not in draft(held)["text"].lower()

    def votes(item: AgendaItem, language: str) -> list[str]:
        return [f"Kết quả biểu quyết điện tử: mục {item.order}"]

    minutes_module.register_item_section(votes)
    try:
        text = minutes_module.draft_text(held.meeting)
    finally:
        minutes_module.ITEM_SECTION_PROVIDERS.remove(votes)
    assert [line for line in text.splitlines() if line.startswith("Kết quả biểu quyết")] == [f"Kết quả biểu quyết điện tử: mục {i.order}" for i in held.items]


def test_drafting_before_the_session_ends_is_409(cabinet):
    for state in (Meeting.State.SCHEDULED, Meeting.State.IN_SESSION):
        Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=state)
        assert_problem(post(signed_in(cabinet.office_secretary), f"{base(cabinet)}/draft", {}), 409, "meeting_wrong_state")
    assert not Minutes.objects.exists()


def test_only_office_secretaries_draft(held):
    for user in (held.chair, held.members[0], held.ministry_secretary, held.guest):
        assert_problem(post(signed_in(user), f"{base(held)}/draft", {}), 403, "forbidden")
    assert_problem(post(Client(), f"{base(held)}/draft", {}), 401, "not_authenticated")
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert_problem(post(signed_in(outsider), f"{base(held)}/draft", {}), 404, "not_found")
    assert_problem(post(signed_in(held.office_secretary), f"{base(held)}/draft", {"language": "de"}), 422, "validation_error")
    assert_problem(post(signed_in(held.office_secretary), f"{base(held)}/draft", {"format": "docx"}), 422, "validation_error")
    assert not Minutes.objects.exists()


def test_edit_submit_approve_and_freeze(held):
    draft(held)
    secretary, chair = signed_in(held.office_secretary), signed_in(held.chair)
    edited = draft(held, version=1)["text"].replace(DECISION, DECISION + " " + DIACRITICS)
    response = put(secretary, base(held), {"text": edited, "version": 2})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 3 and DIACRITICS in response.json()["text"]
    assert_problem(put(secretary, base(held), {"text": "ghi đè", "version": 2}), 409, "stale_version")
    assert_problem(post(chair, f"{base(held)}/approve", {"version": 3}), 409, "minutes_wrong_state")
    submitted = post(secretary, f"{base(held)}/submit", {"version": 3})
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"
    assert_problem(post(secretary, f"{base(held)}/submit", {"version": 4}), 409, "minutes_wrong_state")
    # Only the chair approves: not the office, not a member.
    assert_problem(post(secretary, f"{base(held)}/approve", {"version": 4}), 403, "forbidden")
    assert_problem(post(signed_in(held.members[0]), f"{base(held)}/approve", {"version": 4}), 404, "not_found")
    approved = post(chair, f"{base(held)}/approve", {"version": 4})
    assert approved.status_code == 200, approved.content
    out = approved.json()
    assert out["state"] == "approved" and out["approved_by"] == held.chair.display_name and len(out["pdf_sha256"]) == 64
    # Frozen: no edit, redraft, submit or second approval.
    assert_problem(put(secretary, base(held), {"text": "sửa sau", "version": 5}), 409, "minutes_frozen")
    assert_problem(post(secretary, f"{base(held)}/draft", {"version": 5}), 409, "minutes_frozen")
    assert_problem(post(secretary, f"{base(held)}/submit", {"version": 5}), 409, "minutes_frozen")
    assert_problem(post(chair, f"{base(held)}/approve", {"version": 5}), 409, "minutes_frozen")
    minutes = Minutes.objects.get()
    assert minutes.state == "approved" and DIACRITICS in minutes.text and minutes.version == 5
    for event in (events.MINUTES_DRAFTED, events.MINUTES_EDITED, events.MINUTES_SUBMITTED, events.MINUTES_APPROVED):
        assert AuditEntry.objects.filter(event=event, object_id=str(minutes.pk)).exists()
    assert AuditEntry.objects.get(event=events.MINUTES_APPROVED).details["pdf_sha256"] == minutes.pdf_sha256


def test_editing_submitted_minutes_takes_them_back_to_draft(held):
    draft(held)
    secretary = signed_in(held.office_secretary)
    post(secretary, f"{base(held)}/submit", {"version": 1})
    response = put(secretary, base(held), {"text": "# BIÊN BẢN\nSửa lại", "version": 2})
    assert response.json()["state"] == "draft"
    assert_problem(put(secretary, base(held), {"text": "x", "version": 3, "state": "approved"}), 422, "validation_error")


def test_drafts_are_hidden_from_members_until_approved(held):
    draft(held)
    member = signed_in(held.members[0])
    assert_problem(member.get(base(held)), 404, "not_found")
    assert_problem(member.get(f"{base(held)}/pdf"), 404, "not_found")
    assert member.get(f"/meetings/{held.meeting.pk}/minutes/").status_code == 404
    assert signed_in(held.chair).get(base(held)).status_code == 200
    secretary = signed_in(held.office_secretary)
    post(secretary, f"{base(held)}/submit", {"version": 1})
    post(signed_in(held.chair), f"{base(held)}/approve", {"version": 2})
    assert member.get(base(held)).json()["state"] == "approved"
    assert signed_in(held.guest).get(base(held)).status_code == 200
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert_problem(signed_in(outsider).get(f"{base(held)}/pdf"), 404, "not_found")
    assert_problem(Client().get(f"{base(held)}/pdf"), 401, "not_authenticated")


def test_minutes_of_a_confidential_item_need_the_clearance(held):
    AgendaItem.objects.filter(pk=held.items[1].pk).update(classification=Clearance.CONFIDENTIAL)
    assert_problem(post(signed_in(held.office_secretary), f"{base(held)}/draft", {}), 403, "forbidden")
    cleared = UserFactory(role=Role.SECRETARY, organisation=held.office, clearance=Clearance.CONFIDENTIAL)
    assert post(signed_in(cleared), f"{base(held)}/draft", {}).status_code == 200
    Minutes.objects.filter(meeting=held.meeting).update(state=Minutes.State.APPROVED)
    assert_problem(signed_in(held.members[0]).get(base(held)), 404, "not_found")


def test_approved_pdf_keeps_vietnamese_exactly_and_matches_its_fingerprint(held):
    draft(held)
    secretary, chair = signed_in(held.office_secretary), signed_in(held.chair)
    text = Minutes.objects.get().text.replace(DECISION, DECISION + " " + DIACRITICS)
    put(secretary, base(held), {"text": text, "version": 1})
    post(secretary, f"{base(held)}/submit", {"version": 2})
    post(chair, f"{base(held)}/approve", {"version": 3})
    minutes = Minutes.objects.get()
    response = signed_in(held.members[0]).get(f"{base(held)}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert hashlib.sha256(response.content).hexdigest() == minutes.pdf_sha256
    extracted = pdf_text(response.content)
    for phrase in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "BIÊN BẢN PHIÊN HỌP CHÍNH PHỦ",
        "Thành phần tham dự",
        "Nội dung",
        "Kết luận",
        "ố ệ ự đ ữ Đ ẫ ỷ ơ ư",
        "Đã phê duyệt: Thủ tướng",
    ):
        assert phrase in extracted, phrase
    assert held.items[0].title in extracted
    exported = AuditEntry.objects.filter(event=events.MINUTES_EXPORTED)
    assert exported.count() == 1 and exported.get().actor_id == held.members[0].pk
    assert exported.get().details["pdf_sha256"] == minutes.pdf_sha256
    # The same file again (kept, not re-rendered into something else).
    assert signed_in(held.chair).get(f"/meetings/{held.meeting.pk}/minutes.pdf").content == response.content


def test_a_lost_pdf_is_remade_identically(held, settings):
    from django.core.files.storage import default_storage

    draft(held)
    post(signed_in(held.office_secretary), f"{base(held)}/submit", {"version": 1})
    post(signed_in(held.chair), f"{base(held)}/approve", {"version": 2})
    minutes = Minutes.objects.get()
    default_storage.delete(followup.pdf_storage_name(minutes))
    again = signed_in(held.chair).get(f"{base(held)}/pdf")
    assert again.status_code == 200 and hashlib.sha256(again.content).hexdigest() == minutes.pdf_sha256
    assert default_storage.exists(followup.pdf_storage_name(minutes))


def test_draft_pdf_is_marked_as_draft(held):
    draft(held)
    response = signed_in(held.office_secretary).get(f"{base(held)}/pdf")
    assert response.status_code == 200
    extracted = pdf_text(response.content)
    assert "DỰ THẢO" in extracted and "BIÊN BẢN PHIÊN HỌP CHÍNH PHỦ" in extracted
    assert Minutes.objects.get().pdf_sha256 == ""


def test_minutes_pages_walk_through_the_flow(held):
    secretary, chair = signed_in(held.office_secretary), signed_in(held.chair)
    page = secretary.get(f"/meetings/{held.meeting.pk}/minutes/")
    assert page.status_code == 200 and "minutes-draft-form" in page.content.decode()
    assert secretary.post(f"/meetings/{held.meeting.pk}/minutes/draft/", {"language": "vi"}).status_code == 302
    minutes = Minutes.objects.get()
    assert secretary.post(f"/meetings/{held.meeting.pk}/minutes/edit/", {"text": minutes.text + "\nGhi chú thêm.", "version": 1}).status_code == 302
    assert secretary.post(f"/meetings/{held.meeting.pk}/minutes/submit/", {"version": 2}).status_code == 302
    # The office cannot approve through the page either.
    secretary.post(f"/meetings/{held.meeting.pk}/minutes/approve/", {"version": 3})
    assert Minutes.objects.get().state == "submitted"
    assert "minutes-approve" in chair.get(f"/meetings/{held.meeting.pk}/minutes/").content.decode()
    assert chair.post(f"/meetings/{held.meeting.pk}/minutes/approve/", {"version": 3}).status_code == 302
    minutes.refresh_from_db()
    assert minutes.state == "approved" and "Ghi chú thêm." in minutes.text
    shown = signed_in(held.members[0]).get(f"/meetings/{held.meeting.pk}/minutes/").content.decode()
    assert minutes.pdf_sha256 in shown and "minutes-edit-form" not in shown
    assert Client().get(f"/meetings/{held.meeting.pk}/minutes/").status_code == 302
