"""Signed notes and checkpoints, against the test vector of Go's golang.org/x/mod/sumdb/note."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecabinet.audit.core import note

# From golang.org/x/mod/sumdb/note/note_test.go (TestSign, TestNewVerifier).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNED = GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def go_key() -> Ed25519PrivateKey:
    encoded = GO_SKEY.split("+", 4)[-1]  # PRIVATE+KEY+name+hash+key; the key may hold "+"
    raw = base64.b64decode(encoded)
    assert raw[0] == 1  # the Ed25519 algorithm byte
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_signing_reproduces_the_go_sumdb_note_vector():
    key = go_key()
    assert note.key_hash("PeterNeumann", key.public_key()).hex() == "c74f20a3"
    assert note.verifier_key("PeterNeumann", key.public_key()) == GO_VKEY
    assert note.sign(GO_TEXT, "PeterNeumann", key) == GO_SIGNED
    assert note.open_note(GO_SIGNED, "PeterNeumann", key.public_key()) == GO_TEXT


def test_open_refuses_changed_text_other_key_and_other_name():
    key = go_key()
    with pytest.raises(note.NoteError, match="does not match"):
        note.open_note(GO_SIGNED.replace("cryptography", "cryptographY"), "PeterNeumann", key.public_key())
    with pytest.raises(note.NoteError, match="no signature by"):
        note.open_note(GO_SIGNED, "PeterNeumann", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(note.NoteError, match="no signature by"):
        note.open_note(GO_SIGNED, "EnochRoot", key.public_key())


@pytest.mark.parametrize(
    "bad",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_SIGNED[:-1],
        GO_SIGNED + "Unexpected line.\n",
        GO_SIGNED.replace("— PeterNeumann", "— Bad Name"),
        GO_SIGNED.replace("x08go/", "x08go!"),
        "\x01" + GO_SIGNED,
    ],
)
def test_malformed_notes_are_refused(bad):
    with pytest.raises(note.NoteError):
        note.open_note(bad, "PeterNeumann", go_key().public_key())


def test_checkpoint_body_round_trips_and_is_signed():
    key = Ed25519PrivateKey.generate()
    checkpoint = note.Checkpoint(origin="example.gov.vn/audit", size=42, root=bytes(range(32)))
    body = checkpoint.body()
    assert body == f"example.gov.vn/audit\n42\n{base64.b64encode(bytes(range(32))).decode()}\n"
    signed = note.sign_checkpoint(checkpoint, "example.gov.vn/audit", key)
    assert signed.startswith(body + "\n— example.gov.vn/audit ")
    assert note.open_checkpoint(signed, "example.gov.vn/audit", key.public_key()) == checkpoint


@pytest.mark.parametrize(
    "text",
    ["origin\n", "origin\n12\n", "origin\n012\nAAAA\n", "origin\n-1\nAAAA\n", "origin\n3\nnot base64!\n", "origin\n3\nAAAA\n", "\n3\n" + "A" * 43 + "=\n"],
)
def test_bad_checkpoint_bodies_are_refused(text):
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(text)


def test_key_names_with_spaces_or_plus_are_refused():
    key = Ed25519PrivateKey.generate()
    for name in ("", "two words", "a+b"):
        with pytest.raises(note.NoteError):
            note.sign("text\n", name, key)
