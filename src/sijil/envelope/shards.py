"""Text shards: an envelope as k-of-n erasure-coded ASCII pieces for messengers.

A correspondent who can only reach a chat app pastes shards; the desk feeds the
chat export to :func:`parse_text` and any ``k`` distinct shards to
:func:`rebuild`. The format is specified in ``docs/shards.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import zfec

from sijil.envelope.shard_search import MAX_REBUILD_ATTEMPTS, search
from sijil.errors import MalformedShard, MixedShards, ShardError, TooFewShards

__all__ = [
    "BODY_LINE_CHARS",
    "DEFAULT_SHARD_BYTES",
    "MAX_ENVELOPE_BYTES",
    "MAX_REBUILD_ATTEMPTS",
    "MAX_SHARDS",
    "MAX_SHARD_BYTES",
    "MAX_TEXT_CHARS",
    "MIN_SPARE_SHARDS",
    "Shard",
    "format_shard",
    "group",
    "parse_shard",
    "parse_text",
    "rebuild",
    "split",
]

# zfec is Reed-Solomon over GF(2^8): a code has at most 256 distinct blocks. We stop
# at 255 so every count and 1-based index fits in one byte and three digits.
MAX_SHARDS = 255

# Telegram refuses messages over 4096 characters, the tightest of the common
# messengers. 2880 bytes -> 3840 base64 characters in 51 lines of <= 76 plus their
# newlines = 3891, and the longest possible header line is 127 with its newline:
# 4018 in all, leaving room for a client that adds a character or two.
DEFAULT_SHARD_BYTES = 2880

# 76 is the MIME line length: short enough for narrow phone screens and clients
# that reject very long lines, and a fixed width lets the parser tell body lines
# from short chat replies ("Thanks") that happen to use only base64 letters.
BODY_LINE_CHARS = 76

# A single spare lets one lost message through; two cover the usual case of a
# message dropped and another mangled, even for a one-shard envelope.
MIN_SPARE_SHARDS = 2

# WhatsApp's longest message is 65536 characters; no shard that fits any messenger
# can carry more. Bounds what a hostile header can make us allocate.
MAX_SHARD_BYTES = 49152

# The most any valid header can describe; a larger ``len=`` is refused at parse.
MAX_ENVELOPE_BYTES = MAX_SHARDS * MAX_SHARD_BYTES

# Years of a busy group chat stay far below this; beyond it the input is a mistake
# or an attack, and the caller should split the export.
MAX_TEXT_CHARS = 64 * 1024 * 1024

_MAGIC = "SIJIL-SHARD/"
_VERSION = "1"
_ANY_VERSION = re.compile(r"SIJIL-SHARD/(\S*)")
# Hex is matched in either case because some keyboards and OCR upper-case it;
# \s+ tolerates the no-break spaces some clients substitute.
_HEADER = re.compile(
    r"SIJIL-SHARD/1\s+(?P<id>[0-9a-fA-F]{64})\s+(?P<index>\d{1,3})/(?P<n>\d{1,3})"
    r"\s+k=(?P<k>\d{1,3})\s+len=(?P<len>\d{1,9})\s+sum=(?P<sum>[0-9a-fA-F]{16})(?:\s|$)"
)
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]+")
# Direction marks and BOMs that WhatsApp and Windows put around exported lines.
_INVISIBLE = "\u200e\u200f\u202a\u202b\u202c\ufeff \t"
_ID_RE = re.compile(r"[0-9a-f]{64}")


def _block_size(length: int, k: int) -> int:
    return -(-length // k)


def _sum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass(frozen=True)
class Shard:
    """One piece of an envelope; ``index`` is 1-based (1..n), as shown in the text."""

    envelope_id: str
    k: int
    n: int
    index: int
    length: int
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _ID_RE.fullmatch(self.envelope_id):
            raise MalformedShard("envelope id is not 64 lowercase hex characters")
        if not 1 <= self.k <= self.n <= MAX_SHARDS:
            raise MalformedShard(f"k={self.k} n={self.n}: need 1 <= k <= n <= {MAX_SHARDS}")
        if not 1 <= self.index <= self.n:
            raise MalformedShard(f"index {self.index} is outside 1..{self.n}")
        if not 1 <= self.length <= MAX_ENVELOPE_BYTES:
            raise MalformedShard(f"length {self.length} is outside 1..{MAX_ENVELOPE_BYTES}")
        size = _block_size(self.length, self.k)
        if size > MAX_SHARD_BYTES:
            raise MalformedShard(f"shard of {size} bytes is over the {MAX_SHARD_BYTES} limit")
        if len(self.data) != size:
            raise MalformedShard(f"shard data is {len(self.data)} bytes, expected {size}")

    @property
    def label(self) -> str:
        """Short human name, e.g. ``shard 3/7 of ab12cd34``."""
        return f"shard {self.index}/{self.n} of {self.envelope_id[:8]}"


def _too_many(needed: int) -> ShardError:
    return ShardError(
        f"envelope needs {needed} shards at this size; max {MAX_SHARDS}; "
        "use a larger --shard-size or a USB export"
    )


def split(
    envelope: bytes,
    *,
    k: int | None = None,
    n: int | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    redundancy: float = 0.5,
) -> list[Shard]:
    """Cut ``envelope`` into ``n`` shards of which any ``k`` rebuild it.

    ``shard_bytes`` only chooses ``k`` when it is not given; ``n`` defaults to
    ``k`` plus ``ceil(k * redundancy)`` spares, never fewer than MIN_SPARE_SHARDS.
    """
    if not envelope:
        raise ShardError("envelope is empty; there is nothing to shard")
    if len(envelope) > MAX_ENVELOPE_BYTES:
        raise ShardError(
            f"envelope is {len(envelope)} bytes; text shards carry at most "
            f"{MAX_ENVELOPE_BYTES}; use a USB export"
        )
    if shard_bytes < 1 or not (redundancy >= 0 and math.isfinite(redundancy)):
        raise ShardError("shard size must be at least 1 byte and redundancy 0 or more")
    if k is None:
        k = math.ceil(len(envelope) / shard_bytes)
    if n is None:
        n = k + max(MIN_SPARE_SHARDS, math.ceil(k * redundancy))
        if n > MAX_SHARDS:
            if k + MIN_SPARE_SHARDS > MAX_SHARDS:
                raise _too_many(k + MIN_SPARE_SHARDS)
            n = MAX_SHARDS  # fewer spares than asked beats refusing a sendable envelope
    if n > MAX_SHARDS:
        raise _too_many(n)
    if not 1 <= k <= n:
        raise ShardError(f"k={k} n={n}: need 1 <= k <= n")
    size = _block_size(len(envelope), k)
    if size > MAX_SHARD_BYTES:
        raise ShardError(
            f"k={k} makes {size}-byte shards, over the {MAX_SHARD_BYTES} limit; raise k"
        )
    padded = envelope.ljust(size * k, b"\0")
    blocks = zfec.Encoder(k, n).encode(tuple(padded[i * size : (i + 1) * size] for i in range(k)))
    envelope_id = hashlib.sha256(envelope).hexdigest()
    return [
        Shard(envelope_id=envelope_id, k=k, n=n, index=i + 1, length=len(envelope), data=bytes(b))
        for i, b in enumerate(blocks)
    ]


def format_shard(shard: Shard) -> str:
    """The shard as ASCII text: a header line, then base64 lines, ending in a newline."""
    body = base64.b64encode(shard.data).decode("ascii")
    lines = [
        f"{_MAGIC}{_VERSION} {shard.envelope_id} {shard.index}/{shard.n} k={shard.k} "
        f"len={shard.length} sum={_sum(shard.data)}"
    ]
    lines += [body[i : i + BODY_LINE_CHARS] for i in range(0, len(body), BODY_LINE_CHARS)]
    return "\n".join(lines) + "\n"


def _body_candidate(line: str) -> str | None:
    """The base64 run of a body line after any chat prefix, else None."""
    text = line.strip(_INVISIBLE)
    if ": " in text:  # base64 never contains ": ", so the prefix ends at the last one
        text = text.rsplit(": ", 1)[1].strip(_INVISIBLE)
    return text if _BASE64_LINE.fullmatch(text) else None


@dataclass
class _Pending:
    header: re.Match[str]
    lineno: int
    label: str
    want: int  # base64 characters still expected
    chunks: list[str]


def _start(match: re.Match[str], lineno: int) -> tuple[_Pending | None, str | None]:
    index, n, k, length = (int(match[g]) for g in ("index", "n", "k", "len"))
    label = f"line {lineno}: shard {index}/{n} of {match['id'][:8].lower()}"
    if not (1 <= k <= n <= MAX_SHARDS and 1 <= index <= n and length >= 1):
        return None, f"{label}: impossible header (k={k}, len={length}), ignored"
    size = _block_size(length, k)
    if length > MAX_ENVELOPE_BYTES or size > MAX_SHARD_BYTES:
        return None, f"{label}: header claims {length} bytes, over the limit, ignored"
    return _Pending(match, lineno, label, 4 * math.ceil(size / 3), []), None


def _finish(p: _Pending) -> tuple[Shard | None, str | None]:
    m = p.header
    try:
        data = base64.b64decode("".join(p.chunks), validate=True)
    except binascii.Error:
        return None, f"{p.label}: body is not valid base64, ignored"
    if _sum(data) != m["sum"].lower():
        return None, f"{p.label}: checksum mismatch, ignored"
    try:
        shard = Shard(
            envelope_id=m["id"].lower(),
            k=int(m["k"]),
            n=int(m["n"]),
            index=int(m["index"]),
            length=int(m["len"]),
            data=data,
        )
    except MalformedShard as exc:
        return None, f"{p.label}: {exc}, ignored"
    return shard, None


def parse_text(text: str) -> tuple[list[Shard], list[str]]:
    """Find every shard in ``text`` (a paste or chat export); return them and problems.

    Duplicates are kept (``rebuild`` ignores them). A shard that fails to parse is
    left out and named in a problem line; nothing here raises for bad shards.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ShardError(f"text is {len(text)} characters; max {MAX_TEXT_CHARS}; split it")
    shards: list[Shard] = []
    problems: list[str] = []
    pending: _Pending | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        found = _ANY_VERSION.search(line)
        if found:
            if pending is not None:
                got = sum(map(len, pending.chunks))
                problems.append(
                    f"{pending.label}: body cut short ({got} of "
                    f"{got + pending.want} characters), ignored"
                )
                pending = None
            header = _HEADER.search(line)
            if found[1] != _VERSION:
                problems.append(
                    f"line {lineno}: unknown shard format {_MAGIC}{found[1]}, "
                    "ignored; a newer sijil may read it"
                )
            elif header is None:
                problems.append(f"line {lineno}: shard header does not parse, ignored")
            else:
                pending, problem = _start(header, lineno)
                problems += [problem] if problem else []
            continue
        if pending is None:
            continue
        chunk = _body_candidate(line)
        # A fixed wrap width, or one unwrapped line, keeps short chat replies out.
        if chunk is None or len(chunk) not in (min(BODY_LINE_CHARS, pending.want), pending.want):
            continue
        pending.chunks.append(chunk)
        pending.want -= len(chunk)
        if pending.want == 0:
            shard, problem = _finish(pending)
            shards += [shard] if shard else []
            problems += [problem] if problem else []
            pending = None
    if pending is not None:
        problems.append(f"{pending.label}: text ends before the body does, ignored")
    return shards, problems


