"""Encryption at rest: one random data key per stored file, wrapped by a master key.

Pure Python on ``cryptography`` (AES-256-GCM), no Django.

Blob format (version 1)::

    MAGIC (8 bytes "ECABENC1") | chunk size (4 bytes, big-endian)
    then records: nonce (12) | ciphertext of up to ``chunk size`` bytes | tag (16)

Each record's associated data is the header, the record's index (8 bytes) and a final flag (1
byte); the last record always has the flag set, even when empty. So a reordered, dropped,
appended or truncated record fails authentication, and every byte handed out has been
authenticated first. The SHA-256 of the whole plaintext is kept in the database and compared on
full reads (see ``documents.blobs``).

Master keys: 32 random bytes, written as base64. A key's id is the first 16 hex digits of the
SHA-256 of the key, so a keyring needs no separate index and a wrapped key names its master.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ECABENC1"
HEADER = struct.Struct("!8sI")
CHUNK_SIZE = 1024 * 1024
NONCE = 12
TAG = 16
KEY_BYTES = 32
WRAP_CONTEXT = b"ecabinet data key v1"


class CryptoError(Exception):
    """A blob or a wrapped key failed authentication, or a key is missing or malformed."""


class IntegrityError(CryptoError):
    """The stored bytes are not what was written: tampered, truncated, reordered or corrupted."""


def parse_master_key(text: str, *, source: str = "master key") -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError(f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise CryptoError(f"{source} must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def new_master_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"ecabinet key id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The active master key (new wraps use it) and every older one still needed to unwrap."""

    active_id: str
    keys: dict[str, bytes]

    @classmethod
    def build(cls, active: bytes, older: list[bytes] | None = None) -> Keyring:
        keys = {key_id(k): k for k in (older or [])}
        keys[key_id(active)] = active
        return cls(active_id=key_id(active), keys=keys)

    @classmethod
    def load(cls, active_text: str, keyring_dir: Path | None) -> Keyring:
        older = []
        if keyring_dir is not None and keyring_dir.is_dir():
            for path in sorted(keyring_dir.glob("*.key")):
                older.append(parse_master_key(path.read_text(), source=str(path)))
        return cls.build(parse_master_key(active_text), older)

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE)
        aad = WRAP_CONTEXT + self.active_id.encode()
        return self.active_id, nonce + AESGCM(self.keys[self.active_id]).encrypt(nonce, data_key, aad)

    def unwrap(self, kid: str, wrapped: bytes) -> bytes:
        master = self.keys.get(kid)
        if master is None:
            raise CryptoError(f"master key {kid} is not in the keyring; put the old key file in the keyring folder")
        try:
            return AESGCM(master).decrypt(wrapped[:NONCE], wrapped[NONCE:], WRAP_CONTEXT + kid.encode())
        except (InvalidTag, ValueError):
            raise CryptoError(f"the data key wrapped under {kid} does not authenticate") from None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack("!QB", index, 1 if final else 0)


@dataclass(frozen=True)
class EncryptResult:
    plaintext_size: int
    plaintext_sha256: str
    ciphertext_size: int


def _read_full(src: BinaryIO, size: int) -> bytes:
    parts = []
    remaining = size
    while remaining:
        piece = src.read(remaining)
        if not piece:
            break
        parts.append(piece)
        remaining -= len(piece)
    return b"".join(parts)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, data_key: bytes, *, chunk_size: int = CHUNK_SIZE, max_bytes: int | None = None) -> EncryptResult:
    """Encrypt ``src`` into ``dst``; raises ``ValueError`` past ``max_bytes`` of plaintext."""
    aes = AESGCM(data_key)
    header = HEADER.pack(MAGIC, chunk_size)
    dst.write(header)
    digest = hashlib.sha256()
    total = 0
    written = len(header)
    index = 0
    current = _read_full(src, chunk_size)
    while True:
        following = _read_full(src, chunk_size) if len(current) == chunk_size else b""
        final = not following
        total += len(current)
        if max_bytes is not None and total > max_bytes:
            raise ValueError(f"more than {max_bytes} bytes")
        digest.update(current)
        nonce = os.urandom(NONCE)
        record = nonce + aes.encrypt(nonce, current, _aad(header, index, final))
        dst.write(record)
        written += len(record)
        if final:
            break
        index += 1
        current = following
    return EncryptResult(plaintext_size=total, plaintext_sha256=digest.hexdigest(), ciphertext_size=written)


