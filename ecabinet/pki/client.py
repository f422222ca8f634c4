"""``ecabinet-sign``: a member's signing key in a PKCS#12 file, for desktops and token users.

The key is made here and never leaves the file (which is encrypted under the member's passphrase).
Only the CSR goes to the server, over the API with a device bearer token. Uses nothing but
``cryptography`` and the standard library, so it runs on a member's laptop without Django.

    ecabinet-sign token  --server URL --username NAME            # prints a device token
    ecabinet-sign keygen --p12 me.p12
    ecabinet-sign enrol  --server URL --p12 me.p12 --device-label "Laptop"   (token: ECABINET_TOKEN)
    ecabinet-sign fetch  --server URL --p12 me.p12 --request ID  # stores the issued certificate
    ecabinet-sign sign   --p12 me.p12 --in ballot.json --out ballot.sig
    ecabinet-sign vote   --server URL --p12 me.p12 --poll ID --choice approve   (see ecabinet.voting.client)
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from ecabinet.pki.core.csr import build_csr

PASSPHRASE_ENV = "ECABINET_SIGN_PASSPHRASE"  # noqa: S105 - a variable name
TOKEN_ENV = "ECABINET_TOKEN"  # noqa: S105 - a variable name
FRIENDLY_NAME = b"e-Cabinet signing key"


class ClientError(Exception):
    pass


# --- the PKCS#12 file -------------------------------------------------------------------------


def write_p12(
    path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes, certificate: x509.Certificate | None = None, chain: list[x509.Certificate] | None = None
) -> None:
    data = pkcs12.serialize_key_and_certificates(FRIENDLY_NAME, key, certificate, chain or None, serialization.BestAvailableEncryption(passphrase))
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def generate_p12(path: Path, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        raise ClientError(f"{path} exists; refusing to overwrite a signing key")
    if not passphrase:
        raise ClientError("a passphrase is required to protect the key")
    key = ec.generate_private_key(ec.SECP256R1())
    write_p12(path, key, passphrase)
    return key


def load_p12(path: Path, passphrase: bytes) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate | None, list[x509.Certificate]]:
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase)
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ClientError(f"the passphrase does not open {path}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ClientError(f"{path} does not hold an EC signing key")
    return key, cert, list(chain)


def csr_pem(key: ec.EllipticCurvePrivateKey, label: str) -> str:
    return build_csr(key, label=label).public_bytes(serialization.Encoding.PEM).decode()


def sign_bytes(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """DER ECDSA P-256/SHA-256, the signature the server wraps into CMS evidence."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


# --- the API ----------------------------------------------------------------------------------


