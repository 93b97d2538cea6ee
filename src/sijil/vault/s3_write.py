"""Writing vault blobs to an S3-compatible store: bounded parts, atomic conditional commits.

The rules are in :mod:`sijil.vault.s3`'s docstring; this module holds the writer
(one PutObject, a multipart upload, a server-side copy, each conditional on the
name being new) and the translation of the S3 client's errors, which reads share.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from urllib3.exceptions import HTTPError

from sijil.errors import VaultError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["COPY_LIMIT", "COPY_PART", "PART_SIZE", "S3Pending", "S3Writer", "service", "status"]

MIB = 1 << 20
# S3 parts must be at least 5 MiB (but the last); 8 MiB keeps a pending blob to one
# buffered part plus the 1 MiB chunk being added, and a 1 GiB video to 128 requests.
PART_SIZE = 8 * MIB
# S3's limit on parts in one upload: with 8 MiB parts, blobs up to 78 GiB.
MAX_PARTS = 10_000
# The largest object one CopyObject may copy (S3's limit); larger ones go in parts.
COPY_LIMIT = 5 << 30
# Each UploadPartCopy of a larger copy: under S3's 5 GiB per part, and few requests.
COPY_PART = 1 << 30
_CODE = re.compile(r"[^A-Za-z0-9.]")


def _code(exc: ClientError) -> str:
    # the server's error code only (no message, which may echo a key or an address)
    error = exc.response.get("Error", {})
    return _CODE.sub("", str(error.get("Code", "unknown")))[:40] or "unknown"


def status(exc: ClientError) -> int:
    """The HTTP status of a refusal (404, 412, ...)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


@contextmanager
def service(what: str) -> Iterator[None]:
    """Translate the S3 client's errors into one-line VaultErrors, without addresses."""
    try:
        yield
    except ClientError as exc:
        raise VaultError(f"the object store refused to {what} ({_code(exc)})") from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise VaultError(
            "no credentials for the object store: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or point AWS_SHARED_CREDENTIALS_FILE at a credentials file"
        ) from exc
    except (BotoCoreError, HTTPError) as exc:
        raise VaultError(
            f"the object store could not be reached to {what} ({type(exc).__name__})"
        ) from exc


@dataclass(frozen=True)
class S3Writer:
    """The write requests of one bucket; settings small in tests to reach every path."""

    client: S3Client
    bucket: str
    part_size: int = PART_SIZE
    copy_limit: int = COPY_LIMIT
    copy_part: int = COPY_PART

    def put_new(self, key: str, body: bytes) -> bool:
        """One PutObject that creates ``key`` or leaves it alone; False if it was there."""
        with service("store a blob"):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            except ClientError as exc:
                if status(exc) == 412:
                    return False
                raise
        return True

    def copy_new(self, source: str, target: str) -> bool:
        """Copy ``source`` to a new ``target`` server-side; False if ``target`` was there."""
        with service("store a blob"):
            size = self.client.head_object(Bucket=self.bucket, Key=source)["ContentLength"]
            try:
                if size <= self.copy_limit:
                    self.client.copy_object(
                        Bucket=self.bucket,
                        Key=target,
                        CopySource={"Bucket": self.bucket, "Key": source},
                        IfNoneMatch="*",
                    )
                else:
                    self._copy_in_parts(source, target, size)
            except ClientError as exc:
                if status(exc) == 412:
                    return False
                raise
        return True

    def _copy_in_parts(self, source: str, target: str, size: int) -> None:
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=target)["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            for number, start in enumerate(range(0, size, self.copy_part), start=1):
                end = min(start + self.copy_part, size) - 1
                copied = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=target,
                    UploadId=upload,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            self.complete(target, upload, parts, only_new=True)
        except BaseException:
            self.abort_quietly(target, upload)
            raise

    def complete(
        self, key: str, upload: str, parts: list[CompletedPartTypeDef], *, only_new: bool
    ) -> None:
        """CompleteMultipartUpload; with ``only_new``, a 412 if ``key`` exists already."""
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if only_new else {}
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": parts},
            **extra,
        )

    def abort_quietly(self, key: str, upload: str) -> None:
        """Abort a multipart upload; if the store is unreachable, it stays invisible anyway."""
        # an incomplete upload is never a blob; the bucket's lifecycle rule ends it
        with suppress(BotoCoreError, ClientError, HTTPError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)

    def delete_quietly(self, key: str) -> None:
        """Delete a temporary key; one left behind is under .tmp/, never a blob."""
        with suppress(BotoCoreError, ClientError, HTTPError):
            self.client.delete_object(Bucket=self.bucket, Key=key)


class S3Pending:
    """A blob being written to ``key``: its final key if ``named``, else a temporary one.

    ``key_of`` gives the key of a blob name (checking the name).
    """

    def __init__(
        self, writer: S3Writer, key: str, *, named: str | None, key_of: Callable[[str], str]
    ) -> None:
        self._writer = writer
        self._key = key
        self._named = named
        self._key_of = key_of
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._upload: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._temp_written = False

    def write(self, data: bytes) -> None:
        self._buffer.append(bytes(data))
        self._buffered += len(data)
        if self._buffered >= self._writer.part_size:
            self._send_part()

    def _send_part(self) -> None:
        s3, bucket = self._writer.client, self._writer.bucket
        body = b"".join(self._buffer)
        self._buffer, self._buffered = [], 0
        if len(self._parts) >= MAX_PARTS:
            raise VaultError(f"a blob over {MAX_PARTS} parts is too large for the object store")
        with service("store a blob"):
            if self._upload is None:
                self._upload = s3.create_multipart_upload(Bucket=bucket, Key=self._key)["UploadId"]
            number = len(self._parts) + 1
            sent = s3.upload_part(
                Bucket=bucket, Key=self._key, UploadId=self._upload, PartNumber=number, Body=body
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def commit(self, name: str) -> bool:
        try:
            target = self._key_of(name)
            if self._named is not None and name != self._named:
                raise VaultError("a vault blob was stored under another name than announced")
            if self._upload is None:  # under one part: one conditional PutObject
                body, self._buffer = b"".join(self._buffer), []
                return self._writer.put_new(target, body)
            if self._buffer:
                self._send_part()
            upload, self._upload = self._upload, None
            created = self._complete(upload)
            if self._named is not None:
                return created
            return self._writer.copy_new(self._key, target)
        except BaseException:
            self.abort()
            raise
        finally:
            if self._temp_written:
                self._writer.delete_quietly(self._key)

    def _complete(self, upload: str) -> bool:
        only_new = self._named is not None
        try:
            with service("store a blob"):
                try:
                    self._writer.complete(self._key, upload, self._parts, only_new=only_new)
                except ClientError as exc:
                    if status(exc) != 412:
                        raise
                    self._writer.abort_quietly(self._key, upload)
                    return False
        except BaseException:
            self._writer.abort_quietly(self._key, upload)
            raise
        self._temp_written = not only_new
        return True

    def abort(self) -> None:
        self._buffer, self._buffered = [], 0
        upload, self._upload = self._upload, None
        if upload is not None:
            self._writer.abort_quietly(self._key, upload)
