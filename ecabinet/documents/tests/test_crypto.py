"""Encryption at rest, without Django: round trips, tampering, truncation, reordering, key rotation."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from ecabinet.documents.core import crypto

CHUNK = 1024


def encrypt(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    result = crypto.encrypt_stream(io.BytesIO(data), out, key, chunk_size=CHUNK)
    assert result.plaintext_sha256 == hashlib.sha256(data).hexdigest()
    assert result.plaintext_size == len(data) and result.ciphertext_size == len(out.getvalue())
    return out.getvalue()


def decrypt(blob: bytes, key: bytes) -> bytes:
    return b"".join(crypto.decrypt_chunks(io.BytesIO(blob), key))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 17])
def test_round_trip_at_chunk_boundaries(size):
    key = crypto.new_data_key()
    data = os.urandom(size)
    blob = encrypt(data, key)
    assert decrypt(blob, key) == data
    assert crypto.plaintext_size(len(blob), CHUNK) == size


def test_each_file_is_different_even_for_the_same_content():
    data = b"same" * 100
    assert encrypt(data, crypto.new_data_key()) != encrypt(data, crypto.new_data_key())


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],  # truncated inside the last record
        lambda b: b[: crypto.HEADER.size + 2 * (CHUNK + 28)],  # whole final records dropped
        lambda b: b + b"\x00" * 40,  # bytes appended
        lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:],  # one bit flipped
        lambda b: (
            b[: crypto.HEADER.size]
            + b[crypto.HEADER.size + CHUNK + 28 : crypto.HEADER.size + 2 * (CHUNK + 28)]
            + b[crypto.HEADER.size : crypto.HEADER.size + CHUNK + 28]
            + b[crypto.HEADER.size + 2 * (CHUNK + 28) :]
        ),  # records swapped
        lambda b: b"NOTECAB!" + b[8:],  # header replaced
        lambda b: b"",
    ],
)
def test_tampering_truncation_and_reordering_are_detected(damage):
    key = crypto.new_data_key()
    blob = encrypt(os.urandom(4 * CHUNK + 10), key)
    with pytest.raises(crypto.IntegrityError):
        decrypt(damage(blob), key)


def test_wrong_key_is_refused():
    blob = encrypt(b"secret text", crypto.new_data_key())
    with pytest.raises(crypto.IntegrityError):
        decrypt(blob, crypto.new_data_key())


@pytest.mark.parametrize(
    ("start", "end"), [(0, 0), (0, 99), (CHUNK - 3, CHUNK + 3), (2 * CHUNK, 3 * CHUNK - 1), (4 * CHUNK, 4 * CHUNK + 9), (17, 4 * CHUNK + 9)]
)
def test_range_reads_decrypt_only_what_they_need(start, end):
    key = crypto.new_data_key()
    data = os.urandom(4 * CHUNK + 10)
    blob = encrypt(data, key)
    assert b"".join(crypto.decrypt_range(io.BytesIO(blob), key, start, end)) == data[start : end + 1]


def test_range_read_of_a_tampered_record_is_refused():
    key = crypto.new_data_key()
    blob = bytearray(encrypt(os.urandom(4 * CHUNK), key))
    blob[crypto.HEADER.size + 2 * (CHUNK + 28) + 40] ^= 0xFF
    assert b"".join(crypto.decrypt_range(io.BytesIO(bytes(blob)), key, 0, 10))  # other records still read
    with pytest.raises(crypto.IntegrityError):
        b"".join(crypto.decrypt_range(io.BytesIO(bytes(blob)), key, 2 * CHUNK, 2 * CHUNK + 5))


def test_keyring_wraps_under_the_active_key_and_unwraps_old_ones():
    old, new = os.urandom(32), os.urandom(32)
    data_key = crypto.new_data_key()
    kid, wrapped = crypto.Keyring.build(old).wrap(data_key)
    assert kid == crypto.key_id(old)
    rotated = crypto.Keyring.build(new, [old])
    assert rotated.active_id == crypto.key_id(new)
    assert rotated.unwrap(kid, wrapped) == data_key
    kid2, wrapped2 = rotated.wrap(data_key)
    assert kid2 == crypto.key_id(new) and crypto.Keyring.build(new).unwrap(kid2, wrapped2) == data_key
    with pytest.raises(crypto.CryptoError, match="not in the keyring"):
        crypto.Keyring.build(new).unwrap(kid, wrapped)
    with pytest.raises(crypto.CryptoError, match="does not authenticate"):
        rotated.unwrap(kid, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))


def test_keyring_folder_and_key_parsing(tmp_path):
    old = crypto.new_master_key_text()
    (tmp_path / "2025.key").write_text(old)
    ring = crypto.Keyring.load(crypto.new_master_key_text(), tmp_path)
    assert len(ring.keys) == 2 and crypto.key_id(crypto.parse_master_key(old)) in ring.keys
    for bad in ("not base64!", "c2hvcnQ="):
        with pytest.raises(crypto.CryptoError):
            crypto.parse_master_key(bad)
