"""A search box's text, parsed once into a validated query, and written for each backend.

The syntax an editor can use, and nothing else:

- words: every word must match, in any spelling variant (sijil.text.search keys)
  or as written (its folded form among the document's words);
- ``"a phrase"`` (also “...”, «...»): these words, in this order, as folded;
- ``word*``: any word beginning so.

Every other character is text: FTS5 and tsquery operators (``-``, ``NEAR``,
``OR``, ``:``, ``(``, ``^``) are never passed through, because each word is
sent to the database as a quoted token it cannot read as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sijil.errors import QueryError
from sijil.text.search import search_words, word_keys

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "ParsedQuery",
    "Term",
    "parse_query",
]

#: A search box holds a few words; a longer text is a paste gone wrong, and
#: each term costs an index lookup.
MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32

_PHRASE = re.compile(r"\"([^\"]*)\"|\u201c([^\u201d]*)\u201d|\u00ab([^\u00bb]*)\u00bb")
_QUOTES = re.compile('["\u201c\u201d\u00ab\u00bb]')


def _quoted(token: str) -> str:
    # tokens hold only letters and digits (sijil.text.search); escaping anyway
    # keeps a change there from ever becoming tsquery syntax
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a query: its folded form and its keys; ``prefix`` for ``word*``."""

    word: str
    keys: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[Term, ...]
    phrases: tuple[tuple[str, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phrases

    def all_keys(self) -> frozenset[str]:
        """Every key and word the query looks for, to mark them in snippets."""
        found = {k for t in self.terms for k in t.keys} | {w for p in self.phrases for w in p}
        return frozenset(found)

    def prefixes(self) -> tuple[str, ...]:
        return tuple(t.word for t in self.terms if t.prefix)

    def fts5(self) -> str:
        """The query in SQLite FTS5 syntax, every token quoted."""
        groups = []
        for term in self.terms:
            if term.prefix:
                options = [f'words : "{term.word}" *'] + [f'keys : "{k}" *' for k in term.keys]
            else:
                options = [f'keys : "{k}"' for k in term.keys] + [f'words : "{term.word}"']
            groups.append("(" + " OR ".join(options) + ")")
        for phrase in self.phrases:
            groups.append(f'words : "{" ".join(phrase)}"')
        return " AND ".join(groups)

    def tsquery(self) -> str:
        """The query in PostgreSQL ``tsquery`` syntax (a word and its keys share a position)."""
        groups = []
        for term in self.terms:
            suffix = ":*" if term.prefix else ""
            options = dict.fromkeys([term.word, *term.keys])
            groups.append("(" + " | ".join(f"{_quoted(t)}{suffix}" for t in options) + ")")
        for phrase in self.phrases:
            groups.append("(" + " <-> ".join(_quoted(w) for w in phrase) + ")")
        return " & ".join(groups)


def _terms(text: str) -> list[Term]:
    words: list[str] = []
    prefix: list[bool] = []
    for chunk in text.split():
        found = search_words(chunk)
        words.extend(found)
        prefix.extend([False] * len(found))
        if found and chunk.endswith("*"):
            prefix[-1] = True
    terms = []
    for word, keys, is_prefix in zip(words, word_keys(words), prefix, strict=True):
        if keys or is_prefix:
            terms.append(Term(word, keys, is_prefix))
    return terms


def parse_query(text: str) -> ParsedQuery:
    """Parse a search box's text; raises QueryError when it is too long to be a query.

    A query of nothing searchable (only punctuation, only vowel marks) parses to
    an empty query, which finds nothing.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"a search is at most {MAX_QUERY_CHARS:,} characters")
    phrases: list[tuple[str, ...]] = []
    rest: list[str] = []
    position = 0
    for match in _PHRASE.finditer(text):
        rest.append(text[position : match.start()])
        position = match.end()
        words = tuple(search_words(next(g for g in match.groups() if g is not None)))
        if words:
            phrases.append(words)
    rest.append(text[position:])
    # an unmatched quote is only a character
    terms = _terms(_QUOTES.sub(" ", " ".join(rest)))
    # dedupe, keeping the first of each
    unique = list(dict.fromkeys(terms))
    if len(unique) + len(phrases) > MAX_QUERY_TERMS:
        raise QueryError(f"a search has at most {MAX_QUERY_TERMS} words and phrases")
    return ParsedQuery(tuple(unique), tuple(dict.fromkeys(phrases)))
