"""What intake is given and what it says back: the files under a folder, the
per-process staging folder, and one outcome per input.

Every file under a folder is an input except hidden ones (a name starting with
".": a stick's ``.Trashes``, ``.DS_Store``, macOS ``._`` twins), which are
*ignored*: listed only on request, never counted as skipped. A hidden file named
on the command line is read like any other.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "MAX_INPUT_FILES",
    "NEEDS_ATTENTION",
    "ImportOutcome",
    "ImportStatus",
    "Progress",
    "own_staging",
    "walk_inputs",
]

# Walking a folder stops here so a mistaken "import /" cannot run for hours.
MAX_INPUT_FILES = 100_000


class ImportStatus(StrEnum):
    """What became of one input; the values are what the CLI prints."""

    IMPORTED = "imported"  # opened, verified, registered
    DUPLICATE = "duplicate"  # already here (by envelope id)
    WAITING = "waiting"  # shards that cannot rebuild yet, kept; a download to try again
    QUARANTINED = "quarantined"  # kept aside in the vault with its reason
    SKIPPED = "skipped"  # not read, and left where it is (a link, a FIFO, over a limit)
    IGNORED = "ignored"  # a hidden file in a folder: not an input
    QUEUED = "queued"  # kept in the vault for a worker to take (sijil.jobs, --queue)


#: Statuses after which a person should look (exit status 3 of import and pull).
NEEDS_ATTENTION = frozenset({ImportStatus.QUARANTINED, ImportStatus.SKIPPED, ImportStatus.WAITING})


@dataclass(frozen=True, kw_only=True)
class ImportOutcome:
    source: str
    status: ImportStatus
    detail: str
    envelope_id: str | None = None
    report_id: int | None = None
    correspondent: str | None = None
    # the quarantine item the input was kept as (status quarantined)
    item: int | None = None


Progress = Callable[[ImportOutcome], None]


def walk_inputs(paths: Sequence[Path]) -> Iterator[tuple[Path, ImportOutcome | None]]:
    """Every file under ``paths``, each with the outcome it gets unread (None: read it).

    Nothing is passed over silently: hidden files and folders are ignored but
    reported, linked folders and what lies past MAX_INPUT_FILES are skipped, so no
    one wipes a stick believing it imported.
    """
    count = 0
    for path in paths:
        candidates: list[tuple[Path, ImportOutcome | None]] = []
        if path.is_dir() and not path.is_symlink():
            for dirpath, dirs, names in os.walk(path):
                for name in sorted(dirs):
                    folder = Path(dirpath) / name
                    if name.startswith("."):
                        candidates.append((folder, _unread(folder, ImportStatus.IGNORED, "folder")))
                    elif folder.is_symlink():
                        candidates.append(
                            (folder, _unread(folder, ImportStatus.SKIPPED, "linked folder"))
                        )
                dirs[:] = [d for d in dirs if not d.startswith(".")]  # never walked into
                for name in names:
                    file = Path(dirpath) / name
                    hidden = name.startswith(".")
                    candidates.append(
                        (file, _unread(file, ImportStatus.IGNORED, "file") if hidden else None)
                    )
            candidates.sort(key=lambda c: c[0])
        elif path.exists() or path.is_symlink():
            candidates = [(path, None)]
        else:
            raise FileNotFoundError(path)
        for candidate, unread in candidates:
            if unread is not None and unread.status is ImportStatus.IGNORED:
                yield candidate, unread
                continue
            count += 1
            if count > MAX_INPUT_FILES:
                yield (
                    candidate,
                    ImportOutcome(
                        source=str(candidate),
                        status=ImportStatus.SKIPPED,
                        detail=f"more than {MAX_INPUT_FILES} files given: this one and the "
                        "rest were not read; import them in smaller batches",
                    ),
                )
                return
            yield candidate, unread


def _unread(path: Path, status: ImportStatus, what: str) -> ImportOutcome:
    detail = {
        "folder": "a hidden folder; not read",
        "file": "a hidden file; not read",
        "linked folder": "a linked folder; not followed",
    }[what]
    return ImportOutcome(source=str(path), status=status, detail=detail)


def own_staging(root: Path) -> Path:
    """A staging folder for this process; leftovers of killed imports are removed first.

    Staging holds sealed envelopes (ciphertext) while they are taken; attachments
    never pass through it (they stream into the encrypted vault). An older version
    left decrypted attachments here after a kill -9, so every ``.open-`` file and
    every folder whose process is gone is deleted before new work starts.
    """
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for leftover in root.iterdir():
        if leftover.name.startswith(".open-"):
            leftover.unlink(missing_ok=True)  # decrypted attachments of the older layout
            continue
        if not leftover.name.startswith("run-") or leftover.is_symlink():
            continue  # others' files (a pull's downloads) are theirs to manage
        owner = leftover.name.split("-")[1]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(leftover, ignore_errors=True)
    own = root / f"run-{os.getpid()}-{secrets.token_hex(4)}"
    own.mkdir(mode=0o700)
    return own


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
