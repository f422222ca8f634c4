"""``ecabinet-sign vote`` and ``ecabinet-sign receipt``: sign and cast a ballot from a PKCS#12 file.

Runs where ``ecabinet-sign`` runs (no Django): it fetches the poll, recomputes the question hash
from the statement the server shows (so the member signs for the question they read), builds the
canonical ballot, signs it with the key in the file, and sends it with a fresh one-time code (the
step-up the server checks). The receipt (ballot hash, audit seq, and the inclusion proof once a
checkpoint covers it) is printed and can be kept with the signed ballot (``--keep DIR``).

    ecabinet-sign vote    --server URL --p12 me.p12 --poll 12 --choice approve [--totp 123456] [--keep DIR]
    ecabinet-sign receipt --server URL --poll 12 --ballot SHA256 [--pubkey audit.pem]
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ecabinet.voting.core.ballot import build_ballot, statement_sha256


class VoteError(Exception):
    pass


@dataclass(frozen=True)
class SignedBallot:
    data: bytes
    signature: bytes  # DER ECDSA

    @property
    def sha256(self) -> str:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.data)
        return digest.finalize().hex()


def sign_ballot(poll: dict[str, Any], *, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate, voter: int, choice: str) -> SignedBallot:
    """The canonical ballot for ``poll`` (as the API describes it) and its signature."""
    if statement_sha256(poll["statement"]) != poll["question_sha256"]:
        raise VoteError("the poll's statement does not hash to its question_sha256; refusing to sign")
    keys = [o["key"] for o in poll["options"]]
    if choice not in keys:
        raise VoteError(f"{choice!r} is not an option; choose one of {', '.join(keys)}")
    data = build_ballot(
        poll=poll["id"],
        question_sha256=poll["question_sha256"],
        voter=voter,
        certificate_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        choice=choice,
        nonce=secrets.token_urlsafe(24),
        client_time=datetime.now(UTC),
    )
    return SignedBallot(data=data, signature=key.sign(data, ec.ECDSA(hashes.SHA256())))


def voter_id(certificate: x509.Certificate) -> int:
    from cryptography.x509.oid import NameOID

    values = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    if not values:
        raise VoteError("the certificate names no user id (UID); pass --voter")
    return int(str(values[0].value))


def cast(api: Any, poll_id: int, ballot: SignedBallot, totp: str) -> dict[str, Any]:
    body = {"ballot": ballot.data.decode("utf-8"), "signature": base64.b64encode(ballot.signature).decode(), "totp": totp}
    receipt = dict(api.call("POST", f"/polls/{poll_id}/ballots", body))
    if receipt.get("ballot_sha256") != ballot.sha256:
        raise VoteError("the server's receipt names another ballot hash than the one signed here")
    return receipt


def _ask(prompt: str) -> str:
    """The one-time code, typed by the member; never a hang or a traceback when nobody can type."""
    from ecabinet.pki import client as pki_client

    if not sys.stdin.isatty():
        raise pki_client.ClientError("no one-time code: pass --totp (there is no terminal to ask for it)")
    # The prompt goes to stderr: stdout carries only the JSON receipt, for scripts.
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip()
    if not answer:
        raise pki_client.ClientError("no one-time code was given; nothing was sent")
    return answer


def _cmd_vote(args: argparse.Namespace) -> None:
    from ecabinet.pki import client as pki_client

    key, cert, _ = pki_client.load_p12(args.p12, pki_client._passphrase())
    if cert is None:
        raise pki_client.ClientError(f"{args.p12} holds no certificate yet; run 'ecabinet-sign fetch' after approval")
    api = pki_client.Api(args.server, pki_client._token(args))
    poll = api.call("GET", f"/polls/{args.poll}")
    totp = args.totp or _ask(f"{poll['question']}\nChoice: {args.choice}. One-time code to confirm: ")
    try:
        ballot = sign_ballot(poll, key=key, certificate=cert, voter=args.voter or voter_id(cert), choice=args.choice)
        receipt = cast(api, args.poll, ballot, totp)
    except VoteError as exc:
        raise pki_client.ClientError(str(exc)) from None
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        stem = args.keep / f"poll-{args.poll}-{ballot.sha256[:16]}"
        stem.with_suffix(".json").write_bytes(ballot.data)
        stem.with_suffix(".sig").write_bytes(ballot.signature)
        stem.with_suffix(".receipt.json").write_text(json.dumps(receipt, indent=2, default=str))
    print(json.dumps({"ballot_sha256": receipt["ballot_sha256"], "audit_seq": receipt["audit_seq"], "status": receipt["status"]}))


def _cmd_receipt(args: argparse.Namespace) -> None:
    from ecabinet.pki import client as pki_client

    api = pki_client.Api(args.server, pki_client._token(args))
    receipt = api.call("GET", f"/polls/{args.poll}/ballots/{args.ballot}/receipt")
    result: dict[str, Any] = {"ballot_sha256": receipt["ballot_sha256"], "audit_seq": receipt["audit_seq"], "status": receipt["status"]}
    if args.pubkey and not receipt.get("proof"):
        print("ecabinet-sign: no signed checkpoint covers this ballot yet; nothing to check, ask again later", file=sys.stderr)
    if receipt.get("proof") and args.pubkey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        from ecabinet.audit.core import proof as proof_core

        try:
            public_key = serialization.load_pem_public_key(args.pubkey.read_bytes())
        except (OSError, ValueError) as exc:
            raise pki_client.ClientError(f"cannot read the audit log's public key from {args.pubkey}: {exc}") from None
        if not isinstance(public_key, Ed25519PublicKey):
            raise pki_client.ClientError(f"{args.pubkey} is not the audit log's Ed25519 public key (ecabinet audit pubkey)")
        try:
            checked = proof_core.check(receipt["proof"], public_key)
        except ValueError as exc:  # the proof's or the checkpoint's own errors
            raise pki_client.ClientError(f"the receipt's proof does not hold against {args.pubkey}: {exc}") from None
        if checked.entry.get("details", {}).get("ballot_sha256") != args.ballot:
            raise pki_client.ClientError("the proven audit entry is about another ballot")
        result["checked"] = f"entry #{checked.seq} is in the signed log of {checked.tree_size} entries"
    print(json.dumps(result))


def add_parsers(sub: Any, server_args: Any) -> None:
    """Called by ``ecabinet.pki.client.build_parser``: the voting subcommands of ``ecabinet-sign``."""
    p = sub.add_parser("vote", help="Sign a ballot with the key in the PKCS#12 file and cast it (needs a one-time code)")
    server_args(p)
    p.add_argument("--p12", required=True, type=Path)
    p.add_argument("--poll", required=True, type=int)
    p.add_argument("--choice", required=True, help="an option key, e.g. approve, reject, abstain")
    p.add_argument("--totp", help="one-time code confirming the ballot (prompted if missing)")
    p.add_argument("--voter", type=int, help="your user id (default: the UID in your certificate)")
    p.add_argument("--keep", type=Path, help="folder to keep the signed ballot, signature and receipt in")
    p.set_defaults(func=_cmd_vote)
    p = sub.add_parser("receipt", help="Fetch a ballot's receipt; with --pubkey, check its audit inclusion proof")
    server_args(p)
    p.add_argument("--poll", required=True, type=int)
    p.add_argument("--ballot", required=True, help="the ballot's SHA-256")
    p.add_argument("--pubkey", type=Path, help="the audit log's public key (ecabinet audit pubkey)")
    p.set_defaults(func=_cmd_receipt)
