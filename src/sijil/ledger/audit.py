"""Recompute the ledger from its entries and hold it to every signed tree head.

One ordered pass over the entries rebuilds every leaf and complete subtree and
compares each subtree with the stored node (so a proof the desk hands out is sound);
when the pass reaches a head's size, the recomputed root must equal the signed
one. Consecutive heads must also pass the RFC 9162 consistency check. Problems
are named by entry, node or head, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from operator import itemgetter

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from sijil.errors import LedgerError
from sijil.ledger import log, merkle
from sijil.ledger.handover import KeySchedule, key_schedule
from sijil.ledger.heads import SignedHead, TreeHead
from sijil.store import LedgerHead, LedgerState

__all__ = ["LedgerAudit", "audit_ledger"]

# Entries and nodes are read in aligned slices of this many leaves (a power of
# two, so every subtree below it lies inside one slice): memory stays at some
# tens of MB however long the ledger is.
BATCH = 1 << 16


@dataclass
class LedgerAudit:
    entries: int = 0
    heads: int = 0
    problems: list[str] = field(default_factory=list)
    verified_heads: list[tuple[int, TreeHead]] = field(default_factory=list)
    # roots the slow path computed, by tree size (kept only for sizes with heads)
    roots: dict[int, bytes] = field(default_factory=dict)


def _heads(
    conn: Connection, schedule: KeySchedule, audit: LedgerAudit
) -> dict[int, list[tuple[int, TreeHead]]]:
    by_size: dict[int, list[tuple[int, TreeHead]]] = {}
    rows = conn.execute(select(LedgerHead).order_by(LedgerHead.id)).all()
    for row in rows:
        audit.heads += 1
        head_id, tree_size, root_hex = row.id, row.tree_size, row.root_hash
        try:
            signed = SignedHead(body=row.body.encode(), signature=bytes.fromhex(row.signature))
            # the key in force at that size: a rotation's handover decides (ledger.handover)
            head = signed.verify(schedule.key_for(tree_size))
        except (LedgerError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, LedgerError) else "its signature field is damaged"
            audit.problems.append(f"tree head #{head_id} (size {tree_size}): {reason}")
            continue
        if head.tree_size != tree_size or head.root_hash.hex() != root_hex:
            audit.problems.append(
                f"tree head #{head_id}: its size or root column differs from what was signed"
            )
        by_size.setdefault(head.tree_size, []).append((head_id, head))
    return by_size


def _check_root(
    by_size: dict[int, list[tuple[int, TreeHead]]],
    tree_size: int,
    root: bytes,
    audit: LedgerAudit,
) -> None:
    for head_id, head in by_size.pop(tree_size, []):
        if head.root_hash != root:
            audit.problems.append(
                f"tree head #{head_id} (size {tree_size}): the ledger no longer recomputes "
                "to its signed root (entries were changed, removed or reordered)"
            )
        else:
            audit.verified_heads.append((head_id, head))


class _Reader:
    """Raw driver queries for the audit's scans (SQLAlchemy's per-row objects cost too much)."""

    def __init__(self, conn: Connection) -> None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        # bytes straight from the database: decoding to str and encoding back
        # would cost as much as hashing
        raw = "CAST(body AS BLOB)" if conn.dialect.name == "sqlite" else "convert_to(body, 'UTF8')"
        # only fixed table and column names and placeholders go into these texts
        where = f"{mark} AND {{0}} < {mark} ORDER BY {{0}}"
        self._bodies = f"SELECT {raw} FROM ledger_entries WHERE seq >= " + where.format("seq")  # noqa: S608
        self._entries = f"SELECT seq, {raw} FROM ledger_entries WHERE seq >= " + where.format("seq")  # noqa: S608
        self._hashes = "SELECT hash FROM ledger_nodes WHERE id >= " + where.format("id")  # noqa: S608
        self._nodes = "SELECT id, hash FROM ledger_nodes WHERE id >= " + where.format("id")  # noqa: S608
        self._cursor = conn.connection.cursor()

    def bodies(self, lo: int, hi: int) -> list[bytes]:
        self._cursor.execute(self._bodies, (lo, hi))
        return list(map(itemgetter(0), self._cursor.fetchall()))  # bytes from both drivers

    def entries(self, lo: int, hi: int) -> dict[int, bytes]:
        self._cursor.execute(self._entries, (lo, hi))
        return {int(seq): bytes(body) for seq, body in self._cursor.fetchall()}

    def hashes(self, level: int, first: int, stop: int) -> list[bytes]:
        """Stored hashes of level ``level``, indexes ``first`` to ``stop - 1``."""
        ids = (merkle.node_id(level, first), merkle.node_id(level, stop))
        self._cursor.execute(self._hashes, ids)
        return list(map(itemgetter(0), self._cursor.fetchall()))  # bytes from both drivers

    def nodes(self, lo: int, hi: int) -> dict[int, bytes]:
        """Every stored node whose last leaf lies in ``[lo, hi)``, by id."""
        found: dict[int, bytes] = {}
        level = 0
        while hi >> level:
            first, stop = ((lo + (1 << level)) >> level) - 1, hi >> level
            if first < stop:
                ids = (merkle.node_id(level, first), merkle.node_id(level, stop))
                self._cursor.execute(self._nodes, ids)
                found.update((int(i), bytes(h)) for i, h in self._cursor.fetchall())
            level += 1
        return found


def _fast_batch(
    lo: int, bodies: list[bytes], reader: _Reader, stack: list[tuple[int, bytes]]
) -> list[list[bytes]] | None:
    """Rebuild one aligned batch level by level; None if any stored node differs.

    On success ``stack`` is advanced past the batch and the per-level hashes are
    returned (for roots at heads inside the batch). The work runs in list
    comprehensions and whole-list comparisons: the audit's speed is this function's.
    """
    levels = [merkle.leaf_hashes(bodies)]
    while len(levels[-1]) > 1:
        levels.append(merkle.parent_hashes(levels[-1]))
    for level, hashes in enumerate(levels[1:], 1):  # leaves are not stored, inner nodes are
        if hashes and reader.hashes(level, lo >> level, (lo >> level) + len(hashes)) != hashes:
            return None
    work = list(stack)
    if len(bodies) == BATCH:
        current, level, seq = levels[-1][0], BATCH.bit_length() - 1, lo + BATCH - 1
        while work and work[-1][0] == level:
            current = merkle.node_hash(work.pop()[1], current)
            level += 1
            if reader.hashes(level, seq >> level, (seq >> level) + 1) != [current]:
                return None
        work.append((level, current))
    stack[:] = work
    return levels


def _peaks_at(
    size: int, lo: int, stack: list[tuple[int, bytes]], levels: list[list[bytes]]
) -> list[bytes]:
    """Peaks of the tree of ``size`` (lo < size <= batch end): old stack, then the batch's."""
    return [h for _, h in stack] + [
        levels[level][index - (lo >> level)] for level, index in merkle.range_nodes(lo, size)
    ]


