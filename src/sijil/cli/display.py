"""Text from outside, made safe to print: nothing it holds can drive the terminal or forge a line.

Titles, codenames, file names, place names and claim text come from correspondents,
outlets and strangers. Printed raw, a newline in a title starts a line of its own
(a fake "imported ... from Raven"), an escape sequence clears or rewrites the
screen, and a right-to-left override turns ``exe.jpg`` into something else. Every
human-readable line the CLI prints passes such text through :func:`terminal_safe`
(a value: a title, a name) or :func:`safe_text` (a message quoting one, or lines
of text such as a reply) first; JSON output does not (JSON escapes control
characters itself, and its values must stay exact).

The rule is git's for paths (``quote_c_style``): text that needs no escaping is
printed as it is; otherwise it is put in double quotes, with ``\\n``, ``\\t``,
``\\r``, ``\\a``, ``\\b``, ``\\f``, ``\\v``, ``\\"`` and ``\\\\`` in C style and any
other character escaped as the octal of its UTF-8 bytes (``\\033`` for ESC,
``\\342\\200\\256`` for U+202E), so two different texts never print alike.
Escaped are the C0 and C1 controls and DEL, the Unicode line and paragraph
separators, the bidi embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069), and lone surrogates (an undecodable byte of a file name, shown as
that byte; any other lone surrogate as ``\\uXXXX``). The marks Arabic text needs
(U+200E, U+200F, U+061C) and the joiners are kept.
"""

from __future__ import annotations

import re

__all__ = ["safe_text", "source_label", "terminal_safe"]

# Never printed raw: controls, line separators, bidi embeddings/overrides/isolates,
# lone surrogates. A value is quoted (git's rule) when it holds one, or '"' or '\'.
_SEPARATORS_BIDI_SURROGATES = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_VALUE = re.compile(rf'[\x00-\x1f{_SEPARATORS_BIDI_SURROGATES}"\\]')
_UNSAFE_LINE = re.compile(rf"[\x00-\x1f{_SEPARATORS_BIDI_SURROGATES}]")
# Lines of text (a report body, a reply) keep their newlines and tabs.
_UNSAFE_LINES = re.compile(rf"[\x00-\x08\x0b-\x1f{_SEPARATORS_BIDI_SURROGATES}]")
_C_STYLE = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}
# Python's surrogateescape keeps an undecodable byte b as the lone surrogate U+DC00+b.
_ESCAPED_BYTE = range(0xDC80, 0xDD00)


def _escape(char: str) -> str:
    named = _C_STYLE.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code in _ESCAPED_BYTE:
        return f"\\{code - 0xDC00:03o}"
    if 0xD800 <= code <= 0xDFFF:
        # a lone surrogate that is no undecodable byte (from JSON's \ud800, say) has
        # no UTF-8 bytes of its own: \uXXXX, so it never prints as three bytes do
        return f"\\u{code:04X}"
    return "".join(f"\\{byte:03o}" for byte in char.encode("utf-8"))


def _sub(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda found: _escape(found.group()), text)


def terminal_safe(value: str) -> str:
    """A value (a title, a name, a file name) as printed: unchanged when harmless,
    else in double quotes with every unsafe character escaped, as git quotes paths."""
    if _UNSAFE_VALUE.search(value) is None:
        return value
    return '"' + _sub(_UNSAFE_VALUE, value) + '"'


def safe_text(text: str, *, lines: bool = False) -> str:
    """A message that quotes outside text (a reason, a detail) with every unsafe
    character escaped, unquoted. ``lines``: text shown on lines of its own (a
    report body, a reply) keeps its newlines and tabs."""
    return _sub(_UNSAFE_LINES if lines else _UNSAFE_LINE, text)


def source_label(codename: str, *, enrolled: bool = True) -> str:
    """Who sent a report, as printed: an enrolled codename, or an unmistakable mark.

    A key the desk never enrolled gets ``[UNENROLLED KEY <fingerprint digits>]``,
    never something that reads like a codename.
    """
    # here, not at the top: the field commands print through this module too,
    # and a correspondent's laptop need not load the desk
    from sijil.desk.register import UNENROLLED_PREFIX

    if enrolled and not codename.startswith(UNENROLLED_PREFIX):
        return terminal_safe(codename)
    digits = codename.removeprefix(UNENROLLED_PREFIX)
    return f"[UNENROLLED KEY {terminal_safe(digits)}]"
