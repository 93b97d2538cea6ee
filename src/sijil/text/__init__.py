"""sijil.text: Arabic/English normalisation for matching names and searching text.

Pure functions of a string, no I/O and no knowledge of the desk:

- :func:`fold` — the general search form of any text: NFKC, Arabic letter
  variants unified, harakat, tatweel, zero-width and bidi controls removed, any
  decimal digit (Arabic-Indic, Persian, ...) as ASCII, Latin casefolded without
  diacritics, whitespace collapsed.
- :func:`latin_key` — ``fold`` plus the spelling variants of transliterated
  Arabic names: articles (al-, ar-, as-, el-, ...), hyphens, doubled letters and
  a final -h or -e (Raqqa, Ar-Raqqah, Al-Raqqa all give ``raqa``).
- :func:`name_key` — ``latin_key`` that also drops the Arabic article ال from
  Arabic words: the key to match place and actor names written either way.
- :func:`skeleton` — a name key without its inner vowels (Idlib, Idleb → ``idlb``),
  for a weaker, fuzzier match.

Each is idempotent, never raises on any ``str``, and its output is at most
:data:`MAX_GROWTH` times as long as its input.
"""

from sijil.text.normalize import (
    MAX_GROWTH,
    fold,
    latin_key,
    name_key,
    normalize_arabic,
    skeleton,
)

__all__ = ["MAX_GROWTH", "fold", "latin_key", "name_key", "normalize_arabic", "skeleton"]
