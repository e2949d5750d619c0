"""RFC 6962 / RFC 9162 Merkle trees: conformance vectors, a known answer, and the fast
tree checked against the RFC's own recursive definitions."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
VECTORS = REPO_ROOT / "tests" / "data" / "rfc6962-merkle"
SHARED_VECTORS = REPO_ROOT.parent / "shared" / "testvectors" / "rfc6962-merkle"
INCLUSION = sorted(VECTORS.glob("inclusion/**/*.json"))
CONSISTENCY = sorted(VECTORS.glob("consistency/**/*.json"))


def ids(paths: Sequence[Path]) -> list[Any]:
    return [pytest.param(p, id=p.relative_to(VECTORS).as_posix()) for p in paths]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def proof_of(vector: dict[str, Any]) -> list[bytes]:
    return [b64(h) for h in vector["proof"] or []]


# The RFC 9162 §2.1 definitions, written as literally as possible.


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def rfc_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), mth(d[:k])]


def rfc_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = split(len(d))
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), mth(d[:k])]


def leaves(n: int) -> list[bytes]:
    """n distinct leaf hashes."""
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# Conformance vectors (transparency-dev/merkle testdata).


def test_every_vector_was_found() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98
    assert sum(not load(p)["wantErr"] for p in INCLUSION) == 6
    assert sum(not load(p)["wantErr"] for p in CONSISTENCY) == 6


@pytest.mark.parametrize("path", ids(INCLUSION))
def test_inclusion_vector(path: Path) -> None:
    v = load(path)
    args = (
        b64(v["leafHash"]),
        v["leafIdx"],
        v["treeSize"],
        proof_of(v),
        b64(v["root"]),
    )
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", ids(CONSISTENCY))
def test_consistency_vector(path: Path) -> None:
    v = load(path)
    args = (v["size1"], v["size2"], proof_of(v), b64(v["root1"]), b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def vendored_files(root: Path) -> dict[str, bytes]:
    files = [root / "LICENSE"]
    for tree in ("inclusion", "consistency"):
        files += [p for p in (root / tree).rglob("*") if p.is_file()]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


@pytest.mark.skipif(
    not SHARED_VECTORS.is_dir(), reason=f"no shared copy at {SHARED_VECTORS}"
)
def test_vendored_vectors_match_the_shared_copy() -> None:
    assert vendored_files(VECTORS) == vendored_files(SHARED_VECTORS)


# Known answers and the RFC definitions.


def test_known_answer_for_the_rfc_6962_reference_leaves() -> None:
    inputs = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    hashes = [leaf_hash(bytes.fromhex(x)) for x in inputs]
    expected = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert MerkleTree(hashes).root().hex() == expected
    assert mth(hashes).hex() == expected
    assert EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_roots_agree_with_the_rfc_definition(data: list[bytes]) -> None:
    hashes = [leaf_hash(x) for x in data]
    tree, compact = MerkleTree(), CompactRange()
    assert tree.root() == compact.root() == EMPTY_ROOT
    for n, h in enumerate(hashes, start=1):
        tree.append(h)
        compact.append(h)
        assert tree.size == compact.size == n
        assert tree.root() == compact.root() == mth(hashes[:n])
    for n in range(len(hashes) + 1):
        assert tree.root(n) == mth(hashes[:n])


def test_every_proof_matches_the_rfc_and_verifies() -> None:
    d = leaves(40)
    tree = MerkleTree(d)
    for n in range(1, len(d) + 1):
        root = tree.root(n)
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == rfc_path(m, d[:n])
            verify_inclusion(d[m], m, n, proof, root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == rfc_subproof(m, d[:n], True)
            verify_consistency(m, n, proof, tree.root(m), root)


BIG = MerkleTree(leaves(80))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_tampered_inclusion_proofs_are_rejected(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 70), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, proof, root = (
        BIG.leaf(index),
        BIG.inclusion_proof(index, size),
        BIG.root(size),
    )
    verify_inclusion(leaf, index, size, proof, root)
    bit = data.draw(st.integers(0, 1 << 16), label="bit")
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="at")
        bad = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, bad, root)
    with pytest.raises(ProofError):
        verify_inclusion(flip(leaf, bit), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, flip(root, bit))
    other = data.draw(st.integers(0, 80).filter(lambda i: i != index), label="other")
    with pytest.raises(ProofError):
        verify_inclusion(leaf, other, size, proof, root)
    wrong = data.draw(st.integers(index + 1, 80).filter(lambda n: n != size))
    with pytest.raises(ProofError):  # even with the genuine root of that size
        verify_inclusion(leaf, index, wrong, proof, BIG.root(wrong))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_tampered_consistency_proofs_are_rejected(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(2, 70), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    proof = BIG.consistency_proof(size1, size2)
    root1, root2 = BIG.root(size1), BIG.root(size2)
    verify_consistency(size1, size2, proof, root1, root2)
    bit = data.draw(st.integers(0, 1 << 16), label="bit")
    at = data.draw(st.integers(0, len(proof) - 1), label="at")
    bad = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, bad, root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, flip(root1, bit), root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, flip(root2, bit))
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof[:-1], root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, [*proof, root1], root1, root2)
    wrong1 = data.draw(st.integers(1, size2).filter(lambda n: n != size1))
    with pytest.raises(ProofError):  # even with the genuine roots of those sizes
        verify_consistency(wrong1, size2, proof, BIG.root(wrong1), root2)
    wrong2 = data.draw(st.integers(size1, 80).filter(lambda n: n != size2))
    with pytest.raises(ProofError):
        verify_consistency(size1, wrong2, proof, root1, BIG.root(wrong2))


# Edges and messages.


def test_verifiers_explain_what_is_wrong() -> None:
    tree = MerkleTree(leaves(5))
    leaf, root, proof = tree.leaf(1), tree.root(), tree.inclusion_proof(1)
    with pytest.raises(ProofError, match="index 5 is outside a tree of size 5"):
        verify_inclusion(leaf, 5, 5, proof, root)
    with pytest.raises(ProofError, match="proof has 2 hashes, expected 3"):
        verify_inclusion(leaf, 1, 5, proof[:2], root)
    with pytest.raises(ProofError, match="hash is 31 bytes, expected 32"):
        verify_inclusion(leaf[:31], 1, 5, proof, root)
    with pytest.raises(ProofError, match="root mismatch"):
        verify_inclusion(tree.leaf(2), 1, 5, proof, root)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 5, [], EMPTY_ROOT, root)
    with pytest.raises(ProofError, match="greater than"):
        verify_consistency(5, 3, [], root, tree.root(3))
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(5, 5, [], root, tree.root(3))
    verify_consistency(5, 5, [], root, root)


def test_trees_refuse_out_of_range_requests() -> None:
    tree = MerkleTree(leaves(5))
    with pytest.raises(ValueError, match="index 5 is outside a tree of size 5"):
        tree.inclusion_proof(5)
    with pytest.raises(ValueError, match="index 3 is outside a tree of size 3"):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError, match=r"size 6 is outside 0\.\.5"):
        tree.root(6)
    with pytest.raises(ValueError, match="size -1"):
        tree.consistency_proof(1, -1)
    with pytest.raises(ValueError, match="old size 0"):
        tree.consistency_proof(0)
    with pytest.raises(ValueError, match="old size 4"):
        tree.consistency_proof(4, 3)
    with pytest.raises(ValueError, match="31 bytes"):
        tree.append(bytes(31))
    with pytest.raises(ValueError, match="33 bytes"):
        CompactRange().append(bytes(HASH_SIZE + 1))
    assert tree.consistency_proof(5) == []
    assert MerkleTree().root() == MerkleTree().root(0) == EMPTY_ROOT


def test_large_trees_stay_fast_and_agree() -> None:
    # 2**17 + 2**12 + 5 leaves: deep, with an incomplete right edge.
    d = leaves((1 << 17) + (1 << 12) + 5)
    tree, compact = MerkleTree(d), CompactRange()
    for h in d:
        compact.append(h)
    assert tree.root() == compact.root()
    for size in (1 << 17, (1 << 17) + 1, len(d) - 1):
        assert tree.root(size) == mth(d[:size])
        for index in (0, size // 3, size - 1):
            proof = tree.inclusion_proof(index, size)
            verify_inclusion(d[index], index, size, proof, tree.root(size))
        proof = tree.consistency_proof(size // 7 + 1, size)
        verify_consistency(
            size // 7 + 1, size, proof, tree.root(size // 7 + 1), tree.root(size)
        )


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=70))
def test_a_tree_built_at_once_is_the_tree_built_by_appending(n: int) -> None:
    hashes = [leaf_hash(bytes([i % 256, i // 256])) for i in range(n)]
    appended = MerkleTree(hashes)
    built = MerkleTree.of(hashes)
    assert built.size == n
    for size in range(n + 1):
        assert built.root(size) == appended.root(size)
    for index in range(n):
        assert built.inclusion_proof(index) == appended.inclusion_proof(index)
    if n:
        assert built.consistency_proof(1) == appended.consistency_proof(1)


def test_tree_peaks_at_any_size_equal_the_compact_ranges() -> None:
    tree, compact = MerkleTree(leaves(70)), CompactRange()
    assert tree.peaks(0) == compact.peaks == ()
    for size, h in enumerate(leaves(70), start=1):
        compact.append(h)
        assert tree.peaks(size) == compact.peaks
    with pytest.raises(ValueError, match="outside"):
        tree.peaks(71)
