"""Where a vault's blobs live, from a URL: a folder, or an S3-compatible object store.

- ``s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME&profile=NAME]``: an object store
  (:mod:`sijil.vault.s3`); without ``endpoint``, AWS S3 itself. Credentials come
  from the standard AWS environment variables or a credentials file, never the URL.
- ``file:///ABSOLUTE/PATH`` or an absolute path: a folder (:class:`FolderBlobStore`).

boto3 is imported only for an object store, so a desk on a folder never loads it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from sijil.errors import ConfigError
from sijil.vault.blobstore import BlobStore, FolderBlobStore

__all__ = ["blob_store_from_url", "describe_url"]


def blob_store_from_url(url: str) -> BlobStore:
    """The blob store a vault URL names; ConfigError for one sijil cannot use."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from sijil.vault.s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError("a file:// vault URL names a folder on this machine")
        return FolderBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "" and url:
        if not Path(url).is_absolute():
            raise ConfigError("a folder vault is named by its absolute path")
        return FolderBlobStore(Path(url))
    raise ConfigError("a vault URL is s3://BUCKET/PREFIX?endpoint=URL or a folder")


def describe_url(url: str) -> str:
    """A vault URL fit for messages and logs: scheme, bucket and prefix, no endpoint."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return f"s3://{parts.hostname or ''}{parts.path}"
    return "a folder vault"
