"""RFC 6962 / RFC 9162 §2.1 Merkle trees: hashes, roots, inclusion and consistency proofs.

Hashing follows RFC 6962 §2.1 with SHA-256: a leaf hashes as SHA-256(0x00 || data), an
interior node as SHA-256(0x01 || left || right), the empty tree as SHA-256(""). A tree of
n > 1 leaves splits at k, the largest power of two below n: MTH(D[0:k]) on the left,
MTH(D[k:n]) on the right.

Internally a node is named by its level h (leaves are level 0) and index j: the complete
subtree over leaves [j * 2**h, (j + 1) * 2**h). Any RFC subtree is either such a node or
the last, incomplete node of its level, whose hash folds the complete subtrees of its
binary decomposition from the right. Proofs list siblings bottom-up, exactly as RFC 9162
§2.1.3.1 (inclusion path) and §2.1.4.1 (consistency proof) define them.

Everything here works on leaf hashes (32 bytes), never on raw entries: callers hash their
entries with `leaf_hash` first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from types import ModuleType

_native: ModuleType | None
try:  # the compiled fast path (syndicate/audit/_native.c), when it was built
    from syndicate.audit import _native
except ImportError:  # pragma: no cover - pure-Python installs
    _native = None

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleTree",
    "ProofError",
    "is_compiled",
    "leaf_hash",
    "node_hash",
    "parent_level",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash: leaf hashes, node hashes, roots and proof elements."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree, SHA-256 of the empty string."""


def is_compiled() -> bool:
    """Whether the compiled hashing module was built at install; without it the tree
    is computed in pure Python (same result, slower)."""
    return _native is not None


def parent_level(level: bytes | bytearray) -> bytes:
    """The level above `level` (concatenated 32-byte hashes): the node hash of each
    adjacent pair, left to right; an odd last hash has no parent on this level."""
    if len(level) % HASH_SIZE:
        raise ValueError(f"a level of {len(level)} bytes is not whole hashes")
    if _native is not None:
        return bytes(_native.parent_level(level))
    sha = hashlib.sha256
    return b"".join(
        sha(b"\x01" + level[i : i + 2 * HASH_SIZE]).digest()
        for i in range(0, len(level) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE)
    )


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class ProofError(ValueError):
    """A proof does not verify; the message says why in a few words."""