def audit_ledger(conn: Connection, key: Ed25519PublicKey) -> LedgerAudit:
    """Check every entry, node and signed tree head; return what was found.

    ``key`` is the desk's current signing key; heads signed before a key rotation
    are checked against the key the ledger's handovers lead back to.
    """
    audit = LedgerAudit()
    schedule = key_schedule(conn, key)
    audit.problems.extend(schedule.problems)
    by_size = _heads(conn, schedule, audit)
    state = conn.execute(select(LedgerState.size).where(LedgerState.id == 1)).scalar()
    declared = int(state or 0)
    top = conn.execute(select(LedgerHead.tree_size).order_by(LedgerHead.tree_size.desc())).scalar()
    last_seq = conn.exec_driver_sql("SELECT max(seq) FROM ledger_entries").scalar()
    end = max(declared, int(top or 0), -1 if last_seq is None else int(last_seq) + 1)
    _check_root(by_size, 0, merkle.EMPTY_ROOT, audit)
    stack: list[tuple[int, bytes]] = []
    sizes = sorted(by_size)
    reader = _Reader(conn)
    for lo in range(0, end, BATCH):
        hi = min(lo + BATCH, end)
        inside = [s for s in sizes if lo < s <= hi]
        before = list(stack)
        bodies = reader.bodies(lo, hi)
        levels = _fast_batch(lo, bodies, reader, stack) if len(bodies) == hi - lo else None
        if levels is None:
            entries, nodes = reader.entries(lo, hi), reader.nodes(lo, hi)
            _slow_batch(lo, hi, entries, nodes, stack, audit, set(inside))
            for size in inside:
                _check_root(by_size, size, audit.roots.pop(size), audit)
            continue
        audit.entries += len(bodies)
        for size in inside:
            peaks = _peaks_at(size, lo, before, levels)
            _check_root(by_size, size, merkle.root_from_peaks(peaks), audit)
    problems = audit.problems
    if end > declared:
        problems.append(f"the ledger holds {end} entries but its state says {declared}")
    for tree_size, heads in sorted(by_size.items()):
        for head_id, _ in heads:
            problems.append(
                f"tree head #{head_id} covers {tree_size} entries but the ledger has {end}"
            )
    _check_consistency(conn, audit)
    return audit


