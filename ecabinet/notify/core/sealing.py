"""Sealing message text at rest: AES-256-GCM under a key derived from the installation master key.

Pure: the caller gives the master key bytes. The key is derived with HKDF-SHA256 and a label of
its own, so the message key is never the key that wraps documents' data keys. The conversation
id is authenticated data: a sealed message moved to another conversation no longer opens.
Layout: version byte (1) ‖ 12-byte nonce ‖ ciphertext+tag.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
INFO = b"ecabinet.notify.messages.v1"


class SealError(Exception):
    pass


def derive_key(master: bytes) -> bytes:
    if len(master) < 32:
        raise SealError("the master key must be at least 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(master)


def _aad(conversation_id: int) -> bytes:
    return f"conversation:{conversation_id}".encode()


def seal(key: bytes, text: str, *, conversation_id: int) -> bytes:
    nonce = os.urandom(12)
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, text.encode("utf-8"), _aad(conversation_id))


def unseal(key: bytes, blob: bytes, *, conversation_id: int) -> str:
    blob = bytes(blob)
    if len(blob) < 1 + 12 + 16 or blob[0] != VERSION:
        raise SealError("not a sealed message")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], _aad(conversation_id)).decode("utf-8")
    except Exception as exc:  # InvalidTag: tampered, moved, or another key
        raise SealError("the message does not open under this key") from exc
