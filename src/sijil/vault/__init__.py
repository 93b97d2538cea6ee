"""sijil.vault: the evidence vault (content-addressed, encrypted, keyed names)."""

from sijil.vault.blobstore import BlobStore, FolderBlobStore, PendingBlob
from sijil.vault.cipher import VaultKey
from sijil.vault.location import blob_store_from_url
from sijil.vault.vault import BlobRef, BlobWriter, Vault, record_blob

__all__ = [
    "BlobRef",
    "BlobStore",
    "BlobWriter",
    "FolderBlobStore",
    "PendingBlob",
    "Vault",
    "VaultKey",
    "blob_store_from_url",
    "record_blob",
]
