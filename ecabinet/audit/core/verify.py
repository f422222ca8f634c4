"""Checking a stored audit log against itself and against its signed checkpoints, without Django.

Two independent checks, because each catches what the other cannot:

* the hash chain: ``seq`` counts up from 0 with no gap, each entry hashes to its stored
  ``entry_hash``, and each ``prev_hash`` is the stored hash of the entry before. A single
  modified, deleted, inserted or reordered row breaks it at that row.
* the signed checkpoints: the Merkle root recomputed over the first ``size`` entries equals
  the root the installation key signed. Someone who can write the table can rebuild a consistent
  chain, but cannot sign, so a rewrite of any entry a checkpoint covers is caught here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecabinet.audit.core import merkle, note
from ecabinet.audit.core.chain import GENESIS_HASH, EntryFields


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass(frozen=True)
class StoredEntry:
    fields: EntryFields
    entry_hash: str


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root_hash: str
    origin: str
    note: str
    frontier: Sequence[str] = ()
    head_hash: str = ""


@dataclass(frozen=True)
class Problem:
    message: str
    seq: int | None = None
    checkpoint_size: int | None = None

    def __str__(self) -> str:
        where = f"entry #{self.seq}" if self.seq is not None else f"checkpoint of size {self.checkpoint_size}"
        return f"{where}: {self.message}"


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    latest_checkpoint_size: int | None = None
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def first_problem(self) -> Problem | None:
        bad = self.first_bad_seq
        if bad is not None:
            return next(p for p in self.problems if p.seq == bad)
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        if self.ok:
            signed = f"latest signed checkpoint covers {self.latest_checkpoint_size}" if self.latest_checkpoint_size is not None else "no signed checkpoint yet"
            entries = _count(self.entries, "audit entry", "audit entries")
            checkpoints = _count(self.checkpoints, "checkpoint", "checkpoints")
            return f"OK: {entries}, hash chain intact; {checkpoints} verified ({signed})"
        first = self.first_problem()
        more = f" ({len(self.problems)} problems{'+' if self.truncated else ''})" if len(self.problems) > 1 else ""
        return f"FAILED: {first}{more}"


def check_checkpoint_note(checkpoint: StoredCheckpoint, *, name: str, public_key: Ed25519PublicKey) -> list[Problem]:
    """The signature, and that the stored columns say what the signed note says."""
    problems: list[Problem] = []

    def bad(message: str) -> None:
        problems.append(Problem(message, checkpoint_size=checkpoint.size))

    try:
        signed = note.open_checkpoint(checkpoint.note, name, public_key)
    except note.NoteError as exc:
        bad(f"signature does not verify with the installation key: {exc}")
        return problems
    if signed.origin != checkpoint.origin or signed.origin != name:
        bad(f"signed for origin {signed.origin!r}, expected {name!r}")
    if signed.size != checkpoint.size:
        bad(f"the signed note says size {signed.size}")
    if signed.root.hex() != checkpoint.root_hash:
        bad("the stored root differs from the signed root")
    if checkpoint.frontier:
        try:
            folded = merkle.CompactRange(checkpoint.size, [bytes.fromhex(h) for h in checkpoint.frontier]).root()
        except (ValueError, merkle.ProofError):
            bad("the stored compact range is malformed")
        else:
            if folded != signed.root:
                bad("the stored compact range does not fold to the signed root")
    return problems


class LogVerifier:
    """Feed entries in ``seq`` order; ``finish()`` returns what is wrong, first problem first.

    ``start`` lets a check begin after a checkpoint whose compact range and head hash have been
    checked already (the quick check); the full check starts from the genesis.
    """

    def __init__(
        self,
        *,
        name: str,
        public_key: Ed25519PublicKey,
        checkpoints: Iterable[StoredCheckpoint] = (),
        start: merkle.CompactRange | None = None,
        prev_hash: str = GENESIS_HASH,
        max_problems: int = 50,
    ) -> None:
        self.name = name
        self.public_key = public_key
        self.tree = start.copy() if start is not None else merkle.CompactRange()
        self.expected_seq = self.tree.size
        self.prev_hash = prev_hash
        self.max_problems = max_problems
        self.report = Report()
        self.pending = deque(sorted((c for c in checkpoints if c.size > self.tree.size), key=lambda c: c.size))
        self.last_good_size = self.tree.size

    def _problem(self, problem: Problem) -> None:
        if len(self.report.problems) < self.max_problems:
            self.report.problems.append(problem)
        else:
            self.report.truncated = True

    def feed(self, entry: StoredEntry) -> None:
        fields = entry.fields
        seq = fields.seq
        if seq != self.expected_seq:
            if seq > self.expected_seq:
                gone = f"#{self.expected_seq}" if seq == self.expected_seq + 1 else f"#{self.expected_seq}..#{seq - 1}"
                self._problem(Problem(f"missing: the log goes on at #{seq} (entry {gone} was deleted or renumbered)", seq=self.expected_seq))
            else:
                self._problem(Problem(f"out of place: found after #{self.expected_seq - 1} (inserted or renumbered)", seq=seq))
        if fields.entry_hash() != entry.entry_hash:
            self._problem(Problem("its content does not match its hash (modified, or moved to another seq)", seq=seq))
        if fields.prev_hash != self.prev_hash:
            self._problem(
                Problem(
                    f"prev_hash is not the hash of the entry before it (#{seq - 1} was rewritten, or an entry was inserted or removed here)",
                    seq=seq,
                )
            )
        self.prev_hash = entry.entry_hash
        self.expected_seq = seq + 1
        self.tree.append(fields.leaf_hash())
        self.report.entries += 1
        while self.pending and self.pending[0].size == self.tree.size:
            self._check_root(self.pending.popleft())

    def _check_root(self, checkpoint: StoredCheckpoint) -> None:
        problems = check_checkpoint_note(checkpoint, name=self.name, public_key=self.public_key)
        for problem in problems:
            self._problem(problem)
        self.report.checkpoints += 1
        if problems:
            return
        if self.tree.root().hex() != checkpoint.root_hash:
            lo, hi = self.last_good_size, checkpoint.size - 1
            if any(p.seq is not None and p.seq <= hi for p in self.report.problems):
                # The chain already says which entry is bad; the root only confirms it.
                self._problem(Problem("the Merkle root of the entries it covers differs from the signed root", checkpoint_size=checkpoint.size))
            else:
                span = f"#{lo}" if lo == hi else f"#{lo}..#{hi}"
                self._problem(
                    Problem(
                        f"entries {span} differ from what the checkpoint of size {checkpoint.size} signed (rewritten, though the chain links)",
                        seq=lo,
                        checkpoint_size=checkpoint.size,
                    )
                )
        else:
            self.last_good_size = checkpoint.size
            self.report.latest_checkpoint_size = checkpoint.size
        if checkpoint.head_hash and checkpoint.head_hash != self.prev_hash:
            self._problem(Problem("the stored head hash differs from the last entry it covers", checkpoint_size=checkpoint.size))

    def finish(self) -> Report:
        for checkpoint in self.pending:
            # Signed for more entries than the log now holds: the tail was deleted.
            self._problem(
                Problem(
                    f"the checkpoint of size {checkpoint.size} signed entries up to #{checkpoint.size - 1}, but the log ends before",
                    seq=self.tree.size,
                    checkpoint_size=checkpoint.size,
                )
            )
            self.report.checkpoints += 1
        self.pending.clear()
        return self.report


def verify_log(
    entries: Iterable[StoredEntry],
    checkpoints: Iterable[StoredCheckpoint],
    *,
    name: str,
    public_key: Ed25519PublicKey,
    max_problems: int = 50,
) -> Report:
    verifier = LogVerifier(name=name, public_key=public_key, checkpoints=checkpoints, max_problems=max_problems)
    for entry in entries:
        verifier.feed(entry)
    return verifier.finish()