def parse_shard(text: str) -> Shard:
    """Strict form for one shard on its own: raise MalformedShard on any problem."""
    shards, problems = parse_text(text)
    if problems:
        raise MalformedShard(problems[0])
    if len(shards) != 1:
        raise MalformedShard(f"expected exactly one shard, found {len(shards)}")
    return shards[0]


def group(shards: Iterable[Shard]) -> dict[str, list[Shard]]:
    """Shards by envelope id, in order of first appearance; feed each list to rebuild."""
    groups: dict[str, list[Shard]] = {}
    for shard in shards:
        groups.setdefault(shard.envelope_id, []).append(shard)
    return groups


def rebuild(shards: Iterable[Shard]) -> bytes:
    """The envelope from ``k`` distinct shards of it, verified against its id.

    The ``sum=`` of a shard needs no key, so anyone can forge one that parses. Every
    distinct copy of an index is kept, and when the first ``k`` do not rebuild the
    envelope the id names, other choices are tried, those leaving out one copy
    first, then two, and so on, at most MAX_REBUILD_ATTEMPTS decodes.
    """
    pool = list(shards)
    if not pool:
        raise TooFewShards("no shards given")
    ids = sorted({s.envelope_id for s in pool})
    if len(ids) > 1:
        names = ", ".join(i[:8] for i in ids)
        raise MixedShards(
            f"shards of {len(ids)} envelopes given together ({names}); "
            "rebuild each group on its own"
        )
    first = pool[0]
    short = first.envelope_id[:8]
    if any((s.k, s.n, s.length) != (first.k, first.n, first.length) for s in pool):
        raise MixedShards(f"shards of envelope {short} disagree on k, n or length")
    # every distinct copy once, lowest index first (data blocks decode without arithmetic)
    copies = sorted({(s.index, s.data) for s in pool}, key=lambda c: (c[0], _sum(c[1])))
    distinct = len({index for index, _ in copies})
    if distinct < first.k:
        raise TooFewShards(f"have {distinct} of the {first.k} shards needed for envelope {short}")
    found, tried = search(
        copies, k=first.k, n=first.n, length=first.length, digest=first.envelope_id
    )
    if found is not None:
        return found
    raise MalformedShard(
        f"rebuilt envelope does not match its id {short} ({tried} choice(s) of {first.k} "
        f"from {len(copies)} shard copies tried); a shard is forged or corrupt"
    )
