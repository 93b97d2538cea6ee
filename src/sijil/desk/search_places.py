"""A place named in a query is also looked for in the other script: Raqqa finds الرقة.

The gazetteer knows each place's English and Arabic names. When a word of a query
is a place's name (its name key is the key of the place's English or Arabic name,
not of an alias or of the district around it), the keys of the place's name in the
other script are added to that word's, so a search in English finds the Arabic
reports about the place, and the other way round. Only one-word names are added:
a two-word name is a phrase, and a phrase is the editor's to write.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.search_query import ParsedQuery, Term
from sijil.store import Place, PlaceName
from sijil.text import name_key
from sijil.text.search import search_words, word_keys

__all__ = ["MAX_PLACE_NAMES", "with_place_names"]

#: Names added to one word at most: a common word that is also a village's name
#: ("Tal", "Ain") must not turn a query into a search for every place.
MAX_PLACE_NAMES = 4


def _other_script(session: Session, term: Term) -> tuple[str, ...]:
    key = name_key(term.word)
    if not key:
        return ()
    places = session.execute(
        select(Place.name_en, Place.name_ar)
        .join(PlaceName, PlaceName.place_id == Place.id)
        .where(PlaceName.key == key)
        .distinct()
        .limit(MAX_PLACE_NAMES * 4)
    ).all()
    added: dict[str, None] = {}
    for name_en, name_ar in places:
        for own, other in ((name_en, name_ar), (name_ar, name_en)):
            if name_key(own) != key or not other:
                continue
            # the words of the name that have keys (Ar-Raqqa: only "raqqa")
            words = [keys for keys in word_keys(search_words(other)) if keys]
            if len(words) == 1:
                added.update(dict.fromkeys(words[0]))
    return tuple(added)[:MAX_PLACE_NAMES]


def with_place_names(session: Session, query: ParsedQuery) -> ParsedQuery:
    """``query`` with each place-name word also matching the name in the other script."""
    terms = []
    for term in query.terms:
        extra = () if term.prefix else _other_script(session, term)
        keys = tuple(dict.fromkeys(term.keys + extra))
        terms.append(replace(term, keys=keys) if extra else term)
    return replace(query, terms=tuple(terms))
