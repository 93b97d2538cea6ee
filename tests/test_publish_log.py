"""The publication log: C2SP signed-note and tlog-tiles, checked against the specs' examples.

The signed-note test vector is the Go sumdb note package's (PeterNeumann); the
tile paths are tlog-tiles' own examples. Roots and proofs read back from the
tiles are held to sijil.ledger.merkle, the project's RFC 9162 implementation.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sijil.errors import PublicationError
from sijil.ledger import merkle
from sijil.publish import signed_note, tlog
from sijil.publish.keys import PublicationKey
from sijil.publish.signing import (
    log_entries_to_write,
    log_root,
    sign_checkpoint,
    write_log,
    write_log_from_hashes,
)

# golang.org/x/mod/sumdb/note: the example in the package documentation and tests
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_NOTE = (
    PETER_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
    "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


# --- signed-note ----------------------------------------------------------------------


def test_the_go_note_vector_opens_under_its_verifier_key() -> None:
    # Given the sumdb note package's verifier key and signed note
    verifier = signed_note.Verifier.parse(PETER_VKEY)
    # When the note is opened
    text = signed_note.open_note(PETER_NOTE, verifier)
    # Then its text comes back, and the key id is the one the key string names
    assert text == PETER_TEXT
    assert verifier.key_id.hex() == "c74f20a3"


def test_signing_the_go_vector_gives_the_same_bytes() -> None:
    # Given the vector's private key (Ed25519 signatures are deterministic)
    # PRIVATE+KEY+<name>+<id>+base64(0x01 || seed); the base64 may hold "+" itself
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    private = Ed25519PrivateKey.from_private_bytes(seed)
    # When the same text is signed
    note = signed_note.sign(PETER_TEXT, "PeterNeumann", private)
    # Then the note is byte for byte the one the Go package makes
    assert note == PETER_NOTE
    assert signed_note.verifier_key("PeterNeumann", private.public_key().public_bytes_raw()) == (
        PETER_VKEY
    )


def test_changed_notes_do_not_open() -> None:
    verifier = signed_note.Verifier.parse(PETER_VKEY)
    with pytest.raises(PublicationError, match="signature does not verify"):
        signed_note.open_note(PETER_NOTE.replace("cryptography", "cryptographY"), verifier)
    other = signed_note.Verifier.of("PeterNeumann", bytes(32))
    with pytest.raises(PublicationError, match="not signed by"):
        signed_note.open_note(PETER_NOTE, other)
    with pytest.raises(PublicationError, match="no signature block"):
        signed_note.open_note(PETER_TEXT, verifier)
    with pytest.raises(PublicationError, match="id does not match"):
        signed_note.Verifier.parse(PETER_VKEY.replace("c74f20a3", "c74f20a4"))


def test_a_checkpoint_is_origin_size_root_signed_under_the_origin() -> None:
    # Given a publication key and a log root
    key = PublicationKey.generate("example.org/log")
    root = log_root(merkle.leaf_hashes([b"a", b"b", b"c"]))
    # When the checkpoint is signed
    note = sign_checkpoint(key, "example.org/log", 3, root)
    # Then its body is the three tlog-checkpoint lines, verifiable with the key's vkey
    body = f"example.org/log\n3\n{base64.b64encode(root).decode()}\n"
    assert note.startswith(body + "\n\u2014 example.org/log ")
    verifier = signed_note.Verifier.parse(key.public.note_verifier())
    assert signed_note.open_note(note, verifier) == body
    assert tlog.Checkpoint.parse(body) == tlog.Checkpoint(
        origin="example.org/log", size=3, root=root
    )


@pytest.mark.parametrize("size", ["03", "-1", "", "1.0", "٣"])
def test_checkpoint_sizes_must_be_plain_decimals(size: str) -> None:
    body = f"o\n{size}\n{base64.b64encode(bytes(32)).decode()}\n"
    with pytest.raises(PublicationError, match="size"):
        tlog.Checkpoint.parse(body)


# --- tiles: paths and coordinates -----------------------------------------------------


def test_tile_paths_follow_the_spec_examples() -> None:
    # tlog-tiles: "index 1234067 will be encoded as x001/x234/067"
    assert tlog.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tlog.tile_path(2, 1234067, 8) == "tile/2/x001/x234/067.p/8"
    assert tlog.tile_path("entries", 1234067) == "tile/entries/x001/x234/067"
    assert tlog.tile_path(0, 0) == "tile/0/000"
    assert tlog.tile_path(1, 1000, 1) == "tile/1/x001/000.p/1"


def test_a_log_of_300_has_one_full_and_one_partial_tile_and_a_level_one_tile() -> None:
    assert list(tlog.changed_tiles(0, 300)) == [(0, 0, 256), (0, 1, 44), (1, 0, 1)]
    assert list(tlog.changed_tiles(300, 512)) == [(0, 1, 256), (1, 0, 2)]
    assert list(tlog.changed_tiles(512, 512)) == []


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1 << 20), st.integers(0, 1 << 20))
def test_changed_tiles_are_those_whose_width_differs(a: int, b: int) -> None:
    # Given two log sizes
    old, new = min(a, b), max(a, b)
    changed = set(tlog.changed_tiles(old, new))
    # Then a tile changed exactly when the new log's width of it is not the old one's
    every_new = set(tlog.changed_tiles(0, new))
    every_old = set(tlog.changed_tiles(0, old))
    assert changed == every_new - every_old
    for level, index, width in every_new:
        count = new >> (8 * level)  # nodes on the tile's bottom tree level
        assert width == min(256, count - 256 * index) and width > 0


def test_data_tiles_prefix_each_entry_with_its_length() -> None:
    entries = [b"", b"a", b"x" * 300]
    tile = tlog.data_tile(entries, 0, 3)
    assert tile == b"\x00\x00" + b"\x00\x01a" + b"\x01\x2c" + b"x" * 300
    assert tlog.parse_data_tile(tile) == entries
    with pytest.raises(PublicationError, match="entry limit"):
        tlog.data_tile([bytes(70000)], 0, 1)
    with pytest.raises(PublicationError, match="ends inside"):
        tlog.parse_data_tile(tile[:-1])


# --- tiles on disk: roots, proofs, incremental writes ----------------------------------


@pytest.fixture
def make_log(tmp_path: Path) -> Callable[..., tuple[Path, list[bytes], PublicationKey]]:
    """Factory: a log folder of ``size`` entries, written in the steps given."""
    key = PublicationKey.generate("example.org/log")

    def make(*sizes: int, name: str = "log") -> tuple[Path, list[bytes], PublicationKey]:
        folder = tmp_path / name
        entries = [f"post {i}".encode() for i in range(max(sizes))]
        previous = 0
        for size in sizes:
            part = entries[:size]
            note = sign_checkpoint(key, key.origin, size, log_root(merkle.leaf_hashes(part)))
            write_log(folder, part, note, previous_size=previous)
            previous = size
        return folder, entries, key

    return make


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 65536, 65537])
def test_root_and_proofs_read_from_tiles_match_the_ledger_merkle(
    make_log: Callable[..., tuple[Path, list[bytes], PublicationKey]], size: int
) -> None:
    # Given a log written as tiles
    folder, entries, _ = make_log(size)
    reader = tlog.TileReader(folder, size)
    hashes = merkle.leaf_hashes(entries)
    root = log_root(hashes)
    # Then the root and every sampled proof read from the tiles check against merkle
    assert reader.root() == root
    for index in {0, size // 2, size - 1, min(size - 1, 300)}:
        proof = reader.inclusion_proof(index)
        assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
        assert reader.entry(index) == entries[index]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=4), st.data())
def test_incremental_writes_equal_one_write_and_prove_every_step(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int], data: st.DataObject
) -> None:
    # Given a log grown in several steps, and the same log written at once
    sizes = sorted(set(steps))
    base = tmp_path_factory.mktemp("log")
    entries = [f"post {i}".encode() for i in range(sizes[-1])]
    key = PublicationKey.generate()
    previous = 0
    for size in sizes:
        note = sign_checkpoint(key, key.origin, size, log_root(merkle.leaf_hashes(entries[:size])))
        write_log(base / "grown", entries[:size], note, previous_size=previous)
        previous = size
    write_log(base / "once", entries, (base / "grown" / "checkpoint").read_text())
    # Then every file of the one-shot log is in the grown one with the same bytes
    once, grown = base / "once", base / "grown"
    for name in _files(once):
        assert (grown / name).read_bytes() == (once / name).read_bytes(), name
    # And the grown log's tiles prove any entry against the newest root
    size = sizes[-1]
    index = data.draw(st.integers(0, size - 1))
    proof = tlog.TileReader(grown, size).inclusion_proof(index)
    root = log_root(merkle.leaf_hashes(entries))
    assert merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, size, proof, root)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=4))
def test_writing_from_leaf_hashes_gives_the_same_tiles_as_from_entries(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int]
) -> None:
    # Given a log grown in several steps from its entries, and again from its leaf hashes
    # with only the entries of the data tiles each step writes
    sizes = sorted(set(steps))
    base = tmp_path_factory.mktemp("log")
    entries = [f"post {i}".encode() * (i % 5 + 1) for i in range(sizes[-1])]
    hashes = merkle.leaf_hashes(entries)
    key = PublicationKey.generate()
    previous = 0
    for size in sizes:
        note = sign_checkpoint(key, key.origin, size, log_root(hashes[:size]))
        write_log(base / "entries", entries[:size], note, previous_size=previous)
        shown = {i: entries[i] for i in log_entries_to_write(previous, size)}
        write_log_from_hashes(base / "hashes", hashes[:size], shown, note, previous_size=previous)
        previous = size
    # Then both folders hold the same files, byte for byte
    by_entries, by_hashes = base / "entries", base / "hashes"
    assert _files(by_entries) == _files(by_hashes)
    for name in _files(by_entries):
        assert (by_hashes / name).read_bytes() == (by_entries / name).read_bytes(), name


def test_writing_from_leaf_hashes_refuses_a_body_that_is_not_its_leaf(tmp_path: Path) -> None:
    # Given a log of 300 entries and its checkpoint
    key = PublicationKey.generate()
    entries = [f"post {i}".encode() for i in range(300)]
    hashes = merkle.leaf_hashes(entries)
    note = sign_checkpoint(key, key.origin, 300, log_root(hashes))
    shown = {i: entries[i] for i in log_entries_to_write(0, 300)}
    # When a body of a new data tile is not the one its leaf hash is of, or is missing
    with pytest.raises(PublicationError, match="leaf hash"):
        write_log_from_hashes(tmp_path / "log", hashes, {**shown, 299: b"other"}, note)
    del shown[256]
    with pytest.raises(PublicationError, match="missing"):
        write_log_from_hashes(tmp_path / "log", hashes, shown, note)
    # Then nothing was written
    assert not (tmp_path / "log").exists()


def test_growing_writes_only_the_changed_tiles(
    make_log: Callable[..., tuple[Path, list[bytes], PublicationKey]],
) -> None:
    # Given a log of 300 entries
    folder, _, key = make_log(300)
    full_tile = folder / "tile/0/000"
    before = full_tile.stat().st_mtime_ns
    # When it grows to 301
    entries = [f"post {i}".encode() for i in range(301)]
    note = sign_checkpoint(key, key.origin, 301, log_root(merkle.leaf_hashes(entries)))
    write_log(folder, entries, note, previous_size=300)
    # Then the full tile was left alone and the partial ones were written anew
    assert full_tile.stat().st_mtime_ns == before
    assert (folder / "tile/0/001.p/45").is_file() and (folder / "tile/entries/001.p/45").is_file()
    assert tlog.TileReader(folder, 301).root() == log_root(merkle.leaf_hashes(entries))


def test_a_checkpoint_for_other_entries_writes_nothing(tmp_path: Path) -> None:
    # Given a checkpoint of three entries
    key = PublicationKey.generate()
    entries = [b"a", b"b", b"c"]
    note = sign_checkpoint(key, key.origin, 3, log_root(merkle.leaf_hashes(entries)))
    # When the log is written with other entries
    with pytest.raises(PublicationError, match="does not match"):
        write_log(tmp_path / "log", [b"a", b"B", b"c"], note)
    # Then nothing was written
    assert not (tmp_path / "log").exists()


def test_a_changed_tile_breaks_the_proof(
    make_log: Callable[..., tuple[Path, list[bytes], PublicationKey]],
) -> None:
    # Given a log whose level-0 tile was edited at entry 5
    folder, entries, _ = make_log(20)
    tile = folder / "tile/0/000.p/20"
    data = bytearray(tile.read_bytes())
    data[5 * 32] ^= 1
    tile.write_bytes(bytes(data))
    # Then proofs through the edited hash no longer reach the root
    reader = tlog.TileReader(folder, 20)
    root = log_root(merkle.leaf_hashes(entries))
    assert reader.root() != root
    proof = reader.inclusion_proof(4)  # 5 is 4's sibling
    assert not merkle.verify_inclusion(merkle.leaf_hash(entries[4]), 4, 20, proof, root)
