"""The CSV exports, shaped like the two datasets conflict researchers already load.

* ``data/ged.csv``: UCDP GED's columns (``id``, ``date_prec``, ``where_prec``,
  ``side_a``/``side_b``, ``best``/``low``/``high``, ...), one row per current
  incident; ``type_of_violence`` stays empty (the desk does not code UCDP's
  state-based / non-state / one-sided distinction), ``grading`` is added.
* ``data/acled.csv``: ACLED's columns, with the incident type mapped onto ACLED's
  event and sub-event types and the precisions onto ``time_precision`` and
  ``geo_precision``; ``acled-hxl.csv`` adds the HXL hashtag row under its header,
  as the Humanitarian Data Exchange serves ACLED.
* ``data/datapackage.json``: a Frictionless data package (Table Schema for both
  tables) that ``frictionless validate`` accepts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from sijil.publish.site_record import Post, coordinates

__all__ = ["ACLED", "GED", "datapackage", "deaths", "table_files", "table_lines"]

Column = tuple[str, str, str]  # name, Table Schema type, HXL hashtag

GED: tuple[Column, ...] = (
    ("id", "string", "#event+code"),
    ("relid", "integer", "#meta+version"),
    ("year", "integer", "#date+year"),
    ("type_of_violence", "integer", ""),
    ("side_a", "string", "#group+name+first"),
    ("side_b", "string", "#group+name+second"),
    ("where_prec", "integer", "#geo+precision"),
    ("where_coordinates", "string", "#loc+name"),
    ("adm_1", "string", "#adm1+name"),
    ("latitude", "number", "#geo+lat"),
    ("longitude", "number", "#geo+lon"),
    ("country", "string", "#country+name"),
    ("country_id", "integer", "#country+code"),
    ("region", "string", "#region+name"),
    ("date_prec", "integer", "#date+precision"),
    ("date_start", "date", "#date+start"),
    ("date_end", "date", "#date+end"),
    ("deaths_civilians", "integer", "#affected+killed+civilians"),
    ("best", "integer", "#affected+killed"),
    ("high", "integer", "#affected+killed+max"),
    ("low", "integer", "#affected+killed+min"),
    ("grading", "string", "#status+grading"),
)
ACLED: tuple[Column, ...] = (
    ("event_id_cnty", "string", "#event+code"),
    ("event_date", "date", "#date+occurred"),
    ("year", "integer", "#date+year"),
    ("time_precision", "integer", "#date+precision"),
    ("disorder_type", "string", "#event+type+disorder"),
    ("event_type", "string", "#event+type"),
    ("sub_event_type", "string", "#event+type+sub"),
    ("actor1", "string", "#group+name+first"),
    ("actor2", "string", "#group+name+second"),
    ("civilian_targeting", "string", "#event+civilian"),
    ("iso", "integer", "#country+code"),
    ("region", "string", "#region+name"),
    ("country", "string", "#country+name"),
    ("admin1", "string", "#adm1+name"),
    ("location", "string", "#loc+name"),
    ("latitude", "number", "#geo+lat"),
    ("longitude", "number", "#geo+lon"),
    ("geo_precision", "integer", "#geo+precision"),
    ("source", "string", "#meta+source"),
    ("notes", "string", "#description"),
    ("fatalities", "integer", "#affected+killed"),
)
_ACLED_TYPES = {
    "airstrike": ("Political violence", "Explosions/Remote violence", "Air/drone strike"),
    "shelling": (
        "Political violence",
        "Explosions/Remote violence",
        "Shelling/artillery/missile attack",
    ),
    "explosion": (
        "Political violence",
        "Explosions/Remote violence",
        "Remote explosive/landmine/IED",
    ),
    "ground_fighting": ("Political violence", "Battles", "Armed clash"),
    "execution": ("Political violence", "Violence against civilians", "Attack"),
    "killing": ("Political violence", "Violence against civilians", "Attack"),
    "torture": ("Political violence", "Violence against civilians", "Attack"),
    "abduction": (
        "Political violence",
        "Violence against civilians",
        "Abduction/forced disappearance",
    ),
    "arrest": ("Strategic developments", "Strategic developments", "Arrests"),
}
_OTHER = ("Strategic developments", "Strategic developments", "Other")
SOURCE = "sijil public record"


def _actors(post: Post) -> list[str]:
    return [
        str((a.get("actor") or {}).get("en") or (a.get("actor") or {}).get("ar") or "")
        for a in post.incident.get("attribution") or []
    ]


def _prec(value: object, bands: Sequence[int]) -> int | str:
    """Map a UCDP precision (1..) onto a coarser scale by upper bounds."""
    if not isinstance(value, int):
        return ""
    return next((i + 1 for i, top in enumerate(bands) if value <= top), len(bands))


def deaths(post: Post) -> tuple[int, int, int, int]:
    """(best, low, high, civilians low) over the killed rows of group "all"."""
    low = high = civilians = 0
    for row in post.incident.get("casualties") or []:
        if row.get("outcome") != "killed" or row.get("group") != "all":
            continue
        low += int(row.get("low") or 0)
        high += int(row.get("high") or 0)
        if row.get("status") == "civilian":
            civilians += int(row.get("low") or 0)
    return low, low, high, civilians


def table_lines(post: Post) -> tuple[str, str]:
    """The GED and ACLED CSV lines of one current incident."""
    inc = post.incident
    when, where = inc.get("when") or {}, inc.get("where") or {}
    name = where.get("name") or {}
    place = str(name.get("en") or name.get("ar") or "")
    best, low, high, civilians = deaths(post)
    actors = _actors(post)
    start = str(when.get("start") or "")
    year = start[:4] if start[:4].isdigit() else ""
    point = coordinates(where)
    lat, lon = ("", "") if point is None else (where["lat"], where["lon"])
    harm = inc.get("harm") == "yes"
    ged: dict[str, object] = {
        "id": post.subject,
        "relid": post.data["version"],
        "year": year,
        "type_of_violence": "",
        "side_a": "; ".join(actors),
        "side_b": "Civilians" if harm else "",
        "where_prec": where.get("where_prec", ""),
        "where_coordinates": place,
        "adm_1": where.get("governorate") or "",
        "latitude": lat,
        "longitude": lon,
        "country": "Syria",
        "country_id": 652,
        "region": "Middle East",
        "date_prec": when.get("date_prec", ""),
        "date_start": start,
        "date_end": when.get("end") or start,
        "deaths_civilians": civilians,
        "best": best,
        "high": high,
        "low": low,
        "grading": (inc.get("grading") or {}).get("code", ""),
    }
    disorder, event, sub = _ACLED_TYPES.get(str(inc.get("type")), _OTHER)
    acled: dict[str, object] = {
        "event_id_cnty": post.subject,
        "event_date": start,
        "year": year,
        "time_precision": _prec(when.get("date_prec"), (1, 3, 5)),
        "disorder_type": disorder,
        "event_type": event,
        "sub_event_type": sub,
        "actor1": actors[0] if actors else "",
        "actor2": "Civilians (Syria)" if harm else (actors[1] if len(actors) > 1 else ""),
        "civilian_targeting": "Civilian targeting" if harm else "",
        "iso": 760,
        "region": "Middle East",
        "country": "Syria",
        "admin1": where.get("governorate") or "",
        "location": place,
        "latitude": lat,
        "longitude": lon,
        "geo_precision": _prec(where.get("where_prec"), (1, 2, 7)),
        "source": SOURCE,
        "notes": str((inc.get("summary") or {}).get("en") or ""),
        "fatalities": best,
    }
    return _line(GED, ged), _line(ACLED, acled)


def _line(columns: Sequence[Column], row: dict[str, object]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        ["" if row[c[0]] is None else row[c[0]] for c in columns]
    )
    return out.getvalue()


def _csv(columns: Sequence[Column], lines: list[str], *, hxl: bool = False) -> bytes:
    head = [_line(columns, {c[0]: c[0] for c in columns})]
    if hxl:
        head.append(_line(columns, {c[0]: c[2] for c in columns}))
    return "".join(head + lines).encode("utf-8")


def _schema(columns: Sequence[Column], key: str) -> dict[str, object]:
    return {
        "fields": [{"name": name, "type": kind} for name, kind, _ in columns],
        "primaryKey": [key],
        "missingValues": [""],
    }


def datapackage() -> bytes:
    package = {
        "name": "sijil-public-record",
        "title": "sijil public record: incidents",
        "licenses": [{"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0"}],
        "resources": [
            {
                "name": "ged",
                "title": "Incidents, shaped like UCDP GED",
                "path": "ged.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": _schema(GED, "id"),
            },
            {
                "name": "acled",
                "title": "Incidents, shaped like ACLED",
                "path": "acled.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": _schema(ACLED, "event_id_cnty"),
            },
        ],
    }
    return json.dumps(package, indent=1).encode() + b"\n"


def table_files(ged: list[str], acled: list[str]) -> dict[str, bytes]:
    """The CSV files and the data package, from the current incidents' lines in order."""
    return {
        "data/ged.csv": _csv(GED, ged),
        "data/acled.csv": _csv(ACLED, acled),
        "data/acled-hxl.csv": _csv(ACLED, acled, hxl=True),
        "data/datapackage.json": datapackage(),
    }
