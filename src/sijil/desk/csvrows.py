"""CSV records with the physical line each starts on, for imports that name bad rows.

A record may span several lines (a quoted field holding newlines), so a record's
line is the physical line where it starts: what an editor shows when one opens
the file, counting lines by their line feeds (``\\n``; ``\\r\\n`` is one end).

Two kinds of trouble are told apart:

- a record whose *fields* are wrong (too few or too many, a value that does not
  read) is the row's own fault: the importer names it and goes on;
- broken *quoting* (a quote never closed, a character after a closing quote,
  a field over csv's limit of 131,072 characters) means where the following
  records start can no longer be known: that is
  :class:`~sijil.errors.MalformedImport` for the whole file, naming the line.

Pure: the functions read the stream they are handed and nothing else.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from sijil.errors import MalformedImport

__all__ = [
    "BadRow",
    "CsvRecord",
    "check_header",
    "decode_text",
    "lines_of",
    "records",
    "text_lines",
]


@dataclass(frozen=True)
class CsvRecord:
    """One record: the line it starts on and its fields by column name."""

    line: int
    fields: dict[str, str]


@dataclass(frozen=True)
class BadRow:
    """A record that could not be taken, and why (one line for a person)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"

    def to_dict(self) -> dict[str, int | str]:
        return {"line": self.line, "reason": self.reason}


def decode_text(data: bytes, fallback: str = "latin-1") -> str:
    """UTF-8 (with or without a byte-order mark) if it is that, else ``fallback``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(fallback)


def lines_of(text: str) -> Iterator[str]:
    """``text`` cut after each line feed, the line feeds kept (what csv.reader wants)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            if start < len(text):
                yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


@contextmanager
def text_lines(stream: IO[bytes], encoding: str = "utf-8-sig") -> Iterator[Iterator[str]]:
    """The lines of a binary stream, cut at line feeds only, decoded as ``encoding``.

    The stream is left open for its owner.
    """
    wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="\n")

    def lines() -> Iterator[str]:
        try:
            # not ``yield from``: closing this generator would close the wrapper and its stream
            for line in wrapper:  # noqa: UP028
                yield line
        except UnicodeDecodeError as exc:
            raise MalformedImport(f"the file is not {encoding} text: {exc.reason}") from None

    try:
        yield lines()
    finally:
        if not wrapper.closed:
            wrapper.detach()


def check_header(header: Sequence[str], required: Iterable[str], what: str) -> None:
    """Refuse a header that lacks any of ``required``, naming every missing column."""
    missing = [c for c in required if c not in header]
    if missing:
        raise MalformedImport(f"{what} lacks the column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)}")  # fmt: skip


def records(
    lines: Iterable[str], *, what: str = "the file", required: Sequence[str] = ()
) -> Iterator[CsvRecord | BadRow]:
    """Each record (or a bad one: wrong number of fields) with the line it starts on.

    The first line is the header: one without every ``required`` column is refused
    before any record is read. Blank lines between records are skipped. Broken
    quoting raises MalformedImport naming the line of the record it is in.
    """
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            if header is None:
                raise MalformedImport(f"{what} is empty: no header line") from None
            return
        except csv.Error as exc:
            raise MalformedImport(
                f"{what}, line {start}: the CSV breaks here ({exc}); the records after it "
                "cannot be told apart, so nothing was imported"
            ) from None
        if not row:
            continue
        if header is None:
            header = [name.strip() for name in row]
            check_header(header, required, what)
            continue
        if len(row) != len(header):
            yield BadRow(start, f"{len(row)} fields where the header has {len(header)}")
            continue
        yield CsvRecord(start, dict(zip(header, row, strict=True)))
