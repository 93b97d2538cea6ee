"""The public site's HTML pages, rendered with Jinja2 (autoescaped) in Arabic and English.

Every page exists twice, ``ar/<page>`` (right to left) and ``en/<page>``, each
naming the other as its ``hreflang`` alternate. Links are relative, so the site
works from any folder, a web server or a USB stick (``file://``). A static site
sends no headers, so the Content-Security-Policy rides in a ``<meta>`` element
(and in ``_headers`` for hosts that honour one); pages carry no inline script or
style, and load nothing from another origin.

Page names (relative to ``ar/`` or ``en/``): ``index.html``,
``incident/<code>.html``, ``verdict/<code>.html``, ``incidents/<n>.html`` and
``verdicts/<n>.html`` (lists in order of first publication, ``PER_PAGE`` a
page, so a new post changes only the last page), ``map.html``, ``search.html``,
``verify.html``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from sijil.errors import ConfigError, PublicationError
from sijil.publish.site_labels import LANGS, OTHER, label, ui
from sijil.publish.site_record import Post, Record, SubjectKey

__all__ = [
    "CSP",
    "HEADERS",
    "PER_PAGE",
    "TEMPLATES",
    "Pages",
    "list_page",
    "media_path",
    "safe_code",
]

TEMPLATES = Path(__file__).with_name("templates")
PER_PAGE = 100
LATEST = 30
# 'self' alone: no CDN, no tile server, no inline code. frame-ancestors is not
# honoured in <meta>, so it is only in _headers.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = (
    "/*\n"
    f"  Content-Security-Policy: {CSP}; frame-ancestors 'none'\n"
    "  Referrer-Policy: no-referrer\n"
    "  X-Content-Type-Options: nosniff\n"
)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/mp4": "mp4"}
_NAMES = ("base", "_macros", "home", "incident", "verdict", "list", "map", "search", "verify")


def safe_code(code: str) -> str:
    """A subject code fit to be a file name; anything else is refused."""
    if not _CODE.fullmatch(code) or ".." in code:
        raise PublicationError(f"subject code {code[:40]!r} cannot name a page")
    return code


def media_path(sha256: str, media_type: str) -> str:
    """Where a published derivative sits: ``media/<sha256>.<ext>``."""
    if not _HEX64.fullmatch(sha256):
        raise PublicationError("a published media hash is not 64 hex digits")
    return f"media/{sha256}.{_EXTENSIONS.get(media_type, 'bin')}"


def list_page(position: int) -> int:
    """The list page (from 1) holding the subject first published at ``position``."""
    return position // PER_PAGE + 1


@dataclass(frozen=True)
class Item:
    kind: str
    code: str
    post: Post | None


@lru_cache(maxsize=4)
def _environment(folder: str) -> jinja2.Environment:
    """The templates of ``folder``, all compiled now: a broken one refuses the build."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    try:
        for name in _NAMES:
            env.get_template(f"{name}.html")
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.name or exc.filename}, line {exc.lineno}"
        raise ConfigError(f"template {where} is broken: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template missing or unreadable: {exc}") from exc
    return env


