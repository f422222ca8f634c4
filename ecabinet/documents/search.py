"""Full-text search over documents, diacritics-insensitive, behind one small interface.

    index_version(version_id)                  make a version's pages searchable (idempotent)
    remove(version_id)                         take them out
    search_page(user, query, limit, offset)    one page of the hits the user may see, best first,
                                               with snippets, and how many there are in all
    search(user, query, limit)                 the hits of the first page

Two backends find the pages that contain every word over the same folded token stream
(``core.textnorm``): SQLite FTS5 on the embedded default, PostgreSQL full text (``simple`` +
``unaccent``) in production. One query per search does the rest in the database, over every
matching page: only the current version of documents the user may see
(``permissions.visible_documents_qs``) is joined in, each page is scored, pages are grouped per
document (its best page, its matching pages), documents are ordered, counted and cut to one page
of results. Only the best pages of that one page of results are read in full, for the snippets.
Nothing is capped: an old document with the best page is found however many newer pages match.

The score is the page's own: for each query word, ``tf / (tf + 1.2)`` where ``tf`` is how often the
word (the last one as a prefix) is on the page, at most 255 times; summed over the words. It uses
nothing but the page, so documents the user may not see can change neither which hits come back
nor their order, count or score (a ranking with corpus statistics, FTS5's ``bm25()`` and its IDF,
would let them), and both databases compute the same number: SQLite counts from the FTS5 index
(an ``fts5vocab`` table), PostgreSQL from the stored ``tsvector`` (``ts_rank_cd`` of one word is
0.1 per occurrence; a tsvector keeps at most 255 positions of a word, hence the cap on both).
A document's score is its best page's, plus MAX_QUERY_TOKENS when its metadata (title, number,
issuer, signer; page 0) has every word: a title match comes first. Ties: more matching pages
first, then the newer version.

A later semantic search joins by implementing the ``Backend`` protocol (or contributing hits).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from ecabinet.documents import permissions
from ecabinet.documents.core import textnorm
from ecabinet.documents.models import Document, DocumentVersion, PageText, VersionText

MAX_QUERY_CHARS = 500  # longer queries are refused (API) or cut (search page)
MAX_LIMIT = 100  # hits per request
MAX_OFFSET = 10_000  # how deep paging goes
MAX_QUERY_TOKENS = 12  # words of a query used; also the weight of a metadata match (> any page score)
MAX_CANDIDATE_PAGES = 5000  # pages of one document listed by the search inside the reader
MAX_TERM_COUNT = 255  # occurrences of a word counted per page (PostgreSQL's tsvector position limit)
SATURATION = 1.2  # tf / (tf + SATURATION): the first mentions of a word count most
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


@dataclass
class Results:
    """One page of hits, and how many documents match in all (for paging)."""

    total: int
    hits: list[Hit]


class Backend(Protocol):
    name: str

    def candidates(self, terms: list[str], version_ids: list[int], limit: int) -> list[int]:
        """Ids of PageText rows among ``version_ids`` that contain every term (the last as a prefix)."""
        ...

    def scored_pages(self, terms: list[str]) -> tuple[str, list[Any]]:
        """SQL of common table expressions ending in ``pages(id, version_id, number, score)``: every
        page of a version listed in the CTE ``cur(version_id)`` that contains every term, with its
        score (see the module's docstring); and its parameters."""
        ...

    def numbers_aggregate(self) -> str:
        """An aggregate of ``number`` into a comma-separated text."""
        ...


def _score_sql(columns: list[str]) -> str:
    """Sum of tf / (tf + SATURATION) over the given tf columns, in double precision on both databases."""
    k = f"CAST({SATURATION} AS DOUBLE PRECISION)"
    return " + ".join(f"CAST({c} AS DOUBLE PRECISION) / (CAST({c} AS DOUBLE PRECISION) + {k})" for c in columns)


def _prefix_end(prefix: str) -> str:
    """The smallest text greater than every text starting with ``prefix`` (binary, UTF-8 order)."""
    return prefix + "\U0010ffff"


SQLITE_CANDIDATES = (
    "SELECT p.id FROM documents_pagetext_fts f JOIN documents_pagetext p ON p.id = f.rowid "
    "WHERE documents_pagetext_fts MATCH %s AND p.version_id IN ({marks}) ORDER BY p.version_id DESC, p.number LIMIT %s"
)


class SqliteFts5:
    name = "sqlite-fts5"

    @staticmethod
    def match(terms: list[str]) -> str:
        # Terms are letters and digits only (textnorm.TOKEN_RE), so quoting them makes each a plain
        # string to FTS5: no operator (AND, NEAR, *, ^, parentheses, quotes) can come from a query.
        return " ".join([*(f'"{t}"' for t in terms[:-1]), f'"{terms[-1]}"*'])

    def candidates(self, terms: list[str], version_ids: list[int], limit: int) -> list[int]:
        # Only placeholders are put into the text; every value is a parameter.
        sql = SQLITE_CANDIDATES.replace("{marks}", ",".join("%s" for _ in version_ids))
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.match(terms), *version_ids, limit])
            return [row[0] for row in cursor.fetchall()]

    def scored_pages(self, terms: list[str]) -> tuple[str, list[Any]]:
        # How often each word is on each matching page, from the index itself (migration 0004's
        # fts5vocab table: one row per word occurrence), never from the page texts: one grouped
        # scan per word (SQLite's OR of an equality and a range over fts5vocab misses rows), put
        # together with the matched pages by one more GROUP BY, not by joins (SQLite's planner
        # scans materialized tables joined this way without an index: seconds).
        matched = (
            "matched AS MATERIALIZED ("
            " SELECT p.id, p.version_id, p.number FROM documents_pagetext p"
            # The unary + keeps SQLite from fetching each matched row by id (its big text columns
            # come before version_id): the pages of the visible versions come from the (version,
            # number) index instead, and are kept if the index matched them.
            " WHERE p.version_id IN (SELECT version_id FROM cur)"
            " AND +p.id IN (SELECT rowid FROM documents_pagetext_fts WHERE documents_pagetext_fts MATCH %s))"
        )
        params: list[Any] = [self.match(terms)]
        parts = ["SELECT id, version_id, number, -1 AS k, 0 AS n FROM matched"]
        for i, term in enumerate(terms):
            prefix = i == len(terms) - 1
            parts.append(
                f"SELECT * FROM (SELECT doc, NULL, NULL, {i}, MIN(COUNT(*), {MAX_TERM_COUNT}) FROM documents_pagetext_fts_terms"  # noqa: S608 - our own fragments; values are parameters
                f" WHERE {'term >= %s AND term < %s' if prefix else 'term = %s'} AND doc IN (SELECT id FROM matched) GROUP BY doc ORDER BY doc)"
            )
            params += [term, _prefix_end(term)] if prefix else [term]
        counts = [f"SUM(CASE WHEN k = {i} THEN n ELSE 0 END)" for i in range(len(terms))]
        pages = (
            f"pages AS MATERIALIZED (SELECT id, MAX(version_id) AS version_id, MAX(number) AS number, {_score_sql(counts)} AS score"  # noqa: S608
            f" FROM ({' UNION ALL '.join(parts)}) counted GROUP BY id HAVING MAX(k = -1) = 1)"
        )
        return f"{matched}, {pages}", params

    def numbers_aggregate(self) -> str:
        return "group_concat(number)"


