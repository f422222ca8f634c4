"""Encrypted files in Django's storage (a local folder or an S3-compatible bucket).

Writing encrypts into memory (a private temporary file past SPOOL_BYTES) first, then hands the
ciphertext to the storage backend, so a plaintext byte never reaches the storage. Reading authenticates every record; a full read also
compares the SHA-256 recorded at upload before the first byte leaves (it decrypts to a private
temporary file, checks, then streams), so a tampered or truncated file is never served.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage

from ecabinet.documents import keys
from ecabinet.documents.core import crypto
from ecabinet.documents.models import StoredBlob

COPY_CHUNK = 1024 * 1024
SPOOL_BYTES = 16 * 1024 * 1024


class BlobTooLarge(Exception):
    pass


def temp_dir() -> Path:
    path = Path(settings.VAR_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_blob(src: BinaryIO, *, purpose: str, max_bytes: int | None = None) -> StoredBlob:
    """Encrypt ``src`` under a fresh data key into storage. The caller saves nothing else until this returns."""
    ring = keys.keyring()
    data_key = crypto.new_data_key()
    kid, wrapped = ring.wrap(data_key)
    # Ciphertext only, so it may sit in memory; past SPOOL_BYTES it goes to a private temporary file.
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=str(temp_dir())) as encrypted:
        try:
            result = crypto.encrypt_stream(src, cast(BinaryIO, encrypted), data_key, max_bytes=max_bytes)
        except ValueError:
            raise BlobTooLarge() from None
        encrypted.seek(0)
        name = default_storage.save(f"{purpose}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.ecab", File(encrypted))
    return StoredBlob.objects.create(
        name=name,
        purpose=purpose,
        key_id=kid,
        wrapped_key=wrapped,
        plaintext_size=result.plaintext_size,
        ciphertext_size=result.ciphertext_size,
        sha256=result.plaintext_sha256,
    )


def data_key(blob: StoredBlob) -> bytes:
    return keys.keyring().unwrap(blob.key_id, bytes(blob.wrapped_key))


def delete_blob_file(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # a leftover encrypted file is harmless; never mask the original error
        return


def decrypt_to(blob: StoredBlob, path: Path) -> None:
    """Decrypt ``blob`` into the new private file ``path``, checked against its SHA-256.

    Raises ``crypto.IntegrityError`` if anything does not match (``path`` may then hold a part of
    the plaintext: the caller's private folder is removed either way).
    """
    key = data_key(blob)
    digest = hashlib.sha256()
    size = 0
    # Opened first, so a missing work folder is an OSError of ours, not a "missing stored file".
    with path.open("xb") as out:
        try:
            src = default_storage.open(blob.name, "rb")
        except FileNotFoundError:
            raise crypto.IntegrityError("the stored file is missing") from None
        with src:
            for chunk in crypto.decrypt_chunks(cast(BinaryIO, src), key):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    if digest.hexdigest() != blob.sha256 or size != blob.plaintext_size:
        raise crypto.IntegrityError("the decrypted file does not match the SHA-256 recorded when it was stored")
    _mark_verified(blob)


@contextmanager
def decrypted_copy(blob: StoredBlob) -> Iterator[Path]:
    """A private temporary plaintext copy, checked against its SHA-256; removed afterwards.

    Raises ``crypto.IntegrityError`` if anything does not match.
    """
    folder = Path(tempfile.mkdtemp(dir=temp_dir()))
    path = folder / "plain"
    try:
        decrypt_to(blob, path)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def verify(blob: StoredBlob) -> None:
    """Decrypt and hash the whole blob without keeping the plaintext."""
    key = data_key(blob)
    digest = hashlib.sha256()
    size = 0
    try:
        with default_storage.open(blob.name, "rb") as src:
            for chunk in crypto.decrypt_chunks(cast(BinaryIO, src), key):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise crypto.IntegrityError("the stored file is missing") from None
    if digest.hexdigest() != blob.sha256 or size != blob.plaintext_size:
        raise crypto.IntegrityError("the decrypted file does not match the SHA-256 recorded when it was stored")
    _mark_verified(blob)


def _verified_key(blob: StoredBlob) -> str:
    return f"ecab:blob-verified:{blob.pk}:{blob.sha256}"


def _mark_verified(blob: StoredBlob) -> None:
    if settings.INTEGRITY_RECHECK_SECONDS:
        cache.set(_verified_key(blob), True, settings.INTEGRITY_RECHECK_SECONDS)


def verify_recently(blob: StoredBlob) -> None:
    """A whole-file check unless one passed within INTEGRITY_RECHECK_SECONDS."""
    if not settings.INTEGRITY_RECHECK_SECONDS or not cache.get(_verified_key(blob)):
        verify(blob)


def open_verified_copy(blob: StoredBlob) -> tuple[BinaryIO, Path]:
    """An open handle on a checked plaintext copy; the caller closes it and removes the folder."""
    key = data_key(blob)
    folder = Path(tempfile.mkdtemp(dir=temp_dir()))
    path = folder / "plain"
    try:
        digest = hashlib.sha256()
        with default_storage.open(blob.name, "rb") as src, path.open("wb") as out:
            for chunk in crypto.decrypt_chunks(cast(BinaryIO, src), key):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != blob.sha256:
            raise crypto.IntegrityError("the decrypted file does not match the SHA-256 recorded when it was stored")
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)
        raise crypto.IntegrityError("the stored file is missing") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _mark_verified(blob)
    return path.open("rb"), folder


def iter_range(blob: StoredBlob, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start``..``end`` (inclusive), every record read authenticated by AES-GCM."""
    key = data_key(blob)
    with default_storage.open(blob.name, "rb") as src:
        yield from crypto.decrypt_range(cast(BinaryIO, src), key, start, end)


def rewrap(blob: StoredBlob) -> bool:
    """Re-wrap the blob's data key under the active master key; False if it already is."""
    ring = keys.keyring()
    if blob.key_id == ring.active_id:
        return False
    key = ring.unwrap(blob.key_id, bytes(blob.wrapped_key))
    blob.key_id, blob.wrapped_key = ring.wrap(key)
    blob.save(update_fields=["key_id", "wrapped_key"])
    return True
