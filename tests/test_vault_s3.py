"""The object-store vault on a real S3 server (SeaweedFS on loopback): what only it does.

Multipart uploads with bounded memory, atomic commits (an unfinished upload is never
a blob), conditional writes, credentials from the environment or a file, one-line
errors without addresses, and an outage: the server killed, then back.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from s3_server import ACCESS_KEY, SECRET_KEY, S3Server
from sijil.errors import BlobAltered, ConfigError, VaultError
from sijil.vault import Vault, VaultKey, blob_store_from_url
from sijil.vault.location import describe_url
from sijil.vault.s3 import S3BlobStore
from vault_backends import SECRET, Backend

MIB = 1 << 20
SMALL_PART = 5 * MIB  # S3's smallest part: multipart paths on a few MiB


def _store(url: str, **settings: int) -> S3BlobStore:
    made = blob_store_from_url(url)
    assert isinstance(made, S3BlobStore)
    return S3BlobStore(made.client, made.bucket, made.prefix, **settings)


@pytest.fixture
def make_s3_vault(make_s3_url: Callable[[], str]) -> Callable[..., Backend]:
    """Factory: a vault on a fresh prefix of the shared server; settings as S3BlobStore's."""

    def make(**settings: int) -> Backend:
        store = _store(make_s3_url(), **settings)
        return Backend(kind="s3", vault=Vault(blobs=store, key=VaultKey.from_secret(SECRET)))

    return make


@pytest.mark.parametrize(
    ("how", "settings"),
    [
        ("address known: straight to its name", {}),
        ("address unknown: a temporary key, copied", {}),
        ("address unknown: copied in parts", {"copy_limit": 6 * MIB, "copy_part": SMALL_PART}),
    ],
)
def test_a_large_blob_goes_up_in_parts_and_leaves_nothing_behind(
    make_s3_vault: Callable[..., Backend], tmp_path: Path, how: str, settings: dict[str, int]
) -> None:
    # Given a 12 MiB video and a store with 5 MiB parts
    backend = make_s3_vault(part_size=SMALL_PART, **settings)
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(12 * MIB + 123))
    sha = hashlib.sha256(video.read_bytes()).hexdigest()
    # When it is stored
    known = sha if how.startswith("address known") else None
    ref = backend.vault.put_file(video, expected_sha256=known)
    # Then it reads back whole, as one blob, with no temporary key or upload left
    assert ref.sha256 == sha and backend.vault.check(sha) is None
    assert backend.blob_names() == [backend.vault.name_of(sha)] == backend.names()
    assert backend.leftovers() == []


def test_an_unfinished_upload_is_never_a_blob(make_s3_vault: Callable[..., Backend]) -> None:
    # Given an upload of 11 MiB under a known name, two parts already sent
    backend = make_s3_vault(part_size=SMALL_PART)
    name = backend.vault.name_of("ab" * 32)
    pending = backend.vault.blobs.begin(name)
    pending.write(os.urandom(11 * MIB))
    # Then no reader sees it: not listed, not there, not readable
    assert backend.blob_names() == [] and not backend.vault.blobs.exists(name)
    with pytest.raises(VaultError, match="missing"):
        backend.vault.blobs.open(name)
    # (a process killed here leaves only an unfinished upload, which no listing shows)
    assert len(backend.leftovers()) == 1
    # When it is aborted Then nothing at all is left
    pending.abort()
    assert backend.leftovers() == [] and backend.names() == []


