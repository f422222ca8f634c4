"""Reading the stored log back and checking it: the full walk, and the quick one for the page."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from ecabinet.audit import db_guard, events, signing
from ecabinet.audit.actions import entries_from
from ecabinet.audit.core import merkle
from ecabinet.audit.core.verify import LogVerifier, Problem, Report, check_checkpoint_note
from ecabinet.audit.models import AuditEntry, Checkpoint


@dataclass
class Result:
    report: Report
    quick: bool
    missing_guards: list[str] = field(default_factory=list)


def full_verify(*, max_problems: int = 50) -> Result:
    """Every entry from #0 and every checkpoint: chain links, hashes, signatures and roots."""
    # Checkpoints first: each covers only entries committed before it, so the entries read after
    # include everything every checkpoint read here signed.
    checkpoints = [c.stored() for c in Checkpoint.objects.order_by("size")]
    verifier = LogVerifier(name=signing.signer_name(), public_key=signing.public_key(), checkpoints=checkpoints, max_problems=max_problems)
    for entry in entries_from(0):
        verifier.feed(entry.stored())
    return Result(report=verifier.finish(), quick=False, missing_guards=db_guard.missing(connection))


def quick_check(*, max_problems: int = 10) -> Result:
    """The latest checkpoint's signature, and the chain from the entry it covers to the end.

    Cost grows with the entries written since that checkpoint only, so the security officer's page
    can run it on every view; ``ecabinet audit verify`` is the full check.
    """
    name, public_key = signing.signer_name(), signing.public_key()
    latest = Checkpoint.objects.order_by("-size").first()
    if latest is None:
        verifier = LogVerifier(name=name, public_key=public_key, max_problems=max_problems)
        for entry in entries_from(0):
            verifier.feed(entry.stored())
        return Result(report=verifier.finish(), quick=True, missing_guards=db_guard.missing(connection))
    report = Report(checkpoints=1)
    report.problems.extend(check_checkpoint_note(latest.stored(), name=name, public_key=public_key))
    if not latest.frontier:
        report.problems.append(Problem("no compact range is stored with it", checkpoint_size=latest.size))
    head = AuditEntry.objects.filter(seq=latest.size - 1).first()
    if head is None:
        report.problems.append(Problem(f"deleted, though the checkpoint of size {latest.size} covers it", seq=latest.size - 1))
    elif head.fields().entry_hash() != head.entry_hash or head.entry_hash != latest.head_hash:
        report.problems.append(Problem(f"changed since the checkpoint of size {latest.size} signed it", seq=latest.size - 1))
    if report.problems:
        return Result(report=report, quick=True, missing_guards=db_guard.missing(connection))
    start = merkle.CompactRange(latest.size, [bytes.fromhex(h) for h in latest.frontier])
    verifier = LogVerifier(name=name, public_key=public_key, start=start, prev_hash=latest.head_hash, max_problems=max_problems)
    for entry in entries_from(latest.size):
        verifier.feed(entry.stored())
    tail = verifier.finish()
    tail.checkpoints = 1
    tail.latest_checkpoint_size = latest.size
    return Result(report=tail, quick=True, missing_guards=db_guard.missing(connection))


def latest_full_verification() -> AuditEntry | None:
    return AuditEntry.objects.filter(event__in=[events.AUDIT_VERIFIED, events.AUDIT_VERIFY_FAILED]).order_by("-seq").first()