class PostgresFullText:
    name = "postgresql-fts"

    @staticmethod
    def tsquery(terms: list[str]) -> str:
        # Quoted lexemes: no tsquery operator can come from a query (terms are letters and digits).
        return " & ".join([*(f"'{t}'" for t in terms[:-1]), f"'{terms[-1]}':*"])

    @staticmethod
    def word(term: str, prefix: bool) -> str:
        return f"'{term}':*" if prefix else f"'{term}'"

    def candidates(self, terms: list[str], version_ids: list[int], limit: int) -> list[int]:
        # search_vector is migration 0004's stored tsvector (with its GIN index).
        sql = (
            "SELECT id FROM documents_pagetext WHERE version_id = ANY(%s) "
            "AND search_vector @@ to_tsquery('simple'::regconfig, ecabinet_unaccent(%s)) "
            "ORDER BY version_id DESC, number LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [version_ids, self.tsquery(terms), limit])
            return [row[0] for row in cursor.fetchall()]

    def scored_pages(self, terms: list[str]) -> tuple[str, list[Any]]:
        # ts_rank_cd of a one-word query is 0.1 per occurrence (each is a cover of length 1), up to
        # the 255 positions a tsvector keeps of a word: the same count as SQLite's.
        counts = [
            f"LEAST(ROUND(ts_rank_cd(p.search_vector, to_tsquery('simple'::regconfig, ecabinet_unaccent(%s))) * 10), {MAX_TERM_COUNT}) AS c{i}"
            for i in range(len(terms))
        ]
        sql = (
            "pages AS MATERIALIZED ("  # noqa: S608 - our own fragments; values are parameters
            f" SELECT id, version_id, number, {_score_sql([f'c{i}' for i in range(len(terms))])} AS score FROM ("
            f" SELECT p.id, p.version_id, p.number, {', '.join(counts)} FROM documents_pagetext p"
            " WHERE p.search_vector @@ to_tsquery('simple'::regconfig, ecabinet_unaccent(%s))"
            " AND p.version_id IN (SELECT version_id FROM cur)) counted)"
        )
        words = [self.word(t, i == len(terms) - 1) for i, t in enumerate(terms)]
        return sql, [*words, self.tsquery(terms)]

    def numbers_aggregate(self) -> str:
        return "string_agg(CAST(number AS text), ',')"


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


def current_versions(user: Any) -> QuerySet[DocumentVersion]:
    """The current (newest ready) version of every document ``user`` may see, as one query."""
    ready = DocumentVersion.objects.filter(state=DocumentVersion.State.READY)
    newer = ready.filter(document=OuterRef("document"), number__gt=OuterRef("number"))
    # order_by(): no sort (the models' default ordering) inside a query that only filters.
    return ready.filter(document__in=permissions.visible_documents_qs(user).order_by().values("pk")).filter(~Exists(newer)).order_by()


def query_terms(query: str) -> list[str]:
    return textnorm.tokens(query)[:MAX_QUERY_TOKENS]


# The whole search as one statement: {scored} ends in pages(id, version_id, number, score).
RANKED_SQL = """
WITH cur(version_id) AS ({current}),
{scored},
docs AS (
    SELECT version_id,
           MAX(CASE WHEN number = 0 THEN 1 ELSE 0 END) AS meta,
           MAX(CASE WHEN number > 0 THEN score ELSE 0 END) AS best,
           SUM(CASE WHEN number > 0 THEN 1 ELSE 0 END) AS n,
           {numbers} AS numbers
    FROM pages GROUP BY version_id
),
best AS (
    SELECT id, version_id, number,
           ROW_NUMBER() OVER (PARTITION BY version_id ORDER BY CASE WHEN number = 0 THEN 1 ELSE 0 END, score DESC, number) AS pos
    FROM pages
)
SELECT d.version_id, b.id, b.number, d.meta * {meta_weight} + d.best AS score, d.numbers, COUNT(*) OVER () AS total
FROM docs d JOIN best b ON b.version_id = d.version_id AND b.pos = 1
ORDER BY score DESC, d.n DESC, d.version_id DESC
LIMIT %s OFFSET %s
"""


def _ranked(user: Any, terms: list[str], limit: int, offset: int) -> list[tuple[Any, ...]]:
    engine = backend()
    current_sql, current_params = current_versions(user).values("pk").query.sql_with_params()
    scored_sql, scored_params = engine.scored_pages(terms)
    # Only SQL fragments of our own are formatted in; every value is a parameter.
    sql = RANKED_SQL.format(current=current_sql, scored=scored_sql, numbers=engine.numbers_aggregate(), meta_weight=MAX_QUERY_TOKENS)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*current_params, *scored_params, limit, offset])
        return list(cursor.fetchall())


