"""A static search index per language, searched in the reader's browser (no server).

``search/<lang>.json`` holds the documents (a page, its title and day) and, for
every search key (:func:`sijil.text.search.search_keys`: Arabic without its "and"
and article, folded spellings, Latin transliteration keys and English stems), the
documents that have it. ``static/search.js`` folds the reader's words the same way
(the Arabic rules are a few lines; a Latin word is tried as written and with its
common English endings off) and shows the documents having every word.

A document's slot never moves: a withdrawn or changed subject leaves ``null`` in
its old slot and a changed one is appended, so one publication patches the index
(:func:`patch_index`) instead of recomputing every document's keys; a full build
writes it compact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sijil.errors import PublicationError
from sijil.publish.pages import safe_code
from sijil.publish.site_labels import LANGS, label
from sijil.publish.site_record import Post, Record, SubjectKey
from sijil.text.search import search_keys

__all__ = ["Doc", "build_index", "docs_for", "index_bytes", "patch_index"]

FORMAT = "sijil-search/1"


@dataclass(frozen=True)
class Doc:
    page: str  # relative to the language folder
    title: str
    day: str
    keys: frozenset[str]


def _texts(value: object) -> list[str]:
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


def _in(value: object, lang: str) -> str:
    if isinstance(value, dict):
        text = value.get(lang) or next((v for v in value.values() if v), "")
        return str(text)
    return "" if value is None else str(value)


def _doc(post: Post, lang: str) -> Doc:
    code = safe_code(post.subject)
    if post.kind == "incident":
        inc = post.incident
        title = _in(inc.get("title"), lang)
        parts = [code, title, _in(inc.get("summary"), lang), label("type", inc.get("type"), lang)]
        parts += _texts((inc.get("where") or {}).get("name"))
        parts += [_in(a.get("actor"), lang) for a in inc.get("attribution") or []]
    else:
        verdict = post.verdict
        claim = verdict.get("claim") or {}
        title = str(claim.get("title") or code)
        parts = [code, title, str(claim.get("text") or ""), _in(verdict.get("summary"), lang)]
        parts += [label("rating", verdict.get("rating"), lang)]
        parts += [str((claim.get("source") or {}).get("name") or "")]
    keys = frozenset(key for part in parts for key in search_keys(part))
    return Doc(f"{post.kind}/{code}.html", title, post.day, keys)


def docs_for(posts: Iterable[Post], lang: str) -> Iterator[Doc]:
    for post in posts:
        yield _doc(post, lang)


def build_index(record: Record, lang: str) -> dict[str, Any]:
    """The index of every current subject, compact."""
    posts = [p for kind in ("incident", "verdict") for p in record.live(kind)]
    return patch_index(_empty(), set(), docs_for(posts, lang))


def _empty() -> dict[str, Any]:
    return {"format": FORMAT, "docs": [], "keys": {}}


def patch_index(index: dict[str, Any], remove: set[str], add: Iterable[Doc]) -> dict[str, Any]:
    """Drop the documents of the pages in ``remove`` (and of any page re-added); append ``add``."""
    if index.get("format") != FORMAT:
        raise PublicationError("the site's search index is not a sijil search index")
    docs: list[Any] = index["docs"]
    keys: dict[str, list[int]] = index["keys"]
    added = list(add)
    gone = remove | {doc.page for doc in added}
    dropped = {i for i, doc in enumerate(docs) if doc is not None and doc[0] in gone}
    if dropped:
        for i in dropped:
            docs[i] = None
        for key in list(keys):
            kept = [i for i in keys[key] if i not in dropped]
            if kept:
                keys[key] = kept
            else:
                del keys[key]
    for doc in added:
        slot = len(docs)
        docs.append([doc.page, doc.title, doc.day])
        for key in sorted(doc.keys):
            keys.setdefault(key, []).append(slot)
    return index


def index_bytes(index: dict[str, Any]) -> bytes:
    return json.dumps(index, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def subject_page(key: SubjectKey) -> str:
    return f"{key[0]}/{safe_code(key[1])}.html"


def indexes(
    record: Record, keep: dict[str, tuple[bytes, dict[str, Any]]] | None = None
) -> dict[str, bytes]:
    """``search/<lang>.json`` for both languages, built from scratch.

    ``keep`` gets each language's index with the SHA-256 of its file, for the
    next update to patch without reading the file's JSON back.
    """
    out = {}
    for lang in LANGS:
        index = build_index(record, lang)
        out[f"search/{lang}.json"] = data = index_bytes(index)
        if keep is not None:
            keep[lang] = (hashlib.sha256(data).digest(), index)
    return out
