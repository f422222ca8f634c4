"""Search ranks every matching page in the database, on SQLite and on PostgreSQL alike (CI runs
this file on both): no cap drops an old, better document; hidden documents change nothing the
user sees (hits, order, scores, counts); paging and counts hold; odd input never fails.

Documents are written straight into the index (as bench/search.py does), not through the upload
pipeline, so a corpus of thousands of pages costs a second.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlencode

import pytest

from ecabinet.documents import reader_views, search
from ecabinet.documents.core import textnorm
from ecabinet.documents.models import Document, DocumentVersion, DossierEntry, PageText
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory

pytestmark = pytest.mark.django_db
SEARCH = "/api/v1/search"
QUERY = "quyet dinh dat dai"
FILLER = "ngân sách nhà nước chính phủ bộ tài chính kế hoạch đầu tư phát triển kinh tế xã hội giao thông vận tải".split()  # noqa: SIM905 - read as a sentence


def filler(n: int, shift: int = 0) -> str:
    return " ".join(FILLER[(i + shift) % len(FILLER)] for i in range(n))


def add_document(
    cabinet: Any, title: str, pages: list[str], *, item: Any = None, meeting: Any = None, in_dossier: bool = True, level: int = Clearance.INTERNAL
) -> Document:
    """A document of the office with one ready version of ``pages``, indexed, in the dossier of
    ``item`` of ``meeting`` (default: the cabinet's first item, which every member sees)."""
    creator = cabinet.office_secretary
    doc = Document.objects.create(title=title, owner_organisation=cabinet.office, created_by=creator, classification=level)
    version = DocumentVersion.objects.create(
        document=doc,
        number=1,
        filename="x.pdf",
        uploaded_by=creator,
        size=1,
        original_sha256="0" * 64,
        state=DocumentVersion.State.READY,
        page_count=len(pages),
    )
    if in_dossier:
        DossierEntry.objects.create(meeting=meeting or cabinet.meeting, item=item or (None if meeting else cabinet.items[0]), document=doc, added_by=creator)
    PageText.objects.bulk_create(
        [PageText(version=version, number=n, text=t, search_text=textnorm.search_text(t), source=PageText.Source.TEXT) for n, t in enumerate(pages, start=1)]
    )
    search.index_version(version.pk)
    return doc


def ask(api: Any, user: Any, q: str, **params: Any) -> Any:
    return api.get(user, f"{SEARCH}?{urlencode({'q': q, **params})}")


def found(api: Any, user: Any, q: str, **params: Any) -> dict[str, Any]:
    response = ask(api, user, q, **params)
    assert response.status_code == 200, response.content
    return response.json()


def expected_score(hit: dict[str, Any], terms: list[str]) -> float:
    """The hit's score recomputed in Python from its pages (search.page_score): the best matching
    page's, plus MAX_QUERY_TOKENS for a metadata match."""
    pages = dict(PageText.objects.filter(version_id=hit["version_id"]).values_list("number", "search_text"))
    content = [search.page_score(pages[n], terms) for n in hit["matched_pages"]]
    meta = search.MAX_QUERY_TOKENS if all(t in pages[0].split() for t in terms[:-1]) and any(w.startswith(terms[-1]) for w in pages[0].split()) else 0
    return meta + max(content, default=0.0)


def test_an_old_document_beyond_the_old_cap_is_found_and_ranked_first(api, cabinet):
    """The defect fixed: search used to score only the newest 1,500 matching pages, so an older
    document with the best page was missing when more pages matched."""
    dense = "Quyết định về đất đai. " * 6 + filler(60)
    old = add_document(cabinet, "Hồ sơ lưu trữ", ["Mở đầu " + filler(40), dense])
    newer = []
    # 40 newer documents of 40 pages each: 1,600 matching pages, each with the words once.
    for n in range(40):
        pages = [f"{filler(30, n + p)} quyết định {filler(20, p)} về đất đai {filler(25, n)}" for p in range(40)]
        newer.append(add_document(cabinet, f"Tờ trình {n + 1}", pages))
    assert PageText.objects.filter(number__gt=0).count() > 1500
    member = cabinet.members[0]

    first = search.search(member, QUERY, limit=5)
    assert first[0].document_id == old.pk and first[0].page == 2 and first[0].matched_pages == [2]
    assert "Quyết định" in first[0].snippet

    body = found(api, member, QUERY, limit=10)
    assert body["count"] == 41 and body["items"][0]["document_id"] == old.pk
    # Every page of results, in order, adds up to every matching document exactly once, with the
    # same count on each page, and the scores never rise.
    seen = []
    for offset in range(0, 50, 10):
        page = found(api, member, QUERY, limit=10, offset=offset)
        assert page["count"] == 41 and page["offset"] == offset and page["limit"] == 10
        seen.extend(page["items"])
    assert [h["document_id"] for h in seen] == [h["document_id"] for h in found(api, member, QUERY, limit=100)["items"]]
    assert sorted(h["document_id"] for h in seen) == sorted([old.pk, *(d.pk for d in newer)])
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(seen))
    terms = search.query_terms(QUERY)
    for hit in seen[:3] + seen[-3:]:
        assert hit["score"] == round(expected_score(hit, terms), 4)
    # Past the end: nothing, and still the count.
    assert found(api, member, QUERY, limit=10, offset=400) == {"count": 41, "limit": 10, "offset": 400, "items": []}


