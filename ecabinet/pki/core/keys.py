"""Private keys behind one small interface, so a CA key can move from a file to an HSM.

Everything in the PKI that signs (certificates, CRLs, time-stamps, PDF signatures) calls
``Signer.sign(data)`` and ``Signer.public_key()``, never a private key object directly. The file
implementation keeps the key as encrypted PKCS#8; a PKCS#11 implementation only has to provide
the same two methods (see docs/pki.md, "Moving the CA keys to an HSM").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecabinet.pki.core.errors import KeyStoreError

CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}


@runtime_checkable
class Signer(Protocol):
    """Something that holds an EC private key and signs with it.

    ``sign`` returns a DER-encoded ECDSA signature (the X.509/CMS form) over ``data`` hashed with
    ``hash_algorithm``. Implementations must not expose the private key.
    """

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def sign(self, data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes: ...


class KeySigner:
    """A signer around a private key object in memory (tests, ``ecabinet-sign``, loaded file keys)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._key = private_key

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes:
        return self._key.sign(data, ec.ECDSA(hash_algorithm))

    def private_key_for_export(self) -> ec.EllipticCurvePrivateKey:
        """Only for code that must hand the key to a library taking key objects (the TSA's PKCS#8)."""
        return self._key


class FileKeySigner(KeySigner):
    """An encrypted PKCS#8 PEM file opened with a passphrase."""

    def __init__(self, path: Path, passphrase: bytes) -> None:
        self.path = path
        super().__init__(load_encrypted_key(path, passphrase))


def generate_key(curve: str) -> ec.EllipticCurvePrivateKey:
    try:
        return ec.generate_private_key(CURVES[curve]())
    except KeyError:
        raise KeyStoreError(f"unsupported curve {curve!r}; expected one of {', '.join(CURVES)}") from None


def encrypt_key(key: ec.EllipticCurvePrivateKey, passphrase: bytes) -> bytes:
    if not passphrase:
        raise KeyStoreError("a CA key is never stored without a passphrase")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(passphrase))


def write_encrypted_key(path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes) -> None:
    """Write the key encrypted, readable by the owner only, without ever leaving a clear copy."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = encrypt_key(key, passphrase)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_encrypted_key(path: Path, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError):
        raise KeyStoreError(f"the passphrase does not open {path} (or the file is not an encrypted PKCS#8 key)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"{path} does not hold an EC private key")
    return key


def hash_for(public_key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    """The hash that matches the key size (SHA-384 for P-384 CAs, SHA-256 for P-256)."""
    return hashes.SHA384() if public_key.curve.key_size >= 384 else hashes.SHA256()