class Pages:
    """Renders the pages of one record; templates are compiled once, up front."""

    def __init__(
        self,
        record: Record,
        templates: Path | None = None,
        verdicts_on: dict[str, list[SubjectKey]] | None = None,
    ) -> None:
        self.record = record
        self.env = _environment(str(templates or TEMPLATES))
        self._positions = {
            kind: {key: i for i, key in enumerate(record.subjects(kind))}
            for kind in ("incident", "verdict")
        }
        self._verdicts_on = verdicts_on
        self._live = {post.subject for post in record.live("incident")}

    def _render(self, template: str, lang: str, page: str, **context: Any) -> bytes:
        depth = page.count("/") + 1
        try:
            html = self.env.get_template(template).render(
                lang=lang,
                dir="rtl" if lang == "ar" else "ltr",
                other=OTHER[lang],
                page=page,
                root="../" * depth,
                csp=CSP,
                t=lambda name: ui(name, lang),
                lab=lambda vocabulary, code: label(vocabulary, code, lang),
                pick=lambda value: _pick(value, lang),
                **context,
            )
        except (jinja2.TemplateError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(f"template {template} failed on {lang}/{page}: {exc}") from exc
        return html.encode("utf-8")

    # --- one page of each kind, in both languages --------------------------------------

    def subject(self, key: SubjectKey) -> Iterator[tuple[str, bytes]]:
        kind, code = key
        versions = self.record.history[key]
        post = self.record.current(key)
        page = f"{kind}/{safe_code(code)}.html"
        context: dict[str, Any] = {"code": code, "post": post, "versions": versions}
        if kind == "incident":
            shown = self.record.media
            context["media"] = [
                media_path(str(m["sha256"]), shown[str(m["sha256"])])
                for m in (post.media if post else [])
                if str(m.get("sha256")) in shown
            ]
            if self._verdicts_on is None:
                self._verdicts_on = {
                    code: [p.key for p in posts]
                    for code, posts in self.record.verdicts_on().items()
                }
            verdicts = [self.record.current(k) for k in self._verdicts_on.get(code, [])]
            context["verdicts"] = [v for v in verdicts if v is not None]
        else:
            context["live"] = self._live
        for lang in LANGS:
            yield f"{lang}/{page}", self._render(f"{kind}.html", lang, page, **context)

    def list_pages(
        self, kind: str, numbers: Sequence[int] | None = None
    ) -> Iterator[tuple[str, bytes]]:
        keys = self.record.subjects(kind)
        pages = max(1, -(-len(keys) // PER_PAGE))
        for number in numbers or range(1, pages + 1):
            chunk = keys[(number - 1) * PER_PAGE : number * PER_PAGE]
            items = [Item(k, code, self.record.current((k, code))) for k, code in chunk]
            page = f"{kind}s/{number}.html"
            for lang in LANGS:
                yield (
                    f"{lang}/{page}",
                    self._render(
                        "list.html",
                        lang,
                        page,
                        kind_title=f"{kind}s",
                        items=items,
                        number=number,
                        pages=pages,
                    ),
                )

    def list_page_of(self, key: SubjectKey) -> int:
        return list_page(self._positions[key[0]][key])

    def fixed_pages(self, *, map_height: int, has_heads: bool) -> Iterator[tuple[str, bytes]]:
        # a key rotation post (no subject page) is in the log, not in the list
        latest = [p for p in reversed(self.record.posts[-LATEST:]) if p.key in self.record.history]
        counts = {kind: sum(1 for _ in self.record.live(kind)) for kind in ("incident", "verdict")}
        for lang in LANGS:
            yield (
                f"{lang}/index.html",
                self._render("home.html", lang, "index.html", latest=latest, counts=counts),
            )
            yield (
                f"{lang}/map.html",
                self._render("map.html", lang, "map.html", map_height=map_height),
            )
            yield f"{lang}/search.html", self._render("search.html", lang, "search.html")
            yield (
                f"{lang}/verify.html",
                self._render("verify.html", lang, "verify.html", has_heads=has_heads),
            )


def _pick(value: object, lang: str) -> tuple[str, str]:
    """A bilingual text in ``lang``, or in the other language while a translation is pending."""
    if isinstance(value, dict):
        for candidate in (lang, OTHER[lang]):
            text = value.get(candidate)
            if isinstance(text, str) and text.strip():
                return text, candidate
        return "", lang
    return ("" if value is None else str(value)), lang


ROOT_INDEX = (
    '<!doctype html>\n<html lang="ar" dir="rtl">\n<head>\n<meta charset="utf-8">\n'
    f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
    '<meta http-equiv="refresh" content="0; url=ar/index.html">\n'
    '<link rel="alternate" hreflang="ar" href="ar/index.html">\n'
    '<link rel="alternate" hreflang="en" href="en/index.html">\n'
    "<title>السجل · The record</title>\n</head>\n<body>\n"
    '<p><a href="ar/index.html" hreflang="ar">العربية</a> · '
    '<a href="en/index.html" hreflang="en" lang="en" dir="ltr">English</a></p>\n'
    "</body>\n</html>\n"
).encode()
