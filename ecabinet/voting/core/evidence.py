"""Checking a poll's evidence folder offline: what ``ecabinet poll verify DIR`` runs.

The folder (written by ``ecabinet poll evidence``) holds, for each ballot ``ballot-SEQ``:
``ballot-SEQ.json`` (the exact signed bytes) and ``ballot-SEQ.p7s`` (detached CMS SignedData, DER,
with the member's certificate); ``ca.pem`` (issuing CA and root); the CRLs (``*.crl``);
``result.json`` (canonical JSON), ``result.sig`` (raw Ed25519 signature over it) and
``result-signer.pem`` (the installation's public key). Nothing here trusts the server: every
signature, path, revocation date and count is recomputed from those files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from ecabinet.pki.core import ca as ca_core
from ecabinet.pki.core.check import TrustStore, check_certificate
from ecabinet.pki.core.cms import verify_detached_signed_data
from ecabinet.pki.core.errors import PkiCoreError
from ecabinet.voting.core import tally as tally_core
from ecabinet.voting.core.ballot import parse_ballot, statement_sha256
from ecabinet.voting.core.canonical import CanonicalError, parse_canonical
from ecabinet.voting.core.errors import VotingCoreError

RESULT = "result.json"
RESULT_SIG = "result.sig"
RESULT_KEY = "result-signer.pem"
CA_FILE = "ca.pem"


def ballot_name(audit_seq: int) -> str:
    return f"ballot-{audit_seq:08d}"


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    ballots: int = 0
    counted: int = 0
    poll: int | None = None
    tally: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def load_trust(folder: Path) -> TrustStore:
    certs = ca_core.load_certificates((folder / CA_FILE).read_bytes())
    anchors = [c for c in certs if c.subject == c.issuer]
    crls = [ca_core.load_crl(p.read_bytes()) for p in sorted(folder.glob("*.crl"))]
    return TrustStore(anchors=anchors, intermediates=[c for c in certs if c not in anchors], crls=crls)


def _check_result_signature(folder: Path, data: bytes, report: Report) -> None:
    try:
        key = serialization.load_pem_public_key((folder / RESULT_KEY).read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 key")
        key.verify((folder / RESULT_SIG).read_bytes(), data)
    except FileNotFoundError as exc:
        report.add(f"{Path(exc.filename).name} is missing")
    except InvalidSignature:
        report.add("result.sig is not the installation's signature over result.json")
    except ValueError as exc:
        report.add(f"{RESULT_KEY}: {exc}")


def _certificate_uid(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(values[0].value) if values else None


def verify_folder(folder: Path) -> Report:
    """Every check; never raises for a defect in the folder, lists them instead."""
    report = Report()
    try:
        data = (folder / RESULT).read_bytes()
        result = parse_canonical(data)
    except FileNotFoundError:
        report.add("result.json is missing")
        return report
    except CanonicalError as exc:
        report.add(f"result.json is not canonical JSON: {exc}")
        return report
    _check_result_signature(folder, data, report)
    if not isinstance(result, dict) or result.get("format") != "ecabinet-poll-result/1":
        report.add("result.json is not an ecabinet-poll-result/1 document")
        return report
    report.poll = result["poll"]
    statement = result["statement"]
    if statement_sha256(statement) != result["question_sha256"] or statement.get("poll") != result["poll"]:
        report.add("the question hash in result.json does not match its statement")
    option_keys = [o["key"] for o in statement["options"]]
    eligible = set(result["eligible"])
    try:
        trust = load_trust(folder)
    except (OSError, PkiCoreError) as exc:
        report.add(f"cannot read the CA chain or CRLs: {exc}")
        return report
    listed = {ballot_name(b["audit_seq"]) for b in result["ballots"]}
    for path in sorted(folder.glob("ballot-*.json")):
        if path.stem not in listed:
            report.add(f"{path.name} is in the folder but not in the signed result")
    cast: list[tally_core.CastBallot] = []
    for entry in result["ballots"]:
        name = ballot_name(entry["audit_seq"])
        report.ballots += 1
        problem = _check_ballot(folder, name, entry, result, option_keys, eligible, trust)
        if problem:
            report.add(f"{name}: {problem}")
        cast.append(tally_core.CastBallot(voter=entry["voter"], choice=entry["choice"], order=entry["audit_seq"], sha256=entry["ballot_sha256"]))
    counted, _ = tally_core.counted_ballots(cast)
    report.counted = len(counted)
    counted_hashes = {b.sha256 for b in counted}
    for entry in result["ballots"]:
        if bool(entry["counted"]) != (entry["ballot_sha256"] in counted_hashes):
            report.add(f"{ballot_name(entry['audit_seq'])}: marked counted={entry['counted']}, but the last ballot of each voter is what counts")
    voters = [b.voter for b in counted]
    if len(voters) != len(set(voters)):
        report.add("a voter has more than one counted ballot")
    try:
        tally = tally_core.tally(
            option_keys=option_keys,
            choices=[b.choice for b in counted],
            eligible=len(eligible),
            rule=statement["rule"],
            quorum=(statement["quorum"][0], statement["quorum"][1]),
        )
    except ValueError as exc:
        report.add(f"cannot recount: {exc}")
        return report
    report.tally = tally
    if tally != result["tally"]:
        report.add(f"the recomputed tally {json.dumps(tally, sort_keys=True)} differs from the signed one {json.dumps(result['tally'], sort_keys=True)}")
    return report


def _check_ballot(
    folder: Path, name: str, entry: dict[str, Any], result: dict[str, Any], option_keys: list[str], eligible: set[int], trust: TrustStore
) -> str | None:
    try:
        content = (folder / f"{name}.json").read_bytes()
        p7s = (folder / f"{name}.p7s").read_bytes()
    except FileNotFoundError as exc:
        return f"{Path(exc.filename).name} is missing"
    if hashlib.sha256(content).hexdigest() != entry["ballot_sha256"]:
        return "the ballot bytes do not hash to the value in the signed result"
    try:
        envelope = verify_detached_signed_data(p7s, content)
        ballot = parse_ballot(content)
    except (PkiCoreError, VotingCoreError) as exc:
        return str(exc)
    cert = envelope.certificate
    if ca_core.fingerprint(cert) != ballot.certificate_sha256:
        return "the ballot names another certificate than the one that signed it"
    if ballot.poll != result["poll"] or ballot.question_sha256 != result["question_sha256"]:
        return "the ballot was signed for another poll or question"
    if ballot.voter != entry["voter"] or ballot.choice != entry["choice"]:
        return "the signed ballot and the result disagree on the voter or the choice"
    if ballot.choice not in option_keys:
        return f"{ballot.choice!r} is not an option"
    if ballot.voter not in eligible:
        return f"voter {ballot.voter} was not eligible"
    uid = _certificate_uid(cert)
    if uid is not None and uid != str(ballot.voter):
        return f"the certificate belongs to user {uid}, not voter {ballot.voter}"
    try:
        check_certificate(cert, at=_parse_time(entry["received_at"]), trust=trust)
    except PkiCoreError as exc:
        return f"certificate at signing time ({entry['received_at']}): {exc.code}: {exc}"
    return None
