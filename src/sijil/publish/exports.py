"""The public record as data: a static JSON API, GeoJSON, CSV and a change list for mirrors.

Under ``data/``:

* ``api/index.json`` and ``api/<kind>/<code>.json``: each subject's current
  version (``null`` once withdrawn) and its versions with links to the signed posts;
* ``incidents.geojson`` (RFC 7946): one Point per current incident, with the date
  and place precision (UCDP GED's ``date_prec``, ``where_prec``) as properties;
* ``ged.csv`` shaped like UCDP GED, ``acled.csv`` like ACLED, and ``acled-hxl.csv``
  the same with an HXL hashtag row under the header (exports_tables.py);
* ``datapackage.json``: a Frictionless data package describing both CSV tables;
* ``changes.json``: for mirrors, every log entry with the files it wrote and the
  files it deleted (media no current version shows any more), plus the files that
  every entry rewrites.

Casualties: a post publishes ranges, not a best estimate; ``low``/``high`` are the
sums of the killed rows of group "all", and ``best`` is the low end (what the desk
is sure of).
"""

from __future__ import annotations

import json
from typing import Any

from sijil.publish.exports_tables import deaths, table_files, table_lines
from sijil.publish.pages import media_path, safe_code
from sijil.publish.site_record import KnownRows, Post, Record, SubjectKey, coordinates

__all__ = [
    "ALWAYS",
    "CACHE_FORMAT",
    "Fragments",
    "api_path",
    "api_subject",
    "changes",
    "export_files",
    "fragment",
]

CACHE_FORMAT = "sijil-site-cache/2"
# files every new log entry rewrites, besides its own (see docs/publish-format.md)
ALWAYS = (
    "ar/index.html",
    "en/index.html",
    "feeds/ar.atom",
    "feeds/en.atom",
    "feeds/ar.json",
    "feeds/en.json",
    "search/ar.json",
    "search/en.json",
    "static/map.svg",
    "data/map.json",
    "data/api/index.json",
    "data/incidents.geojson",
    "data/ged.csv",
    "data/acled.csv",
    "data/acled-hxl.csv",
    "data/changes.json",
    "log/checkpoint",
)


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _version(post: Post, depth: int) -> dict[str, Any]:
    up = "../" * depth
    return {
        "version": post.data["version"],
        "action": post.action,
        "log_index": post.log_index,
        "published_at": post.day,
        "reason": post.data.get("reason"),
        "post": f"{up}posts/{post.log_index}.json",
    }


def api_subject(record: Record, key: SubjectKey) -> bytes:
    current = record.current(key)
    body: dict[str, Any] = {
        "kind": key[0],
        "code": key[1],
        "withdrawn": current is None,
        "current": None if current is None else current.data[key[0]],
        "independently_reviewed": None
        if current is None
        else current.data.get("independently_reviewed"),
        "versions": [_version(p, 3) for p in record.history[key]],
    }
    return _dump(body)


def api_path(key: SubjectKey) -> str:
    return f"data/api/{key[0]}/{safe_code(key[1])}.json"


def _index_entry(record: Record, key: SubjectKey) -> dict[str, Any]:
    latest = record.latest(key)
    return {
        "code": key[1],
        "version": latest.data["version"],
        "withdrawn": latest.action == "retraction",
        "log_index": latest.log_index,
        "published_at": latest.day,
        "url": f"{key[0]}/{safe_code(key[1])}.json",
    }


def _feature(post: Post, lat: float, lon: float) -> dict[str, Any]:
    inc = post.incident
    where, when = inc.get("where") or {}, inc.get("when") or {}
    best, low, high, _ = deaths(post)
    name = where.get("name") or {}
    title = inc.get("title") or {}
    return {
        "type": "Feature",
        "id": post.subject,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "code": post.subject,
            "version": post.data["version"],
            "log_index": post.log_index,
            "type": inc.get("type"),
            "title_ar": title.get("ar"),
            "title_en": title.get("en"),
            "date_start": when.get("start"),
            "date_end": when.get("end"),
            "date_prec": when.get("date_prec"),
            "where_prec": where.get("where_prec"),
            "where_ar": name.get("ar"),
            "where_en": name.get("en"),
            "governorate": where.get("governorate"),
            "h3": where.get("h3"),
            "grading": (inc.get("grading") or {}).get("code"),
            "harm": inc.get("harm"),
            "best": best,
            "low": low,
            "high": high,
            "url_ar": f"../ar/incident/{post.subject}.html",
            "url_en": f"../en/incident/{post.subject}.html",
        },
    }


