"""search_text folds chunk by chunk through a cache; it must equal folding the whole text at once
(the definition both search backends index), for any text, including combining marks after
spaces, letters that do not decompose, Greek sigma and every kind of Unicode whitespace."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ecabinet.documents.core import textnorm


def whole_text_fold(text: str) -> str:
    return " ".join(tok for tok in textnorm.TOKEN_RE.findall(textnorm.fold(text)) if len(tok) <= textnorm.MAX_TOKEN_CHARS)


PIECES = st.sampled_from(
    [
        "Quyết",
        "ĐỊNH",
        "đất",
        "a\u0301",
        "\u0301",
        "\u0903",
        "ΣΑΣ",
        "ς",
        "Straße",
        "æøł",
        "x" * 64,
        "y" * 65,
        "_",
        "-",
        "\u00a0",
        "\u2001",
        "\u3000",
        "\t",
        "\r\n",
        " ",
        "\f",
        "ﬁ",
        "Ⅻ",
        "١٢٣",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=30))
def test_search_text_equals_folding_the_whole_text(parts: list[str]) -> None:
    text = "".join(parts)
    assert textnorm.search_text(text) == whole_text_fold(text)
    assert textnorm.tokens(text) == whole_text_fold(text).split()


def test_search_text_of_vietnamese() -> None:
    assert textnorm.search_text("Quyết định về ĐẤT ĐAI\u00a0năm\u20032025 — Bộ Tài chính") == "quyet dinh ve dat dai nam 2025 bo tai chinh"
    assert textnorm.tokens("  \n ") == []