def _slow_batch(
    lo: int,
    hi: int,
    bodies: dict[int, bytes],
    nodes: dict[int, bytes],
    stack: list[tuple[int, bytes]],
    audit: LedgerAudit,
    wanted: set[int],
) -> None:
    """Entry by entry, naming what is missing or altered; roots into audit.roots."""
    problems = audit.problems
    leaf_hash, node_hash, node_id = merkle.leaf_hash, merkle.node_hash, merkle.node_id
    for seq in range(lo, hi):
        body = bodies.get(seq)
        if body is None:
            problems.append(f"ledger entry #{seq} is missing")
            current = bytes(merkle.HASH_SIZE)  # a placeholder: the subtrees above will differ
        else:
            audit.entries += 1
            current = leaf_hash(body)
        level = 0
        while stack and stack[-1][0] == level:
            current = node_hash(stack.pop()[1], current)
            level += 1
            if nodes.pop(node_id(level, seq >> level), None) != current:
                first = (seq >> level) << level
                problems.append(
                    f"ledger entries #{first}-#{seq}: their stored subtree hash (level {level}) "
                    "no longer matches them (an entry or the node was altered)"
                )
        stack.append((level, current))
        if seq + 1 in wanted:
            audit.roots[seq + 1] = merkle.root_from_peaks([h for _, h in stack])
    for nid in sorted(nodes):
        problems.append(f"ledger node {nid} does not belong to any entry")


def _check_consistency(conn: Connection, audit: LedgerAudit) -> None:
    """Each verified head must be consistent with the one before it (RFC 9162 2.1.4)."""
    ordered = sorted(audit.verified_heads)
    for (a_id, a), (b_id, b) in pairwise(ordered):
        if a.tree_size == 0:
            continue
        if b.tree_size < a.tree_size:
            audit.problems.append(f"tree head #{b_id} is smaller than the earlier head #{a_id}")
            continue
        try:
            proof = log.consistency_proof(conn, a.tree_size, b.tree_size)
        except LedgerError as exc:
            audit.problems.append(f"tree heads #{a_id} and #{b_id}: {exc}")
            continue
        if not merkle.verify_consistency(a.tree_size, b.tree_size, a.root_hash, b.root_hash, proof):
            audit.problems.append(f"tree head #{b_id} is not consistent with tree head #{a_id}")
