"""The publication log as C2SP tlog-tiles: static files a mirror can copy and check.

The log is an RFC 9162 Merkle tree over the post bytes (sijil.ledger.merkle does
the hashing). It is served as

    log/checkpoint                    a signed note: origin, size, base64(root)
    log/tile/<L>/<N>[.p/<W>]          hash tiles: 256 node hashes of tree level 8*L
    log/tile/entries/<N>[.p/<W>]      data tiles: the posts, each behind a uint16 length

``<N>`` is written in 3-digit path elements, all but the last prefixed with
"x" (1234067 -> x001/x234/067). A tile of fewer than 256 hashes is "partial"
and carries its width ``W``; once it fills, the full tile is written beside it.
Tiles only ever grow into new files, so a full tile never changes: a mirror
that has one need never fetch it again, and a changed one is proof of an edit.

The tile math here is pure (sizes in, coordinates and bytes out); ``write`` and
``TileReader`` are the only parts that touch the disk.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sijil.errors import PublicationError
from sijil.fsutil import atomic_write
from sijil.ledger import merkle

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Checkpoint",
    "TileReader",
    "changed_tiles",
    "data_tile",
    "hash_tile",
    "new_entries",
    "parse_data_tile",
    "tile_path",
    "tree_levels",
    "write",
    "write_from_hashes",
]

TILE_HEIGHT = 8  # tlog-tiles fixes it: a tile spans eight tree levels
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, or 256 entries, per full tile
HASH_SIZE = merkle.HASH_SIZE
#: A data-tile entry carries a big-endian uint16 length, so no entry may pass it.
MAX_ENTRY = 0xFFFF
ENTRIES = "entries"
# A checkpoint beyond 2**63 entries is garbage, not a log (and keeps ints sane).
MAX_SIZE = 1 << 63


def encode_index(index: int) -> str:
    """``1234067`` -> ``x001/x234/067``: at most 1000 names per directory."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``; ``level`` is a number, or "entries" for a data tile."""
    if not 0 < width <= TILE_WIDTH:
        raise ValueError("a tile holds 1 to 256 hashes")
    partial = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/{level}/{encode_index(index)}{partial}"


def tile_widths(size: int, level: int) -> list[int]:
    """The width of each tile of ``level`` in a tree of ``size`` leaves, left to right."""
    count = size >> (TILE_HEIGHT * level)
    full, rest = divmod(count, TILE_WIDTH)
    return [TILE_WIDTH] * full + ([rest] if rest else [])


