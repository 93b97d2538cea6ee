"""Feeds of the public record: Atom (RFC 4287) and JSON Feed 1.1, one of each per language.

``feeds/<lang>.atom`` and ``feeds/<lang>.json`` hold the subjects touched by the
newest ``FEED_SIZE`` log entries, newest first, one entry per subject in its
present state. Each Atom entry carries the ``xml:lang`` of its own text (the
other language while a translation is pending); a withdrawn subject is an RFC 6721
``at:deleted-entry`` tombstone with the reason, and nothing of what was withdrawn.
JSON Feed has no tombstones: a withdrawn subject leaves it (data/changes.json
tells mirrors what to delete). Identifiers are URNs (``urn:sijil:incident:CODE``)
so they stay the same wherever the site is mirrored; links are relative.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from sijil.publish.pages import safe_code
from sijil.publish.site_labels import LANGS, label, ui
from sijil.publish.site_record import Post, Record, SubjectKey

__all__ = ["FEED_SIZE", "atom_feed", "entry_id", "feed_files", "json_feed"]

FEED_SIZE = 100
ATOM = "http://www.w3.org/2005/Atom"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ATOM)
ET.register_namespace("at", TOMBSTONES)


def entry_id(key: SubjectKey) -> str:
    return f"urn:sijil:{key[0]}:{safe_code(key[1])}"


def _stamp(day: str) -> str:
    return f"{day}T00:00:00Z"


def _recent(record: Record) -> list[SubjectKey]:
    seen: dict[SubjectKey, None] = {}
    for post in reversed(record.posts[-FEED_SIZE:]):
        if post.key in record.history:  # not a key rotation post, which has no page
            seen.setdefault(post.key, None)
    return list(seen)


def _text(value: object, lang: str) -> tuple[str, str]:
    if isinstance(value, dict):
        for candidate in (lang, "en" if lang == "ar" else "ar"):
            text = value.get(candidate)
            if isinstance(text, str) and text.strip():
                return text, candidate
    return "", lang


def _title(post: Post, lang: str) -> tuple[str, str]:
    if post.kind == "incident":
        return _text(post.incident.get("title"), lang)
    claim = post.verdict.get("claim") or {}
    rating = label("rating", post.verdict.get("rating"), lang)
    return f"{rating}: {claim.get('title', '')}", lang


def _summary(post: Post, lang: str) -> tuple[str, str]:
    body = post.incident if post.kind == "incident" else post.verdict
    return _text(body.get("summary"), lang)


def _page(key: SubjectKey, lang: str) -> str:
    return f"../{lang}/{key[0]}/{safe_code(key[1])}.html"


def atom_feed(record: Record, lang: str) -> bytes:
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: lang})
    keys = _recent(record)
    newest = record.posts[-1].day if record.posts else "1970-01-01"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"urn:sijil:feed:{lang}"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = ui("site", lang)
    ET.SubElement(feed, f"{{{ATOM}}}subtitle").text = ui("tagline", lang)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(newest)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")  # the desk as a whole, never a person
    ET.SubElement(author, f"{{{ATOM}}}name").text = ui("site", lang)
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{lang}.atom"})
    ET.SubElement(
        feed,
        f"{{{ATOM}}}link",
        {"rel": "alternate", "type": "text/html", "href": f"../{lang}/index.html"},
    )
    for key in keys:
        latest = record.latest(key)
        if latest.action == "retraction":
            gone = ET.SubElement(
                feed,
                f"{{{TOMBSTONES}}}deleted-entry",
                {"ref": entry_id(key), "when": _stamp(latest.day)},
            )
            ET.SubElement(gone, f"{{{ATOM}}}link", {"href": _page(key, lang)})
            reason, reason_lang = _text(latest.data.get("reason"), lang)
            if reason:
                comment = ET.SubElement(gone, f"{{{TOMBSTONES}}}comment", {XML_LANG: reason_lang})
                comment.text = reason
            continue
        title, title_lang = _title(latest, lang)
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry", {XML_LANG: title_lang})
        ET.SubElement(entry, f"{{{ATOM}}}id").text = entry_id(key)
        ET.SubElement(entry, f"{{{ATOM}}}title").text = title
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(latest.day)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _stamp(record.history[key][0].day)
        ET.SubElement(
            entry,
            f"{{{ATOM}}}link",
            {"rel": "alternate", "type": "text/html", "href": _page(key, lang)},
        )
        ET.SubElement(
            entry,
            f"{{{ATOM}}}link",
            {
                "rel": "related",
                "type": "application/json",
                "href": f"../posts/{latest.log_index}.json",
            },
        )
        term = latest.incident.get("type") if key[0] == "incident" else latest.verdict.get("rating")
        vocabulary = "type" if key[0] == "incident" else "rating"
        ET.SubElement(
            entry,
            f"{{{ATOM}}}category",
            {"term": str(term), "label": label(vocabulary, term, lang)},
        )
        summary, summary_lang = _summary(latest, lang)
        ET.SubElement(
            entry, f"{{{ATOM}}}summary", {"type": "text", XML_LANG: summary_lang}
        ).text = summary
    ET.indent(feed)
    written: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return written + b"\n"


def json_feed(record: Record, lang: str) -> bytes:
    items: list[dict[str, Any]] = []
    for key in _recent(record):
        latest = record.latest(key)
        if latest.action == "retraction":
            continue
        title, title_lang = _title(latest, lang)
        summary, _ = _summary(latest, lang)
        items.append(
            {
                "id": entry_id(key),
                "url": _page(key, lang),
                "title": title,
                "content_text": summary,
                "date_published": _stamp(record.history[key][0].day),
                "date_modified": _stamp(latest.day),
                "language": title_lang,
                "attachments": [
                    {"url": f"../posts/{latest.log_index}.json", "mime_type": "application/json"}
                ],
            }
        )
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ui("site", lang),
        "description": ui("tagline", lang),
        "home_page_url": f"../{lang}/index.html",
        "feed_url": f"{lang}.json",
        "language": lang,
        "authors": [{"name": ui("site", lang)}],
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1).encode() + b"\n"


def feed_files(record: Record) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for lang in LANGS:
        out[f"feeds/{lang}.atom"] = atom_feed(record, lang)
        out[f"feeds/{lang}.json"] = json_feed(record, lang)
    return out
