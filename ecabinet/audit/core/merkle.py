"""RFC 6962 / RFC 9162 Merkle tree hashing, without Django.

Leaf hash ``SHA-256(0x00 || data)``, interior node ``SHA-256(0x01 || left || right)``, the empty tree
``SHA-256("")``. The tree over ``n`` leaves splits at the largest power of two below ``n``.

Proofs are described first as the leaf ranges whose subtree hashes they contain (pure arithmetic),
then hashed from the leaves in one forward pass, so a log of any length is proved with memory
that grows with ``log n`` only. ``CompactRange`` is the same idea for the running root: the
hashes of the perfect subtrees that make up the first ``n`` leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof or its parameters do not fit the tree sizes they claim."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The running root of a tree that only grows: one hash per set bit of ``size``.

    ``hashes`` are the roots of the perfect subtrees covering leaves ``[0, size)``, largest first.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != bin(size).count("1"):
            raise ProofError(f"a compact range of size {size} holds {bin(max(size, 0)).count('1')} hashes, not {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ProofError("every hash in a compact range is 32 bytes")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash, merging the perfect subtrees it completes."""
        merged = leaf
        size = self.size
        while size & 1:
            merged = node_hash(self.hashes.pop(), merged)
            size >>= 1
        self.hashes.append(merged)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for subtree in reversed(self.hashes[:-1]):
            result = node_hash(subtree, result)
        return result

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.hashes)


def root_of(leaves: Iterable[bytes]) -> bytes:
    """Merkle tree hash of leaf hashes given in order."""
    tree = CompactRange()
    tree.extend(leaves)
    return tree.root()


# -- which subtrees a proof holds ---------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[start, end)`` whose subtree hashes form the audit path, in proof order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    # RFC 6962 PATH(m, D[lo:hi]) recurses into the half holding m and appends the other half's hash;
    # walking down and then reversing gives the same order without recursion.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes prove that tree ``size1`` is a prefix of tree ``size2``."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"cannot prove size {size1} consistent with size {size2}")
    if size1 in (0, size2):
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    # RFC 6962 SUBPROOF(m, D[lo:hi], b), unrolled the same way as inclusion_ranges.
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            m -= k
            lo += k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def hash_ranges(ranges: Sequence[tuple[int, int]], leaves: Iterable[bytes]) -> list[bytes]:
    """The subtree hash of each range, reading the leaf hashes once from the start.

    The ranges must not overlap; ``leaves`` may be any iterator (rows streamed from a database).
    """
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    result: list[bytes | None] = [None] * len(ranges)
    need = max((end for _, end in ranges), default=0)
    pending = iter(order)
    current = next(pending, None)
    tree = CompactRange()
    for position, leaf in enumerate(leaves):
        if position >= need or current is None:
            break
        start, end = ranges[current]
        if position >= start:
            tree.append(leaf)
        if position + 1 == end:
            result[current] = tree.root()
            tree = CompactRange()
            current = next(pending, None)
    if any(h is None for h in result):
        raise ProofError(f"the tree has fewer than {need} leaves")
    return [h for h in result if h is not None]


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    size = len(leaves) if size is None else size
    return hash_ranges(inclusion_ranges(index, size), leaves[:size])


def consistency_proof(leaves: Sequence[bytes], size1: int, size2: int | None = None) -> list[bytes]:
    size2 = len(leaves) if size2 is None else size2
    return hash_ranges(consistency_ranges(size1, size2), leaves[:size2])


# -- checking proofs (RFC 9162 section 2.1.3.2 and 2.1.4.2) ------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash(leaf, "the leaf hash")
    fn, sn, result = index, size - 1, leaf
    for step in proof:
        _check_hash(step, "a proof hash")
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(step, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, step)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) == root
    except ProofError:
        return False


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> bool:
    if not 0 <= size1 <= size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof or any(len(p) != HASH_SIZE for p in proof) or len(root1) != HASH_SIZE or len(root2) != HASH_SIZE:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # A power of two: the old tree is itself a node of the new one, so the proof omits it.
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for step in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(step, fr)
            sr = node_hash(step, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, step)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2
