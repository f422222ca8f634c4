"""ClamAV through clamd's INSTREAM, against a real clamd the fixture starts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ecabinet.security.core.clamd import ClamdClient
from ecabinet.security.core.scan import Scanner
from ecabinet.security.core.verdict import CLEAN, INFECTED, UNAVAILABLE, ScannerUnavailable
from ecabinet.security.core.yara_rules import compile_rules
from ecabinet.security.tests import samples
from ecabinet.security.tests.clamd_server import EICAR_SIGNATURE, MARKER, MARKER_SIGNATURE, closed_port_url


def test_ping_and_version(clamd_url):
    client = ClamdClient(clamd_url)
    assert client.ping() is True
    assert client.version().startswith("ClamAV")


def test_instream_finds_eicar_plain_and_nested(clamd_url):
    client = ClamdClient(clamd_url)
    for data in (samples.EICAR, samples.eicar_zip(), samples.eicar_zip_in_zip()):
        result = client.scan_stream(io.BytesIO(data))
        assert result.infected and result.signature == EICAR_SIGNATURE


def test_instream_clean_file(clamd_url):
    result = ClamdClient(clamd_url).scan_stream(io.BytesIO(samples.pdf()))
    assert result.infected is False and result.signature == ""


def test_large_stream_is_sent_in_chunks(clamd_url):
    data = b"a" * (3 * 1024 * 1024) + MARKER
    result = ClamdClient(clamd_url).scan_stream(io.BytesIO(data))
    assert result.signature == MARKER_SIGNATURE


def test_scanner_reports_what_only_clamav_knows(clamd_url, tmp_path: Path):
    path = tmp_path / "note.txt"
    path.write_bytes(b"minutes of the meeting " + MARKER)
    verdict = Scanner(rules=compile_rules(), clamd=ClamdClient(clamd_url)).scan_path(path, "note.txt")
    assert verdict.status == INFECTED
    assert [(f.engine, f.name) for f in verdict.findings] == [("clamav", MARKER_SIGNATURE)]
    assert verdict.engines["clamav"] == clamd_url


def test_scanner_with_clamd_passes_clean_files(clamd_url, tmp_path: Path):
    path = tmp_path / "ok.pdf"
    path.write_bytes(samples.pdf())
    assert Scanner(rules=compile_rules(), clamd=ClamdClient(clamd_url)).scan_path(path, "ok.pdf").status == CLEAN


def test_unreachable_clamd_fails_closed(tmp_path: Path):
    url = closed_port_url()
    with pytest.raises(ScannerUnavailable):
        ClamdClient(url, timeout=2).ping()
    path = tmp_path / "ok.pdf"
    path.write_bytes(samples.pdf())
    verdict = Scanner(rules=compile_rules(), clamd=ClamdClient(url, timeout=2)).scan_path(path, "ok.pdf")
    assert verdict.status == UNAVAILABLE
    assert verdict.reason_code == "scanner_unavailable"
    assert "unavailable" in verdict.message


@pytest.mark.parametrize("url", ["http://x:1", "tcp://nohost", "unix://"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        ClamdClient(url)
