"""Find an annotation's quoted text again in another version's pages.

Pure Python, no Django. Whitespace is not significant (line breaks move between versions and
between text extractors); everything else is: an annotation follows the exact words it covered,
and if those words were changed, it is orphaned rather than pinned to something else.

Search order: the page it was on, then the pages nearest to it. Where the quote occurs more than
once, the occurrence whose surrounding text best matches the recorded prefix/suffix wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecabinet.documents.core.textnorm import collapse_spaces

MIN_QUOTE_CHARS = 2


@dataclass(frozen=True)
class Anchor:
    page: int
    start: int  # offsets into the page text with whitespace collapsed
    end: int


def _context_score(text: str, start: int, end: int, prefix: str, suffix: str) -> int:
    score = 0
    before = text[:start].rstrip()
    for a, b in zip(reversed(before), reversed(prefix.rstrip()), strict=False):
        if a != b:
            break
        score += 1
    after = text[end:].lstrip()
    for a, b in zip(after, suffix.lstrip(), strict=False):
        if a != b:
            break
        score += 1
    return score


def _occurrences(text: str, quote: str) -> list[int]:
    found: list[int] = []
    start = text.find(quote)
    while start != -1:
        found.append(start)
        start = text.find(quote, start + 1)
    return found


def locate(quote: str, pages: dict[int, str], *, hint_page: int, prefix: str = "", suffix: str = "") -> Anchor | None:
    """Where ``quote`` is in ``pages`` (page number -> text), or None if it is nowhere."""
    needle = collapse_spaces(quote)
    if len(needle) < MIN_QUOTE_CHARS:
        return None
    prefix, suffix = collapse_spaces(prefix), collapse_spaces(suffix)
    order = sorted(pages, key=lambda n: (abs(n - hint_page), n))
    for number in order:
        text = collapse_spaces(pages[number])
        starts = _occurrences(text, needle)
        if not starts:
            continue
        best = max(starts, key=lambda s: (_context_score(text, s, s + len(needle), prefix, suffix), -s))
        return Anchor(page=number, start=best, end=best + len(needle))
    return None


def context(text: str, start: int, end: int, width: int = 32) -> tuple[str, str]:
    """(prefix, suffix) around ``text[start:end]`` with whitespace collapsed."""
    flat = collapse_spaces(text[:start])[-width:], collapse_spaces(text[end:])[:width]
    return flat
