"""The interface's languages: Arabic (the default, right to left) and English.

English strings are the message ids in the code and templates; Arabic comes
from the ``.po`` files in ``translations/ar/LC_MESSAGES/`` (``messages.po`` and
one file per group of screens, merged in name order, the first wins), compiled in memory with
Babel when the app starts (no .mo file to keep in step). Regenerate the template after
changing strings with ``pybabel extract -F src/sijil/web/babel.cfg -o messages.pot
src/sijil/web`` and ``pybabel update``; tests/test_web_i18n.py fails when a string
has no Arabic translation.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["CATALOG_DIR", "LANGUAGES", "N_", "Language", "load_languages", "read_catalog"]

CATALOG_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("ar", "en")
DEFAULT_LANGUAGE = "ar"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Language:
    code: str
    direction: str
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)


def read_catalog(code: str) -> Catalog:
    """Every ``.po`` file of language ``code`` as one catalog (Babel keeps the first file's
    translation of a repeated string, in name order)."""
    merged = Catalog(locale=code)
    for path in sorted((CATALOG_DIR / code / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            for message in read_po(po, locale=code):
                if message.id:
                    merged[message.id] = message
    return merged


def _compiled(code: str) -> gettext.NullTranslations:
    catalog = read_catalog(code)
    if not len(catalog):
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def load_languages() -> dict[str, Language]:
    return {
        "ar": Language("ar", "rtl", _compiled("ar")),
        "en": Language("en", "ltr", gettext.NullTranslations()),
    }