class Api:
    def __init__(self, server: str, token: str | None = None, *, timeout: float = 30) -> None:
        if not server.startswith(("https://", "http://")):
            raise ClientError("--server must be an http(s) URL")
        self.base = server.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 - scheme checked above
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                problem = json.loads(exc.read())
                message = f"{problem.get('code')}: {problem.get('detail')}"
            except ValueError:
                message = str(exc)
            raise ClientError(f"{method} {path} failed ({exc.code}) {message}") from None
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach {self.base}: {exc.reason}") from None

    def token_for(self, username: str, password: str, totp: str, device_name: str) -> str:
        return str(self.call("POST", "/auth/token", {"username": username, "password": password, "totp": totp or None, "device_name": device_name})["token"])

    def enrol(self, csr: str, device_label: str) -> dict[str, Any]:
        return dict(self.call("POST", "/pki/requests", {"csr": csr, "device_label": device_label, "source": "client"}))

    def request(self, request_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/pki/requests/{request_id}"))

    def ca_chain(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.call("GET", "/pki/ca")["chain_pem"].encode())


# --- command line -----------------------------------------------------------------------------


def _passphrase(confirm: bool = False) -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        value = getpass.getpass("Key passphrase: ")
        if confirm and getpass.getpass("Repeat: ") != value:
            raise ClientError("the passphrases differ")
    return value.encode()


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ClientError(f"a device token is required: --token or {TOKEN_ENV} (get one with 'ecabinet-sign token')")
    return str(token)


def _cmd_token(args: argparse.Namespace) -> None:
    password = os.environ.get("ECABINET_PASSWORD") or getpass.getpass("Password: ")
    code = args.totp or input("One-time code: ").strip()
    print(Api(args.server).token_for(args.username, password, code, args.device_name))


def _cmd_keygen(args: argparse.Namespace) -> None:
    key = generate_p12(args.p12, _passphrase(confirm=True))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(public)
    print(f"key written to {args.p12}; public key sha256 {digest.finalize().hex()}")


def _cmd_enrol(args: argparse.Namespace) -> None:
    key, _, _ = load_p12(args.p12, _passphrase())
    result = Api(args.server, _token(args)).enrol(csr_pem(key, args.device_label), args.device_label)
    print(json.dumps({"request": result["id"], "state": result["state"], "spki_sha256": result["spki_sha256"]}))


def _cmd_fetch(args: argparse.Namespace) -> None:
    secret = _passphrase()
    key, _, _ = load_p12(args.p12, secret)
    api = Api(args.server, _token(args))
    result = api.request(args.request)
    if result["state"] != "approved" or not result.get("certificate"):
        print(json.dumps({"request": result["id"], "state": result["state"]}))
        raise SystemExit(2)
    cert = x509.load_pem_x509_certificate(result["certificate"]["certificate_pem"].encode())
    issued_key = cert.public_key()
    if not isinstance(issued_key, ec.EllipticCurvePublicKey) or issued_key.public_numbers() != key.public_key().public_numbers():
        raise ClientError("the issued certificate is not for the key in this file")
    write_p12(args.p12, key, secret, cert, api.ca_chain())
    print(json.dumps({"request": result["id"], "state": "approved", "fingerprint": result["certificate"]["fingerprint"]}))


def _cmd_sign(args: argparse.Namespace) -> None:
    key, _, _ = load_p12(args.p12, _passphrase())
    args.out.write_bytes(sign_bytes(key, args.infile.read_bytes()))
    print(f"signature written to {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecabinet-sign", description="e-Cabinet signing key in a PKCS#12 file (passphrase from $ECABINET_SIGN_PASSPHRASE or prompted)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def server_args(p: argparse.ArgumentParser, *, token: bool = True) -> None:
        p.add_argument("--server", required=True, help="e.g. https://ecabinet.gov.example")
        if token:
            p.add_argument("--token", help=f"device bearer token (default ${TOKEN_ENV})")

    p = sub.add_parser("token", help="Sign in and print a device bearer token")
    server_args(p, token=False)
    p.add_argument("--username", required=True)
    p.add_argument("--totp", help="one-time code (prompted if missing)")
    p.add_argument("--device-name", default="ecabinet-sign")
    p.set_defaults(func=_cmd_token)

    p = sub.add_parser("keygen", help="Make a P-256 key in a new PKCS#12 file")
    p.add_argument("--p12", required=True, type=Path)
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser("enrol", help="Send a CSR for the key; a secretary approves it")
    server_args(p)
    p.add_argument("--p12", required=True, type=Path)
    p.add_argument("--device-label", required=True)
    p.set_defaults(func=_cmd_enrol)

    p = sub.add_parser("fetch", help="Store the issued certificate in the PKCS#12 file once approved")
    server_args(p)
    p.add_argument("--p12", required=True, type=Path)
    p.add_argument("--request", required=True, type=int)
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("sign", help="Sign a file's exact bytes (DER ECDSA SHA-256)")
    p.add_argument("--p12", required=True, type=Path)
    p.add_argument("--in", dest="infile", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=_cmd_sign)

    from ecabinet.voting.client import add_parsers as add_voting_parsers

    add_voting_parsers(sub, server_args)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ClientError as exc:
        print(f"ecabinet-sign: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("ecabinet-sign: interrupted; nothing was sent after that point", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
