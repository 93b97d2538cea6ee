"""The words and keys a search index holds for a text, and a query looks up.

Two forms of every text, both built on :func:`sijil.text.fold`:

- **words**: the folded words in order. Phrase queries match them, so
  "الرَّقَّة" in a query finds "الرقة" in a report, and "RAQQA" finds "Raqqa".
- **keys**: what different spellings of one word have in common. An Arabic word
  loses a leading "و" (and) and then an article with its preposition
  (ال، بال، كال، فال، وال، لل), so الرقة, والرقة, بالرقة and للرقة all give رقه;
  a three-letter word after و has the keys of both readings (وتل: وتل and تل).
  A Latin word gives up to two keys: its transliteration key (as
  :func:`sijil.text.latin_key`: Ar-Raqqah, Al-Raqqa and Raqqa all give ``raqa``)
  and its English Snowball stem (killed, killing, kills give ``kill``).
  Articles before another word (al-, ar-, el-, ...) give no key at all; a
  word that may carry one glued on ("ezzor", "assadiya") has the keys of both
  readings.

A word term of a query matches a document when one of its keys is among the
document's keys. Both sides go through the same functions here, so every rule is
symmetric: what would be lost in precision (وزير, "minister", also gives زير) is
the price of never missing a spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from sijil.text.normalize import _APOSTROPHES, _ARTICLES, _GLUED_ARTICLE, _latin_word, fold

__all__ = [
    "MAX_TOKEN_CHARS",
    "arabic_key",
    "search_keys",
    "search_words",
    "word_keys",
]

#: Longer "words" are base64, hashes or URLs run together: not words anyone
#: types, and PostgreSQL refuses lexemes of more than 2,047 bytes.
MAX_TOKEN_CHARS = 64

# the same word definition as sijil.text.normalize: letters and digits of any
# script; FTS5's unicode61 tokenizer splits the joined words the same way
_WORD = re.compile(r"[^\W_]+")
_LATIN = re.compile(r"[a-z]+")
_WAW = "\u0648"
# article with its proclitic preposition, longest first (Larkey's light10 prefixes)
_ARABIC_PREFIXES = (
    "\u0648\u0627\u0644",  # وال
    "\u0628\u0627\u0644",  # بال
    "\u0643\u0627\u0644",  # كال
    "\u0641\u0627\u0644",  # فال
    "\u0644\u0644",  # لل
    "\u0627\u0644",  # ال
)
_STEMMER = Stemmer.Stemmer("english")
_STEM_CACHE = 1 << 17


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in word)


def arabic_key(word: str) -> str:
    """A folded Arabic word without its leading "and" and article: بالرقه → رقه.

    Stripping stops while at least two letters remain, so short words (ولد, ال)
    survive whole.
    """
    if len(word) > 3 and word.startswith(_WAW):
        word = word[1:]
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return word[len(prefix) :]
    return word


@lru_cache(maxsize=_STEM_CACHE)
def _latin_keys(word: str) -> tuple[str, ...]:
    transliterated = _latin_word(word)
    stem = str(_STEMMER.stemWord(word))
    return (transliterated,) if stem == transliterated else (transliterated, stem)


@lru_cache(maxsize=_STEM_CACHE)
def _folded_words(chunk: str) -> tuple[str, ...]:
    found = _WORD.findall(_APOSTROPHES.sub("", fold(chunk)))
    return tuple(w for w in found if len(w) <= MAX_TOKEN_CHARS)


#: Longer chunks (base64, a pasted URL) are folded without the cache, so that a
#: long-running process never holds megabytes of them.
_CACHED_CHUNK_CHARS = 256


def _tokens(text: str) -> list[str]:
    # fold works word by word as on the whole text (it never joins across
    # whitespace), so each distinct whitespace-separated chunk is folded once
    # per process: a desk's vocabulary is small next to its text
    return [
        w
        for chunk in text.split()
        for w in (
            _folded_words(chunk)
            if len(chunk) <= _CACHED_CHUNK_CHARS
            else _folded_words.__wrapped__(chunk)
        )
    ]


def search_words(text: str) -> list[str]:
    """The folded words of ``text``, in order: what phrase queries match."""
    return _tokens(text)


def word_keys(words: list[str]) -> list[tuple[str, ...]]:
    """The keys of each word, given the folded words of one text (see the module doc).

    A word's keys depend on its neighbour only for Latin articles: "al" before
    another Latin word gives no key (an empty tuple). A word that may hold a
    glued article ("ezzor") has the keys of both readings.
    """
    out: list[tuple[str, ...]] = []
    last = len(words) - 1
    for position, word in enumerate(words):
        if _LATIN.fullmatch(word):
            if word in _ARTICLES and position < last and _LATIN.fullmatch(words[position + 1]):
                out.append(())
                continue
            keys = _latin_keys(word)
            if _GLUED_ARTICLE.fullmatch(word):
                # "ezzor" may be ez-Zor with its article glued on, or a word of its
                # own ("assadiya"): keep the keys of both readings
                keys = tuple(dict.fromkeys(_latin_keys(word[2:]) + keys))
            out.append(keys)
        elif _is_arabic(word):
            key = arabic_key(word)
            if len(word) == 3 and word.startswith(_WAW):
                # "and" on a two-letter word (وتل, وأم), or a word of its own (ولد)
                out.append((key, word[1:]))
            else:
                out.append((key,))
        else:
            out.append((word,))
    return out


def search_keys(text: str) -> list[str]:
    """Every key of ``text``, in order of the words, each word's keys once."""
    return [key for keys in word_keys(search_words(text)) for key in keys]
