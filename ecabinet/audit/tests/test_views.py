"""The security officer's audit page: filters, pages, the integrity banner, the export button."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from ecabinet.audit import actions, events
from ecabinet.audit.models import AuditEntry
from ecabinet.audit.tests import tamper
from ecabinet.identity.models import Role

pytestmark = pytest.mark.django_db
URL = "/audit/"


@pytest.fixture
def page(login_client, officer):
    return login_client(officer)


def shown_seqs(response) -> list[int]:
    return [e.seq for e in response.context["entries"]]


def test_anonymous_is_sent_to_sign_in():
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = Client().post(URL + "export")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.CHAIR, Role.SECRETARY, Role.ADMIN, Role.GUEST])
def test_other_roles_get_404(role, make_user, login_client, entries):
    entries(2)
    client = login_client(make_user(role))
    assert client.get(URL).status_code == 404
    assert client.post(URL + "export").status_code == 404
    assert not AuditEntry.objects.filter(event=events.AUDIT_EXPORTED).exists()


def test_the_officer_sees_the_log_and_a_good_banner(page, entries):
    entries(3, details={"quyết_định": "Thông qua"})
    actions.make_checkpoint()
    entries(1)
    response = page.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-state="ok"' in html and 'data-state="bad"' not in html
    assert response.context["check"].report.latest_checkpoint_size is not None
    assert "Thông qua" in html and "test.thing.happened" in html
    assert shown_seqs(response) == sorted(shown_seqs(response), reverse=True)
    assert 'id="audit-export"' in html and 'id="audit-filters"' in html
    assert {events.LOGIN_FAILED, events.AUDIT_EXPORTED} <= set(response.context["known_events"])


def test_the_banner_shows_tampering_and_a_missing_guard(page, entries):
    made = entries(4)
    actions.make_checkpoint()
    tamper.disable_guards()
    tamper.modify_details(made[-1].seq, {"changed": True})
    html = page.get(URL).content.decode()
    assert 'data-state="bad"' in html and f"entry #{made[-1].seq}" in html
    assert 'data-state="unguarded"' in html


def test_the_banner_reports_the_last_full_verification(page, entries):
    entries(2)
    assert page.get(URL).context["last_verify"] is None
    call_command("audit", "verify", stdout=StringIO())
    response = page.get(URL)
    last = response.context["last_verify"]
    assert last.event == events.AUDIT_VERIFIED
    html = response.content.decode()
    line = html[html.index('id="last-verify"') :].split("</p>", 1)[0]
    assert str(last.details["entries"]) in line


def test_filters(page, entries, make_user):
    minister = make_user(Role.MEMBER, username="bt.taichinh", full_name="Phạm Văn Tài")
    entries(3)
    entries(2, actor=minister, event="test.vote.cast", object_type="voting.ballot", object_id="77")
    entries(1, details={"title": "Dự thảo nghị định"})

    def seqs(**params: str) -> list[int]:
        response = page.get(URL, params)
        assert response.status_code == 200
        return shown_seqs(response)

    assert len(seqs(event="test.vote")) == 2
    assert len(seqs(actor="Tài")) == 2
    assert len(seqs(actor="bt.tai")) == 2
    assert len(seqs(object_type="voting.ballot", object_id="77")) == 2
    assert len(seqs(q="nghị định")) == 1
    assert seqs(date_from="2999-01-01") == []
    assert len(seqs(date_to="2999-01-01")) == AuditEntry.objects.count()


def test_a_bad_date_is_shown_and_ignored(page, entries):
    entries(2)
    response = page.get(URL, {"date_from": "not-a-date", "event": "test.thing"})
    assert response.status_code == 200
    assert response.context["form"].errors["date_from"]
    assert len(shown_seqs(response)) == 2


def test_pages_keep_the_filters(page, entries):
    entries(120, event="test.bulk")
    first = page.get(URL, {"event": "test.bulk"})
    assert len(shown_seqs(first)) == 50
    html = first.content.decode()
    assert "event=test.bulk&amp;page=2" in html
    third = page.get(URL, {"event": "test.bulk", "page": 3})
    assert len(shown_seqs(third)) == 20
    assert {e.event for e in third.context["entries"]} == {"test.bulk"}
    beyond = page.get(URL, {"event": "test.bulk", "page": 99})
    assert shown_seqs(beyond) == shown_seqs(third)


def test_export_button_downloads_json_lines_and_is_audited(page, officer, entries):
    entries(3)
    entries(1, event="test.special")
    actions.make_checkpoint()
    response = page.post(URL + "export", {"event": "test.special"})
    assert response.status_code == 200 and response["Content-Type"] == "application/jsonl"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["type"] for line in lines] == ["entry", "checkpoint"]
    assert lines[0]["entry"]["event"] == "test.special"
    record = AuditEntry.objects.get(event=events.AUDIT_EXPORTED)
    assert record.actor_id == officer.pk and record.details["channel"] == "web"
    assert record.details["filters"] == {"event": "test.special"}


def test_export_form_carries_the_current_filters(page, entries):
    entries(1)
    html = page.get(URL, {"event": "test.thing", "q": "abc"}).content.decode()
    form = html[html.index('id="audit-export"') :]
    assert 'name="event" value="test.thing"' in form and 'name="q" value="abc"' in form


def test_export_needs_post(page):
    assert page.get(URL + "export").status_code == 405
