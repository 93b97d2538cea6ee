"""The evidence vault: encrypted, content-addressed, keyed names, atomic and idempotent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sijil.errors import BlobAltered, VaultError
from sijil.vault import FolderBlobStore, Vault
from sijil.vault.cipher import CHUNK, plaintext_size

SECRET = bytes(range(32))


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault.folder(tmp_path / "vault", SECRET)


def _stored(vault: Vault) -> list[Path]:
    assert isinstance(vault.blobs, FolderBlobStore)
    return [p for p in vault.blobs.root.rglob("*") if p.is_file()]


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=3000))
def test_any_bytes_round_trip(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    vault = Vault.folder(tmp_path_factory.mktemp("v"), SECRET)
    ref = vault.put_bytes(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)
    assert vault.read_bytes(ref.sha256) == data
    (stored,) = _stored(vault)
    assert plaintext_size(stored.stat().st_size) == len(data)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_chunk_boundaries_round_trip(vault: Vault, size: int) -> None:
    data = os.urandom(size)
    assert vault.read_bytes(vault.put_bytes(data).sha256) == data


def test_the_disk_shows_neither_content_nor_its_hash(vault: Vault, tmp_path: Path) -> None:
    # Given a known video (here: known bytes) stored in the vault
    data = b"known propaganda video " * 1000
    sha = hashlib.sha256(data).hexdigest()
    vault.put_bytes(data)
    (stored,) = _stored(vault)
    # Then neither the name nor the content reveals it
    assert sha not in str(stored) and data[:40] not in stored.read_bytes()
    # and another desk's key names the same content differently
    other = Vault.folder(tmp_path / "other", os.urandom(32))
    assert other.name_of(sha) != vault.name_of(sha)


def test_storing_twice_is_one_blob(vault: Vault, tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(os.urandom(5000))
    first = vault.put_file(source)
    second = vault.put_file(source, expected_sha256=first.sha256)
    third = vault.put_file(source)
    assert first == second == third
    assert len(_stored(vault)) == 1
    assert not any(vault.blobs.tmp.iterdir())  # type: ignore[attr-defined]


def test_a_file_that_changes_while_stored_is_refused(vault: Vault, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"abc")
    with pytest.raises(VaultError, match="changed"):
        vault.put_file(source, expected_sha256="00" * 32)
    assert not _stored(vault)


@pytest.mark.parametrize("where", ["header", "middle", "end"])
def test_any_flipped_byte_is_caught(vault: Vault, where: str) -> None:
    ref = vault.put_bytes(os.urandom(CHUNK + 500))
    (stored,) = _stored(vault)
    data = bytearray(stored.read_bytes())
    index = {"header": 3, "middle": len(data) // 2, "end": len(data) - 1}[where]
    data[index] ^= 0x80
    stored.write_bytes(bytes(data))
    with pytest.raises(BlobAltered):
        vault.read_bytes(ref.sha256)
    assert (vault.check(ref.sha256) or "").startswith("altered")


def test_truncation_and_swapping_are_caught(vault: Vault) -> None:
    a = vault.put_bytes(os.urandom(2 * CHUNK + 10))
    b = vault.put_bytes(b"another file")
    blob_a = vault.blobs.path(vault.name_of(a.sha256))  # type: ignore[attr-defined]
    blob_b = vault.blobs.path(vault.name_of(b.sha256))  # type: ignore[attr-defined]
    whole = blob_a.read_bytes()
    blob_a.write_bytes(whole[: len(whole) - CHUNK // 2 - 26])  # cut off the last chunk
    assert (vault.check(a.sha256) or "").startswith("altered")
    blob_a.write_bytes(blob_b.read_bytes())  # b's blob under a's name
    assert vault.check(a.sha256) == "altered: the blob's content does not hash to its address"
    blob_b.unlink()
    assert vault.check(b.sha256) == "missing from the vault"


def test_copy_to_never_leaves_a_damaged_copy(vault: Vault, tmp_path: Path) -> None:
    ref = vault.put_bytes(os.urandom(CHUNK * 2))
    out = tmp_path / "out.bin"
    vault.copy_to(ref.sha256, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == ref.sha256
    stored = vault.blobs.path(vault.name_of(ref.sha256))  # type: ignore[attr-defined]
    data = bytearray(stored.read_bytes())
    data[-5] ^= 1
    stored.write_bytes(bytes(data))
    out2 = tmp_path / "out2.bin"
    with pytest.raises(BlobAltered):
        vault.copy_to(ref.sha256, out2)
    assert not out2.exists()


def test_blob_names_are_checked(vault: Vault) -> None:
    with pytest.raises(VaultError):
        vault.blobs.open("../../etc/passwd")
