"""Text normalisation for search: Vietnamese (and French, English) without diacritics.

Pure Python, no Django. This module is the single definition of what "the same word" means:
both search backends (SQLite FTS5 and PostgreSQL full text) index and query the token stream
produced here, so a query gives the same pages on both.

Folding: NFC (so precomposed and combining input agree), casefold, strip combining marks (NFD,
drop category Mn), then map letters that carry their "accent" in the letter itself and so do not
decompose: đ (the Vietnamese letter Đ/đ is not d + a mark; unicode61 and most tokenizers keep it),
and a few Latin letters for which PostgreSQL's ``unaccent`` has a rule (ø, ł, æ, œ, ...), so the
``unaccent`` safety net on PostgreSQL never disagrees with this fold.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache, lru_cache

# Letters that do not decompose under NFD, folded the way unaccent's rules fold them.
LETTER_FOLDS = str.maketrans(
    {
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "ø": "o",
        "ł": "l",
        "ħ": "h",
        "ı": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ŧ": "t",
        "ŋ": "n",
    }
)
# Letters and digits only: FTS5's unicode61 and PostgreSQL's parser then see the same tokens.
TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)
WHITESPACE_RE = re.compile(r"\s+")
MAX_TOKEN_CHARS = 64  # longer runs are base64 noise or the like; not worth indexing


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@cache
def _without_marks() -> dict[int, None]:
    """A str.translate table deleting every nonspacing mark (category Mn): C speed, where testing
    each character's category in Python costs more than the text extraction itself."""
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Mn"}


def fold(text: str) -> str:
    """'Quyết định về ĐẤT ĐAI' -> 'quyet dinh ve dat dai'."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    stripped = decomposed.translate(_without_marks())
    return unicodedata.normalize("NFC", stripped).translate(LETTER_FOLDS)


def _fold_tokens(text: str) -> str:
    return " ".join(tok for tok in TOKEN_RE.findall(fold(text)) if len(tok) <= MAX_TOKEN_CHARS)


_cached_fold_tokens = lru_cache(maxsize=1 << 16)(_fold_tokens)


def _chunk_tokens(chunk: str) -> str:
    # Words are short; long runs (base64 and the like) are folded without filling the cache.
    return _cached_fold_tokens(chunk) if len(chunk) <= MAX_TOKEN_CHARS else _fold_tokens(chunk)


def search_text(text: str) -> str:
    """What the index stores: the folded tokens joined by single spaces.

    Folded one whitespace-separated chunk at a time, through a cache: folding never makes or
    removes whitespace and every step of it (casefold, NFD/NFC, mark removal) stays inside a
    chunk, so the result is the same as folding the whole text, and a page of Vietnamese (a few
    thousand distinct syllables) is mostly cache hits: ~10x faster than folding the page whole.
    """
    return " ".join(filter(None, map(_chunk_tokens, text.split())))


def tokens(text: str) -> list[str]:
    """The folded words of ``text`` in order."""
    return search_text(text).split()


def collapse_spaces(text: str) -> str:
    return WHITESPACE_RE.sub(" ", text).strip()


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of the original ``text``, offsets into ``text``.

    Used to put highlights on the original (accented) text after matching on folded words.
    """
    spans: list[tuple[int, int, str]] = []
    for match in TOKEN_RE.finditer(text):
        folded = fold(match.group(0))
        # A word may fold into several tokens (rare: 'æ' -> 'ae' stays one); keep the first.
        parts = TOKEN_RE.findall(folded)
        if parts:
            spans.append((match.start(), match.end(), "".join(parts)))
    return spans
