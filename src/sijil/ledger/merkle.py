"""RFC 9162 Merkle tree hashing, proofs and their verification (pure, no I/O).

Leaf hash ``SHA-256(0x00 || entry)``, node hash ``SHA-256(0x01 || left || right)``
(RFC 9162 section 2.1.1). A tree is addressed by *complete subtrees*: the node at
``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``.
Only complete subtrees are ever stored, so a stored node never changes once
written; the hash of any other range is folded from at most ``log2 n`` of them.
Proof generation asks a :data:`NodeReader` for every node it needs in one call.

This module is sijil's one implementation of the RFC's hashing: the ledger's appends,
proofs and audit all call it. The standalone package verifier
(``sijil.export.verifier``) keeps its own copy, since it may import nothing from
sijil; a property test holds the two to the same answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "NodeKey",
    "NodeReader",
    "consistency_nodes",
    "consistency_proof",
    "inclusion_nodes",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "node_id",
    "parent_hashes",
    "range_nodes",
    "root_from_peaks",
    "root_nodes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
# A node's id packs (level, index) into one integer, so a store looks many up
# by one primary key, and each level's nodes are one contiguous id range (the
# audit reads them level by level without sorting). 2**56 leaves is beyond any
# desk's lifetime; 63 bits keep the id a signed 64-bit integer.
_INDEX_BITS = 56

NodeKey = tuple[int, int]
NodeReader = Callable[[Sequence[NodeKey]], Sequence[bytes]]


_LEAF, _NODE = b"\x00", b"\x01"  # RFC 9162 section 2.1.1's domain separation
#: MTH of the empty tree: the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """``leaf_hash`` of each entry, as one list comprehension (the audit's hot loop)."""
    sha256, leaf = hashlib.sha256, _LEAF
    return [sha256(leaf + entry).digest() for entry in entries]


def parent_hashes(level: Sequence[bytes]) -> list[bytes]:
    """The level above: ``node_hash`` of each pair, left to right; an odd last hash has none."""
    sha256, node = hashlib.sha256, _NODE
    pairs = zip(level[0::2], level[1::2], strict=False)
    return [sha256(node + left + right).digest() for left, right in pairs]


def node_id(level: int, index: int) -> int:
    return (level << _INDEX_BITS) | index


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees whose fold is MTH(D[start:end]), left to right.

    Valid for the ranges RFC 9162's recursion produces: ``start`` is a multiple
    of the largest power of two not above ``end - start``'s left part.
    """
    keys: list[NodeKey] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        # the subtree must also be aligned at ``start``
        while start % (1 << level):
            level -= 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def root_from_peaks(peaks: Sequence[bytes]) -> bytes:
    """Fold complete-subtree hashes (left to right, decreasing size) into MTH."""
    if not peaks:
        return EMPTY_ROOT
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


def root_nodes(size: int) -> list[NodeKey]:
    return range_nodes(0, size)


def _path(m: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 PATH(m, D[0:size]) as (start, end) ranges, leaf side first.

    Walked bottom-up: at each level the sibling of the subtree holding ``m``
    is a complete left neighbour, a (possibly cut short) right neighbour, or,
    past the end of the tree, nothing. This is the RFC's recursion unrolled.
    """
    ranges: list[tuple[int, int]] = []
    level = 0
    while (size - 1) >> level:
        index = m >> level
        start = (index ^ 1) << level
        if start < size:
            ranges.append((start, min(start + (1 << level), size)))
        level += 1
    return ranges


def _subproof(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
    """RFC 9162 SUBPROOF(m, D[start:end], b) as ranges, in proof order."""
    ranges: list[tuple[int, int]] = []
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


def _fold(ranges: Sequence[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    # a power-of-two range is one stored node; only a range cut short by the
    # tree's end needs folding from several
    wanted = [
        [((b - a).bit_length() - 1, a >> ((b - a).bit_length() - 1))]
        if (b - a) & (b - a - 1) == 0
        else range_nodes(a, b)
        for a, b in ranges
    ]
    flat = [key for keys in wanted for key in keys]
    hashes = iter(reader(flat))
    return [root_from_peaks([next(hashes) for _ in keys]) for keys in wanted]


def inclusion_nodes(index: int, size: int) -> list[list[NodeKey]]:
    return [range_nodes(a, b) for a, b in _path(index, size)]


def consistency_nodes(old: int, new: int) -> list[list[NodeKey]]:
    return [range_nodes(a, b) for a, b in _subproof(old, 0, new, True)]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    return _fold(_path(index, size), reader)


def consistency_proof(old: int, new: int, reader: NodeReader) -> list[bytes]:
    if not 0 < old <= new:
        raise ValueError("consistency needs 0 < old size <= new size")
    if old == new:
        return []
    return _fold(_subproof(old, 0, new, True), reader)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Iterable[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    path = list(proof)
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Iterable[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, step by step."""
    path = list(proof)
    if old > new or old == 0:
        return False
    if old == new:
        return not path and old_root == new_root
    if not path:
        return False
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path = [old_root, *path]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
