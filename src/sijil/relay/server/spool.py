"""The relay's spool: unfinished uploads, finished envelopes, rejects and reply mailboxes.

Layout under the spool folder::

    uploads/<upload>.part      bytes received so far; its size IS the upload's offset
    uploads/<upload>.json      length, claimed envelope id, expiry
    uploads/<upload>.pending   start offset of a checksummed PATCH not yet verified
    envelopes/<id>.age         finished, checked envelopes, by envelope id (SHA-256)
    rejected/<sha>.bin         finished uploads that are no envelope, with <sha>.reason.txt
    mailboxes/<box>/<id>.age   sealed replies waiting for their correspondent

Crash safety: bytes reach ``.part`` in order, so after a kill -9 its size is a
consistent offset holding exactly the bytes received. A checksummed PATCH must be
all-or-nothing (tus), so its start offset is written to ``.pending`` first and a
crash before the checksum verified rolls the file back to it. Finished uploads
move into ``envelopes/`` by an atomic rename, after the whole file was checked.

Every method does file I/O and blocks; the relay calls them from worker threads,
never on its event loop (finishing an upload hashes up to 2 GiB). Two requests
never work on the same upload at once (the app holds each upload while it works
on it); the checks that count files before adding one (unfinished uploads,
quota, a mailbox's size) hold a lock so that concurrent calls cannot both pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sijil.envelope.age import CHUNK_SIZE, INTRO, TAG_SIZE, read_header
from sijil.errors import (
    EnvelopeError,
    NotFound,
    RelayLimitExceeded,
    RelayProtocolError,
)
from sijil.fsutil import atomic_write, fsync_dir, sha256_file
from sijil.relay.protocol.tus import CHECKSUM_MISMATCH, Checksum
from sijil.relay.server.writer import INSUFFICIENT_STORAGE, UploadWriter

__all__ = ["Spool", "SpoolLimits", "Upload", "check_envelope"]

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
# The bytes an unfinished upload may claim ahead of what it sent (against the byte
# limit and the quota). Reserving whole declared lengths let three never-fed 2 GiB
# declarations close the channel; reserving nothing let admitted uploads run out of
# room mid-way. A phone over Tor sends this much in a minute or two; beyond it, first
# come first served. Small enough that the uploads a stranger makes before proof of work
# is asked (half the strangers' share) reserve a fraction of the 8 GiB byte limit.
RESERVE_AHEAD = 16 << 20
ENVELOPE_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class SpoolLimits:
    max_unfinished: int
    quota_bytes: int | None  # None: only the disk itself limits the spool
    expiry_s: float
    # an upload that has no byte yet expires this soon (see config.DEFAULT_UNFED_EXPIRY_S)
    unfed_expiry_s: float
    # the Upload-Length of every unfinished upload is reserved; their sum is capped
    max_unfinished_bytes: int
    # refused uploads are deleted after this, and the oldest past max_rejected_bytes
    rejected_keep_s: float
    max_rejected_bytes: int
    # the share of the count and byte limits anonymous senders may take; the rest is
    # kept for senders that carry the network's relay token (a flood without the
    # token cannot fill it)
    anonymous_share: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Upload:
    id: str
    length: int
    claimed_id: str | None
    expires: float
    finished: bool = False  # completed; kept as a tombstone so a lost reply can be checked


def check_envelope(path: Path) -> None:
    """A finished upload must be an age v1 file to an X25519 recipient with a whole STREAM.

    The relay holds no key, so this is all it can know: the header parses, one
    stanza is X25519, and the payload length fits the age chunk layout.
    """
    try:
        with path.open("rb") as handle:
            stanzas, covered, mac = read_header(handle)
            header_size = handle.tell()
    except EnvelopeError as exc:
        raise RelayProtocolError(f"not a sijil envelope: {exc}", status=422) from exc
    del covered, mac
    if not any(args[0] == b"X25519" and len(args) == 2 for args, _body in stanzas):
        raise RelayProtocolError("not a sijil envelope: no X25519 recipient", status=422)
    payload = path.stat().st_size - header_size - 16
    full, rest = divmod(payload, CHUNK_SIZE + TAG_SIZE)
    if payload < TAG_SIZE or (rest and rest < TAG_SIZE) or (full and rest == TAG_SIZE):
        raise RelayProtocolError("not a sijil envelope: its payload is cut short", status=422)


def _reserve(missing: int) -> int:
    """What an unfinished upload that still lacks ``missing`` bytes holds in reserve."""
    return max(0, min(missing, RESERVE_AHEAD))


class Spool:
    """All file-system state of a relay. Methods block: call them off the event loop."""

    def __init__(self, *, root: Path, limits: SpoolLimits, now: float) -> None:
        self.root = root
        self.limits = limits
        # admission: a count or a quota checked, then a file added, as one step
        self._admit = threading.Lock()
        self.uploads = root / "uploads"
        self.envelopes = root / "envelopes"
        self.rejected = root / "rejected"
        self.mailboxes = root / "mailboxes"
        for folder in (self.uploads, self.envelopes, self.rejected, self.mailboxes):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.recover(now=now)

    # -- bookkeeping -------------------------------------------------------------

    def recover(self, *, now: float) -> None:
        """After a crash: roll back unverified bytes, drop temp files, file whole uploads."""
        for pending in self.uploads.glob("*.pending"):
            part = pending.with_suffix(".part")
            start = int(pending.read_text("ascii") or "0")
            if part.exists() and part.stat().st_size > start:
                os.truncate(part, start)
            pending.unlink()
        for folder in (self.uploads, self.envelopes, self.rejected):
            for tmp in folder.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)
        for info in self.uploads.glob("*.json"):
            if info.with_suffix(".part").exists():
                continue
            # a crash between filing the envelope and writing the tombstone
            doc = json.loads(info.read_bytes())
            claimed = doc.get("claimed")
            if claimed and (self.envelopes / f"{claimed}.age").exists():
                tombstone = {"length": doc["length"], "expires": doc["expires"]}
                atomic_write(info.with_suffix(".done"), json.dumps(tombstone).encode())
            info.unlink()
        for info in self.uploads.glob("*.json"):
            # a crash between the last byte's fsync and filing: the upload is whole,
            # and its sender may already be asking; file it now, not after expiry
            try:
                upload = self.get(info.stem, now=now, renew=True)
            except (NotFound, RelayProtocolError):
                continue
            if self.offset(upload) == upload.length:
                with contextlib.suppress(RelayProtocolError):
                    self.complete(upload, now=now)

    def used_bytes(self) -> int:
        total = 0
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                try:
                    total += (Path(dirpath) / name).stat().st_size
                except FileNotFoundError:
                    continue
        return total

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise NotFound("no such upload")
        return self.uploads / f"{upload_id}.part", self.uploads / f"{upload_id}.json"

    def _save(self, upload: Upload) -> None:
        doc = {"length": upload.length, "claimed": upload.claimed_id, "expires": upload.expires}
        atomic_write(self._paths(upload.id)[1], json.dumps(doc).encode())

    # -- uploads -----------------------------------------------------------------

    def unfinished_count(self) -> int:
        return sum(1 for _ in self.uploads.glob("*.json"))

    def _unfinished(self) -> tuple[int, int, int]:
        """How many uploads are unfinished, the bytes they hold, and the bytes reserved
        for what they still lack (at most RESERVE_AHEAD each)."""
        count = held = reserved = 0
        for info in self.uploads.glob("*.json"):
            try:
                length = int(json.loads(info.read_bytes())["length"])
                have = info.with_suffix(".part").stat().st_size
            except (OSError, ValueError, KeyError, TypeError):
                continue
            count += 1
            held += have
            reserved += _reserve(length - have)
        return count, held, reserved

    def create(
        self,
        *,
        length: int,
        claimed_id: str | None,
        now: float,
        busy: Collection[str] = (),
        enrolled: bool = False,
    ) -> Upload:
        """A new upload; ``enrolled`` (the relay token) may use the share kept from strangers."""
        self.expire(now, busy=busy)
        limits = self.limits
        share = 1.0 if enrolled else limits.anonymous_share
        with self._admit:
            count, held, reserved = self._unfinished()
            if count >= max(1, int(limits.max_unfinished * share)):
                raise RelayLimitExceeded("too many unfinished uploads; retry later", status=429)
            if held + reserved + _reserve(length) > limits.max_unfinished_bytes * share:
                raise RelayLimitExceeded(
                    "too many bytes in unfinished uploads; retry later", status=429
                )
            quota = limits.quota_bytes
            # what unfinished uploads are about to send is spoken for as much as what they hold
            if quota is not None and self.used_bytes() + reserved + _reserve(length) > quota:
                raise RelayLimitExceeded("the relay's spool is full", status=INSUFFICIENT_STORAGE)
            upload = Upload(
                id=secrets.token_hex(16),
                length=length,
                claimed_id=claimed_id,
                expires=now + min(limits.unfed_expiry_s, limits.expiry_s),
            )
            part, _ = self._paths(upload.id)
            part.touch(mode=0o600)
            self._save(upload)
        return upload

    def get(self, upload_id: str, *, now: float, renew: bool = False) -> Upload:
        """The upload's state; ``renew`` keeps one past its expiry (recovery only)."""
        _part, info = self._paths(upload_id)
        done = self.uploads / f"{upload_id}.done"
        try:
            finished = done.exists()
            doc = json.loads((done if finished else info).read_bytes())
        except FileNotFoundError as exc:
            raise NotFound("no such upload (expired or never made)") from exc
        upload = Upload(
            id=upload_id,
            length=int(doc["length"]),
            claimed_id=doc.get("claimed"),
            expires=float(doc["expires"]),
            finished=finished,
        )
        if upload.expires <= now and not renew:
            self.terminate(upload_id)
            raise RelayProtocolError("this upload expired; start a new one", status=410)
        return upload

    def offset(self, upload: Upload) -> int:
        if upload.finished:
            return upload.length
        part = self._paths(upload.id)[0]
        try:
            return part.stat().st_size
        except FileNotFoundError:
            claimed = upload.claimed_id
            if claimed is not None and (self.envelopes / f"{claimed}.age").exists():
                # filed, but the tombstone was not written (a full disk): it is whole
                return upload.length
            raise NotFound("no such upload (expired or never made)") from None

    def is_filed(self, upload: Upload) -> bool:
        """Whether this upload's bytes are in ``envelopes/``: only then is it delivered."""
        if upload.finished:
            return True
        claimed = upload.claimed_id
        return (
            claimed is not None
            and not self._paths(upload.id)[0].exists()
            and (self.envelopes / f"{claimed}.age").exists()
        )

    def touch(self, upload: Upload, *, now: float) -> Upload:
        """Activity pushes expiry back: a slow link that keeps sending keeps its upload.

        Only bytes earn the full expiry: an upload still empty keeps the short one, so
        PATCHes that send nothing cannot hold a never-fed upload for days.
        """
        fed = self.offset(upload) > 0
        limits = self.limits
        keep = limits.expiry_s if fed else min(limits.unfed_expiry_s, limits.expiry_s)
        renewed = Upload(
            id=upload.id,
            length=upload.length,
            claimed_id=upload.claimed_id,
            expires=now + keep,
        )
        self._save(renewed)
        return renewed

    def writer(self, upload: Upload, *, start: int, checksum: Checksum | None) -> UploadWriter:
        quota = self.limits.quota_bytes
        # this upload's own missing bytes were reserved for it when it was made
        room = None
        if quota is not None:
            room = quota - self.used_bytes() - self._unfinished()[2]
            room += _reserve(upload.length - self.offset(upload))
        return UploadWriter(
            part=self._paths(upload.id)[0],
            pending=self.uploads / f"{upload.id}.pending",
            length=upload.length,
            room=room,
            start=start,
            checksum=checksum,
        )

    def terminate(self, upload_id: str) -> None:
        extra = (self.uploads / f"{upload_id}.pending", self.uploads / f"{upload_id}.done")
        for path in (*self._paths(upload_id), *extra):
            path.unlink(missing_ok=True)

    def expire(self, now: float, *, busy: Collection[str] = ()) -> int:
        """Remove uploads past their expiry, except those receiving now; return how many."""
        removed = 0
        for info in [*self.uploads.glob("*.json"), *self.uploads.glob("*.done")]:
            if info.stem in busy:
                # a slow link still sending: its expiry is pushed back when the PATCH ends
                continue
            try:
                expires = float(json.loads(info.read_bytes())["expires"])
            except (OSError, ValueError, KeyError):
                continue
            if expires <= now:
                self.terminate(info.stem)
                removed += 1
        return removed + self.expire_rejected(now)

    def expire_rejected(self, now: float) -> int:
        """Delete refused uploads older than their keep, then the oldest past the byte cap."""
        kept: list[tuple[float, int, Path]] = []
        removed = 0
        for path in self.rejected.glob("*.bin"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if stat.st_mtime + self.limits.rejected_keep_s <= now:
                self._drop_rejected(path)
                removed += 1
            else:
                kept.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _mtime, size, _path in kept)
        for _mtime, size, path in sorted(kept, key=lambda item: item[0]):
            if total <= self.limits.max_rejected_bytes:
                break
            self._drop_rejected(path)
            total -= size
            removed += 1
        return removed

    def _drop_rejected(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        path.with_name(path.stem + ".reason.txt").unlink(missing_ok=True)

    def reject(self, path: Path, reason: str) -> None:
        """Keep a finished upload that is no envelope, with its reason; never drop it."""
        digest = sha256_file(path)
        target = self.rejected / f"{digest}.bin"
        if target.exists():
            path.unlink()
        else:
            path.replace(target)
        atomic_write(self.rejected / f"{digest}.reason.txt", (reason + "\n").encode())
        fsync_dir(self.rejected)

    def starts_like_envelope(self, upload: Upload) -> bool:
        with self._paths(upload.id)[0].open("rb") as handle:
            head = handle.read(len(INTRO))
        return INTRO.startswith(head)

    def reject_upload(self, upload: Upload, reason: str) -> None:
        part, _ = self._paths(upload.id)
        if part.exists():
            self.reject(part, reason)
        self.terminate(upload.id)

    def complete(self, upload: Upload, *, now: float) -> tuple[str, bool]:
        """Check a finished upload and file it by envelope id; return (id, duplicate)."""
        part = self._paths(upload.id)[0]
        if not part.exists() and self.is_filed(upload):
            # filed before a crash or a full disk stopped the tombstone: finish that
            self._tombstone(upload, now=now)
            return str(upload.claimed_id), True
        try:
            check_envelope(part)
        except RelayProtocolError as exc:
            self.reject_upload(upload, str(exc))
            raise
        envelope_id = sha256_file(part)
        if upload.claimed_id is not None and upload.claimed_id != envelope_id:
            # the sender's whole-file checksum: these bytes are not what it sealed
            reason = "the upload's SHA-256 differs from its envelope id; start again"
            self.reject_upload(upload, reason)
            raise RelayProtocolError(reason, status=CHECKSUM_MISMATCH)
        target = self.envelopes / f"{envelope_id}.age"
        duplicate = target.exists()
        if duplicate:
            part.unlink()
        else:
            part.replace(target)
            fsync_dir(self.envelopes)
        self._tombstone(upload, now=now)
        return envelope_id, duplicate

    def _tombstone(self, upload: Upload, *, now: float) -> None:
        # the tombstone holds no envelope id: only that this upload ended whole; it
        # lives a full expiry so a sender coming back late still learns it was filed
        expires = max(upload.expires, now + self.limits.expiry_s)
        tombstone = {"length": upload.length, "expires": expires}
        atomic_write(self.uploads / f"{upload.id}.done", json.dumps(tombstone).encode())
        self._paths(upload.id)[1].unlink(missing_ok=True)

    # -- finished envelopes (desk side) -------------------------------------------

    def envelope_path(self, envelope_id: str) -> Path:
        path = self.envelopes / f"{envelope_id}.age"
        if not ENVELOPE_ID.fullmatch(envelope_id) or not path.is_file():
            raise NotFound("no such envelope")
        return path

    def list_envelopes(self) -> list[tuple[str, int, float]]:
        """(id, size, mtime) of every filed envelope; one acknowledged meanwhile is left out."""
        listed = []
        for path in sorted(self.envelopes.glob("*.age")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            listed.append((path.stem, stat.st_size, stat.st_mtime))
        return listed

    def delete_envelope(self, envelope_id: str) -> None:
        self.envelope_path(envelope_id).unlink()
        fsync_dir(self.envelopes)

    # -- reply mailboxes ------------------------------------------------------------

    def mailbox(self, box: str) -> Path:
        if not ENVELOPE_ID.fullmatch(box):
            raise NotFound("no such mailbox")
        return self.mailboxes / box

    def put_reply(self, box: str, data: bytes, *, max_replies: int) -> str:
        """Leave a sealed reply; refused when the box holds ``max_replies`` or the spool is full."""
        folder = self.mailbox(box)
        with self._admit:
            if folder.is_dir() and sum(1 for _ in folder.glob("*.age")) >= max_replies:
                raise RelayLimitExceeded("this mailbox is full", status=429)
            quota = self.limits.quota_bytes
            if quota is not None and self.used_bytes() + len(data) > quota:
                raise RelayLimitExceeded("the relay's spool is full", status=INSUFFICIENT_STORAGE)
            reply_id = hashlib.sha256(data).hexdigest()
            folder.mkdir(exist_ok=True, mode=0o700)
            atomic_write(folder / f"{reply_id}.age", data)
        return reply_id

    def list_replies(self, box: str) -> list[tuple[str, bytes]]:
        folder = self.mailbox(box)
        if not folder.is_dir():
            return []
        return [(p.stem, p.read_bytes()) for p in sorted(folder.glob("*.age"))]

    def delete_reply(self, box: str, reply_id: str) -> bool:
        if not ENVELOPE_ID.fullmatch(reply_id):
            return False
        path = self.mailbox(box) / f"{reply_id}.age"
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
