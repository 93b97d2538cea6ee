"""Compose, scrub, sign and seal a report into the outbox; export envelopes for carrying out."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sijil import scrub as scrubber
from sijil.envelope import shards as shard_codec
from sijil.envelope.manifest import Rekey
from sijil.envelope.sealing import AttachmentSource, Draft, seal
from sijil.errors import ConfigError, ScrubError, ShardError
from sijil.field.home import FieldSession
from sijil.fsutil import atomic_write, fsync_dir

__all__ = ["Composed", "ExportResult", "compose", "export_outbox"]

# Attachments travel under neutral names: "IMG_20161122_081503.jpg" dates the
# photo and "DSC_0042" numbers the camera's shots, so the original name stays home.
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "gif": ("image/gif", "gif"),
    "webp": ("image/webp", "webp"),
    "tiff": ("image/tiff", "tif"),
    "heic": ("image/heic", "heic"),
    "avif": ("image/avif", "avif"),
    "mp4": ("video/mp4", "mp4"),
    "mov": ("video/quicktime", "mov"),
    "mp3": ("audio/mpeg", "mp3"),
    "ogg": ("audio/ogg", "ogg"),
    "flac": ("audio/flac", "flac"),
    "wav": ("audio/wav", "wav"),
    "pdf": ("application/pdf", "pdf"),
}
UNKNOWN_MEDIA = ("application/octet-stream", "bin")


@dataclass(frozen=True, kw_only=True)
class CleanedFile:
    source_name: str
    name: str
    removed: tuple[str, ...]
    kept_metadata: bool
    # Capture time/place read before scrubbing, for verification mode only.
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Composed:
    envelope_id: str
    size: int
    files: tuple[CleanedFile, ...]


def _clean(path: Path, index: int, keep_metadata: bool) -> tuple[IO[bytes], CleanedFile, str]:
    # An anonymous temp file in the system temp folder: unlinked at once, never
    # in the correspondent's home, gone when closed.
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - closed by compose()
    try:
        with path.open("rb") as src:
            fmt = scrubber.detect_format(src.read(64))
            src.seek(0)
            media_type, ext = MEDIA_TYPES.get(fmt, UNKNOWN_MEDIA)
            try:
                # By path: ffmpeg then reads the original in place instead of a
                # temporary copy (one less copy of an unscrubbed video on disk).
                report = scrubber.scrub(path, tmp)
                removed = tuple(f.text for f in report.removed)
                facts = _capture_facts(report.removed)
                kept = False
            except ScrubError as exc:
                if not keep_metadata:
                    raise type(exc)(
                        f"{path.name}: {exc}; nothing was sealed (--keep-metadata sends it "
                        "unchanged, which may identify you)"
                    ) from exc
                src.seek(0)
                tmp.seek(0)
                tmp.truncate()
                shutil.copyfileobj(src, tmp, 1 << 20)
                removed, kept, facts = (), True, ()
    except OSError as exc:
        tmp.close()
        raise ConfigError(f"cannot read {path.name}: {exc.strerror}") from exc
    except BaseException:
        tmp.close()
        raise
    tmp.flush()
    name = f"attachment-{index}.{ext}"
    info = CleanedFile(
        source_name=path.name,
        name=name,
        removed=removed,
        kept_metadata=kept,
        facts=tuple((f"{name}.{key}", value) for key, value in facts),
    )
    return tmp, info, media_type


def _capture_facts(findings: Sequence[scrubber.Finding]) -> tuple[tuple[str, str], ...]:
    """The first capture time and position the scrubber read, as manifest extras."""
    facts: dict[str, str] = {}
    for finding in findings:
        key = {"datetime": "capture_time", "gps": "capture_location"}.get(finding.kind)
        if key and finding.value and key not in facts:
            facts[key] = finding.value
    return tuple(facts.items())


def compose(
    session: FieldSession,
    draft: Draft,
    files: Sequence[Path],
    *,
    keep_metadata: bool = False,
    verification: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rekey: Rekey | None = None,
) -> Composed:
    """Scrub every file, sign and seal the report to the desk, and put it in the outbox.

    With ``verification`` the capture time and position read from each file's
    metadata go into the signed manifest's ``report.extra`` (encrypted to the
    desk), never into the cleaned file.
    """
    cleaned: list[tuple[IO[bytes], CleanedFile, str]] = []
    try:
        for index, path in enumerate(files, 1):
            cleaned.append(_clean(Path(path), index, keep_metadata))
        if verification:
            facts = {k: v for _, info, _ in cleaned for k, v in info.facts}
            draft = replace(draft, extra={**draft.extra, **facts})
        sources = [
            AttachmentSource(name=info.name, media_type=media, stream=handle)  # type: ignore[arg-type]
            for handle, info, media in cleaned
        ]
        outbox = session.home.outbox
        outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(prefix=".seal-", dir=outbox)
        try:
            with os.fdopen(fd, "wb") as out:
                sealed = seal(
                    draft,
                    sources,
                    sender=session.identity,
                    desk=session.desk,
                    out=out,
                    enrol_token=session.enrol_token,
                    clock=clock,
                    mode=session.seal_mode,
                    rekey=rekey,
                )
                out.flush()
                os.fsync(out.fileno())
            Path(tmp_name).replace(session.envelope_path(sealed.envelope_id))
            fsync_dir(outbox)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    finally:
        for handle, _, _ in cleaned:
            handle.close()
    outbox_index = session.load_index()
    outbox_index.append(
        {
            "id": sealed.envelope_id,
            "title": draft.title,
            "created_at": sealed.manifest.created_at,
            "size": sealed.size,
            "files": len(cleaned),
            "exported": [],
        }
    )
    session.save_index(outbox_index)
    return Composed(
        envelope_id=sealed.envelope_id, size=sealed.size, files=tuple(c[1] for c in cleaned)
    )


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    envelope_id: str
    paths: tuple[Path, ...]
    # why this envelope was not exported this way (e.g. too large for text); others go on
    skipped: str | None = None


def export_outbox(
    session: FieldSession,
    dest: Path,
    *,
    text: bool = False,
    shard_bytes: int = shard_codec.DEFAULT_SHARD_BYTES,
    redundancy: float = 0.5,
    only_new: bool = False,
) -> list[ExportResult]:
    """Copy outbox envelopes to ``dest`` (a USB stick), as files or as text shards."""
    dest.mkdir(parents=True, exist_ok=True)
    index = session.load_index()
    results: list[ExportResult] = []
    channel = "text" if text else "file"
    for entry in index:
        exported: list[dict[str, Any]] = entry.setdefault("exported", [])
        if only_new and any(e.get("channel") == channel for e in exported):
            continue
        source = session.envelope_path(str(entry["id"]))
        if not source.is_file():
            continue
        data = source.read_bytes() if text else b""
        paths: list[Path] = []
        if text:
            try:
                pieces = shard_codec.split(data, shard_bytes=shard_bytes, redundancy=redundancy)
            except ShardError as exc:
                # one large video must not hold back an urgent text report behind it
                results.append(
                    ExportResult(envelope_id=str(entry["id"]), paths=(), skipped=str(exc))
                )
                continue
            for piece in pieces:
                path = dest / f"{piece.envelope_id[:12]}-{piece.index:03d}-of-{piece.n:03d}.txt"
                atomic_write(path, shard_codec.format_shard(piece).encode("ascii"), mode=0o644)
                paths.append(path)
        else:
            target = dest / source.name
            with (
                source.open("rb") as src,
                tempfile.NamedTemporaryFile(dir=dest, prefix=".tmp-", delete=False) as out,
            ):
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            Path(out.name).replace(target)
            paths.append(target)
        exported.append({"channel": channel, "at": datetime.now(UTC).isoformat(timespec="seconds")})
        results.append(ExportResult(envelope_id=str(entry["id"]), paths=tuple(paths)))
    session.save_index(index)
    return results