# --- snippets --------------------------------------------------------------------------------


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
    """How many words of ``search_text`` match (the count shown per page inside the reader)."""
    exact, last = set(terms[:-1]), terms[-1]
    return sum(count for word, count in Counter(search_text.split()).items() if _matches(word, exact, last))


def page_score(search_text: str, terms: list[str]) -> float:
    """The score the databases give a page (module docstring), computed in Python: the reference
    the tests hold both backends to."""
    words = Counter(search_text.split())
    score = 0.0
    for i, term in enumerate(terms):
        prefix = i == len(terms) - 1
        tf = min(sum(n for w, n in words.items() if w.startswith(term)) if prefix else words[term], MAX_TERM_COUNT)
        score += tf / (tf + SATURATION)
    return score


# --- searching, the entry points -------------------------------------------------------------


def page_hits(version_ids: list[int], terms: list[str], limit: int = MAX_CANDIDATE_PAGES) -> list[PageText]:
    if not terms or not version_ids:
        return []
    ids = backend().candidates(terms, version_ids, limit)
    return list(PageText.objects.filter(pk__in=ids).order_by("version_id", "number"))


def search_page(user: Any, query: str, limit: int = 20, offset: int = 0) -> Results:
    """The documents ``user`` may see whose current version has every word of ``query`` on one
    page (the last word as a prefix, so results come while typing), best first: ``limit`` of them
    from ``offset``, and how many there are in all."""
    terms = query_terms(query)
    if not terms or limit < 1 or offset < 0:
        return Results(total=0, hits=[])
    rows = _ranked(user, terms, limit, offset)
    if not rows:
        first = _ranked(user, terms, 1, 0) if offset > 0 else []  # past the end: still say how many
        return Results(total=int(first[0][5]) if first else 0, hits=[])
    versions = {
        pk: (doc_id, title)
        for pk, doc_id, title in DocumentVersion.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "document_id", "document__title")
    }
    texts = dict(PageText.objects.filter(pk__in=[r[1] for r in rows]).values_list("pk", "text"))
    hits = []
    for version_id, page_id, number, score, numbers, _total in rows:
        document_id, title = versions[version_id]
        text, marks = snippet(texts.get(page_id, ""), terms)
        pages = sorted(int(n) for n in str(numbers or "").split(",") if n and int(n) > 0)
        hits.append(Hit(document_id, version_id, title, number, text, marks, float(score), pages))
    return Results(total=int(rows[0][5]), hits=hits)


def search(user: Any, query: str, limit: int = 20) -> list[Hit]:
    """The first ``limit`` hits of ``search_page``."""
    return search_page(user, query, limit).hits


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
