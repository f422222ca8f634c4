"""Level 1 scanning of single files, without Django: types, archives, YARA rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecabinet.security.core import filetypes
from ecabinet.security.core.scan import Limits, Scanner
from ecabinet.security.core.verdict import CLEAN, INFECTED, REFUSED, Refused
from ecabinet.security.core.yara_rules import RuleError, compile_rules
from ecabinet.security.tests import samples


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(rules=compile_rules())


def scan(scanner: Scanner, tmp_path: Path, data: bytes, name: str):
    path = tmp_path / "upload"
    path.write_bytes(data)
    return scanner.scan_path(path, name)


def test_clean_files_of_each_kind_pass(scanner, tmp_path):
    for data, name, kind in [
        (samples.pdf(3), "to-trinh.pdf", "pdf"),
        (samples.docx(), "du-thao.docx", "docx"),
        (samples.odt(), "bao-cao.odt", "odt"),
        (samples.png(), "anh.png", "png"),
        ("Báo cáo tình hình kinh tế".encode(), "bao-cao.txt", "txt"),
        (samples.zip_of({"a.txt": b"a"}), "ho-so.zip", "zip"),
    ]:
        verdict = scan(scanner, tmp_path, data, name)
        assert verdict.status == CLEAN, (name, verdict)
        assert verdict.kind == kind
        assert verdict.engines["yara"] == scanner.rules.fingerprint


@pytest.mark.parametrize(
    ("data", "name", "where"),
    [
        (samples.EICAR, "eicar.txt", ""),
        (samples.eicar_zip(), "eicar.zip", "docs/eicar.com"),
        (samples.eicar_zip_in_zip(), "nested.zip", "inner.zip/docs/eicar.com"),
    ],
)
def test_eicar_is_caught_plain_in_a_zip_and_in_a_zip_in_a_zip(scanner, tmp_path, data, name, where):
    verdict = scan(scanner, tmp_path, data, name)
    assert verdict.status == INFECTED
    assert verdict.reason_code == "malicious_content"
    hits = [f for f in verdict.findings if f.name == "eicar.eicar_test_file"]
    assert [f.path for f in hits] == [where]
    assert "eicar_test_file" in verdict.message


def test_pdf_javascript_is_found_for_disarming_not_refused(scanner, tmp_path):
    verdict = scan(scanner, tmp_path, samples.pdf_with_javascript(), "js.pdf")
    assert verdict.status == CLEAN
    names = {f.name for f in verdict.findings}
    assert {"pdf_active.pdf_javascript", "pdf_active.pdf_open_action", "pdf_active.pdf_launch", "pdf_active.pdf_embedded_file"} <= names
    assert all(f.action == "disarm" for f in verdict.findings)


def test_docx_with_macros_is_refused(scanner, tmp_path):
    verdict = scan(scanner, tmp_path, samples.docx(macros=True), "macro.docx")
    assert verdict.status == REFUSED
    assert verdict.reason_code == "office_macros"
    assert any(f.path == "word/vbaProject.bin" for f in verdict.findings)


def test_php_webshell_is_caught(scanner, tmp_path):
    verdict = scan(scanner, tmp_path, samples.PHP_WEBSHELL, "notes.txt")
    assert verdict.status == INFECTED
    assert any(f.name == "scripts.php_webshell" for f in verdict.findings)


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (samples.zip_bomb(), "bomb.zip", "archive_bomb"),
        (samples.zip_slip(), "slip.zip", "archive_path"),
        (samples.zip_absolute(), "abs.zip", "archive_path"),
        (samples.zip_symlink(), "link.zip", "archive_link"),
        (samples.nested_zips(5), "deep.zip", "archive_too_deep"),
        (b"", "empty.pdf", "empty_file"),
        (samples.pdf(), "report.docx", "type_mismatch"),
        (b"%PDF-1.4 but really " + samples.EICAR[:3], "x.png", "type_mismatch"),
        (b"\x89PNG\r\n\x1a\n" + samples.pdf(), "fake.pdf", "type_mismatch"),
        (b"MZ\x90\x00\x03" + b"\x00" * 100, "setup.pdf", "unsupported_type"),
        (samples.pdf(), "tool.exe", "unsupported_type"),
        (b"PK\x03\x04 not really a zip", "broken.zip", "corrupt_file"),
        (samples.zip_unknown_method(), "method99.zip", "corrupt_file"),
    ],
)
def test_refusals_name_their_reason(scanner, tmp_path, data, name, code):
    verdict = scan(scanner, tmp_path, data, name)
    assert verdict.status == REFUSED
    assert verdict.reason_code == code
    assert verdict.message


def test_size_limit(tmp_path):
    small = Scanner(rules=compile_rules(), limits=Limits(max_bytes=1000))
    verdict = scan(small, tmp_path, b"a" * 1001, "big.txt")
    assert (verdict.status, verdict.reason_code) == (REFUSED, "file_too_large")


def test_too_many_entries(tmp_path):
    few = Scanner(rules=compile_rules(), limits=Limits(max_entries=5))
    verdict = scan(few, tmp_path, samples.zip_of({f"{n}.txt": b"x" for n in range(6)}), "many.zip")
    assert verdict.reason_code == "archive_too_many_entries"


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.pdf", "/etc/passwd.pdf", "a\x00.pdf", "C:report.pdf", "dir\\x.pdf", "..", "x" * 300 + ".pdf", "", "   "],
)
def test_path_tricks_in_names_are_refused(name):
    with pytest.raises(Refused) as caught:
        filetypes.clean_filename(name)
    assert caught.value.code == "invalid_filename"


def test_plain_vietnamese_names_are_kept():
    assert filetypes.clean_filename("Tờ trình số 12-TTr.BTC (bản cuối).pdf") == "Tờ trình số 12-TTr.BTC (bản cuối).pdf"


def test_operator_rules_folder_is_added_and_changes_the_fingerprint(tmp_path, scanner):
    (tmp_path / "local.yar").write_text('rule marker { strings: $a = "ECAB-TEST-MARKER-7731" condition: $a }')
    rules = compile_rules([tmp_path])
    assert rules.fingerprint != scanner.rules.fingerprint
    verdict = Scanner(rules=rules).scan_path(_write(tmp_path, b"note ECAB-TEST-MARKER-7731"), "note.txt")
    assert verdict.status == INFECTED and verdict.findings[0].name.endswith("marker")


def test_broken_operator_rule_is_a_clear_error(tmp_path):
    (tmp_path / "bad.yar").write_text("rule broken { condition: nonsense( }")
    with pytest.raises(RuleError, match="do not compile"):
        compile_rules([tmp_path])


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "f"
    path.write_bytes(data)
    return path
