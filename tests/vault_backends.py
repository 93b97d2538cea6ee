"""The vault's two blob stores side by side, for tests that run on both.

``make_backend`` (a fixture factory, parametrised "folder" and "s3") returns a
:class:`Backend`: a vault on a folder or on a prefix of the test SeaweedFS server,
and raw access to what it stored (list, read, overwrite, delete, leftovers), so a
test can tamper with a blob exactly as someone holding the disk or the bucket could.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sijil.vault import FolderBlobStore, Vault, blob_store_from_url
from sijil.vault.cipher import VaultKey
from sijil.vault.s3 import S3BlobStore

SECRET = bytes(range(32))
BACKENDS = ["folder", "s3"]


@dataclass
class Backend:
    kind: str
    vault: Vault

    def _s3(self) -> S3BlobStore:
        assert isinstance(self.vault.blobs, S3BlobStore)
        return self.vault.blobs

    def names(self) -> list[str]:
        """Every stored object or file, blob or not (temp files included)."""
        if isinstance(self.vault.blobs, FolderBlobStore):
            root = self.vault.blobs.root
            return [p.name for p in root.rglob("*") if p.is_file()]
        s3 = self._s3()
        listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=s3.prefix)
        return [item["Key"][len(s3.prefix) :] for item in listed.get("Contents", [])]

    def blob_names(self) -> list[str]:
        return sorted(self.vault.blobs.names())

    def read(self, name: str) -> bytes:
        if isinstance(self.vault.blobs, FolderBlobStore):
            return self.vault.blobs.path(name).read_bytes()
        s3 = self._s3()
        return s3.client.get_object(Bucket=s3.bucket, Key=s3.key(name))["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        if isinstance(self.vault.blobs, FolderBlobStore):
            self.vault.blobs.path(name).write_bytes(data)
            return
        s3 = self._s3()
        s3.client.put_object(Bucket=s3.bucket, Key=s3.key(name), Body=data)

    def delete(self, name: str) -> None:
        if isinstance(self.vault.blobs, FolderBlobStore):
            self.vault.blobs.path(name).unlink()
            return
        s3 = self._s3()
        s3.client.delete_object(Bucket=s3.bucket, Key=s3.key(name))

    def leftovers(self) -> list[str]:
        """Temp files, temp keys and unfinished multipart uploads: none after any store."""
        if isinstance(self.vault.blobs, FolderBlobStore):
            tmp = self.vault.blobs.tmp
            return [p.name for p in tmp.iterdir()] if tmp.is_dir() else []
        s3 = self._s3()
        uploads = s3.client.list_multipart_uploads(Bucket=s3.bucket, Prefix=s3.prefix)
        pending = [u["Key"] for u in uploads.get("Uploads", [])]
        return pending + [n for n in self.names() if not n.startswith(tuple("0123456789abcdef"))]


@pytest.fixture(params=BACKENDS)
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Backend]:
    """Factory: an empty vault on this test's backend; ``secret`` picks another desk's key.

    ``store`` settings (``part_size``, ``copy_limit``, ``copy_part``) apply to the
    object store only: tests set them small to exercise multipart paths cheaply.
    """
    count = [0]

    def make(secret: bytes = SECRET, **store: Any) -> Backend:
        count[0] += 1
        key = VaultKey.from_secret(secret)
        if request.param == "folder":
            blobs = FolderBlobStore(tmp_path / f"vault-{count[0]}")
        else:
            url = request.getfixturevalue("make_s3_url")()
            made = blob_store_from_url(url)
            assert isinstance(made, S3BlobStore)
            blobs = S3BlobStore(made.client, made.bucket, made.prefix, **store)
        return Backend(kind=request.param, vault=Vault(blobs=blobs, key=key))

    return make