def test_ranking_is_the_same_on_both_databases(api, cabinet):
    """A title match first; then the best page's score (each word counts less each time it comes
    again); on equal scores, more matching pages, then the newer document."""
    once = add_document(cabinet, "Báo cáo A", [f"quyết định {filler(10)} đất đai"])
    often = add_document(cabinet, "Báo cáo B", ["quyết định đất đai " * 4 + filler(10)])
    one_word_often = add_document(cabinet, "Báo cáo C", ["quyết định " * 30 + "đất đai"])
    titled = add_document(cabinet, "Quyết định về đất đai", [filler(20)])
    twin_old = add_document(cabinet, "Báo cáo D", [f"quyết định {filler(10)} đất đai"])
    twin_new = add_document(cabinet, "Báo cáo E", [f"quyết định {filler(10)} đất đai"])
    two_pages = add_document(cabinet, "Báo cáo F", [f"quyết định {filler(10)} đất đai", f"quyết định {filler(12)} đất đai"])
    body = found(api, cabinet.members[0], QUERY)
    order = [h["document_id"] for h in body["items"]]
    # C's 30 "quyết định" and one "đất đai" score less than B's four of each (tf / (tf + 1.2)).
    assert order == [titled.pk, often.pk, one_word_often.pk, two_pages.pk, twin_new.pk, twin_old.pk, once.pk]
    assert body["count"] == 7
    assert body["items"][0]["page"] == 0 and body["items"][0]["matched_pages"] == []
    assert body["items"][3]["matched_pages"] == [1, 2]
    terms = search.query_terms(QUERY)
    for hit in body["items"]:
        assert hit["score"] == round(expected_score(hit, terms), 4)


def test_documents_the_user_may_not_see_change_nothing(api, cabinet):
    member = cabinet.members[0]  # internal clearance, attends the meeting
    add_document(cabinet, "Báo cáo đất đai", [f"quyết định {filler(10)} đất đai", "đất đai " * 3 + "quyết định"])
    add_document(cabinet, "Tờ trình", [f"quyết định {filler(5)} đất đai đất đai {filler(30)}"])
    add_document(cabinet, "Phụ lục", [f"{filler(50)} quyết định đất đai"])
    queries = [QUERY, "dat dai", "quyet", "bao cao dat", "ngan sach"]
    before = {q: found(api, member, q, limit=2) for q in queries}
    before_all = {q: found(api, member, q, limit=100) for q in queries}
    assert before[QUERY]["count"] == 3

    # Many documents the member may not see, each a better match than any they may see.
    dense = "Quyết định đất đai ngân sách. " * 20
    elsewhere = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, created_by=cabinet.office_secretary)
    hidden = [
        add_document(cabinet, "Mật: quyết định đất đai", [dense] * 3, level=Clearance.CONFIDENTIAL),  # above the member's clearance
        add_document(cabinet, "Quyết định đất đai (họp khác)", [dense], meeting=elsewhere, item=AgendaItemFactory(meeting=elsewhere, order=1)),
        add_document(cabinet, "Quyết định đất đai (không hồ sơ)", [dense], in_dossier=False),  # in no dossier
    ]
    foreign = GovernmentFactory(name="Chính phủ khác")
    foreign_secretary = UserFactory(role=Role.SECRETARY, organisation=foreign, clearance=Clearance.CONFIDENTIAL)
    foreign_doc = Document.objects.create(title="Quyết định đất đai", owner_organisation=foreign, created_by=foreign_secretary)
    version = DocumentVersion.objects.create(
        document=foreign_doc, number=1, filename="f.pdf", uploaded_by=foreign_secretary, size=1, original_sha256="0" * 64, state=DocumentVersion.State.READY
    )
    PageText.objects.create(version=version, number=1, text=dense, search_text=textnorm.search_text(dense), source=PageText.Source.TEXT)
    search.index_version(version.pk)
    hidden.append(foreign_doc)
    for _ in range(30):  # enough to move any corpus-wide statistic (document frequency, mean length)
        add_document(cabinet, "Mật", [dense + filler(200)], level=Clearance.CONFIDENTIAL)

    # Hits, order, pages, snippets, scores and counts are exactly as before, for every query.
    assert {q: found(api, member, q, limit=2) for q in queries} == before
    assert {q: found(api, member, q, limit=100) for q in queries} == before_all
    # ... and the hidden documents do match: whoever may see them finds them first.
    cabinet.office_secretary.clearance = Clearance.CONFIDENTIAL
    cabinet.office_secretary.save()
    secretary = found(api, cabinet.office_secretary, QUERY, limit=100)
    assert secretary["count"] > before[QUERY]["count"] and secretary["items"][0]["document_id"] == hidden[0].pk
    assert all(h["document_id"] != foreign_doc.pk for h in secretary["items"])
    assert [h["document_id"] for h in found(api, foreign_secretary, QUERY)["items"]] == [foreign_doc.pk]


