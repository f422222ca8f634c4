"""A small client for clamd's INSTREAM protocol (TCP or a Unix socket).

The Python clients on PyPI (``clamd``, ``pyclamd``) have not been maintained for years, and the
protocol is three commands over a socket, so it is written here. Every failure to get a clear
answer raises ``ScannerUnavailable``: callers fail closed.

Protocol (clamd(8)): commands are prefixed with ``z`` and end with NUL. INSTREAM sends chunks as
a 4-byte big-endian length then the bytes, and a zero length to finish; the reply is
``stream: OK``, ``stream: <signature> FOUND`` or ``... ERROR``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from ecabinet.security.core.verdict import ScannerUnavailable

CHUNK = 64 * 1024


@dataclass(frozen=True)
class ClamdResult:
    infected: bool
    signature: str = ""


class ClamdClient:
    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme == "tcp":
            if not parts.hostname or not parts.port:
                raise ValueError("a clamd tcp:// URL needs a host and a port, e.g. tcp://127.0.0.1:3310")
            self.family = socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET
            self.address: str | tuple[str, int] = (parts.hostname, parts.port)
        elif parts.scheme == "unix":
            if not parts.path:
                raise ValueError("a clamd unix:// URL needs a socket path, e.g. unix:///run/clamav/clamd.ctl")
            self.family = socket.AF_UNIX
            self.address = parts.path
        else:
            raise ValueError(f"clamd URL must start with tcp:// or unix://, got {url!r}")
        self.url = url
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.address)
        except OSError as exc:
            sock.close()
            raise ScannerUnavailable(f"clamd at {self.url} is unreachable ({exc.__class__.__name__}: {exc})") from None
        return sock

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\x00"):
            try:
                chunk = sock.recv(4096)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd stopped answering ({exc.__class__.__name__})") from None
            if not chunk:
                break
            data += chunk
            if len(data) > 64 * 1024:
                raise ScannerUnavailable("clamd sent an over-long reply")
        return data.rstrip(b"\x00").decode("utf-8", "replace").strip()

    def _command(self, command: bytes) -> str:
        sock = self._connect()
        try:
            sock.sendall(b"z" + command + b"\x00")
            return self._read_reply(sock)
        except OSError as exc:
            raise ScannerUnavailable(f"clamd connection failed ({exc.__class__.__name__})") from None
        finally:
            sock.close()

    def ping(self) -> bool:
        return self._command(b"PING") == "PONG"

    def version(self) -> str:
        return self._command(b"VERSION")

    def scan_chunks(self, chunks: Iterable[bytes]) -> ClamdResult:
        sock = self._connect()
        try:
            try:
                sock.sendall(b"zINSTREAM\x00")
                for chunk in chunks:
                    for start in range(0, len(chunk), CHUNK):
                        piece = chunk[start : start + CHUNK]
                        sock.sendall(struct.pack("!I", len(piece)) + piece)
                sock.sendall(struct.pack("!I", 0))
            except OSError as exc:
                # clamd closes the stream early when it exceeds StreamMaxLength; say so.
                reply = ""
                with contextlib.suppress(ScannerUnavailable):
                    reply = self._read_reply(sock)
                raise ScannerUnavailable(f"clamd refused the stream ({reply or exc.__class__.__name__})") from None
            reply = self._read_reply(sock)
        finally:
            sock.close()
        return self._parse(reply)

    def scan_stream(self, stream: BinaryIO) -> ClamdResult:
        stream.seek(0)
        return self.scan_chunks(iter(lambda: stream.read(CHUNK), b""))

    @staticmethod
    def _parse(reply: str) -> ClamdResult:
        # "stream: OK" | "stream: Eicar-Test-Signature FOUND" | "INSTREAM size limit exceeded. ERROR"
        if reply.endswith("ERROR") or not reply:
            raise ScannerUnavailable(f"clamd could not scan the file: {reply or 'no answer'}")
        body = reply.split(":", 1)[1].strip() if ":" in reply else reply
        if body == "OK":
            return ClamdResult(infected=False)
        if body.endswith("FOUND"):
            return ClamdResult(infected=True, signature=body[: -len("FOUND")].strip())
        raise ScannerUnavailable(f"clamd gave an answer this client does not understand: {reply!r}")
