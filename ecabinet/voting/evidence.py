"""Writing a closed poll's evidence folder (``ecabinet poll evidence POLL_ID DIR``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ecabinet.audit import signing
from ecabinet.audit.actions import record
from ecabinet.pki import actions as pki_actions
from ecabinet.pki import authority
from ecabinet.pki.core import cms as cms_core
from ecabinet.voting import errors, events
from ecabinet.voting.core import evidence as evidence_core
from ecabinet.voting.models import Ballot, Poll

README = """\
Evidence of poll {poll} — {question}

Every ballot was signed on the member's own device (tablet WebCrypto key or ecabinet-sign
PKCS#12 file) with ECDSA P-256/SHA-256. The server never held those keys: each NAME.p7s is a
detached CMS SignedData built around the member's own signature (no signed attributes, so the
signature is over NAME.json itself), with the member's certificate inside.

Files
  ballot-SEQ.json   the exact bytes the member signed (RFC 8785 canonical JSON); SEQ is the
                    audit log entry that recorded its SHA-256 when the server accepted it
  ballot-SEQ.p7s    detached CMS SignedData (DER) over ballot-SEQ.json
  ca.pem            the issuing CA and the root (compare the root's fingerprint with the one the
                    government office publishes: openssl x509 -in ca.pem -noout -fingerprint -sha256)
  *.crl             the CRLs of the issuing CA and the root at export time (DER)
  result.json       the result signed at closing: question, eligible voters, every ballot (hash,
                    choice, time received, whether it counts), the tally with the rule applied
  result.sig        raw Ed25519 signature over result.json by the installation key that also signs
                    the audit log's checkpoints
  result-signer.pem that public key (check it against 'ecabinet audit pubkey' kept by auditors)

Check one ballot (a single changed byte in the .json makes it fail):
  openssl cms -verify -binary -inform DER -in ballot-SEQ.p7s -content ballot-SEQ.json \\
      -CAfile ca.pem -purpose any -out /dev/null
Who signed it, and was the certificate revoked (and when)?
  openssl cms -cmsout -print -inform DER -in ballot-SEQ.p7s | grep -A3 subject
  openssl crl -inform DER -in issuing.crl -noout -text
  (a certificate revoked after the ballot's received_at in result.json was valid when it signed)
Check the signed result:
  openssl pkeyutl -verify -pubin -inkey result-signer.pem -rawin -in result.json -sigfile result.sig
Check the whole folder (signatures, chain, revocation at signing time, one counted ballot per
voter, the tally recomputed with the rule):
  ecabinet poll verify .
Check that a ballot is in the signed audit log:
  ecabinet audit proof SEQ     (then 'ecabinet audit verify-proof', see docs/audit.md)
"""


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def evidence_files(poll: Poll) -> dict[str, bytes]:
    """Every file of the evidence folder, by name."""
    if poll.state != Poll.State.CLOSED or poll.result_bytes is None:
        raise errors.PollWrongState("Evidence is exported once the poll is closed.", state=poll.state)
    pki_actions.current_crl()  # renewed if due, so the folder carries a fresh one
    store = authority.trust_store()
    files: dict[str, bytes] = {}
    intermediates = list(store.intermediates)
    for ballot in Ballot.objects.filter(poll=poll).select_related("certificate").order_by("audit_seq"):
        cert = x509.load_pem_x509_certificate(ballot.certificate.certificate_pem.encode())
        name = evidence_core.ballot_name(ballot.audit_seq)
        content = bytes(ballot.data)
        issuers = [c for c in intermediates if c.subject == cert.issuer]
        files[f"{name}.json"] = content
        files[f"{name}.p7s"] = cms_core.detached_signed_data(content, bytes(ballot.signature), cert, extra_certificates=issuers)
    files[evidence_core.CA_FILE] = authority.chain_pem().encode()
    for crl in store.crls:
        issuer = next((a for a in [*authority.intermediates(), *authority.anchors()] if authority.certificate(a).subject == crl.issuer), None)
        label = issuer.kind if issuer is not None else "ca"
        files[f"{label}.crl"] = crl.public_bytes(serialization.Encoding.DER)
    files[evidence_core.RESULT] = bytes(poll.result_bytes)
    files[evidence_core.RESULT_SIG] = bytes(poll.result_signature or b"")
    files[evidence_core.RESULT_KEY] = signing.public_key_pem().encode()
    files["README.txt"] = README.format(poll=poll.pk, question=poll.question).encode()
    return files


def export(poll: Poll, *, acting_user: Any = None, source_ip: str | None = None, channel: str = "cli") -> dict[str, bytes]:
    files = evidence_files(poll)
    record(
        events.EVIDENCE_EXPORTED,
        actor=acting_user,
        obj=poll,
        source_ip=source_ip,
        details={"channel": channel, "ballots": sum(1 for n in files if n.endswith(".p7s")), "files": len(files)},
    )
    return files


def write_folder(files: dict[str, bytes], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


def as_zip(files: dict[str, bytes], prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(f"{prefix}/{name}", content)
    return buffer.getvalue()