def _header(src: BinaryIO) -> tuple[bytes, int]:
    header = _read_full(src, HEADER.size)
    if len(header) != HEADER.size:
        raise IntegrityError("the blob is shorter than its header")
    magic, chunk_size = HEADER.unpack(header)
    if magic != MAGIC or not 1 <= chunk_size <= 64 * 1024 * 1024:
        raise IntegrityError("the blob header is not an e-Cabinet encrypted file")
    return header, chunk_size


def plaintext_size(ciphertext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    body = ciphertext_size - HEADER.size
    record = chunk_size + NONCE + TAG
    full, rest = divmod(body, record)
    if rest == 0:
        # The last record is a full one (final) only if the plaintext is an exact multiple.
        return full * chunk_size
    return full * chunk_size + rest - NONCE - TAG


def decrypt_chunks(src: BinaryIO, data_key: bytes, *, start_index: int = 0, header: bytes | None = None, chunk_size: int | None = None) -> Iterator[bytes]:
    """Authenticated plaintext chunks, in order; raises ``IntegrityError`` on any mismatch.

    With ``start_index`` the caller has already read the header and seeked to that record.
    """
    aes = AESGCM(data_key)
    if header is None or chunk_size is None:
        header, chunk_size = _header(src)
    record_size = chunk_size + NONCE + TAG
    index = start_index
    current = _read_full(src, record_size)
    if not current:
        raise IntegrityError("the blob has no records (truncated)")
    while True:
        following = _read_full(src, record_size) if len(current) == record_size else b""
        final = not following
        if len(current) < NONCE + TAG:
            raise IntegrityError(f"record {index} is truncated")
        try:
            yield aes.decrypt(current[:NONCE], current[NONCE:], _aad(header, index, final))
        except InvalidTag:
            raise IntegrityError(f"record {index} does not authenticate (tampered, truncated or reordered)") from None
        if final:
            return
        index += 1
        current = following


def decrypt_range(src: BinaryIO, data_key: bytes, start: int, end: int) -> Iterator[bytes]:
    """Plaintext bytes ``start``..``end`` inclusive, decrypting only the records that hold them.

    ``src`` must be seekable. The records read are authenticated like any other; a range that
    stops before the last record does not check the final flag, which full reads do.
    """
    header, chunk_size = _header(src)
    first = start // chunk_size
    src.seek(HEADER.size + first * (chunk_size + NONCE + TAG))
    position = first * chunk_size
    aes = AESGCM(data_key)
    record_size = chunk_size + NONCE + TAG
    index = first
    while position <= end:
        current = _read_full(src, record_size)
        if len(current) < NONCE + TAG:
            raise IntegrityError(f"record {index} is truncated")
        # A short record must be the final one; a full one is final only if nothing follows.
        final = len(current) < record_size
        if not final:
            peek = src.read(1)
            final = not peek
            if peek:
                src.seek(-1, os.SEEK_CUR)
        try:
            plain = aes.decrypt(current[:NONCE], current[NONCE:], _aad(header, index, final))
        except InvalidTag:
            raise IntegrityError(f"record {index} does not authenticate (tampered, truncated or reordered)") from None
        lo = max(start - position, 0)
        hi = min(end - position + 1, len(plain))
        if lo < hi:
            yield plain[lo:hi]
        position += len(plain)
        index += 1
        if final:
            return