ODD_QUERIES = [
    "",
    "   ",
    '"',
    '""',
    "*",
    "dat*",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(dat dai)",
    "dat AND dai",
    "dat OR dai",
    "dat NOT dai",
    "(",
    ")",
    "(dat",
    "^dat",
    "-dat",
    "+dat",
    "dat:*",
    "dat & dai | !x",
    "'",
    "''dat''",
    "\\",
    "%",
    "_",
    "dat_dai",
    "{dat}",
    "col:dat",
    "search_text:dat",
    "😀 đất",
    "\x00dat",
    "dat dai " * 60,
    "a" * 500,
    "x" * 70 + " dat",
]


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_odd_input_gives_results_not_errors(api, cabinet, query):
    add_document(cabinet, "Quyết định đất đai", [f"quyết định {filler(5)} đất đai"])
    response = ask(api, cabinet.members[0], query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"]) and body["count"] in (0, 1)
    # Operators and quotes are plain text: the words in them are what is searched.
    terms = search.query_terms(query)
    pages = [words.split() for words in PageText.objects.values_list("search_text", flat=True)]
    expected = bool(terms) and any(all(t in words for t in terms[:-1]) and any(w.startswith(terms[-1]) for w in words) for words in pages)
    assert body["count"] == int(expected)


def test_quotes_and_operators_are_words_not_syntax(api, cabinet):
    doc = add_document(cabinet, "Báo cáo", [f"quyết định {filler(5)} đất đai và ngân sách"])
    member = cabinet.members[0]
    for query in ('"dat dai"', "dat* dai*", "(dat) (dai)", "dat dai*", 'dat "dai'):
        assert [h["document_id"] for h in found(api, member, query)["items"]] == [doc.pk], query
    # 'and' and 'near' are words like any other: not on the page, so no hit.
    for query in ("dat AND dai", "NEAR(dat dai)", "dat OR ngan"):
        assert found(api, member, query)["count"] == 0, query
    assert [h["document_id"] for h in found(api, member, "dat va ngan")["items"]] == [doc.pk]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": "d" * 501}, "invalid_input"),
        ({"q": "dat", "limit": 0}, "invalid_input"),
        ({"q": "dat", "limit": 101}, "invalid_input"),
        ({"q": "dat", "limit": -5}, "invalid_input"),
        ({"q": "dat", "offset": -1}, "invalid_input"),
        ({"q": "dat", "offset": search.MAX_OFFSET + 1}, "invalid_input"),
        ({"q": "dat", "offset": 10**30}, "invalid_input"),
        ({"q": "dat", "limit": "many"}, "validation_error"),
        ({"q": "dat", "offset": "1.5"}, "validation_error"),
        ({}, "validation_error"),
    ],
)
def test_bad_parameters_are_problems(api, cabinet, params, code):
    add_document(cabinet, "Quyết định đất đai", ["đất đai"])
    response = api.get(cabinet.members[0], f"{SEARCH}?{urlencode(params)}")
    assert response.status_code in (400, 422), response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_search_page_pages_through_every_hit(cabinet, login_client, monkeypatch):
    monkeypatch.setattr(reader_views, "SEARCH_PAGE_SIZE", 2)
    docs = [add_document(cabinet, f"Tờ trình {n}", [f"đất đai {filler(n)}" + " đất đai" * n]) for n in range(5)]
    client = login_client(cabinet.members[0])

    def page(**params: Any) -> str:
        response = client.get(f"/documents/search/?{urlencode({'q': 'dat dai', **params})}")
        assert response.status_code == 200
        return response.content.decode()

    shown = []
    for number in (1, 2, 3):
        html = page(page=number)
        assert 'data-count="5"' in html
        shown += [int(part.split('"')[0]) for part in html.split('<li data-document="')[1:]]
        assert ('rel="next"' in html) == (number < 3) and ('rel="prev"' in html) == (number > 1)
    assert shown == [d.pk for d in reversed(docs)]  # more mentions of the words, higher
    assert "page=2" in page(page=1) and "q=dat+dai" in page(page=1).split('rel="next"')[0].rsplit("href=", 1)[1]
    # Not a page number: the first page; past the end: no hits, still the count.
    assert page(page="x").count("<li data-document=") == 2
    past = page(page=9)
    assert 'id="no-hits"' in past and 'data-count="5"' in past
