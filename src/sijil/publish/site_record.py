"""The public record as the site shows it: every post of the publication log, read back.

The site is built from the ``publications`` table alone (no private key): each
row's ``body`` is the exact post (docs/publish-format.md), parsed here once.

What is *current*: a subject's newest row decides. When it is a post or a
correction, that version is the subject's current version; when it is a
retraction, the subject is withdrawn: its pages become tombstones (which subject,
when and why, nothing of the withdrawn content), its media leave the site, and the
feeds carry an RFC 6721 deleted entry. A later post of the same subject (a new
version after a retraction) makes it current again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.errors import PublicationError
from sijil.store.models_publish import Publication as P
from sijil.store.models_publish import PublicationCheckpoint, PublicationMedia

__all__ = ["Post", "Record", "coordinates", "load_record", "subject_key"]

SubjectKey = tuple[str, str]  # (kind, subject)


def subject_key(kind: str, subject: str) -> SubjectKey:
    return (kind, subject)


@dataclass(frozen=True)
class Post:
    """One leaf of the publication log: the bytes, their signatures, and the parsed post.

    The header (action, kind, subject, version) comes from the row's columns; the
    body is parsed on first use, so an update that needs a few posts parses a few.
    """

    log_index: int
    body: bytes
    minisig: str
    sshsig: str
    action: str
    kind: str
    subject: str

    @cached_property
    def data(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise PublicationError(f"post {self.log_index} is not JSON") from exc
        if not isinstance(data, dict) or any(
            data.get(name) != value
            for name, value in (("log_index", self.log_index), ("action", self.action),
                                ("kind", self.kind), ("subject", self.subject))
        ):  # fmt: skip
            raise PublicationError(f"post {self.log_index} does not match its log entry")
        if not isinstance(data.get("published_at"), str) or "version" not in data:
            raise PublicationError(f"post {self.log_index} has no day or version")
        return data

    @property
    def key(self) -> SubjectKey:
        return (self.kind, self.subject)

    @property
    def day(self) -> str:
        return str(self.data["published_at"])

    @property
    def incident(self) -> dict[str, Any]:
        found = self.data.get("incident")
        return found if isinstance(found, dict) else {}

    @property
    def verdict(self) -> dict[str, Any]:
        found = self.data.get("verdict")
        return found if isinstance(found, dict) else {}

    @property
    def media(self) -> list[dict[str, Any]]:
        return list(self.incident.get("media") or [])


@dataclass
class Record:
    """Every post in log order, each subject's history, and what is current."""

    posts: list[Post] = field(default_factory=list)
    history: dict[SubjectKey, list[Post]] = field(default_factory=dict)
    checkpoint: str | None = None
    media: dict[str, str] = field(default_factory=dict)  # sha256 -> media type

    @property
    def size(self) -> int:
        return len(self.posts)

    def latest(self, key: SubjectKey) -> Post:
        return self.history[key][-1]

    def current(self, key: SubjectKey) -> Post | None:
        """The version shown for a subject, or None when it is withdrawn."""
        newest = self.latest(key)
        return None if newest.action == "retraction" else newest

    def subjects(self, kind: str) -> list[SubjectKey]:
        """The subjects of one kind, in the order of their first publication."""
        return [key for key in self.history if key[0] == kind]

    def live(self, kind: str) -> Iterator[Post]:
        """The current version of every subject of one kind that is not withdrawn."""
        for key in self.subjects(kind):
            post = self.current(key)
            if post is not None:
                yield post

    def shown_media(self) -> set[str]:
        """The derivatives a current version shows: the only ones the site serves."""
        return {
            str(item["sha256"])
            for post in self.live("incident")
            for item in post.media
            if str(item.get("sha256", "")) in self.media
        }

    def verdicts_on(self) -> dict[str, list[Post]]:
        """Incident code -> the current verdicts that rest on it."""
        out: dict[str, list[Post]] = {}
        for post in self.live("verdict"):
            for code in post.verdict.get("incidents") or []:
                out.setdefault(str(code), []).append(post)
        return out


def coordinates(where: object) -> tuple[float, float] | None:
    """(lat, lon) of a post's ``where``: decimal strings (canonical JSON has no floats)."""
    if not isinstance(where, dict):
        return None
    try:
        lat, lon = float(str(where["lat"])), float(str(where["lon"]))
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def load_record(session: Session, *, with_media: bool = True) -> Record:
    """Read the whole publication log, its newest checkpoint and the media index."""
    record = Record()
    columns = (P.log_index, P.body, P.minisig, P.sshsig, P.action, P.kind, P.subject)
    rows = session.execute(select(*columns).order_by(P.log_index))
    for expected, (index, body, minisig, sshsig, action, kind, subject) in enumerate(rows):
        if index != expected:
            raise PublicationError(f"the publication log has a gap before entry {index}")
        post = Post(index, bytes(body), minisig, sshsig, action, kind, subject)
        record.posts.append(post)
        record.history.setdefault(post.key, []).append(post)
    newest = session.execute(
        select(PublicationCheckpoint.note).order_by(PublicationCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()
    record.checkpoint = newest
    if with_media:
        found = session.execute(select(PublicationMedia.sha256, PublicationMedia.media_type))
        record.media = {sha: media_type for sha, media_type in found}
    return record


def media_content(session: Session, sha256: str) -> bytes:
    """The bytes of one published derivative."""
    row = session.get(PublicationMedia, sha256)
    if row is None:
        raise PublicationError(f"published media {sha256[:12]} is missing")
    return bytes(row.content)
