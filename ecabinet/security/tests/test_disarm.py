"""PDF disarming with pikepdf, and the refusals for PDFs that cannot be checked."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from ecabinet.security.core import disarm
from ecabinet.security.core.scan import Scanner
from ecabinet.security.core.verdict import Refused
from ecabinet.security.core.yara_rules import compile_rules
from ecabinet.security.tests import samples


def write(tmp_path: Path, data: bytes, name: str = "in.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_javascript_actions_embedded_files_and_xfa_are_removed(tmp_path):
    src = write(tmp_path, samples.pdf_with_javascript())
    out = tmp_path / "out.pdf"
    result = disarm.disarm("pdf", src, out)
    assert result.changed and result.page_count == 1
    removed = " ".join(result.removed)
    for expected in ("OpenAction", "JavaScript", "Launch action", "URI action to a program", "embedded file", "XFA form"):
        assert expected in removed, (expected, result.removed)
    with pikepdf.open(out) as pdf:
        assert "/OpenAction" not in pdf.Root
        assert "/JavaScript" not in pdf.Root.get("/Names", {})
        assert len(pdf.attachments) == 0
        assert "/XFA" not in pdf.Root.AcroForm
        actions = [annot.get("/A") for annot in pdf.pages[0].Annots]
        kept = [str(a.URI) for a in actions if a is not None and "/URI" in a]
        assert kept == ["https://chinhphu.vn/"]  # ordinary web links stay
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary):
                assert "/JS" not in obj
    # The rewritten file no longer trips the PDF rules (streams uncompressed for the check).
    with pikepdf.open(out) as pdf:
        pdf.save(tmp_path / "plain.pdf", compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    verdict = Scanner(rules=compile_rules()).scan_path(tmp_path / "plain.pdf", "plain.pdf")
    assert not {"pdf_active.pdf_javascript", "pdf_active.pdf_launch", "pdf_active.pdf_embedded_file"} & {f.name for f in verdict.findings}


def test_clean_pdf_is_rewritten_with_object_streams_and_page_count(tmp_path):
    result = disarm.disarm("pdf", write(tmp_path, samples.pdf(7)), tmp_path / "out.pdf")
    assert result.removed == [] and result.page_count == 7
    # Page dictionaries packed in object streams: a ranged reader finds them in a few fetches.
    assert b"/ObjStm" in (tmp_path / "out.pdf").read_bytes()


def test_password_protected_pdf_is_refused(tmp_path):
    with pytest.raises(Refused) as caught:
        disarm.disarm("pdf", write(tmp_path, samples.encrypted_pdf()), tmp_path / "out.pdf")
    assert caught.value.code == "pdf_encrypted"
    assert "password" in caught.value.message


def test_corrupt_pdf_is_refused(tmp_path):
    with pytest.raises(Refused) as caught:
        disarm.disarm("pdf", write(tmp_path, samples.corrupt_pdf()), tmp_path / "out.pdf")
    assert caught.value.code == "corrupt_file"


def test_other_types_pass_unchanged(tmp_path):
    data = samples.docx()
    result = disarm.disarm("docx", write(tmp_path, data, "a.docx"), tmp_path / "b.docx")
    assert result.changed is False and result.removed == []
    assert (tmp_path / "b.docx").read_bytes() == data


def test_page_count(tmp_path):
    assert disarm.pdf_page_count(write(tmp_path, samples.pdf(12))) == 12
    with pytest.raises(Refused):
        disarm.pdf_page_count(write(tmp_path, b"not a pdf at all"))
