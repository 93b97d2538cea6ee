"""Gazetteer data: Syria's 14 governorates, and the Syrian Archive place list's format.

Pure functions and tables, no database: :mod:`sijil.desk.places` stores what
these produce. The governorate table is the project's own (OCHA admin-1 codes
SY01..SY14) with the spellings met in the FA-KES claims, UCDP GED and the
Syrian Archive list; the place list has villages and neighbourhoods but no
governorates, and names its districts, which map onto them here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sijil.errors import MalformedImport
from sijil.store.models_desk import PlaceKind
from sijil.text import name_key

__all__ = [
    "DISTRICT_GOVERNORATE",
    "GOVERNORATES",
    "Governorate",
    "PlaceRecord",
    "governorate_for",
    "parse_syrian_archive",
    "to_e6",
]


@dataclass(frozen=True)
class Governorate:
    code: str
    name_en: str
    name_ar: str
    aliases: tuple[str, ...] = ()


GOVERNORATES: tuple[Governorate, ...] = (
    Governorate("SY01", "Damascus", "دمشق", ("Dimashq", "Damas", "Damascus Governorate")),
    Governorate("SY02", "Aleppo", "حلب", ("Halab", "Alep", "Aleppo Governorate")),
    Governorate(
        "SY03",
        "Rural Damascus",
        "ريف دمشق",
        ("Rif Dimashq", "Reef Damascus", "Damascus Countryside", "Rif Dimashq Governorate"),
    ),
    Governorate("SY04", "Homs", "حمص", ("Hims", "Homs Governorate")),
    Governorate("SY05", "Hama", "حماة", ("Hamah", "Hamah Governorate")),
    Governorate(
        "SY06", "Lattakia", "اللاذقية", ("Latakia", "Al-Ladhiqiyah", "Latakia Governorate")
    ),
    Governorate("SY07", "Idleb", "إدلب", ("Idlib", "Edlib", "Idlib Governorate")),
    Governorate(
        "SY08",
        "Al-Hasakeh",
        "الحسكة",
        ("Hasakeh", "Hasakah", "Al-Hasakah", "Hassakeh", "Al Hasakah Governorate"),
    ),
    Governorate(
        "SY09",
        "Deir-ez-Zor",
        "دير الزور",
        (
            "Deir ez-Zor",
            "Deir ezzor",
            "Deir Ezzor",
            "Dayr az-Zawr",
            "Deir al-Zour",
            "Deir ez Zor Governorate",
        ),
    ),
    Governorate("SY10", "Tartous", "طرطوس", ("Tartus", "Tartus Governorate")),
    Governorate(
        "SY11",
        "Ar-Raqqa",
        "الرقة",
        ("Raqqa", "Ar-Raqqah", "Al-Raqqa", "Rakka", "Ar Raqqah Governorate"),
    ),
    Governorate("SY12", "Dar'a", "درعا", ("Daraa", "Deraa", "Dara'a", "Daraa Governorate")),
    Governorate(
        "SY13",
        "As-Sweida",
        "السويداء",
        ("Sweida", "Suwayda", "As-Suwayda", "As Suwayda Governorate"),
    ),
    Governorate(
        "SY14", "Quneitra", "القنيطرة", ("Al-Qunaytirah", "Quinetra", "Quneitra Governorate")
    ),
)

#: The districts (admin-2) the Syrian Archive list names, by governorate code.
DISTRICT_GOVERNORATE: dict[str, str] = {
    district: code
    for code, districts in (
        ("SY01", ("Damascus",)),
        (
            "SY02",
            (
                "Jebel Saman",
                "Afrin",
                "Menbij",
                "Ain Al Arab",
                "Al Bab",
                "A'zaz",
                "As-Safira",
                "Jarablus",
            ),
        ),
        (
            "SY03",
            (
                "Rural Damascus",
                "Duma",
                "Qatana",
                "Az-Zabdani",
                "At Tall",
                "Al Qutayfah",
                "An Nabk",
                "Yabroud",
                "Darayya",
            ),
        ),
        ("SY04", ("Homs", "Tall Kalakh", "Al Makhrim", "Al-Qusayr", "Ar-Rastan", "Tadmor")),
        ("SY05", ("Hama", "As-Salamiyeh", "Masyaf", "As-Suqaylabiyah", "Muhradah")),
        ("SY06", ("Lattakia", "Al-Haffa", "Jablah", "Al-Qardaha")),
        ("SY07", ("Idleb", "Al Ma'ra", "Jisr-Ash-Shugur", "Harim", "Ariha")),
        ("SY08", ("Al-Hasakeh", "Quamishli", "Al-Malikeyyeh", "Ras Al Ain")),
        ("SY09", ("Deir-ez-Zor", "Abu Kamal", "Al Mayadin")),
        ("SY10", ("Tartous", "Banyas", "Safita", "Dreikish", "Sheikh Badr")),
        ("SY11", ("Ar-Raqqa", "Tell Abiad", "Ath-Thawrah")),
        ("SY12", ("Dar'a", "As-Sanamayn", "Izra'")),
        ("SY13", ("As-Sweida", "Shahba", "Salkhad")),
        ("SY14", ("Quneitra", "Al Fiq")),
    )
    for district in districts
}

_GOVERNORATE_KEYS: dict[str, str] = {
    name_key(name): g.code for g in GOVERNORATES for name in (g.name_en, g.name_ar, *g.aliases)
}


def governorate_for(text: str) -> str | None:
    """The code of the governorate ``text`` names in any listed spelling, or None."""
    return _GOVERNORATE_KEYS.get(name_key(text))


@dataclass(frozen=True, kw_only=True)
class PlaceRecord:
    """One place as read from a gazetteer file, before it is stored."""

    source_ref: str
    kind: PlaceKind
    name_en: str
    name_ar: str
    code: str | None
    admin_en: str | None
    admin_ar: str | None
    governorate: str | None
    lat_e6: int | None
    lon_e6: int | None
    # every spelling to match on, the two names included
    names: tuple[str, ...] = field(default=())


def to_e6(value: Any) -> int | None:
    """Degrees (a JSON number read as Decimal, or a decimal string) as integer microdegrees."""
    if value is None or value == "":
        return None
    try:
        return int((Decimal(str(value)) * 1_000_000).to_integral_value())
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a coordinate: {str(value)[:40]!r}") from None


def _strip_id(text: str) -> str:
    # names end with " --- (((123)))" or " (((123)))": the list's own id, not part of the name
    return text.split("(((", 1)[0].rstrip(" -").strip()


def _alternatives(text: str) -> list[str]:
    return [part.strip() for part in text.replace("_", "-").split("-") if part.strip()]


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"no {key}")
    return value


def _parse_one(item: Any) -> PlaceRecord:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    ref = item.get("id")
    if not isinstance(ref, int):
        raise ValueError("no numeric id")
    en, ar, ar_short = (_text(item, k) for k in ("search_name_en", "search_name_ar",
                                                 "search_name_ar_short"))  # fmt: skip
    en, ar, ar_short = _strip_id(en), _strip_id(ar), _strip_id(ar_short)
    code = item.get("closest_geonames_post_code") or None
    lat, lon = to_e6(item.get("lat")), to_e6(item.get("lon"))
    if (lat is None) != (lon is None):
        raise ValueError("a latitude without a longitude, or the reverse")
    admin_en: str | None
    admin_ar: str | None
    if " : " in en and item.get("sa_loc_only") == "TRUE":
        # "ALEPPO : Akramiyah": a neighbourhood or site, under its governorate's name
        region, name_en = (p.strip() for p in en.split(" : ", 1))
        name_ar = ar_short.split(" : ", 1)[-1].strip()
        governorate = governorate_for(region)
        admin_en, admin_ar = region.title(), (ar_short.split(" : ", 1)[0].strip() or None)
        names = [name_en, name_ar]
    else:
        # "Name - Subdistrict - District", the Arabic likewise; a name may list
        # alternatives ("Kuku_Ein Eljaj", "Abin - Efrin") in both languages
        parts = [p.strip() for p in en.split(" - ")]
        alternatives_ar = _alternatives(ar_short)
        count = len(alternatives_ar) if len(parts) >= len(alternatives_ar) + 2 else 1
        names_en = parts[:count]
        name_en, name_ar = names_en[0], alternatives_ar[0] if alternatives_ar else ar_short
        governorate = DISTRICT_GOVERNORATE.get(parts[-1]) if len(parts) > count else None
        admin_en = ", ".join(parts[count:]) or None
        admin_ar = "، ".join(p.strip() for p in ar.split(" - ")[1:]) or None
        names = [*names_en, *alternatives_ar]
        if "(" in name_en:  # "Assadiya (Ar-Raqqa)": also findable without the qualifier
            names.append(name_en.split("(", 1)[0].strip())
    if not name_en or not name_ar:
        raise ValueError("an empty name")
    return PlaceRecord(
        source_ref=str(ref),
        kind=PlaceKind.PLACE,
        name_en=name_en[:255],
        name_ar=name_ar[:255],
        code=None if code is None else str(code)[:32],
        admin_en=None if admin_en is None else admin_en[:255],
        admin_ar=None if admin_ar is None else admin_ar[:255],
        governorate=governorate,
        lat_e6=lat,
        lon_e6=lon,
        names=tuple(dict.fromkeys(n[:255] for n in names if n)),
    )


def parse_syrian_archive(data: bytes) -> Iterator[PlaceRecord]:
    """Read the Syrian Archive's ``locations.json``; a bad record is named by its index.

    Numbers are read as Decimal, never float, so coordinates convert exactly.
    """
    try:
        items = json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedImport(f"the gazetteer is not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise MalformedImport("the gazetteer is not a JSON list of places")
    for index, item in enumerate(items):
        try:
            yield _parse_one(item)
        except ValueError as exc:
            raise MalformedImport(f"gazetteer record #{index}: {exc}") from None
