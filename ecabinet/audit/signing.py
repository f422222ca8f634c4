"""The installation's Ed25519 key that signs audit checkpoints, kept in ``settings.KEY_DIR``.

Made on first use, readable by the service account only (0600 in a 0700 directory). Several
processes may start at once, so the new key is written under a temporary name and linked into
place: whoever links first wins and everyone reads that one key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from ecabinet.audit import errors
from ecabinet.audit.core import note

KEY_FILE = "audit-checkpoint-ed25519.pem"


def key_path() -> Path:
    return Path(settings.KEY_DIR) / KEY_FILE


def signer_name() -> str:
    """The signed-note key name; the C2SP checkpoint convention is the log's origin."""
    return note.check_name(settings.AUDIT_ORIGIN)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(prefix=".audit-key-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made the key first; use theirs
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def private_key() -> Ed25519PrivateKey:
    path = key_path()
    try:
        if not path.exists():
            _create(path)
        data = path.read_bytes()
    except OSError as exc:
        raise errors.SigningKeyUnavailable(f"cannot read or create the audit signing key at {path}: {exc.strerror}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise errors.SigningKeyUnavailable(f"{path} does not hold an Ed25519 private key")
    return key


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_pem() -> str:
    return public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key_pem(data: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verifier_key() -> str:
    return note.verifier_key(signer_name(), public_key())


def key_id() -> str:
    return note.key_hash(signer_name(), public_key()).hex()
