"""Full-text search over documents, diacritics-insensitive, behind one small interface.

    index_version(version_id)      make a version's pages searchable (idempotent)
    remove(version_id)             take them out
    search(user, query, limit)     hits the user may see, best first, with snippets

Two backends answer "which pages contain all these words" over the same folded token stream
(``core.textnorm``): SQLite FTS5 on the embedded default, PostgreSQL full text (``simple`` +
``unaccent``) in production. Everything else (which versions the user may see, scoring, snippets)
is done here in Python, once, so both databases give the same hits in the same order. A later
semantic search joins by implementing ``Backend.candidates`` (or contributing hits to ``search``).

Only the current (newest ready) version of each document the user may see is searched; nothing
else reaches the query, so hidden documents never appear in hits, counts or snippets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ecabinet.documents import permissions
from ecabinet.documents.core import textnorm
from ecabinet.documents.models import Document, DocumentVersion, PageText, VersionText

MAX_QUERY_TOKENS = 12
MAX_CANDIDATE_PAGES = 5000
SNIPPET_CHARS = 180


@dataclass
class Hit:
    document_id: int
    version_id: int
    title: str
    page: int  # 0 when only the metadata (title, number) matched
    snippet: str
    highlights: list[tuple[int, int]]  # [start, end) offsets into snippet
    score: float
    matched_pages: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "version_id": self.version_id,
            "title": self.title,
            "page": self.page,
            "snippet": self.snippet,
            "highlights": [list(h) for h in self.highlights],
            "score": round(self.score, 4),
            "matched_pages": self.matched_pages,
        }


class Backend(Protocol):
    name: str

    def candidates(self, terms: list[str], version_ids: list[int], limit: int) -> list[int]:
        """Ids of PageText rows among ``version_ids`` that contain every term (the last as a prefix)."""
        ...


SQLITE_CANDIDATES = (
    "SELECT p.id FROM documents_pagetext_fts f JOIN documents_pagetext p ON p.id = f.rowid "
    "WHERE documents_pagetext_fts MATCH %s AND p.version_id IN ({marks}) ORDER BY p.version_id, p.number LIMIT %s"
)


class SqliteFts5:
    name = "sqlite-fts5"

    def candidates(self, terms: list[str], version_ids: list[int], limit: int) -> list[int]:
        # Terms are letters and digits only (textnorm.TOKEN_RE), so quoting them is enough.
        match = " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'
        # Only placeholders are put into the text; every value is a parameter.
        sql = SQLITE_CANDIDATES.replace("{marks}", ",".join("%s" for _ in version_ids))
        with connection.cursor() as cursor:
            cursor.execute(sql, [match.strip(), *version_ids, limit])
            return [row[0] for row in cursor.fetchall()]


class PostgresFullText:
    name = "postgresql-fts"

    def candidates(self, terms: list[str], version_ids: list[int], limit: int) -> list[int]:
        query = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
        # The expression matches the GIN index of migration 0003 exactly, so the index is used.
        sql = (
            "SELECT id FROM documents_pagetext WHERE version_id = ANY(%s) "
            "AND to_tsvector('simple'::regconfig, ecabinet_unaccent(search_text)) @@ to_tsquery('simple'::regconfig, ecabinet_unaccent(%s)) "
            "ORDER BY version_id, number LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [version_ids, query, limit])
            return [row[0] for row in cursor.fetchall()]


def backend() -> Backend:
    return PostgresFullText() if connection.vendor == "postgresql" else SqliteFts5()


# --- indexing --------------------------------------------------------------------------------


def metadata_text(document: Document) -> str:
    parts = [document.title, document.number_symbol, document.issuing_body, document.signer, str(document.get_kind_display())]
    return "\n".join(p for p in parts if p)


def index_version(version_id: int) -> int:
    """Fill every page's folded search text (and page 0, the metadata); the database indexes it.

    Idempotent: page rows are updated in place, so running it twice changes nothing.
    Returns the number of pages indexed.
    """
    version = DocumentVersion.objects.select_related("document").get(pk=version_id)
    with transaction.atomic():
        meta = metadata_text(version.document)
        PageText.objects.update_or_create(
            version=version, number=0, defaults={"text": meta, "search_text": textnorm.search_text(meta), "source": PageText.Source.METADATA}
        )
        # The extract step folds each page as it stores it; fill in any page stored without.
        changed = []
        for page in PageText.objects.filter(version=version, number__gt=0, search_text="").exclude(text="").only("pk", "text"):
            page.search_text = textnorm.search_text(page.text)
            changed.append(page)
        PageText.objects.bulk_update(changed, ["search_text"], batch_size=500)
        VersionText.objects.filter(version=version).update(indexed_at=timezone.now())
    return PageText.objects.filter(version=version, number__gt=0).count()


def remove(version_id: int) -> None:
    """Take a version out of the index (its page texts go; the triggers/GIN index follow)."""
    with transaction.atomic():
        PageText.objects.filter(version_id=version_id).delete()
        VersionText.objects.filter(version_id=version_id).update(indexed_at=None)


# --- searching -------------------------------------------------------------------------------


def searchable_versions(user: Any) -> dict[int, Document]:
    """version id -> document, for the current version of every document ``user`` may see."""
    documents = {d.pk: d for d in permissions.visible_documents(user)}
    if not documents:
        return {}
    newest = DocumentVersion.objects.filter(document=OuterRef("document"), state=DocumentVersion.State.READY).order_by("-number").values("number")[:1]
    rows = (
        DocumentVersion.objects.filter(document_id__in=list(documents), state=DocumentVersion.State.READY)
        .annotate(newest=Subquery(newest))
        .values_list("pk", "document_id", "number", "newest")
    )
    return {pk: documents[doc_id] for pk, doc_id, number, newest_number in rows if number == newest_number}


def query_terms(query: str) -> list[str]:
    return textnorm.tokens(query)[:MAX_QUERY_TOKENS]


def _highlights(text: str, terms: list[str]) -> list[tuple[int, int]]:
    exact, last = set(terms[:-1]), terms[-1]
    return [(s, e) for s, e, word in textnorm.word_spans(text) if word in exact or word.startswith(last)]


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``text`` around the first matching word, and the matches inside it."""
    flat = textnorm.collapse_spaces(text)
    spans = _highlights(flat, terms)
    if not spans:
        cut = flat[:width]
        return cut, []
    first = spans[0][0]
    start = max(0, first - width // 3)
    if start > 0:
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    end = min(len(flat), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    window = prefix + flat[start:end] + suffix
    shift = len(prefix) - start
    return window, [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]


def _score(search_text: str, terms: list[str]) -> int:
    words = search_text.split()
    exact, last = set(terms[:-1]), terms[-1]
    return sum(1 for w in words if w in exact or w.startswith(last))


def page_hits(version_ids: list[int], terms: list[str], limit: int = MAX_CANDIDATE_PAGES) -> list[PageText]:
    if not terms or not version_ids:
        return []
    ids = backend().candidates(terms, version_ids, limit)
    return list(PageText.objects.filter(pk__in=ids).order_by("version_id", "number"))


def search(user: Any, query: str, limit: int = 20) -> list[Hit]:
    """The documents ``user`` may see whose current version has every word of ``query``
    (the last word as a prefix, so results come while typing), best first."""
    terms = query_terms(query)
    if not terms:
        return []
    versions = searchable_versions(user)
    pages = page_hits(list(versions), terms)
    by_version: dict[int, list[PageText]] = defaultdict(list)
    for page in pages:
        by_version[page.version_id].append(page)
    hits: list[Hit] = []
    for version_id, matched in by_version.items():
        document = versions[version_id]
        scored = [(_score(p.search_text, terms), p) for p in matched]
        title_match = any(p.number == 0 for p in matched)
        content = [(s, p) for s, p in scored if p.number > 0]
        best = max(content, key=lambda sp: (sp[0], -sp[1].number))[1] if content else matched[0]
        text, marks = snippet(best.text, terms)
        total = sum(s for s, _ in content) + (10 if title_match else 0)
        hits.append(
            Hit(
                document_id=document.pk,
                version_id=version_id,
                title=document.title,
                page=best.number,
                snippet=text,
                highlights=marks,
                score=float(total),
                matched_pages=[p.number for p in matched if p.number > 0],
            )
        )
    hits.sort(key=lambda h: (-h.score, h.document_id))
    return hits[:limit]


def search_in_version(version: DocumentVersion, query: str, limit: int = 200) -> list[dict[str, Any]]:
    """Pages of one version (the caller has checked access) matching ``query``, in page order."""
    terms = query_terms(query)
    results = []
    for page in page_hits([version.pk], terms):
        if page.number == 0:
            continue
        text, marks = snippet(page.text, terms)
        results.append({"page": page.number, "snippet": text, "highlights": [list(m) for m in marks], "count": _score(page.search_text, terms)})
    return results[:limit]