def tile_levels(size: int) -> int:
    """How many tile levels a tree of ``size`` leaves has (a level needs one node)."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def changed_tiles(old: int, new: int) -> Iterator[tuple[int, int, int]]:
    """``(level, index, width)`` of every hash tile a log of ``new`` has and ``old`` had not.

    A tile whose width grew is a new file (its ``.p/W`` path is new), so this is
    also the list of files to write when the log grows from ``old`` to ``new``.
    """
    if not 0 <= old <= new:
        raise ValueError("a log only grows")
    for level in range(tile_levels(new)):
        before = tile_widths(old, level)
        for index, width in enumerate(tile_widths(new, level)):
            if index >= len(before) or before[index] != width:
                yield level, index, width


def tree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every complete node of the tree, by tree level (0 = the leaves)."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        levels.append(merkle.parent_hashes(levels[-1]))
    return levels


def hash_tile(levels: Sequence[Sequence[bytes]], level: int, index: int, width: int) -> bytes:
    nodes = levels[TILE_HEIGHT * level]
    start = index * TILE_WIDTH
    return b"".join(nodes[start : start + width])


def data_tile(entries: Sequence[bytes], index: int, width: int) -> bytes:
    """An entry bundle: each entry behind its length as a big-endian uint16."""
    return _bundle(entries[index * TILE_WIDTH : index * TILE_WIDTH + width])


def _bundle(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise PublicationError(
                f"a post of {len(entry)} bytes is over the log's entry limit of {MAX_ENTRY}"
            )
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_data_tile(data: bytes) -> list[bytes]:
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise PublicationError("a data tile of the log ends inside an entry's length")
        size = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + size > len(data):
            raise PublicationError("a data tile of the log ends inside an entry")
        entries.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return entries


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """The checkpoint's body (C2SP tlog-checkpoint): origin, size, root."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or not lines[0]:
            raise PublicationError("the checkpoint does not have origin, size and root lines")
        size_text, root_text = lines[1], lines[2]
        # decimal without sign or leading zeroes, as tlog-checkpoint requires
        if not size_text.isascii() or not size_text.isdigit() or size_text != str(int(size_text)):
            raise PublicationError("the checkpoint's size is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise PublicationError("the checkpoint's root hash is not base64") from exc
        if len(root) != HASH_SIZE or int(size_text) >= MAX_SIZE:
            raise PublicationError("the checkpoint's root or size is out of range")
        return cls(origin=lines[0], size=int(size_text), root=root)


def write(
    log_dir: Path, entries: Sequence[bytes], checkpoint_note: str, *, previous_size: int = 0
) -> None:
    """Write the tiles a log of ``entries`` has that one of ``previous_size`` had not.

    Tiles first, the checkpoint last: a crash between them leaves the old
    checkpoint, which the tiles on disk still prove (old tiles are never changed).
    """

    def tile(index: int, width: int) -> bytes:
        return data_tile(entries, index, width)

    _write(log_dir, merkle.leaf_hashes(entries), tile, checkpoint_note, previous_size)


def new_entries(previous_size: int, size: int) -> range:
    """The entries whose data tiles a log growing from ``previous_size`` to ``size`` writes."""
    if not 0 <= previous_size <= size:
        raise ValueError("a log only grows")
    return range(previous_size - previous_size % TILE_WIDTH, size)


def write_from_hashes(
    log_dir: Path,
    leaf_hashes: Sequence[bytes],
    entries: Mapping[int, bytes],
    checkpoint_note: str,
    *,
    previous_size: int = 0,
) -> None:
    """:func:`write`, from the log's stored leaf hashes and only the entries it must write.

    ``entries`` maps a log index to its entry for at least every index of
    :func:`new_entries`; each one is checked against its leaf hash. The tiles are
    byte for byte those :func:`write` makes from every entry.
    """
    needed = new_entries(previous_size, len(leaf_hashes))
    if any(i not in entries for i in needed):
        raise PublicationError("an entry of a new data tile of the log is missing")
    if any(merkle.leaf_hash(entries[i]) != leaf_hashes[i] for i in needed):
        raise PublicationError("a post does not match its leaf hash in the log; nothing written")

    def tile(index: int, width: int) -> bytes:
        start = index * TILE_WIDTH
        return _bundle(entries[i] for i in range(start, start + width))

    _write(log_dir, leaf_hashes, tile, checkpoint_note, previous_size)


def _write(
    log_dir: Path,
    leaf_hashes: Sequence[bytes],
    data: Callable[[int, int], bytes],
    checkpoint_note: str,
    previous_size: int,
) -> None:
    from sijil.publish import signed_note

    size = len(leaf_hashes)
    body = Checkpoint.parse(signed_note.parse(checkpoint_note).text)
    levels = tree_levels(leaf_hashes)
    root = merkle.root_from_peaks([levels[k][i] for k, i in merkle.root_nodes(size)])
    if body.size != size or body.root != root:
        raise PublicationError("the checkpoint does not match the log's entries; nothing written")
    for level, index, width in changed_tiles(previous_size, size):
        atomic_write(
            log_dir / tile_path(level, index, width),
            hash_tile(levels, level, index, width),
            mode=0o644,
        )
        if level == 0:
            atomic_write(
                log_dir / tile_path(ENTRIES, index, width),
                data(index, width),
                mode=0o644,
            )
    atomic_write(log_dir / "checkpoint", checkpoint_note.encode(), mode=0o644)


class TileReader:
    """Node hashes and entries of a log of ``size`` leaves, read from its tiles."""

    def __init__(self, log_dir: Path, size: int) -> None:
        self.log_dir, self.size = log_dir, size
        self._cache: dict[str, bytes] = {}

    def _tile(self, level: int | str, index: int, width: int, unit: int | None) -> bytes:
        path = tile_path(level, index, width)
        if path not in self._cache:
            try:
                data = (self.log_dir / path).read_bytes()
            except OSError as exc:
                raise PublicationError(f"the log is missing its tile {path}") from exc
            if unit is not None and len(data) != unit * width:
                raise PublicationError(f"the log's tile {path} has the wrong length")
            self._cache[path] = data
        return self._cache[path]

    def _width(self, level: int, index: int) -> int:
        widths = tile_widths(self.size, level)
        if index >= len(widths):
            raise PublicationError("a node past the end of the log was asked for")
        return widths[index]

    def nodes(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        """Hashes of complete subtrees ``(tree level, index)``, folded from the tile below."""
        out = []
        for tree_level, index in keys:
            level, up = divmod(tree_level, TILE_HEIGHT)
            first = index << up  # the node's first descendant on the tile's level
            tile_index, offset = divmod(first, TILE_WIDTH)
            tile = self._tile(level, tile_index, self._width(level, tile_index), HASH_SIZE)
            span = tile[offset * HASH_SIZE : (offset + (1 << up)) * HASH_SIZE]
            hashes = [span[i : i + HASH_SIZE] for i in range(0, len(span), HASH_SIZE)]
            if len(hashes) != 1 << up:
                raise PublicationError("a tile of the log is shorter than its width")
            for _ in range(up):
                hashes = merkle.parent_hashes(hashes)
            out.append(hashes[0])
        return out

    def root(self) -> bytes:
        return merkle.root_from_peaks(self.nodes(merkle.root_nodes(self.size)))

    def inclusion_proof(self, index: int) -> list[bytes]:
        return merkle.inclusion_proof(index, self.size, self.nodes)

    def entry(self, index: int) -> bytes:
        tile_index, offset = divmod(index, TILE_WIDTH)
        data = self._tile(ENTRIES, tile_index, self._width(0, tile_index), None)
        entries = parse_data_tile(data)
        if len(entries) != self._width(0, tile_index):
            raise PublicationError(f"the log's data tile {tile_index} holds the wrong count")
        return entries[offset]
