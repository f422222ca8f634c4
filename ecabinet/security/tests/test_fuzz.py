"""The pipeline's file-handling functions never crash on malformed input.

Hypothesis mutates valid PDFs, DOCX files and ZIP archives (flipped bytes, cut tails, spliced
junk) and feeds each through the scanner, the disarmer and the page counter. Each must answer
with a verdict or a ``Refused``; any other exception is a bug that would crash a worker.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecabinet.security.core import disarm
from ecabinet.security.core.scan import Limits, Scanner
from ecabinet.security.core.verdict import CLEAN, INFECTED, REFUSED, Refused
from ecabinet.security.core.yara_rules import compile_rules
from ecabinet.security.tests import samples

SEEDS = {
    "pdf": samples.pdf(2),
    "js.pdf": samples.pdf_with_javascript(),
    "docx": samples.docx(),
    "macro.docx": samples.docx(macros=True),
    "zip": samples.eicar_zip_in_zip(),
    "odt": samples.odt(),
}
SCANNER = Scanner(rules=compile_rules(), limits=Limits(max_bytes=2 * 1024 * 1024, max_total_bytes=8 * 1024 * 1024))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    seed_name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[seed_name])
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        op = draw(st.sampled_from(["flip", "cut", "splice", "dup"]))
        if not data:
            break
        pos = draw(st.integers(min_value=0, max_value=len(data) - 1))
        if op == "flip":
            data[pos] = draw(st.integers(min_value=0, max_value=255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(min_value=1, max_value=512))]
        elif op == "splice":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(min_value=1, max_value=256))]
    extension = seed_name.rsplit(".", 1)[-1]
    return extension, bytes(data)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_files_get_a_verdict_or_a_clean_refusal(case: tuple[str, bytes]) -> None:
    extension, data = case
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "in"
        src.write_bytes(data)
        verdict = SCANNER.scan_path(src, f"file.{extension}")
        assert verdict.status in (CLEAN, INFECTED, REFUSED)
        if verdict.status != CLEAN:
            assert verdict.reason_code and verdict.message
            return
        try:
            result = disarm.disarm(verdict.kind, src, Path(folder) / "out")
        except Refused as exc:
            assert exc.code and exc.message
            return
        assert (Path(folder) / "out").exists()
        if verdict.kind == "pdf":
            assert result.page_count is not None and result.page_count >= 1
            assert disarm.pdf_page_count(Path(folder) / "out") == result.page_count
