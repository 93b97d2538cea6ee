"""The leak scan: does a post's text name a source, a phone, a device or a handle?

Pure functions over strings and a term list. Every text is normalised with
:mod:`sijil.text` first (diacritics, tatweel, letter variants, invisible controls
and digit scripts folded away), so نَـسْـر finds نسر and ٠٩٤٤ ١٢٣ ٤٥٦ is 0944 123 456.

Two kinds of rule:

* **terms** (``LeakRule.TERM``): the correspondents' codenames and the desk's
  deny list (names, aliases, phones, devices, handles). A term matches a run of
  words whose search keys meet (sijil.text.search: "and"/article prefixes of
  Arabic words, plural and spelling variants of Latin ones), or one word written
  as the term's words run together. A phone term matches on its last digits in
  any formatting.
* **patterns**: anything that looks like a phone number (7 or more digits,
  grouped by spaces, hyphens, dots, brackets or slashes; dates and year ranges
  are not phones), a handle or e-mail address or a social-media link, a device
  maker or model code, or the words "serial"/"IMEI".

A finding names the field, the rule and the term class, never the matched text:
findings go into refusal messages and logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sijil.store.models_publish_gate import TermClass
from sijil.text import fold
from sijil.text.search import search_words, word_keys

__all__ = [
    "PHONE_MIN_DIGITS",
    "LeakFinding",
    "LeakRule",
    "Term",
    "TermClass",
    "find_phone_numbers",
    "scan",
    "term_key",
]

#: Fewer digits are counts, ages and years; 7 is the shortest local number (no area code).
PHONE_MIN_DIGITS = 7
#: E.164 allows 15 digits; a longer grouped run is checked as a whole anyway.
PHONE_MAX_DIGITS = 15
# A phone term matches on its last digits: the part that survives a dropped
# country code or trunk 0 (+963 944 ... and 0944 ... are the same number).
_PHONE_TAIL = 8


class LeakRule(StrEnum):
    TERM = "term"  # a codename or a deny-list entry
    PHONE = "phone pattern"
    HANDLE = "handle pattern"
    DEVICE = "device pattern"


@dataclass(frozen=True)
class Term:
    text: str
    term_class: TermClass


@dataclass(frozen=True)
class LeakFinding:
    field: str  # where: "incident.summary.ar"
    rule: LeakRule
    term_class: TermClass

    def describe(self) -> str:
        """One phrase for a refusal: what kind of thing, and where; never the thing."""
        return f"{self.term_class} ({self.rule}) in {self.field}"


_SEP = "[ \\-\u2010-\u2015\u2212.()/]"
_CANDIDATE = re.compile(rf"\+?\d+(?:{_SEP}{{1,3}}\d+)*")
_GROUP = re.compile(r"\d+")
_DATE_SEPS = frozenset({"-", "/", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212"})


def _is_year(group: str) -> bool:
    return len(group) == 4 and group[:2] in {"19", "20"}


def _is_date(groups: Sequence[str], seps: Sequence[str]) -> bool:
    """Year-month-day or day-month-year, with - or / between (2017-06-03, 3/6/2017)."""
    if len(groups) != 3 or not all(s.strip() in _DATE_SEPS for s in seps):
        return False
    first, middle, last = (int(g) for g in groups)
    if _is_year(groups[0]):
        return 1 <= middle <= 12 and 1 <= last <= 31 and len(groups[2]) <= 2
    year_ok = _is_year(groups[2]) or len(groups[2]) == 2
    day_month = 1 <= first <= 31 and 1 <= middle <= 12
    return year_ok and len(groups[0]) <= 2 and (day_month or (1 <= first <= 12 and middle <= 31))


def _runs(groups: list[str], seps: list[str]) -> list[list[str]]:
    """The candidate's groups with dates and years taken out, as runs of neighbours."""
    runs: list[list[str]] = [[]]
    i = 0
    while i < len(groups):
        if i + 3 <= len(groups) and _is_date(groups[i : i + 3], seps[i : i + 2]):
            runs.append([])
            i += 3
            continue
        if _is_year(groups[i]):
            runs.append([])
        else:
            runs[-1].append(groups[i])
        i += 1
    return [r for r in runs if r]


def _phone_digits(candidate: str) -> list[str]:
    groups = _GROUP.findall(candidate)
    seps = _GROUP.split(candidate)[1:-1]
    found = [g for g in groups if len(g) >= PHONE_MIN_DIGITS]
    if any("." in s for s in seps):
        # decimals (35.95, 39.0061) are not phones; dotted phones (0944.123.456) are
        dotted = all(s == "." for s in seps) and len(groups[0]) >= 3 and len(groups) >= 3
        if dotted and len("".join(groups)) >= PHONE_MIN_DIGITS:
            found.append("".join(groups))
        return found
    for run in _runs(groups, seps):
        digits = "".join(run)
        if len(run) > 1 and len(digits) >= PHONE_MIN_DIGITS:
            found.append(digits)
    return found


