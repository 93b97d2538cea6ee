"""``sijil publish snapshot``: the built site as one signed zip, for a USB stick.

The zip holds the site under one folder, ``sijil-site/``: unzipped anywhere, its
``index.html`` opens in a browser from ``file://`` (every link is relative, and
the map falls back to its build-time image where scripts cannot load data). It is
deterministic: the same site gives the same bytes (sorted names, a fixed date,
fixed permissions, one compression level), so two desks or two days can compare
snapshots by hash. ``FILE.zip.minisig`` is its minisign signature by the
publication key (``minisign -Vm FILE.zip -p keys/publication.pub``), with the log
size in the trusted comment.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sijil.errors import ConfigError
from sijil.fsutil import atomic_write, atomic_writer
from sijil.publish import minisign
from sijil.publish.keys import PublicationKey
from sijil.publish.site import MARKER, read_marker

__all__ = ["FOLDER", "SnapshotResult", "write_snapshot"]

FOLDER = "sijil-site"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold


@dataclass(frozen=True)
class SnapshotResult:
    out: Path
    signature: Path
    files: int
    bytes: int
    log_size: int


def _files(site: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for folder, dirs, names in os.walk(site):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".tmp-"))
        for name in names:
            path = Path(folder) / name
            rel = path.relative_to(site).as_posix()
            if rel == MARKER or name.startswith(".tmp-") or path.is_symlink():
                continue
            found.append((rel, path))
    return sorted(found)


def write_snapshot(site: Path, key: PublicationKey, out: Path) -> SnapshotResult:
    """Zip the built site at ``site`` into ``out`` and sign it beside as ``out.minisig``."""
    marker = read_marker(site)
    if marker is None:
        raise ConfigError(f"{site} holds no site build (run 'sijil publish build')")
    if out.resolve().is_relative_to(site.resolve()):
        raise ConfigError("write the snapshot outside the site folder")
    files = _files(site)
    with (
        atomic_writer(out, mode=0o644) as handle,
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
    ):
        for rel, path in files:
            info = zipfile.ZipInfo(f"{FOLDER}/{rel}", date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # Unix, so the permissions above are read
            zf.writestr(info, path.read_bytes(), compresslevel=6)
    data = out.read_bytes()
    size = int(str(marker.get("log_size", 0)))
    comment = f"sijil site snapshot, publication log size {size}, file {out.name}"
    signature = out.with_name(out.name + ".minisig")
    atomic_write(signature, minisign.sign(key, data, trusted_comment=comment).encode(), mode=0o644)
    return SnapshotResult(out, signature, len(files), len(data), size)
