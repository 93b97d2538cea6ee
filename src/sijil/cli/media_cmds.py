"""``sijil media``: fingerprint a file, and ask the desk where it has been seen before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, desk_at, open_desk_store
from sijil.cli.options import DESK_HOME as HOME
from sijil.cli.passphrase import read_passphrase
from sijil.desk.neardup.backfill import Backfilled, backfill
from sijil.desk.neardup.catalog import INDEX_FILE, Catalog, MatchKind
from sijil.desk.neardup.lookup import look_up
from sijil.fsutil import open_regular
from sijil.media.fingerprint import MediaPrint, fingerprint_file
from sijil.media.index import DEFAULT_RADIUS, MAX_RADIUS
from sijil.media.pdq import DIHEDRAL, ImagePrint

__all__ = ["media"]

FILE = click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")

# The largest file ``media hash`` and ``media match`` read: above the largest
# envelope a relay takes (2 GiB) with room for a long video found online; a link
# to /dev/zero or a disk image is refused instead of hashed for hours.
MAX_MEDIA_FILE_BYTES = 8 << 30


def _regular(file: Path) -> Path:
    """``file`` if it is a regular file within the limit; InputRefused otherwise.

    Checked by opening it without following a link or blocking (a FIFO would hang
    the hash), so a link, FIFO or device given by mistake gets one line."""
    with open_regular(file, max_bytes=MAX_MEDIA_FILE_BYTES):
        return file


def _describe(media: MediaPrint) -> dict[str, Any]:
    if isinstance(media, ImagePrint):
        return {
            "kind": "image",
            "pdq": media.hex,
            "quality": media.quality,
            "width": media.width,
            "height": media.height,
            "dihedral": {name: h.hex() for name, h in zip(DIHEDRAL, media.dihedral, strict=True)},
        }
    return {
        "kind": "video",
        "width": media.width,
        "height": media.height,
        "duration_s": media.duration_s,
        "frames": [
            {"second": i, "pdq": h.hex(), "quality": q} for i, (h, q) in enumerate(media.frames)
        ],
    }


@click.group()
def media() -> None:
    """Photo and video fingerprints (PDQ, per-second PDQ for video) and near-duplicates."""


@media.command(name="hash")
@FILE
@JSON
def hash_cmd(file: Path, as_json: bool) -> None:
    """Print the PDQ fingerprint(s) of an image or video."""
    described = _describe(fingerprint_file(_regular(file)))
    if as_json:
        click.echo(json.dumps(described, indent=1))
    elif described["kind"] == "image":
        click.echo(f"image {described['width']}x{described['height']}")
        click.echo(f"pdq {described['pdq']} quality {described['quality']}")
        for name, value in described["dihedral"].items():
            click.echo(f"  {name:<9} {value}")
    else:
        click.echo(
            f"video {described['width']}x{described['height']}, {described['duration_s']:.1f} s, "
            f"{len(described['frames'])} frame hash(es), one a second"
        )
        for frame in described["frames"]:
            click.echo(f"{frame['second']:>6}s {frame['pdq']} quality {frame['quality']}")


@media.command()
@HOME
@DB
@FILE
@JSON
@click.option(
    "--radius",
    type=click.IntRange(0, MAX_RADIUS),
    default=DEFAULT_RADIUS,
    help="Largest Hamming distance (of 256 bits) that counts as the same picture.",
)
def match(home: Path, db_url: str | None, file: Path, as_json: bool, radius: int) -> None:
    """Where has the desk seen this photo or video before? (any file found online)"""
    desk_home = desk_at(home, db_url)
    with open_desk_store(desk_home) as store:
        media_print, seen = look_up(store, desk_home.root, _regular(file), radius=radius)
    kind = "image" if isinstance(media_print, ImagePrint) else "video"
    if as_json:
        click.echo(json.dumps({"kind": kind, "matches": [s.to_dict() for s in seen]}, indent=1))
        return
    if not seen:
        click.echo(f"Not seen before: no {kind} at the desk is near this one.")
        return
    for s in seen:
        how = f"distance {s.distance}"
        if s.kind is MatchKind.EXACT:
            how = "identical bytes"
        elif s.kind is MatchKind.PARTIAL:  # "cropped 10% (right)", "covered 15% (bottom)"
            how = f"same photo, {s.transform}; region distance {s.distance} of 128 bits"
        elif s.kind is MatchKind.FRAME:  # "frame at 0:12": a still of the video, or shown in it
            how = f"photo and video, {s.transform}; distance {s.distance}"
        elif s.transform and s.transform != "original":
            how += f", {s.transform}"
        if s.score is not None:
            how += f", {s.score:.0%} / {s.other_score or 0:.0%} of frames shared"
        click.echo(
            f"Seen in report #{s.report_id} ({terminal_safe(s.attachment)}), received "
            f"{s.received_at:%Y-%m-%d %H:%M}, composed {s.created_at:%Y-%m-%d}: {how}"
        )


@media.command()
@HOME
@DB
def reindex(home: Path, db_url: str | None) -> None:
    """Rebuild the saved near-duplicate index from the fingerprints in the database."""
    desk_home = desk_at(home, db_url)
    with open_desk_store(desk_home) as store:
        catalog = Catalog(store=store, path=desk_home.root / INDEX_FILE)
        catalog.catch_up()
        catalog.save()
    click.echo(
        f"Indexed {len(catalog.index)} hash(es) and {len(catalog.regions)} region hash(es);"
        f" saved to {catalog.path}"
    )


@media.command(name="backfill")
@HOME
@DB
def backfill_cmd(home: Path, db_url: str | None) -> None:
    """Fingerprint and match attachments received before media matching (oldest first)."""
    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    vault = desk_home.open_vault(identity)

    def show(done: Backfilled) -> None:
        found = f", {done.matches} match(es)" if done.matches else ""
        click.echo(f"report #{done.report_id} attachment {done.attachment_id}: {done.kind}{found}")

    with desk_home.open_store(identity) as store:
        done = backfill(store, desk_home.root, open_blob=vault.open_plain, progress=show)
    matched = sum(d.matches for d in done)
    click.echo(f"done: {len(done)} attachment(s) fingerprinted, {matched} match(es) recorded")