def _check_hash(value: bytes, what: str, error: type[ValueError]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Root over adjacent subtrees given left to right, largest first (RFC shape)."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _shape(index: int, size: int) -> tuple[int, int]:
    """For leaf `index` of a tree of `size` leaves, return (inner, border).

    Below level `inner` the leaf's path has a sibling at every level; from `inner` up the
    path runs along the tree's right edge and has a (left) sibling only where `index` has
    a 1 bit, `border` of them in all.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


class CompactRange:
    """Streaming root of an append-only list of leaf hashes in O(log n) memory.

    Keeps only the roots of the complete subtrees in the binary decomposition of `size`,
    largest (leftmost) first.
    """

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @classmethod
    def resume(cls, size: int, peaks: Sequence[bytes]) -> CompactRange:
        """A range continued from `size` and its `peaks` (as `peaks` returned them):
        appending goes on as if every earlier leaf had been appended here."""
        if size < 0 or len(peaks) != size.bit_count():
            raise ValueError(f"{len(peaks)} peaks do not describe {size} leaves")
        for peak in peaks:
            _check_hash(peak, "peak", ValueError)
        made = cls()
        made._size, made._peaks = size, list(peaks)
        return made

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the complete subtrees, largest first (one per set bit of `size`)."""
        return tuple(self._peaks)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes; ValueError otherwise)."""
        _check_hash(leaf_hash, "leaf hash", ValueError)
        node, carry = leaf_hash, self._size
        while carry & 1:
            node = node_hash(self._peaks.pop(), node)
            carry >>= 1
        self._peaks.append(node)
        self._size += 1

    def root(self) -> bytes:
        """Root of all leaves appended so far; EMPTY_ROOT when there are none."""
        return _fold(self._peaks)


class MerkleTree:
    """All leaf hashes in memory, with every complete subtree hash cached per level.

    Each level is one packed buffer of 32-byte hashes, so memory is about 64 bytes per
    leaf. `root(size)` and proofs for any earlier size cost O(log n) hash operations.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        for h in leaf_hashes:
            self.append(h)

    @classmethod
    def of(cls, leaf_hashes: Sequence[bytes]) -> MerkleTree:
        """The same tree as appending each hash in turn, built level by level (several
        times faster for a whole log)."""
        for h in leaf_hashes:
            _check_hash(h, "leaf hash", ValueError)
        return cls.packed(b"".join(leaf_hashes))

    @classmethod
    def packed(cls, leaf_hashes: bytes | bytearray) -> MerkleTree:
        """`of` for leaf hashes given as one buffer of 32-byte hashes, end to end."""
        if len(leaf_hashes) % HASH_SIZE:
            raise ValueError(f"{len(leaf_hashes)} bytes are not whole leaf hashes")
        tree = cls()
        tree._levels = [bytearray(leaf_hashes)]
        while len(tree._levels[-1]) >= 2 * HASH_SIZE:
            tree._levels.append(bytearray(parent_level(tree._levels[-1])))
        return tree

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes; ValueError otherwise)."""
        _check_hash(leaf_hash, "leaf hash", ValueError)
        self._levels[0] += leaf_hash
        level = 0
        while len(self._levels[level]) // HASH_SIZE % 2 == 0:  # a parent completed
            nodes = self._levels[level]
            if level + 1 == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level + 1] += hashlib.sha256(
                b"\x01" + nodes[-2 * HASH_SIZE :]
            ).digest()
            level += 1

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index` (ValueError when out of range)."""
        self._check_index(index, self.size)
        return self._node(0, index)

    def leaves(self) -> list[bytes]:
        """Every leaf hash, in order."""
        return [self._node(0, i) for i in range(self.size)]

    def _node(self, level: int, index: int) -> bytes:
        """The hash of complete node `index` on `level`."""
        return bytes(self._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """Root of the first `size` leaves (default: all); EMPTY_ROOT for size 0."""
        size = self._check_size(size)
        return self._range(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion path of leaf `index` in the tree of `size` leaves.

        Requires 0 <= index < size <= self.size (ValueError otherwise).
        """
        size = self._check_size(size)
        self._check_index(index, size)
        return self._path(index, 0, size)

    def consistency_proof(
        self, old_size: int, new_size: int | None = None
    ) -> list[bytes]:
        """RFC 9162 §2.1.4.1 proof that the first `old_size` leaves are a prefix of the
        first `new_size` leaves (default: all).

        Requires 0 < old_size <= new_size <= self.size (ValueError otherwise); the RFC
        defines no proof from the empty tree. Equal sizes give the empty proof.
        """
        new_size = self._check_size(new_size)
        if not 0 < old_size <= new_size:
            raise ValueError(
                f"old size {old_size} must be in 1..{new_size} (the new size)"
            )
        if old_size == new_size:
            return []
        # The last complete subtree of the old tree (level `shift`) is a node of both
        # trees; the proof starts from it, omitted when it is the whole old tree.
        index = old_size - 1
        shift = (old_size & -old_size).bit_length() - 1
        seed = [] if old_size == 1 << shift else [self._node(shift, index >> shift)]
        return seed + self._path(index, shift, new_size)

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        """Siblings of the ancestors of leaf `index` from level `start` up, bottom-up,
        in the tree of the first `size` leaves."""
        inner, _ = _shape(index, size)
        proof = []
        for level in range(start, inner):
            # A sibling on either side; a right one may be the last, incomplete node.
            sibling = (index >> level) ^ 1
            end = min((sibling + 1) << level, size)
            proof.append(self._range(sibling << level, end))
        for level in range(inner, size.bit_length()):
            if (index >> level) & 1:  # on the right edge only left siblings occur
                proof.append(self._node(level, (index >> level) ^ 1))
        return proof

    def peaks(self, size: int | None = None) -> tuple[bytes, ...]:
        """The complete subtrees of the first `size` leaves, largest first: what
        `CompactRange.peaks` holds after appending them."""
        return tuple(self._subtrees(0, self._check_size(size)))

    def _range(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), where start is aligned to a power of two that is
        at least end - start (true of every RFC subtree)."""
        return _fold(self._subtrees(start, end))

    def _subtrees(self, start: int, end: int) -> list[bytes]:
        """The complete subtrees covering leaves [start, end) (aligned as in
        `_range`), largest first."""
        found = []
        for level in reversed(range((end - start).bit_length())):
            if (end - start) >> level & 1:
                found.append(self._node(level, start >> level))
                start += 1 << level
        return found

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside 0..{self.size}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a tree of size {size}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `size` leaves with `root`,
    by RFC 9162 §2.1.3.2. Returns None; raises ProofError when the proof fails.

    Strict: every hash must be 32 bytes, 0 <= index < size, and the proof must have
    exactly the number of hashes the tree shape needs.
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash", ProofError)
    _check_hash(root, "root", ProofError)
    for i, h in enumerate(proof):
        _check_hash(h, f"proof hash {i}", ProofError)
    inner, border = _shape(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"proof has {len(proof)} hashes, expected {inner + border}")
    result = leaf_hash
    for level, sibling in enumerate(proof[:inner]):
        if (index >> level) & 1:
            result = node_hash(sibling, result)
        else:
            result = node_hash(result, sibling)
    for sibling in proof[inner:]:
        result = node_hash(sibling, result)
    if result != root:
        raise ProofError("root mismatch")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of `size1` leaves with `root1` is a prefix of the tree of
    `size2` leaves with `root2`, by RFC 9162 §2.1.4.2. Returns None; raises ProofError.

    Rules, as the transparency-dev conformance vectors fix them:
    - size1 must be in 1..size2: a check against the empty tree proves nothing and
      is rejected (the RFC defines consistency proofs for 0 < size1 only);
    - equal sizes need the empty proof and identical roots (byte comparison only);
    - otherwise every hash must be 32 bytes and the proof must have exactly the number
      of hashes the two sizes need, and both recomputed roots must match.
    """
    if size1 < 0 or size2 < 0:
        raise ProofError(f"sizes must not be negative, got {size1} and {size2}")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is greater than size2 {size2}")
    if size1 == 0:
        raise ProofError("consistency with the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError(
                f"proof has {len(proof)} hashes, expected 0 for equal sizes"
            )
        if root1 != root2:
            raise ProofError("equal sizes but different roots")
        return
    _check_hash(root1, "root1", ProofError)
    _check_hash(root2, "root2", ProofError)
    for i, h in enumerate(proof):
        _check_hash(h, f"proof hash {i}", ProofError)
    index = size1 - 1
    shift = (size1 & -size1).bit_length() - 1
    inner, border = _shape(index, size2)
    power_of_two = size1 == 1 << shift
    expected = (0 if power_of_two else 1) + inner - shift + border
    if len(proof) != expected:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected}")
    hashes = iter(proof)
    old = new = root1 if power_of_two else next(hashes)
    for level in range(shift, inner):
        sibling = next(hashes)
        if (index >> level) & 1:  # left sibling: inside the old tree too
            old, new = node_hash(sibling, old), node_hash(sibling, new)
        else:  # right sibling: only in the new tree
            new = node_hash(new, sibling)
    for sibling in hashes:
        old, new = node_hash(sibling, old), node_hash(sibling, new)
    if old != root1:
        raise ProofError("root1 mismatch")
    if new != root2:
        raise ProofError("root2 mismatch")