@pytest.mark.parametrize("size", [1000, 11 * MIB])
@pytest.mark.parametrize("named", [True, False])
def test_a_name_already_there_is_kept(
    make_s3_vault: Callable[..., Backend], size: int, named: bool
) -> None:
    # Given a blob stored under a name
    backend = make_s3_vault(part_size=SMALL_PART)
    store = backend.vault.blobs
    name = backend.vault.name_of("cd" * 32)
    first = store.begin(name if named else None)
    first.write(b"first " * (size // 6))
    assert first.commit(name) is True
    # When another write commits under the same name (the same content, elsewhere)
    second = store.begin(name if named else None)
    second.write(b"other " * (size // 6))
    # Then the commit says it was there, and the first stays, whole
    assert second.commit(name) is False
    with store.open(name) as blob:
        assert blob.read(12) == b"first first "
    assert backend.names() == [name] and backend.leftovers() == []


def test_memory_stays_bounded_whatever_the_size(
    make_s3_vault: Callable[..., Backend], tmp_path: Path
) -> None:
    # Given a 64 MiB file and the default 8 MiB parts
    backend = make_s3_vault()
    video = tmp_path / "big.mp4"
    with video.open("wb") as out:
        for _ in range(64):
            out.write(os.urandom(MIB))
    # When it is stored while Python's allocations are traced
    tracemalloc.start()
    try:
        ref = backend.vault.put_file(video)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then the peak is a few parts, not the file
    assert peak < 32 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert backend.vault.check(ref.sha256) is None


def test_vault_urls_carry_no_secret_and_say_what_is_wrong(s3_credentials: None) -> None:
    for url, message in [
        ("s3://key:secret@bucket/p?endpoint=http://127.0.0.1:1", "never go in the vault URL"),
        ("s3://bucket/p?endpoint=http://127.0.0.1:1&password=x", "unknown vault URL setting"),
        ("s3://bucket/p?endpoint=ftp://127.0.0.1:1", "http:// or https://"),
        ("gs://bucket/p", "s3://BUCKET/PREFIX"),
    ]:
        with pytest.raises(ConfigError, match=message) as caught:
            blob_store_from_url(url)
        assert "secret" not in str(caught.value).replace("AWS_SECRET_ACCESS_KEY", "")
    assert describe_url("s3://b/desk?endpoint=http://10.0.0.9:8333") == "s3://b/desk"
    store = _store("s3://b/desk/?endpoint=http://127.0.0.1:1&region=eu-west-1")
    assert (store.bucket, store.prefix, store.describe()) == ("b", "desk/", "s3://b/desk/")


def test_wrong_or_missing_credentials_are_one_line_without_the_address(
    s3_server: S3Server,
    make_s3_url: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = make_s3_url()
    port = str(s3_server.ports["s3"])
    # Given a wrong secret key When the vault is used Then the store's refusal is named
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(VaultError, match=r"refused to .* \(SignatureDoesNotMatch\)") as caught:
        Vault(blobs=blob_store_from_url(url), key=VaultKey.from_secret(SECRET)).put_bytes(b"x")
    assert "\n" not in str(caught.value) and port not in str(caught.value)
    # Given no credentials at all Then it says where they go
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(VaultError, match=r"no credentials .* AWS_ACCESS_KEY_ID"):
        blob_store_from_url(url).exists("ab" * 32)
    # Given them in a credentials file, under a profile Then the vault works
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[desk]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    vault = Vault(
        blobs=blob_store_from_url(url + "&profile=desk"), key=VaultKey.from_secret(SECRET)
    )
    assert vault.read_bytes(vault.put_bytes(b"from a file").sha256) == b"from a file"


@pytest.mark.slow
def test_an_outage_stops_cleanly_and_the_store_goes_on_after_it(
    make_s3_server: Callable[[], S3Server], s3_credentials: None
) -> None:
    # Given a vault on a private server, with a blob stored
    server = make_s3_server()
    store = _store(server.url("desk"), part_size=SMALL_PART)
    vault = Vault(blobs=store, key=VaultKey.from_secret(SECRET))
    kept = vault.put_bytes(b"stored before the outage")
    big = vault.put_bytes(os.urandom(40 * MIB))
    # When the server dies in the middle of a read
    chunks = vault.chunks(big.sha256)
    next(chunks)
    server.stop()
    # Then the read stops with one line, and so do a store and a look-up
    with pytest.raises(VaultError, match="could not be reached to send a blob") as reading:
        for _ in chunks:
            pass
    assert not isinstance(reading.value, BlobAltered)  # an outage, not a damaged blob
    with pytest.raises(VaultError, match="could not be reached") as storing:
        vault.put_bytes(os.urandom(7 * MIB))
    with pytest.raises(VaultError, match="could not be reached"):
        vault.has(kept.sha256)
    for caught in (reading, storing):
        assert "\n" not in str(caught.value) and "127.0.0.1" not in str(caught.value)
    # When the server comes back Then what was stored is intact, and storing works again
    server.start()
    assert vault.read_bytes(kept.sha256) == b"stored before the outage"
    assert vault.check(big.sha256) is None
    again = vault.put_bytes(b"stored after the outage")
    assert sorted(store.names()) == sorted(vault.name_of(r.sha256) for r in (kept, big, again))


def test_a_desk_on_a_folder_never_loads_boto3() -> None:
    # the CLI, the desk and the vault import no S3 client until a vault URL asks for one
    code = "import sys, sijil.cli.main, sijil.desk.intake; sys.exit('botocore' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
