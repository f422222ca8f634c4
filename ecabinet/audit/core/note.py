"""C2SP signed notes and tlog checkpoints with Ed25519, without Django.

A checkpoint body is ``origin\\nsize\\nbase64(root)\\n`` (c2sp.org/tlog-checkpoint). The signed note
(c2sp.org/signed-note) is the body, a blank line, and one line per signature::

    — <key name> base64(key hash (4 bytes) || Ed25519 signature (64 bytes))

The key hash is the first four bytes of ``SHA-256(name || 0x0A || 0x01 || public key)``; the
signature covers the body exactly, so anyone can check it with ``openssl pkeyutl -rawin``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = b"\x01"
SIG_PREFIX = "\u2014 "  # an em dash and a space start every signature line
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """The note is malformed, or no signature on it verifies with the given key."""


def check_name(name: str) -> str:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(check_name(name).encode() + b"\n" + ALG_ED25519 + raw_public_key(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The ``name+hash+key`` verifier string Go's sumdb/note and other tlog tools read."""
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(ALG_ED25519 + raw_public_key(public_key)).decode()}"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or any(ch < " " and ch != "\n" for ch in text):
        raise NoteError("note text must be printable lines, each ending in a newline, with no blank line")


def sign(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    _check_text(text)
    signature = private_key.sign(text.encode("utf-8"))
    blob = key_hash(name, private_key.public_key()) + signature
    return f"{text}\n{SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Signature:
    name: str
    key_hash: bytes
    signature: bytes


def split(note: str) -> tuple[str, list[Signature]]:
    """The signed text and the signatures found under it (not yet verified)."""
    head, sep, tail = note.rpartition("\n\n")
    if not sep or not tail.endswith("\n"):
        raise NoteError("a signed note is text, a blank line, then signature lines")
    text = head + "\n"
    _check_text(text)
    signatures = []
    for line in tail[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"not a signature line: {line[:60]!r}")
        name, space, encoded = line[len(SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError("a signature line is '— name signature'")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("the signature is not base64")
        if len(blob) < 5:
            raise NoteError("the signature is too short")
        signatures.append(Signature(check_name(name), blob[:4], blob[4:]))
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    return text, signatures


def open_note(note: str, name: str, public_key: Ed25519PublicKey) -> str:
    """The text of ``note`` if it carries a valid signature by ``name`` with ``public_key``."""
    text, signatures = split(note)
    wanted = key_hash(name, public_key)
    mine = [s for s in signatures if s.name == name and s.key_hash == wanted]
    if not mine:
        raise NoteError(f"the note has no signature by {name}+{wanted.hex()}")
    for sig in mine:
        try:
            public_key.verify(sig.signature, text.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(f"the signature by {name}+{wanted.hex()} does not match the text")
    return text


# -- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise NoteError("the origin is one non-empty line")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is at least three lines: origin, size, base64 root")
    origin, size_line, root_line = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("the checkpoint origin is empty")
    if not size_line.isdigit() or (size_line != "0" and size_line.startswith("0")):
        raise NoteError(f"the checkpoint size {size_line!r} is not a decimal number")
    try:
        root = base64.b64decode(root_line, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("the checkpoint root is not base64")
    if len(root) != 32:
        raise NoteError("the checkpoint root is not 32 bytes")
    return Checkpoint(origin=origin, size=int(size_line), root=root)


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    return sign(checkpoint.body(), name, private_key)


def open_checkpoint(note: str, name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    return parse_checkpoint(open_note(note, name, public_key))
