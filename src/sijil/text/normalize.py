"""Normal forms of Arabic and English text for matching and search.

``fold`` is the base: what two spellings of the same text have in common once
presentation (vowel marks, letter variants, case, digit shapes, invisible
controls) is set aside. ``latin_key`` and ``name_key`` go further for names,
whose transliterations vary; ``skeleton`` further still, for fuzzy candidates.

Every function here is idempotent (f(f(x)) == f(x)), total on ``str``
(lone surrogates and unassigned code points included) and bounded: the output
is never more than :data:`MAX_GROWTH` times the input's length. The bound comes
from Unicode itself: NFKC expands U+FDFA ARABIC LIGATURE SALLALLAHOU ALAYHE
WASALLAM into 18 characters, the longest compatibility expansion there is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["MAX_GROWTH", "fold", "latin_key", "name_key", "normalize_arabic", "skeleton"]

#: ``len(f(x)) <= MAX_GROWTH * len(x)`` for every function of this module.
MAX_GROWTH = 18

# A fixed point is reached in one or two passes in practice; the cap only
# guards against a Unicode corner case turning a loop into a hang.
_MAX_PASSES = 8

_ALEF = "\u0627"
_ARABIC_LETTERS: dict[int, str] = {
    # hamza and madda forms of alef, alef wasla, wavy-hamza alefs -> bare alef
    0x0622: _ALEF,
    0x0623: _ALEF,
    0x0625: _ALEF,
    0x0671: _ALEF,
    0x0672: _ALEF,
    0x0673: _ALEF,
    0x0649: "\u064a",  # alef maksura -> yeh
    0x06CC: "\u064a",  # Farsi yeh -> yeh
    0x0629: "\u0647",  # teh marbuta -> heh
    0x06A9: "\u0643",  # keheh -> kaf
}
_TATWEEL = 0x0640
# categories removed outright: format controls (zero-width, bidi, soft hyphen,
# Arabic letter mark), surrogates, and marks (harakat, Latin diacritics once
# decomposed, enclosing marks)
_DROPPED_CATEGORIES = frozenset({"Cf", "Cs", "Mn", "Me"})


class _FoldTable(dict[int, str | None]):
    """``str.translate`` table computed per code point on first use."""

    def __missing__(self, code: int) -> str | None:
        value = self._compute(code)
        self[code] = value
        return value

    @staticmethod
    def _compute(code: int) -> str | None:
        if code in _ARABIC_LETTERS:
            return _ARABIC_LETTERS[code]
        if code == _TATWEEL:
            return None
        char = chr(code)
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES:
            return None
        if category == "Cc":
            return " " if char.isspace() else None
        if category == "Nd" and not "0" <= char <= "9":
            # Arabic-Indic, Persian and every other decimal digit, as ASCII
            return str(unicodedata.decimal(char))
        return char


_FOLD = _FoldTable()
_ARABIC_ONLY = _ARABIC_LETTERS | {_TATWEEL: None}


def _fixed_point(step: Callable[[str], str], text: str) -> str:
    for _ in range(_MAX_PASSES):
        after = step(text)
        if after == text:
            return after
        text = after
    return text


def normalize_arabic(text: str) -> str:
    """Unify Arabic letter variants and drop tatweel and harakat; other text unchanged.

    Hamza and madda forms of alef and alef wasla become bare alef, alef maksura
    and Farsi yeh become yeh, teh marbuta becomes heh, keheh becomes kaf.
    """
    # marks of the Arabic block only: Latin diacritics are fold's business
    return "".join(
        c
        for c in text.translate(_ARABIC_ONLY)
        if not ("\u0610" <= c <= "\u06ff" and unicodedata.category(c) == "Mn")
    )


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    # decomposed, so that diacritics (and hamza above/below alef) are separate
    # marks the table drops
    text = unicodedata.normalize("NFKD", text).translate(_FOLD)
    return " ".join(unicodedata.normalize("NFKC", text).split())


def fold(text: str) -> str:
    """The search form of ``text``: the same for every way of writing the same words.

    NFKC (presentation forms, ligatures, full-width letters), Arabic letter
    variants unified (see :func:`normalize_arabic`), harakat and tatweel removed,
    zero-width and bidi controls removed, any decimal digit as ASCII, Latin
    casefolded and without diacritics, runs of whitespace as one space.
    """
    return _fixed_point(_fold_once, text)


# Apostrophes and ayn/hamza signs of transliterations (Dar'a, A`zaz) join a word.
_APOSTROPHES = re.compile("['`\u00b4\u02b9-\u02bf\u2018\u2019\u201b\u2032]")
_WORD = re.compile(r"[^\W_]+")
_LATIN_WORD = re.compile(r"[a-z]+")
# al-, el-, and the sun-letter forms ar-, as-, ash-, at-, ath-, ad-, az-, an-, ...
_ARTICLES = frozenset(
    {"al", "el", "il", "ul"}
    | {v + c for v in "ae" for c in ("d", "dh", "n", "r", "s", "sh", "t", "th", "z")}
)
# a sun-letter article written into the next word: "ezzor" in "deir ezzor"
_GLUED_ARTICLE = re.compile(r"[ae]([dnrstz])\1[a-z]{2,}")
_DOUBLED = re.compile(r"([a-z])\1+")
_ARABIC_ARTICLE = "\u0627\u0644"
_INNER_VOWELS = re.compile(r"(?<=.)[aeiou]+")


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in word)


def _latin_word(word: str) -> str:
    word = _DOUBLED.sub(r"\1", word).replace("ou", "u")
    if len(word) > 3 and word[-1] == "h" and word[-2] in "aeiou":
        word = word[:-1]  # Raqqah, Hasakeh: a final -h is only the teh marbuta
    if len(word) > 3 and word[-1] == "e":
        word = word[:-1] + "a"  # Hasake/Hasaka: Levantine and standard spellings
    return word


def _key_pass(text: str, *, arabic_article: bool) -> str:
    words = _WORD.findall(_APOSTROPHES.sub("", text))
    out: list[str] = []
    for position, word in enumerate(words):
        if _LATIN_WORD.fullmatch(word):
            if word in _ARTICLES and position < len(words) - 1:
                continue
            if position > 0 and _GLUED_ARTICLE.fullmatch(word):
                word = word[2:]
            word = _latin_word(word)
        elif arabic_article and _is_arabic(word):
            if word.startswith(_ARABIC_ARTICLE) and len(word) > 3:
                word = word[2:]
        if word:
            out.append(word)
    return " ".join(out)


def latin_key(text: str) -> str:
    """``fold`` plus the usual variation of Arabic names written in Latin letters.

    Articles (al-, el-, ar-, as-, ash-, ez-, ...) before another word are
    dropped, as is one assimilated into a later word ("ezzor"); hyphens and
    punctuation separate words, apostrophes vanish; doubled letters become one,
    "ou" becomes "u", a final "h" after a vowel is dropped and a final "e"
    becomes "a". Raqqa, Ar-Raqqah and Al-Raqqa all give ``raqa``; Deir ez-Zor and
    deir ezzor give ``deir zor``. Words in other scripts are kept as folded.
    """
    return _fixed_point(lambda s: _key_pass(fold(s), arabic_article=False), text)


def name_key(text: str) -> str:
    """:func:`latin_key` that also drops the article ال from Arabic words (الرقة → رقه)."""
    return _fixed_point(lambda s: _key_pass(fold(s), arabic_article=True), text)


def _skeleton_pass(text: str) -> str:
    words = []
    for word in name_key(text).split(" "):
        if _LATIN_WORD.fullmatch(word):
            word = _DOUBLED.sub(r"\1", _INNER_VOWELS.sub("", word.replace("q", "k")))
        words.append(word)
    return " ".join(w for w in words if w)


def skeleton(text: str) -> str:
    """A name key without inner vowels and with q as k: Idlib/Idleb → ``idlb``, Rakka → ``rk``.

    Many names share a skeleton; it finds candidates a spelling variant missed,
    to be ranked below exact key matches.
    """
    return _fixed_point(_skeleton_pass, text)
