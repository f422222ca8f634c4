"""RFC 6962 Merkle tree: the Certificate Transparency test vectors, and pymerkle on random leaves."""

from __future__ import annotations

import hashlib
import random

import pytest
from pymerkle import InmemoryTree
from pymerkle import verify_inclusion as pymerkle_verify_inclusion

from ecabinet.audit.core import merkle

# The eight leaves and the expected roots, inclusion and consistency proofs of the Certificate
# Transparency / transparency-dev/merkle test suite (proof/verify_test.go).
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf number counted from 1, tree size, audit path)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
LEAF_HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def test_hash_prefixes_follow_rfc_6962():
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert merkle.root_of([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_ct_vectors(size):
    assert merkle.root_of(LEAF_HASHES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_ct_vectors(leaf, size, path):
    index = leaf - 1
    proof = merkle.inclusion_proof(LEAF_HASHES, index, size)
    assert hexes(proof) == path
    root = bytes.fromhex(ROOTS[size - 1])
    assert merkle.root_from_inclusion_proof(index, size, LEAF_HASHES[index], proof) == root
    assert merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, root)


@pytest.mark.parametrize(("size1", "size2", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_ct_vectors(size1, size2, path):
    proof = merkle.consistency_proof(LEAF_HASHES, size1, size2)
    assert hexes(proof) == path
    assert merkle.verify_consistency(size1, size2, proof, bytes.fromhex(ROOTS[size1 - 1]), bytes.fromhex(ROOTS[size2 - 1]))


@pytest.mark.parametrize(("leaf", "size", "path"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(leaf, size, path):
    index, proof, root = leaf - 1, [bytes.fromhex(h) for h in path], bytes.fromhex(ROOTS[size - 1])
    good = LEAF_HASHES[index]
    wrong = [
        (index ^ 1, size, good, proof, root),
        (index, size * 2, good, proof, root),
        (index, max(size // 2, 1), good, proof, root),
        (index, size, merkle.leaf_hash(b"WrongLeaf"), proof, root),
        (index, size, good, proof, merkle.EMPTY_ROOT),
        (index, size, good, [*proof, root], root),
        (index, size, good, [root, *proof], root),
        (index, size, good, proof[:-1], root),
        (index, size, good, [*proof[:-1], b"\x00" * 31], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        wrong.append((index, size, good, flipped, root))
    for case in wrong:
        if case[0] < case[1]:
            assert not merkle.verify_inclusion(*case), case
    with pytest.raises(merkle.ProofError):
        merkle.root_from_inclusion_proof(size, size, good, proof)


@pytest.mark.parametrize(("size1", "size2", "path"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(size1, size2, path):
    proof = [bytes.fromhex(h) for h in path]
    root1, root2 = bytes.fromhex(ROOTS[size1 - 1]), bytes.fromhex(ROOTS[size2 - 1])
    wrong = [
        (size1 - 1, size2, proof, root1, root2),
        (size1 + 1, size2, proof, root1, root2),
        (size1, size2 * 2, proof, root1, root2),
        (size1, size2, proof, root2, root1),
        (size1, size2, [], root1, root2),
        (size1, size2, [*proof, root1], root1, root2),
        (size1, size2, [root2, *proof], root1, root2),
        (size1, size2, proof[:-1], root1, root2),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        wrong.append((size1, size2, flipped, root1, root2))
    for case in wrong:
        if 0 < case[0] <= case[1] and case[0] != case[1]:
            assert not merkle.verify_consistency(*case), case


def test_trivial_consistency_cases():
    root = bytes.fromhex(ROOTS[3])
    assert merkle.verify_consistency(0, 4, [], merkle.EMPTY_ROOT, root)
    assert merkle.verify_consistency(4, 4, [], root, root)
    assert not merkle.verify_consistency(4, 4, [root], root, root)
    assert not merkle.verify_consistency(4, 4, [], root, merkle.EMPTY_ROOT)
    assert not merkle.verify_consistency(5, 4, [], root, root)


def test_compact_range_grows_like_the_full_tree():
    rng = random.Random(6962)
    leaves = [merkle.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(130)]
    tree = merkle.CompactRange()
    assert tree.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.size == n
        assert len(tree.hashes) == bin(n).count("1")
        resumed = merkle.CompactRange(tree.size, list(tree.hashes))
        assert resumed.root() == tree.root() == merkle.root_of(leaves[:n])


def test_compact_range_refuses_a_wrong_shape():
    with pytest.raises(merkle.ProofError):
        merkle.CompactRange(3, [b"\x00" * 32])
    with pytest.raises(merkle.ProofError):
        merkle.CompactRange(1, [b"\x00" * 31])


def test_proofs_can_be_made_from_a_stream():
    rng = random.Random(9162)
    leaves = [merkle.leaf_hash(rng.randbytes(8)) for _ in range(77)]
    for size in (1, 2, 31, 64, 77):
        for index in {0, size // 2, size - 1}:
            streamed = merkle.hash_ranges(merkle.inclusion_ranges(index, size), iter(leaves[:size]))
            assert streamed == merkle.inclusion_proof(leaves, index, size)
    with pytest.raises(merkle.ProofError):
        merkle.hash_ranges(merkle.inclusion_ranges(10, 20), iter(leaves[:5]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_pymerkle_on_random_leaves(seed):
    rng = random.Random(seed)
    data = [rng.randbytes(rng.randrange(0, 64)) for _ in range(rng.randrange(40, 90))]
    reference = InmemoryTree(algorithm="sha256")
    for item in data:
        reference.append_entry(item)
    leaves = [merkle.leaf_hash(item) for item in data]
    for size in range(1, len(data) + 1):
        assert merkle.root_of(leaves[:size]) == reference.get_root(size), size
    for _ in range(60):
        size = rng.randrange(1, len(data) + 1)
        index = rng.randrange(size)
        ours = merkle.inclusion_proof(leaves, index, size)
        theirs = reference.prove_inclusion(index + 1, size)
        # pymerkle's path starts with the leaf itself, then the RFC 6962 audit path.
        assert theirs.serialize()["path"] == hexes([leaves[index], *ours])
        assert reference.get_leaf(index + 1) == leaves[index]
        pymerkle_verify_inclusion(leaves[index], reference.get_root(size), theirs)  # raises if it does not hold
        assert merkle.verify_inclusion(index, size, leaves[index], ours, reference.get_root(size))
        first = rng.randrange(1, size + 1)
        consistency = merkle.consistency_proof(leaves, first, size)
        assert merkle.verify_consistency(first, size, consistency, reference.get_root(first), reference.get_root(size))
