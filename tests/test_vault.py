"""The evidence vault: encrypted, content-addressed, keyed names, atomic and idempotent.

Every test runs on both blob stores: a folder, and a prefix in a real S3-compatible
server (SeaweedFS on loopback, tests/s3_server.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sijil.errors import BlobAltered, VaultError
from sijil.vault import Vault
from sijil.vault.cipher import CHUNK, plaintext_size
from vault_backends import Backend, make_backend

__all__ = ["make_backend"]  # the fixture, imported for pytest

MakeBackend = Callable[..., Backend]


@pytest.fixture
def backend(make_backend: MakeBackend) -> Backend:
    return make_backend()


@pytest.fixture
def vault(backend: Backend) -> Vault:
    return backend.vault


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=3000))
def test_any_bytes_round_trip(data: bytes, make_backend: MakeBackend) -> None:
    # Given a fresh vault (one per example) When any bytes are stored
    backend = make_backend()
    ref = backend.vault.put_bytes(data)
    # Then they read back whole, under their address, in one blob of the right size
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)
    assert backend.vault.read_bytes(ref.sha256) == data
    (stored,) = backend.names()
    assert plaintext_size(len(backend.read(stored))) == len(data)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_chunk_boundaries_round_trip(vault: Vault, size: int) -> None:
    data = os.urandom(size)
    assert vault.read_bytes(vault.put_bytes(data).sha256) == data


def test_the_disk_shows_neither_content_nor_its_hash(
    backend: Backend, make_backend: MakeBackend
) -> None:
    # Given a known video (here: known bytes) stored in the vault
    data = b"known propaganda video " * 1000
    sha = hashlib.sha256(data).hexdigest()
    backend.vault.put_bytes(data)
    (stored,) = backend.names()
    # Then neither the name nor the content reveals it
    assert sha not in stored and data[:40] not in backend.read(stored)
    # and another desk's key names the same content differently
    other = make_backend(os.urandom(32)).vault
    assert other.name_of(sha) != backend.vault.name_of(sha)


def test_storing_twice_is_one_blob(backend: Backend, tmp_path: Path) -> None:
    # Given a photo When it is stored three ways
    source = tmp_path / "photo.jpg"
    source.write_bytes(os.urandom(5000))
    first = backend.vault.put_file(source)
    second = backend.vault.put_file(source, expected_sha256=first.sha256)
    third = backend.vault.put_file(source)
    # Then it is one blob, and nothing temporary is left
    assert first == second == third
    assert len(backend.names()) == 1
    assert backend.leftovers() == []


def test_a_file_that_changes_while_stored_is_refused(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"abc")
    with pytest.raises(VaultError, match="changed"):
        backend.vault.put_file(source, expected_sha256="00" * 32)
    assert backend.names() == [] and backend.leftovers() == []


@pytest.mark.parametrize("where", ["header", "middle", "end"])
def test_any_flipped_byte_is_caught(backend: Backend, where: str) -> None:
    # Given a stored blob When one byte of what is stored flips
    ref = backend.vault.put_bytes(os.urandom(CHUNK + 500))
    (stored,) = backend.blob_names()
    data = bytearray(backend.read(stored))
    index = {"header": 3, "middle": len(data) // 2, "end": len(data) - 1}[where]
    data[index] ^= 0x80
    backend.write(stored, bytes(data))
    # Then reading it fails, and the check says it was altered
    with pytest.raises(BlobAltered):
        backend.vault.read_bytes(ref.sha256)
    assert (backend.vault.check(ref.sha256) or "").startswith("altered")


def test_truncation_and_swapping_are_caught(backend: Backend) -> None:
    vault = backend.vault
    a = vault.put_bytes(os.urandom(2 * CHUNK + 10))
    b = vault.put_bytes(b"another file")
    name_a, name_b = vault.name_of(a.sha256), vault.name_of(b.sha256)
    whole = backend.read(name_a)
    backend.write(name_a, whole[: len(whole) - CHUNK // 2 - 26])  # cut off the last chunk
    assert (vault.check(a.sha256) or "").startswith("altered")
    backend.write(name_a, backend.read(name_b))  # b's blob under a's name
    assert vault.check(a.sha256) == "altered: the blob's content does not hash to its address"
    backend.delete(name_b)
    assert vault.check(b.sha256) == "missing from the vault"


def test_copy_to_never_leaves_a_damaged_copy(backend: Backend, tmp_path: Path) -> None:
    vault = backend.vault
    ref = vault.put_bytes(os.urandom(CHUNK * 2))
    out = tmp_path / "out.bin"
    vault.copy_to(ref.sha256, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == ref.sha256
    name = vault.name_of(ref.sha256)
    data = bytearray(backend.read(name))
    data[-5] ^= 1
    backend.write(name, bytes(data))
    out2 = tmp_path / "out2.bin"
    with pytest.raises(BlobAltered):
        vault.copy_to(ref.sha256, out2)
    assert not out2.exists()


def test_blob_names_are_checked(vault: Vault) -> None:
    with pytest.raises(VaultError):
        vault.blobs.open("../../etc/passwd")
    with pytest.raises(VaultError):
        vault.blobs.exists("AB" * 32)