def find_phone_numbers(text: str) -> list[str]:
    """The digits (ASCII) of everything in ``text`` that looks like a phone number."""
    return [d for m in _CANDIDATE.finditer(fold(text)) for d in _phone_digits(m.group())]


_HANDLES = re.compile(
    r"(?<![\w@])@[\w.]{2,}"  # @handle, in any script
    r"|[\w.+-]+@[\w-]+\.[\w.]+"  # e-mail
    r"|\b(?:t\.me|telegram\.me|wa\.me|facebook\.com|fb\.com|twitter\.com|x\.com"
    r"|instagram\.com|youtube\.com|tiktok\.com|snapchat\.com|vk\.com)/\S+"
)
# makers of phones and cameras a correspondent may carry (folded, whole words)
_MAKERS = frozenset(
    [
        "iphone",
        "ipad",
        "samsung",
        "huawei",
        "xiaomi",
        "redmi",
        "nokia",
        "canon",
        "nikon",
        "sony",
        "gopro",
        "dji",
        "mavic",
        "oppo",
        "vivo",
        "tecno",
        "infinix",
        "motorola",
        "htc",
        "lenovo",
        "olympus",
        "fujifilm",
        "panasonic",
        "lumix",
        "garmin",
        "thuraya",
        "ايفون",
        "ايباد",
        "سامسونج",
        "سامسونغ",
        "هواوي",
        "شاومي",
        "نوكيا",
        "كانون",
        "نيكون",
        "سوني",
    ]
)
_MODEL_OR_SERIAL = re.compile(
    r"\b(?:sm|gt)-?[a-z]\d{3,4}[a-z]?\b"  # Samsung model codes (SM-G920F)
    r"|\b(?:imei|serial|s/n)\b"
    r"|تسلسلي"  # "serial" (رقم تسلسلي)
)


def _pattern_findings(field: str, text: str) -> list[LeakFinding]:
    folded = fold(text)
    found: list[LeakFinding] = []
    if any(_phone_digits(m.group()) for m in _CANDIDATE.finditer(folded)):
        found.append(LeakFinding(field, LeakRule.PHONE, TermClass.PHONE))
    if _HANDLES.search(folded):
        found.append(LeakFinding(field, LeakRule.HANDLE, TermClass.HANDLE))
    if _MODEL_OR_SERIAL.search(folded) or _MAKERS.intersection(search_words(text)):
        found.append(LeakFinding(field, LeakRule.DEVICE, TermClass.DEVICE))
    return found


def term_key(text: str) -> str:
    """The folded form a deny-list term is stored and compared under."""
    return " ".join(search_words(text))


def _forms(words: list[str]) -> list[frozenset[str]]:
    return [frozenset({w, *keys}) for w, keys in zip(words, word_keys(words), strict=True)]


@dataclass(frozen=True)
class _Compiled:
    term_class: TermClass
    forms: tuple[frozenset[str], ...]
    joined: str
    digits: str


def _compile(terms: Iterable[Term]) -> list[_Compiled]:
    out = []
    for term in terms:
        words = search_words(term.text)
        digits = "".join(c for c in fold(term.text) if c.isascii() and c.isdigit())
        if term.term_class is TermClass.PHONE and len(digits) >= PHONE_MIN_DIGITS:
            out.append(_Compiled(term.term_class, (), "", digits[-_PHONE_TAIL:]))
        elif words:
            joined = "".join(words) if len(words) > 1 else ""
            out.append(_Compiled(term.term_class, tuple(_forms(words)), joined, ""))
    return out


def _matches(term: _Compiled, forms: list[frozenset[str]], digit_runs: list[str]) -> bool:
    if term.digits:
        return any(term.digits in run for run in digit_runs)
    size = len(term.forms)
    for i in range(len(forms)):
        if term.joined and term.joined in forms[i]:
            return True
        window = forms[i : i + size]
        if len(window) == size and all(t & w for t, w in zip(term.forms, window, strict=True)):
            return True
    return False


def scan(fields: Iterable[tuple[str, str]], terms: Iterable[Term]) -> list[LeakFinding]:
    """Every leak in ``fields`` (``(name, text)`` pairs): one finding per field, rule and class."""
    compiled = _compile(terms)
    found: list[LeakFinding] = []
    for field, text in fields:
        if not text:
            continue
        here = _pattern_findings(field, text)
        forms = _forms(search_words(text))
        digit_runs = ["".join(_GROUP.findall(m.group())) for m in _CANDIDATE.finditer(fold(text))]
        for term in compiled:
            finding = LeakFinding(field, LeakRule.TERM, term.term_class)
            if finding not in here and _matches(term, forms, digit_runs):
                here.append(finding)
        found.extend(here)
    return found
