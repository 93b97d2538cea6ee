"""Arabic first: every UI string has an Arabic translation, the CSS is direction-neutral.

The strings are extracted the way ``pybabel extract`` does (Babel's Python and
Jinja2 extractors over sijil.web), so a string added to a template or marked
with ``N_`` without an Arabic ``msgstr`` fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

import sijil.web
from sijil.web.i18n import load_languages, read_catalog
from sijil.web.labels import LABELS
from sijil.web.pages import REFUSALS

WEB = Path(sijil.web.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
# physical directions: the sheet must say inline-start/end and block-start/end instead
PHYSICAL = re.compile(
    r"\b(?:margin|padding|border)-(?:left|right)\b|\b(?:left|right)\s*:|"
    r"text-align:\s*(?:left|right)|float:\s*(?:left|right)|(?<![-\w])(?:width|height)\s*:"
)


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(WEB, METHODS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_ui_string_has_an_arabic_translation() -> None:
    # Given the strings of the code and the templates
    strings = _extracted()
    assert len(strings) > 80, "the extractor found too little: is babel.cfg right?"
    assert {"Inbox", "Sign in", "Activity log"} <= strings
    # When the Arabic catalog is read
    catalog = read_catalog("ar")
    # Then each has a translation that is not marked fuzzy
    missing = sorted(
        s for s in strings if not catalog.get(s) or not catalog[s].string or catalog[s].fuzzy
    )
    assert missing == []


def test_the_compiled_catalog_translates_the_strings_shown_by_code() -> None:
    arabic = load_languages()["ar"]
    for message in [*LABELS.values(), *(text for _, text in REFUSALS.values())]:
        assert arabic.gettext(message) != message, message


def test_the_stylesheet_uses_logical_properties_only() -> None:
    css = (WEB / "static" / "app.css").read_text(encoding="utf-8")
    without_comments = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    assert PHYSICAL.findall(without_comments) == []
    assert "margin-inline-start" in css and "padding-inline" in css


def test_templates_carry_no_inline_script_or_style() -> None:
    for template in (WEB / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "<script>" not in text and "style=" not in text, template.name
        assert not re.search(r"\bon[a-z]+=", text), template.name
