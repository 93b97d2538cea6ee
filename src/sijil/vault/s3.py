"""Vault blobs in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW).

The store keeps the same opaque, already encrypted bytes as a folder vault, under
the same keyed names: blob ``NAME`` is the object ``PREFIX/NAME``. Encryption stays
on the desk's side (:mod:`sijil.vault.cipher`); the object store sees ciphertext only.

Writes are atomic from a reader's view, idempotent and bounded in memory:

- a blob under one part (:data:`PART_SIZE`) is buffered and sent at commit in one
  ``PutObject`` with ``If-None-Match: *``: it appears whole, or not at all;
- a larger one is a multipart upload, one part buffered at a time. Until
  ``CompleteMultipartUpload`` nothing of it is visible, and an aborted or
  interrupted upload never is. When the caller names the blob up front
  (``begin(name)``, as intake does: it knows an envelope's hash from its file),
  the upload goes straight to that name and completes with ``If-None-Match: *``.
  Otherwise it goes to a temporary key ``PREFIX/.tmp/<random>``, which is then
  copied server-side to its name (``If-None-Match: *``) and deleted;
- a commit answers False when the name was already there (HTTP 412): the content
  is the same, so what is there is kept.

A server that ignores ``If-None-Match`` (older S3-compatible ones) overwrites an
existing blob with another encryption of the same plaintext instead: harmless.
Incomplete multipart uploads and ``.tmp/`` keys left by a killed process are
invisible as blobs; a bucket lifecycle rule that aborts incomplete uploads after a
day and expires ``.tmp/`` keys cleans them (README, "Object-store vault").

Credentials come from boto3's standard chain: ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``), or a shared credentials file
(``AWS_SHARED_CREDENTIALS_FILE``, ``~/.aws/credentials``, ``profile=`` in the URL),
or the machine's role; never the URL or a flag. boto3 rather than bare botocore:
its typed S3 client (``mypy-boto3-s3``) keeps this module under ``mypy --strict``.
Only the client API is used, not boto3's managed transfers, which choose the key
before the content is known and cannot write conditionally.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)
from botocore.loaders import Loader, create_loader

from sijil.errors import ConfigError, VaultError
from sijil.vault.blobstore import PendingBlob, check_name
from sijil.vault.s3_write import COPY_LIMIT, COPY_PART, PART_SIZE, S3Pending, S3Writer
from sijil.vault.s3_write import service as _service
from sijil.vault.s3_write import status as _status

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

__all__ = ["S3BlobStore"]

MIB = 1 << 20
# Attempts per request (botocore's standard mode, with backoff) before the store is
# declared failing: a short outage is ridden out, a long one stops the run.
ATTEMPTS = 3
CONNECT_TIMEOUT = 5  # seconds: a loopback or LAN store answers at once
READ_TIMEOUT = 60  # seconds: a busy store completing a large upload may take a while
_TEMP = ".tmp/"


@cache
def _service_models() -> Loader:
    """botocore's loader of service descriptions, shared: it parses S3's JSON model once."""
    return create_loader()


def _botocore_session() -> botocore.session.Session:
    # a new session each time, so credentials are looked up afresh; the models are shared
    session = botocore.session.get_session()
    session.register_component("data_loader", _service_models())
    return session


class _ObjectReader(io.RawIOBase):
    """A GetObject body as a raw stream; a connection lost midway is a VaultError."""

    def __init__(self, body: StreamingBody) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        with _service("send a blob"):
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3BlobStore:
    """Blobs as objects ``PREFIX/NAME`` in one bucket of an S3-compatible store."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = PART_SIZE,
        copy_limit: int = COPY_LIMIT,
        copy_part: int = COPY_PART,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.writer = S3Writer(client, bucket, part_size, copy_limit, copy_part)

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        """``s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME&profile=NAME]``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ConfigError("an object-store vault URL reads s3://BUCKET/PREFIX?endpoint=URL")
        if parts.username or parts.password:
            raise ConfigError(
                "credentials never go in the vault URL: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or use a credentials file"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "profile"}
        if unknown:
            raise ConfigError(f"unknown vault URL setting(s): {', '.join(sorted(unknown))}")
        endpoint = query.get("endpoint")
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise ConfigError("the vault URL's endpoint must be an http:// or https:// URL")
        config = Config(
            retries={"max_attempts": ATTEMPTS, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            # self-hosted stores (SeaweedFS, MinIO, Ceph) serve buckets as paths
            s3={"addressing_style": "path" if endpoint else "auto"},
        )
        try:
            session = boto3.session.Session(
                botocore_session=_botocore_session(), profile_name=query.get("profile")
            )
            client = session.client(
                "s3", endpoint_url=endpoint, region_name=query.get("region"), config=config
            )
        except BotoCoreError as exc:
            raise ConfigError(f"the object store cannot be set up ({type(exc).__name__})") from exc
        return cls(client, parts.hostname, parts.path)

    def describe(self) -> str:
        """Where the blobs are, for messages: bucket and prefix, never the endpoint."""
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def temp_key(self) -> str:
        return f"{self.prefix}{_TEMP}{secrets.token_hex(16)}"

    def begin(self, name: str | None = None) -> PendingBlob:
        key = self.temp_key() if name is None else self.key(name)
        return S3Pending(self.writer, key, named=name, key_of=self.key)

    def exists(self, name: str) -> bool:
        key = self.key(name)
        with _service("look up a blob"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _status(exc) == 404:
                    return False
                raise
        return True

    def open(self, name: str) -> BinaryIO:
        key = self.key(name)
        with _service("read a blob"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except ClientError as exc:
                if _status(exc) == 404:
                    raise VaultError(f"vault blob {name[:12]}… is missing") from exc
                raise
        return io.BufferedReader(_ObjectReader(body), buffer_size=MIB)

    def size(self, name: str) -> int:
        key = self.key(name)
        with _service("look up a blob"):
            try:
                return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
            except ClientError as exc:
                if _status(exc) == 404:
                    raise VaultError(f"vault blob {name[:12]}… is missing") from exc
                raise

    def names(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
        )
        with _service("list the blobs"):
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if _is_name(name):
                        yield name


def _is_name(name: str) -> bool:
    try:
        check_name(name)
    except VaultError:
        return False
    return True
