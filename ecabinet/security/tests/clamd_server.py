"""A real clamd for tests: its own config and a signature database the test writes.

The public signature feed cannot be reached here, so the database holds two body signatures
(.ndb): EICAR (ClamAV only knows it from its database too) and a marker string no real file has.
``.ci/run`` installs Debian's clamav-daemon; without it these tests fail rather than skip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecabinet.security.core.clamd import ClamdClient
from ecabinet.security.core.verdict import ScannerUnavailable
from ecabinet.security.tests.samples import EICAR

MARKER = b"ECAB-CLAMAV-ONLY-MARKER-4242"
EICAR_SIGNATURE = "Ecab-Eicar-Test.UNOFFICIAL"
MARKER_SIGNATURE = "Ecab-Test-Marker.UNOFFICIAL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def clamd_url() -> Iterator[str]:
    binary = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
    assert binary, "clamd is not installed: apt-get install clamav-daemon (.ci/run does)"
    folder = Path(tempfile.mkdtemp(prefix="ecab-clamd-"))
    (folder / "db").mkdir()
    (folder / "db" / "ecabinet-test.ndb").write_text(f"Ecab-Eicar-Test:0:*:{EICAR.hex()}\nEcab-Test-Marker:0:*:{MARKER.hex()}\n")
    port = free_port()
    (folder / "clamd.conf").write_text(
        "\n".join(
            [
                "Foreground yes",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                f"DatabaseDirectory {folder / 'db'}",
                f"LogFile {folder / 'clamd.log'}",
                f"PidFile {folder / 'clamd.pid'}",
                "StreamMaxLength 100M",
                "",
            ]
        )
    )
    proc = subprocess.Popen([binary, "--foreground", f"--config-file={folder / 'clamd.conf'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"tcp://127.0.0.1:{port}"
    client = ClamdClient(url, timeout=2)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if client.ping():
                    break
            except ScannerUnavailable:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (folder / "clamd.log").read_text() if (folder / "clamd.log").exists() else ""
                raise RuntimeError(f"clamd did not answer PING: {log[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
