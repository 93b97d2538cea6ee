"""Feeds and data of the public record, read with the tools their readers use.

Atom with feedparser (tombstones per RFC 6721), JSON Feed 1.1, GeoJSON (RFC 7946),
the UCDP GED and ACLED shaped CSVs with their HXL variant, ``frictionless validate``
on the data package, and the change list mirrors follow.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from publish_site_helpers import PublishedDesk, jpeg, published_factory
from sijil.publish.site import build_site

FRICTIONLESS = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "frictionless"
TOMBSTONES = "{http://purl.org/atompub/tombstones/1.0}"


@pytest.fixture
def make_published(
    make_desk: Callable[..., object], fast_kdf: object
) -> Callable[..., PublishedDesk]:
    return published_factory(make_desk, fast_kdf)  # type: ignore[arg-type]


@pytest.fixture
def site(make_published: Callable[..., PublishedDesk], tmp_path: Path) -> Path:
    """A site with three incidents (one corrected, one withdrawn with its photo) and a verdict."""
    desk = make_published()
    desk.incident("RAQ-0001", media=[jpeg(1)])
    desk.incident("RAQ-0002")
    desk.incident("ALP-0003")
    desk.verdict("CLM-0001", incidents=["RAQ-0002"])
    desk.correct("RAQ-0002", reason="the casualty count was wrong", killed=(6, 8))
    desk.retract("incident", "RAQ-0001", reason="a safety concern")
    out = tmp_path / "site"
    with desk.home.open_store() as store:
        build_site(desk.home, store, out)
    return out


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_retraction_is_a_tombstone_in_the_atom_feed(site: Path, lang: str) -> None:
    # Given the Atom feed of one language, When feedparser reads it
    raw = (site / "feeds" / f"{lang}.atom").read_bytes()
    feed = feedparser.parse(raw)

    # Then it is well formed, in its language, the withdrawn incident is no entry
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.language == lang
    ids = [entry.id for entry in feed.entries]
    assert "urn:sijil:incident:RAQ-0001" not in ids
    assert {"urn:sijil:incident:RAQ-0002", "urn:sijil:verdict:CLM-0001"} <= set(ids)
    # and each entry carries the language of its text
    assert {entry.title_detail.language for entry in feed.entries} == {lang}
    # but an at:deleted-entry that names it, with the reason
    assert feed.feed["at_deleted-entry"]["ref"] == "urn:sijil:incident:RAQ-0001"
    root = ET.fromstring(raw)  # noqa: S314 (our own output)
    tombstones = root.findall(f"{TOMBSTONES}deleted-entry")
    assert [t.get("ref") for t in tombstones] == ["urn:sijil:incident:RAQ-0001"]
    assert "a safety concern" in (tombstones[0].findtext(f"{TOMBSTONES}comment") or "")


def test_json_feed_is_version_1_1_without_the_withdrawn_incident(site: Path) -> None:
    # Given the English JSON Feed
    feed = json.loads((site / "feeds" / "en.json").read_bytes())

    # Then it declares JSON Feed 1.1 and lists the current subjects only
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["language"] == "en"
    ids = {item["id"] for item in feed["items"]}
    assert ids == {
        "urn:sijil:incident:RAQ-0002",
        "urn:sijil:incident:ALP-0003",
        "urn:sijil:verdict:CLM-0001",
    }
    assert all(item["date_published"].endswith("T00:00:00Z") for item in feed["items"])


def test_geojson_has_points_in_lon_lat_order_with_their_precisions(site: Path) -> None:
    # Given the GeoJSON export
    collection = json.loads((site / "data" / "incidents.geojson").read_bytes())

    # Then each current incident is a Point (RFC 7946: longitude first)
    by_code = {f["properties"]["code"]: f for f in collection["features"]}
    assert set(by_code) == {"RAQ-0002", "ALP-0003"}
    raqqa = by_code["RAQ-0002"]
    lon, lat = raqqa["geometry"]["coordinates"]
    assert 35 < lon < 43 and 32 < lat < 38
    # with date and place precision, and the corrected range
    props = raqqa["properties"]
    assert props["date_prec"] in range(1, 6) and props["where_prec"] in range(1, 8)
    assert (props["low"], props["high"], props["version"]) == (6, 8, 2)


def test_csv_exports_are_shaped_like_ucdp_ged_and_acled_with_an_hxl_row(site: Path) -> None:
    # Given the three CSV exports
    ged = list(csv.DictReader(io.StringIO((site / "data" / "ged.csv").read_text())))
    acled = list(csv.DictReader(io.StringIO((site / "data" / "acled.csv").read_text())))
    hxl = list(csv.reader(io.StringIO((site / "data" / "acled-hxl.csv").read_text())))

    # Then GED rows carry UCDP's precision, sides and death columns
    row = next(r for r in ged if r["id"] == "RAQ-0002")
    assert (row["best"], row["low"], row["high"]) == ("6", "6", "8")
    assert row["side_a"] == "International Coalition" and row["side_b"] == "Civilians"
    assert row["date_prec"] and row["where_prec"] and row["country"] == "Syria"
    # and ACLED rows its event types and fatalities
    strike = next(r for r in acled if r["event_id_cnty"] == "RAQ-0002")
    assert strike["fatalities"] == "6" and strike["event_type"]
    # and the HXL variant has a hashtag row under the same header
    assert hxl[0] == list(acled[0].keys())
    assert all(tag.startswith("#") for tag in hxl[1]) and "#geo+lat" in hxl[1]
    assert len(hxl) == len(acled) + 2


def test_frictionless_validates_the_data_package(site: Path) -> None:
    # Given the data package, When frictionless validates it
    done = subprocess.run(
        [str(FRICTIONLESS), "validate", str(site / "data" / "datapackage.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Then it is valid
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout.lower()


def test_changes_tell_mirrors_what_to_write_and_delete(site: Path) -> None:
    # Given the change list
    changes = json.loads((site / "data" / "changes.json").read_bytes())

    # Then every log entry is there, and the retraction deletes the photo it withdrew
    assert [e["log_index"] for e in changes["entries"]] == list(range(6))
    sha = hashlib.sha256(jpeg(1)).hexdigest()
    assert f"media/{sha}.jpg" in changes["entries"][0]["write"]
    assert changes["entries"][5]["delete"] == [f"media/{sha}.jpg"]
    assert "en/incident/RAQ-0001.html" in changes["entries"][5]["write"]
    # and the API shows the tombstone without the withdrawn content
    api = json.loads((site / "data" / "api" / "incident" / "RAQ-0001.json").read_bytes())
    assert api["withdrawn"] is True and api["current"] is None
    assert [v["action"] for v in api["versions"]] == ["post", "retraction"]
