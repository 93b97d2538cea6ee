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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.errors import PublicationError
from sijil.ledger.merkle import HASH_SIZE
from sijil.store.models_publish import Publication as P
from sijil.store.models_publish import PublicationCheckpoint, PublicationMedia

__all__ = [
    "Bodies",
    "KnownRows",
    "Post",
    "Record",
    "coordinates",
    "known_rows",
    "load_record",
    "subject_key",
]

SubjectKey = tuple[str, str]  # (kind, subject)
FETCH_CHUNK = 500  # rows per query (SQLite allows 32,766 bound parameters)


def subject_key(kind: str, subject: str) -> SubjectKey:
    return (kind, subject)


class Bodies:
    """The posts' bytes and signatures, read from the log's rows when first asked for.

    A full build reads every row at once; an update reads the few it shows
    (:meth:`fetch`, or one row at a time while its session is open).
    """

    def __init__(self, session: Session | None = None) -> None:
        self.session = session
        self.rows: dict[int, tuple[bytes, str, str]] = {}

    def fetch(self, indexes: Iterable[int]) -> None:
        """Read the rows of ``indexes`` not read yet, in as few queries as it takes."""
        wanted = sorted({i for i in indexes if i not in self.rows})
        if not wanted:
            return
        if self.session is None:
            raise PublicationError("the post bodies were asked for after the log was read")
        columns = (P.log_index, P.body, P.minisig, P.sshsig)
        for start in range(0, len(wanted), FETCH_CHUNK):
            chunk = wanted[start : start + FETCH_CHUNK]
            rows = self.session.execute(select(*columns).where(P.log_index.in_(chunk)))
            for index, body, minisig, sshsig in rows:
                self.rows[index] = (bytes(body), minisig, sshsig)
        if any(i not in self.rows for i in wanted):
            raise PublicationError("a post of the publication log is missing its row")

    def row(self, index: int) -> tuple[bytes, str, str]:
        found = self.rows.get(index)
        if found is None:
            self.fetch([index])
            found = self.rows[index]
        return found


@dataclass(frozen=True, eq=False)
class Post:
    """One leaf of the publication log: the bytes, their signatures, and the parsed post.

    The header (action, kind, subject, leaf hash) comes from the row's columns; the
    body is read (:class:`Bodies`) and parsed on first use, so an update that needs a
    few posts reads and parses a few.
    """

    log_index: int
    action: str
    kind: str
    subject: str
    leaf_hash: bytes
    bodies: Bodies = field(repr=False)

    @property
    def body(self) -> bytes:
        return self.bodies.row(self.log_index)[0]

    @property
    def minisig(self) -> str:
        return self.bodies.row(self.log_index)[1]

    @property
    def sshsig(self) -> str:
        return self.bodies.row(self.log_index)[2]

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
    bodies: Bodies = field(default_factory=Bodies)

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


#: What a build or update keeps of the log's rows for the next update:
#: (root hash of the log of these rows, each row's (action, kind, subject, leaf hash)).
KnownRows = tuple[bytes, list[tuple[str, str, str, bytes]]]


def known_rows(record: Record, root: bytes) -> KnownRows:
    """The record's rows as ``load_record`` may take them back (``root``: the log's root)."""
    return root, [(p.action, p.kind, p.subject, p.leaf_hash) for p in record.posts]


def _known(session: Session, known: KnownRows | None) -> list[tuple[str, str, str, bytes]]:
    """The rows of ``known`` when the desk signed a checkpoint of exactly them, else none.

    Log rows never change once written: a checkpoint of the same size and root
    proves the same leaves, and the header columns are those leaves' own.
    """
    if known is None or not known[1]:
        return []
    root, rows = known
    if not all(
        type(a) is str
        and type(k) is str
        and type(s) is str
        and type(h) is bytes
        and len(h) == HASH_SIZE
        for a, k, s, h in rows
    ):
        return []  # not what known_rows gives: read them again
    found = session.execute(
        select(PublicationCheckpoint.root_hash).where(PublicationCheckpoint.size == len(rows))
    ).scalar_one_or_none()
    return rows if found == root.hex() else []


def load_record(
    session: Session,
    *,
    with_media: bool = True,
    lazy: bool = False,
    known: KnownRows | None = None,
    known_media: dict[str, str] | None = None,
) -> Record:
    """Read the whole publication log, its newest checkpoint and the media index.

    ``lazy`` leaves the posts' bytes and signatures in the database until they are
    asked for (``record.bodies.fetch``, or one by one while ``session`` is open);
    ``known`` (with ``lazy``) are the rows a previous build read, which are then not
    read again when the log's checkpoint of that size still has their root, nor
    ``known_media`` (sha256 -> media type of the media those rows published; media
    rows are never changed or deleted).
    """
    record = Record(bodies=Bodies(session))
    header: list[tuple[int, str, str, str, bytes | str]] = []
    start = 0
    if lazy:
        rows = _known(session, known)
        header = [(i, *row) for i, row in enumerate(rows)]
        start = len(header)
    columns = [P.log_index, P.action, P.kind, P.subject, P.leaf_hash]
    if not lazy:
        columns += [P.body, P.minisig, P.sshsig]
    query = select(*columns).where(P.log_index >= start).order_by(P.log_index)
    for row in session.execute(query):
        values: tuple[Any, ...] = tuple(row)
        header.append((values[0], values[1], values[2], values[3], values[4]))
        if not lazy:
            record.bodies.rows[values[0]] = (bytes(values[5]), values[6], values[7])
    for expected, (index, action, kind, subject, leaf) in enumerate(header):
        if index != expected:
            raise PublicationError(f"the publication log has a gap before entry {index}")
        leaf_hash = leaf if isinstance(leaf, bytes) else _unhex(leaf)
        if len(leaf_hash) != HASH_SIZE:
            raise PublicationError(f"post {index} has no leaf hash in the publication log")
        post = Post(index, action, kind, subject, leaf_hash, record.bodies)
        record.posts.append(post)
        if kind != "key":  # a publication key rotation: in the log, but no subject page
            record.history.setdefault(post.key, []).append(post)
    newest = session.execute(
        select(PublicationCheckpoint.note).order_by(PublicationCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()
    record.checkpoint = newest
    if with_media:
        media_query = select(PublicationMedia.sha256, PublicationMedia.media_type)
        if start and known_media is not None:
            record.media = dict(known_media)
            media_query = media_query.where(PublicationMedia.log_index >= start)
        record.media.update({sha: media_type for sha, media_type in session.execute(media_query)})
    return record


def _unhex(text: object) -> bytes:
    try:
        return bytes.fromhex(str(text))
    except ValueError:
        return b""


def media_content(session: Session, sha256: str) -> bytes:
    """The bytes of one published derivative."""
    row = session.get(PublicationMedia, sha256)
    if row is None:
        raise PublicationError(f"published media {sha256[:12]} is missing")
    return bytes(row.content)
