"""The pipeline's extract/index steps and full-text search, on whichever database the run uses
(CI runs this file on SQLite and on PostgreSQL): accents optional, access rules enforced."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection

from ecabinet.documents import search
from ecabinet.documents.models import DocumentVersion, PageText, PageThumbnails, VersionText
from ecabinet.documents.tests import text_samples as ts
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory

pytestmark = pytest.mark.django_db
SEARCH = "/api/v1/search"


@pytest.fixture
def corpus(api, cabinet):
    """Three documents on item 1 (land, budget, French) and a confidential one on item 2."""
    cabinet.office_secretary.clearance = Clearance.CONFIDENTIAL
    cabinet.office_secretary.save()
    item = cabinet.items[0]
    land = api.upload(cabinet.office_secretary, ts.pdf(["Mở đầu.", ts.LAND]), "dat-dai.pdf", title="Quyết định đất đai", item_id=item.pk).json()
    budget = api.upload(cabinet.office_secretary, ts.docx([[ts.BUDGET]]), "ngan-sach.docx", title="Tờ trình ngân sách", item_id=item.pk).json()
    french = api.upload(cabinet.office_secretary, ts.odt([ts.FRENCH]), "foncier.odt", title="Note foncière", item_id=item.pk).json()
    secret_item = cabinet.items[1]
    secret_item.classification = Clearance.CONFIDENTIAL
    secret_item.save()
    hidden = api.upload(
        cabinet.office_secretary,
        ts.pdf(["Kế hoạch mật về đất đai biên giới."]),
        "mat.pdf",
        title="Kế hoạch mật",
        item_id=secret_item.pk,
        classification="confidential",
    ).json()
    for body in (land, budget, french, hidden):
        assert body["state"] == "ready", body
    return {"land": land, "budget": budget, "french": french, "hidden": hidden}


def hits(api, user, q):
    response = api.get(user, f"{SEARCH}?{urlencode({'q': q})}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"])  # these corpora fit in one page of results
    return body["items"]


def test_pipeline_stores_page_texts_summary_and_thumbnails(api, cabinet, corpus):
    version = DocumentVersion.objects.get(pk=corpus["land"]["id"])
    pages = dict(PageText.objects.filter(version=version).values_list("number", "source"))
    assert pages == {0: "metadata", 1: "text", 2: "text"}
    page2 = PageText.objects.get(version=version, number=2)
    assert "đất đai" in page2.text and "dat dai" in page2.search_text
    summary = VersionText.objects.get(version=version)
    assert (summary.pages, summary.text_pages, summary.ocr_pages, summary.error) == (2, 2, 0, "")
    assert summary.indexed_at is not None
    thumbs = PageThumbnails.objects.get(version=version)
    assert len(thumbs.pages) == 2
    response = api.get(cabinet.members[0], f"/api/v1/reader/versions/{version.pk}/thumbnails/2")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg" and response.content.startswith(b"\xff\xd8")
    assert len(response.content) == thumbs.pages[1][1]
    # Outsiders get nothing, not even the fact that a thumbnail exists.
    outsider = UserFactory(role=Role.MEMBER, organisation=GovernmentFactory())
    assert api.get(outsider, f"/api/v1/reader/versions/{version.pk}/thumbnails/2").status_code == 404
    assert api.get(None, f"/api/v1/reader/versions/{version.pk}/thumbnails/2").status_code == 401
    # DOCX: page count from the text, no thumbnails.
    docx = DocumentVersion.objects.get(pk=corpus["budget"]["id"])
    assert docx.page_count == 1 and not PageThumbnails.objects.filter(version=docx).exists()


def test_words_without_accents_find_accented_text(api, cabinet, corpus):
    member = cabinet.members[0]
    backend = search.backend().name
    assert backend == ("postgresql-fts" if connection.vendor == "postgresql" else "sqlite-fts5")
    found = hits(api, member, "quyet dinh")
    assert [h["title"] for h in found] == ["Quyết định đất đai"]
    assert found[0]["page"] == 2 and found[0]["matched_pages"] == [2]
    snippet = found[0]["snippet"]
    marked = [snippet[s:e] for s, e in found[0]["highlights"]]
    assert marked == ["Quyết", "định"]
    land = hits(api, member, "dat dai")
    assert [h["title"] for h in land] == ["Quyết định đất đai"]
    assert "đất đai" in land[0]["snippet"]
    # Upper case, accents typed or not, the đ as d: all the same words.
    assert [h["document_id"] for h in hits(api, member, "ĐẤT ĐAI")] == [corpus["land"]["document_id"]]
    assert [h["document_id"] for h in hits(api, member, "ngan sach nha nuoc")] == [corpus["budget"]["document_id"]]
    assert [h["document_id"] for h in hits(api, member, "gestion fonciere")] == [corpus["french"]["document_id"]]
    # The last word is a prefix (results while typing); all words must be on one page.
    assert [h["document_id"] for h in hits(api, member, "quyet dinh ve quan l")] == [corpus["land"]["document_id"]]
    assert hits(api, member, "ngan sach dat dai") == []
    assert hits(api, member, "   ") == []


def test_title_matches_documents_without_matching_text(api, cabinet, corpus):
    found = hits(api, cabinet.members[0], "note fonciere")
    assert [h["title"] for h in found] == ["Note foncière"]


def test_search_never_shows_what_the_user_may_not_see(api, cabinet, corpus):
    member = cabinet.members[0]  # internal clearance: the confidential plan is not for them
    for query in ("dat dai", "bien gioi", "ke hoach mat"):
        assert all(h["document_id"] != corpus["hidden"]["document_id"] for h in hits(api, member, query))
        assert all("biên giới" not in h["snippet"] for h in hits(api, member, query))
    assert hits(api, member, "bien gioi") == []
    # The cleared secretary finds it.
    assert [h["title"] for h in hits(api, cabinet.office_secretary, "bien gioi")] == ["Kế hoạch mật"]
    # Another government, a member of no meeting, and the anonymous: nothing / 401.
    other = UserFactory(role=Role.MEMBER, organisation=GovernmentFactory(), clearance=Clearance.CONFIDENTIAL)
    assert hits(api, other, "dat dai") == []
    outsider = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    assert hits(api, outsider, "quyet dinh") == []
    assert api.get(None, f"{SEARCH}?q=dat+dai").status_code == 401


def test_only_the_current_version_is_searched(api, cabinet, corpus):
    document_id = corpus["land"]["document_id"]
    new = api.upload(cabinet.office_secretary, ts.pdf(["Nghị định về thuế tài nguyên."]), "v2.pdf", path=f"/api/v1/documents/{document_id}/versions").json()
    assert new["state"] == "ready" and new["number"] == 2
    member = cabinet.members[0]
    assert hits(api, member, "thue tai nguyen")[0]["version_id"] == new["id"]
    assert all(h["document_id"] != document_id for h in hits(api, member, "quan ly dat dai"))


def test_search_inside_one_version(api, cabinet, corpus):
    version_id = corpus["land"]["id"]
    member = cabinet.members[0]
    response = api.get(member, f"/api/v1/reader/versions/{version_id}/search?q=dat+dai")
    assert response.status_code == 200
    assert [m["page"] for m in response.json()] == [2]
    assert response.json()[0]["count"] >= 2
    outsider = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    assert api.get(outsider, f"/api/v1/reader/versions/{version_id}/search?q=dat+dai").status_code == 404


def test_index_is_idempotent_and_remove_takes_pages_out(api, cabinet, corpus):
    version_id = corpus["land"]["id"]
    assert search.index_version(version_id) == 2
    assert search.index_version(version_id) == 2
    member = cabinet.members[0]
    assert len(hits(api, member, "dat dai")) == 1
    search.remove(version_id)
    assert hits(api, member, "dat dai") == []
    assert not PageText.objects.filter(version_id=version_id).exists()
