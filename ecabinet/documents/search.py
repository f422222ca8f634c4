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

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ecabinet.documents import permissions
from ecabinet.documents.core import textnorm
from ecabinet.documents.models import Document, DocumentVersion, PageText, VersionText

MAX_QUERY_TOKENS = 12
MAX_CANDIDATE_PAGES = 5000  # pages of one document searched inside the reader
MAX_SCORED_PAGES = 1500  # pages scored across documents for one search
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
    "WHERE documents_pagetext_fts MATCH %s AND p.version_id IN ({marks}) ORDER BY p.version_id DESC, p.number LIMIT %s"
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
            "ORDER BY version_id DESC, number LIMIT %s"
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


def index_version(version_id: int, *, version: DocumentVersion | None = None) -> int:
    """Fill every page's folded search text (and page 0, the metadata); the database indexes it.

    Idempotent: page rows are updated in place, so running it twice changes nothing.
    Returns the number of pages indexed. The pipeline passes the ``version`` it holds (with its
    document) to save reading it again.
    """
    if version is None or version.pk != version_id:
        version = DocumentVersion.objects.select_related("document").get(pk=version_id)
    with transaction.atomic():
        meta = metadata_text(version.document)
        page0 = {"text": meta, "search_text": textnorm.search_text(meta), "source": PageText.Source.METADATA}
        # An UPDATE, then an INSERT only if there was no row: update_or_create's SELECT and savepoint
        # cost more than the rest of the step on the embedded default.
        if not PageText.objects.filter(version=version, number=0).update(**page0):
            PageText.objects.create(version=version, number=0, **page0)
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
    documents = {d.pk: d for d in permissions.visible_documents_qs(user).only("pk", "title")}
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


def _matches(word: str, exact: set[str], last: str) -> bool:
    return word in exact or word.startswith(last)


def _highlights(text: str, terms: list[str]) -> list[tuple[int, int]]:
    exact, last = set(terms[:-1]), terms[-1]
    return [(s, e) for s, e, word in textnorm.word_spans(text) if _matches(word, exact, last)]


def _first_match(text: str, terms: list[str]) -> int | None:
    """Offset of the first matching word, folding words only until it is found."""
    exact, last = set(terms[:-1]), terms[-1]
    for match in textnorm.TOKEN_RE.finditer(text):
        parts = textnorm.TOKEN_RE.findall(textnorm.fold(match.group(0)))
        if parts and _matches("".join(parts), exact, last):
            return match.start()
    return None


# Words are matched in a slice a little wider than the snippet, so a word cut by the window's
# edge is judged whole, as it would be in the full text.
_EDGE = 64


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``text`` around the first matching word, and the matches inside it."""
    flat = textnorm.collapse_spaces(text)
    first = _first_match(flat, terms)
    if first is None:
        return flat[:width], []
    start = max(0, first - width // 3)
    if start > 0:
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    end = min(len(flat), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    window = prefix + flat[start:end] + suffix
    shift = len(prefix) - start
    # Word boundaries are whitespace-led, so a slice starting at a space or the text's start
    # yields the same words as the whole text.
    lo = flat.rfind(" ", 0, max(0, start - _EDGE)) + 1
    hi = flat.find(" ", min(len(flat), end + _EDGE))
    hi = len(flat) if hi == -1 else hi
    spans = [(s + lo, e + lo) for s, e in _highlights(flat[lo:hi], terms)]
    return window, [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]


def _score(search_text: str, terms: list[str]) -> int:
    exact, last = set(terms[:-1]), terms[-1]
    return sum(count for word, count in Counter(search_text.split()).items() if _matches(word, exact, last))


def page_hits(version_ids: list[int], terms: list[str], limit: int = MAX_CANDIDATE_PAGES) -> list[PageText]:
    if not terms or not version_ids:
        return []
    ids = backend().candidates(terms, version_ids, limit)
    return list(PageText.objects.filter(pk__in=ids).order_by("version_id", "number"))


def search(user: Any, query: str, limit: int = 20) -> list[Hit]:
    """The documents ``user`` may see whose current version has every word of ``query``
    (the last word as a prefix, so results come while typing), best first.

    At most MAX_SCORED_PAGES matching pages are scored (the newest versions' first: a query
    of common words matches nearly every page); only the pages shown as snippets are read in full.
    """
    terms = query_terms(query)
    if not terms:
        return []
    versions = searchable_versions(user)
    if not versions:
        return []
    ids = backend().candidates(terms, sorted(versions, reverse=True), MAX_SCORED_PAGES)
    rows = PageText.objects.filter(pk__in=ids).values_list("pk", "version_id", "number", "search_text")
    by_version: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # version -> (score, number, page pk)
    for pk, version_id, number, search_text in rows:
        by_version[version_id].append((_score(search_text, terms), number, pk))
    ranked = []
    for version_id, matched in by_version.items():
        matched.sort(key=lambda m: m[1])
        content = [m for m in matched if m[1] > 0]
        best = max(content, key=lambda m: (m[0], -m[1])) if content else matched[0]
        total = sum(m[0] for m in content) + (10 if any(m[1] == 0 for m in matched) else 0)
        ranked.append((-total, versions[version_id].pk, version_id, best, [m[1] for m in content]))
    ranked.sort(key=lambda r: (r[0], r[1]))
    ranked = ranked[:limit]
    texts = dict(PageText.objects.filter(pk__in=[r[3][2] for r in ranked]).values_list("pk", "text"))
    hits: list[Hit] = []
    for neg_total, _doc_id, version_id, best, numbers in ranked:
        document = versions[version_id]
        text, marks = snippet(texts.get(best[2], ""), terms)
        hits.append(
            Hit(
                document_id=document.pk,
                version_id=version_id,
                title=document.title,
                page=best[1],
                snippet=text,
                highlights=marks,
                score=float(-neg_total),
                matched_pages=numbers,
            )
        )
    return hits


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