def fragment(record: Record, key: SubjectKey) -> dict[str, Any]:
    """What one subject adds to the whole-record exports, as of its newest log entry."""
    current = record.current(key)
    frag: dict[str, Any] = {
        "at": record.latest(key).log_index,
        "index": _dump(_index_entry(record, key)).decode(),
    }
    if key[0] == "verdict" and current is not None:
        frag["cites"] = [str(code) for code in current.verdict.get("incidents") or []]
    if key[0] == "incident" and current is not None:
        frag["ged"], frag["acled"] = table_lines(current)
        frag["media"] = sorted(str(m["sha256"]) for m in current.media)
        point = coordinates(current.incident.get("where"))
        if point is not None:
            frag["point"] = list(point)
            frag["feature"] = _dump(_feature(current, *point)).decode()
    return frag


class Fragments:
    """Every subject's fragment, kept between builds in the desk home (``publish-cache``).

    A fragment is recomputed when its subject has a newer log entry than the one it
    was made from, so an update parses only the posts it publishes; a missing or
    stale cache only costs time.
    """

    def __init__(self, cached: dict[str, Any] | None = None) -> None:
        cached = cached if cached and cached.get("format") == CACHE_FORMAT else {}
        self.subjects: dict[str, dict[str, Any]] = dict(cached.get("subjects") or {})
        self.changes: dict[str, Any] = dict(cached.get("changes") or {})
        self.log: KnownRows | None = _known_rows(cached.get("log"))
        media = cached.get("media")
        self.media: dict[str, str] | None = (
            media
            if isinstance(media, dict)
            and all(type(k) is str and type(v) is str for k, v in media.items())
            else None
        )
        self._all: tuple[Record, int, list[tuple[SubjectKey, dict[str, Any]]]] | None = None
        # lang -> (SHA-256 of the site's search/<lang>.json, that index parsed)
        self.search: dict[str, tuple[bytes, dict[str, Any]]] = _search_copies(cached.get("search"))

    def of(self, record: Record, key: SubjectKey) -> dict[str, Any]:
        tag = f"{key[0]}:{key[1]}"
        found = self.subjects.get(tag)
        if found is None or found.get("at") != record.latest(key).log_index:
            found = self.subjects[tag] = fragment(record, key)
            self._all = None
        return found

    def all(self, record: Record) -> list[tuple[SubjectKey, dict[str, Any]]]:
        if self._all is not None and self._all[0] is record and self._all[1] == record.size:
            return self._all[2]
        subjects = self.subjects
        parts: list[tuple[SubjectKey, dict[str, Any]]] = []
        stale: list[int] = []
        for key, history in record.history.items():
            found = subjects.get(f"{key[0]}:{key[1]}")
            if found is None or found.get("at") != history[-1].log_index:
                stale.append(history[-1].log_index)
                found = {}
            parts.append((key, found))
        if stale:
            record.bodies.fetch(stale)  # one query for what a missing cache must re-derive
            parts = [(key, self.of(record, key)) for key in record.history]
        self._all = (record, record.size, parts)
        return parts

    def verdicts_on(self, record: Record) -> dict[str, list[SubjectKey]]:
        """Incident code -> the current verdicts resting on it."""
        out: dict[str, list[SubjectKey]] = {}
        for key in record.subjects("verdict"):
            for code in self.of(record, key).get("cites", []):
                out.setdefault(code, []).append(key)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The cache's content: plain dicts, lists, tuples, strings, numbers and bytes."""
        return {
            "format": CACHE_FORMAT,
            "subjects": self.subjects,
            "changes": self.changes,
            "log": self.log,
            "media": self.media,
            "search": self.search,
        }


