"""What a search shows of each hit: its typed id, title, language and a marked snippet.

The index holds no text (sijil.store.models_search), so the title and snippet
come from the records themselves, one query per kind for a page of hits. The
snippet is cut from the original text, with the words that matched marked:
a word is marked when one of its keys (or its folded form) is among those the
query looked for, so "الرَّقَّة" in a report is marked for a search of "الرقه".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select

from sijil.desk.claims import claim_token
from sijil.desk.places import place_token
from sijil.desk.search_query import ParsedQuery
from sijil.desk.sources import source_token
from sijil.store import (
    Assessment,
    Claim,
    DeskActor,
    DocKind,
    Incident,
    Place,
    Report,
    Source,
)
from sijil.text.search import search_words, word_keys

__all__ = ["MARK_CLOSE", "MARK_OPEN", "SNIPPET_WORDS", "Display", "displays", "snippet"]

#: Words of context a snippet shows around the first match.
SNIPPET_WORDS = 24
MARK_OPEN = "\u27e6"  # ⟦ and ⟧: brackets no report text uses, in either script
MARK_CLOSE = "\u27e7"


@dataclass(frozen=True, slots=True)
class Display:
    token: str
    title: str
    lang: str | None
    text: str


def _arabic_query(query: ParsedQuery) -> bool:
    return any("\u0600" <= c <= "\u06ff" for k in query.all_keys() for c in k)


@lru_cache(maxsize=1 << 16)
def _keys_of(written: str) -> frozenset[str]:
    # a desk's vocabulary repeats: each written word is read once per process
    words = search_words(written)
    return frozenset({k for group in word_keys(words) for k in group} | set(words))


class _Matcher:
    """Whether a written word is one the query looked for, each distinct word decided once."""

    def __init__(self, query: ParsedQuery) -> None:
        self.wanted = query.all_keys()
        self.prefixes = query.prefixes()
        self.seen: dict[str, bool] = {}

    def __call__(self, word: str) -> bool:
        known = self.seen.get(word)
        if known is None:
            known = self.seen[word] = self._decide(word)
        return known

    def _decide(self, word: str) -> bool:
        keys = _keys_of(word)
        if keys & self.wanted:
            return True
        return any(k.startswith(p) for p in self.prefixes for k in keys)


def snippet(text: str, query: ParsedQuery, *, width: int = SNIPPET_WORDS) -> str:
    """A window of ``text`` around its first matching word, matches in ⟦ ⟧."""
    words = text.split()
    matches = _Matcher(query)
    # only as far as the first match: the window is all that is marked
    first = next((i for i, word in enumerate(words) if matches(word)), 0)
    # a third of the window before the first match, less when it is near the end
    start = max(0, min(first - width // 3, len(words) - width))
    end = min(len(words), start + width)
    shown = [
        f"{MARK_OPEN}{word}{MARK_CLOSE}" if matches(word) else word for word in words[start:end]
    ]
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(words) else ""
    return prefix + " ".join(shown) + suffix if words else ""


def _reports(conn: Connection, ids: list[int], _q: ParsedQuery) -> dict[int, Display]:
    rows = conn.execute(
        select(Report.id, Report.title, Report.body, Report.lang).where(Report.id.in_(ids))
    )
    return {r.id: Display(f"#{r.id}", r.title, r.lang, f"{r.title}\n{r.body}") for r in rows}


def _incidents(conn: Connection, ids: list[int], q: ParsedQuery) -> dict[int, Display]:
    rows = conn.execute(
        select(
            Incident.id,
            Incident.code,
            Incident.title_ar,
            Incident.title_en,
            Assessment.summary_ar,
            Assessment.summary_en,
        )
        .outerjoin(Assessment, Assessment.id == Incident.current_assessment_id)
        .where(Incident.id.in_(ids))
    )
    arabic = _arabic_query(q)
    out = {}
    for r in rows:
        title, summary, lang = (
            (r.title_ar, r.summary_ar, "ar") if arabic else (r.title_en, r.summary_en, "en")
        )
        shown = (title, summary, r.title_ar, r.title_en, r.summary_ar, r.summary_en)
        text = "\n".join(dict.fromkeys(t for t in shown if t))
        out[r.id] = Display(r.code, title, lang, text)
    return out


def _claims(conn: Connection, ids: list[int], _q: ParsedQuery) -> dict[int, Display]:
    rows = conn.execute(
        select(
            Claim.id, Claim.title, Claim.body, Claim.lang, Claim.place_text, Claim.actor_text
        ).where(Claim.id.in_(ids))
    )
    return {
        r.id: Display(
            claim_token(r.id),
            r.title,
            r.lang,
            "\n".join(t for t in (r.title, r.body, r.place_text, r.actor_text) if t),
        )
        for r in rows
    }


def _named(token: Any, model: Any, en: Any, ar: Any, extra: Iterable[Any] = ()) -> Any:
    def load(conn: Connection, ids: list[int], q: ParsedQuery) -> dict[int, Display]:
        rows = conn.execute(select(model.id, en, ar, *extra).where(model.id.in_(ids)))
        arabic = _arabic_query(q)
        out = {}
        for r in rows:
            name_en, name_ar = r[1], r[2]
            title, lang = (name_ar, "ar") if arabic and name_ar else (name_en, "en")
            text = " · ".join(str(t) for t in r[1:] if t)
            out[r.id] = Display(token(r.id, name_en), title, lang, text)
        return out

    return load


_LOADERS = {
    DocKind.REPORT: _reports,
    DocKind.INCIDENT: _incidents,
    DocKind.CLAIM: _claims,
    DocKind.SOURCE: _named(lambda i, _: source_token(i), Source, Source.name, Source.name_ar),
    DocKind.PLACE: _named(
        lambda i, _: place_token(i), Place, Place.name_en, Place.name_ar, (Place.admin_en,)
    ),
    # an actor is named by its English name, as `sijil desk actor` and --actor take it
    DocKind.ACTOR: _named(lambda _, name: name, DeskActor, DeskActor.name_en, DeskActor.name_ar),
}


def displays(
    conn: Connection, refs: Iterable[tuple[DocKind, int]], query: ParsedQuery
) -> dict[tuple[DocKind, int], Display]:
    """The display of each (kind, record id), loaded one query per kind."""
    by_kind: dict[DocKind, list[int]] = {}
    for kind, ref in refs:
        by_kind.setdefault(kind, []).append(ref)
    out: dict[tuple[DocKind, int], Display] = {}
    for kind, ids in by_kind.items():
        for ref, display in _LOADERS[kind](conn, ids, query).items():
            out[(kind, ref)] = display
    return out