def _search_copies(found: object) -> dict[str, tuple[bytes, dict[str, Any]]]:
    if not isinstance(found, dict):
        return {}
    return {
        lang: (copy[0], copy[1])
        for lang, copy in found.items()
        if isinstance(copy, tuple)
        and len(copy) == 2
        and isinstance(copy[0], bytes)
        and isinstance(copy[1], dict)
    }


def _known_rows(found: object) -> KnownRows | None:
    """The cached log rows, if they have the shape ``site_record.known_rows`` gives."""
    if not (isinstance(found, tuple) and len(found) == 2):
        return None
    root, rows = found
    if not (isinstance(root, bytes) and isinstance(rows, list)):
        return None
    if not all(type(row) is tuple and len(row) == 4 for row in rows):
        return None  # (load_record checks each value as it reads the row)
    return root, rows


def changes(record: Record, state: dict[str, Any]) -> bytes:
    """Every log entry with what it wrote and deleted, replayed from where ``state`` stopped.

    ``state`` (kept in the cache) holds the entries made so far, how many current
    versions show each medium, and each subject's current media.
    """
    if int(state.get("size", 0)) > record.size:
        state.clear()
    entries: list[str] = state.setdefault("entries", [])
    shown: dict[str, int] = state.setdefault("shown", {})
    current: dict[str, list[str]] = state.setdefault("current", {})
    record.bodies.fetch(range(int(state.get("size", 0)), record.size))
    for post in record.posts[int(state.get("size", 0)) :]:
        if post.key not in record.history:  # a key rotation post: no page, no media
            continue
        tag = f"{post.kind}:{post.subject}"
        old = set(current.get(tag, []))
        new = {str(m["sha256"]) for m in post.media} if post.action != "retraction" else set()
        current[tag] = sorted(new)
        write = [f"posts/{post.log_index}.json", f"posts/{post.log_index}.json.minisig"]
        write += [f"posts/{post.log_index}.json.sig"]
        write += [f"{lang}/{post.kind}/{safe_code(post.subject)}.html" for lang in ("ar", "en")]
        write.append(api_path(post.key))
        delete = []
        for sha in sorted(new - old):
            shown[sha] = shown.get(sha, 0) + 1
            if shown[sha] == 1 and sha in record.media:
                write.append(media_path(sha, record.media[sha]))
        for sha in sorted(old - new):
            shown[sha] = shown.get(sha, 1) - 1
            if shown[sha] == 0 and sha in record.media:
                delete.append(media_path(sha, record.media[sha]))
        entry = {
            "log_index": post.log_index,
            "action": post.action,
            "kind": post.kind,
            "subject": post.subject,
            "version": post.data["version"],
            "published_at": post.day,
            "write": write,
            "delete": delete,
        }
        entries.append(_dump(entry).decode())
    state["size"] = record.size
    head = _dump({"format": "sijil-changes/1", "size": record.size, "always": list(ALWAYS)})
    return head[:-1] + b',"entries":[' + ",".join(entries).encode() + b"]}"


def export_files(record: Record, fragments: Fragments) -> dict[str, bytes]:
    """Every file under data/ that depends on the whole record (not the per-subject API)."""
    parts = fragments.all(record)
    index: dict[str, list[str]] = {"incident": [], "verdict": []}
    for key, frag in parts:
        index[key[0]].append(frag["index"])
    head = _dump({"format": "sijil-api/1", "size": record.size})[:-1]
    api = b"".join(
        [head, b',"incidents":[', ",".join(index["incident"]).encode(), b'],"verdicts":[',
         ",".join(index["verdict"]).encode(), b"]}"]
    )  # fmt: skip
    features = ",".join(f["feature"] for _, f in parts if "feature" in f)
    geo = b'{"features":[' + features.encode() + b'],"type":"FeatureCollection"}'
    out = {
        "data/api/index.json": api,
        "data/incidents.geojson": geo,
        "data/changes.json": changes(record, fragments.changes),
    }
    ged = [f["ged"] for _, f in parts if "ged" in f]
    acled = [f["acled"] for _, f in parts if "acled" in f]
    out.update(table_files(ged, acled))
    return out
