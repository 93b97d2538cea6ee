"""The site's map: Syria's outline from Natural Earth, and the published incidents on it.

No tile server and no map library: the outline comes from the ``world-atlas``
npm package (Natural Earth 1:50m, TopoJSON; vendored by scripts/vendor-publish.sh),
decoded here at build time, projected (equirectangular, scaled by the cosine of
the middle latitude, which is close enough over one country) and written as

* ``data/map.json``: the SVG path of the outline and the points, already in the
  map's coordinates, which ``static/map.js`` draws as an SVG with a link per point;
* ``static/map.svg``: the same map rendered at build time, the image the page
  shows before the script runs and where it cannot load data (``file://``).

Points are the coarsened places of the posts; incidents at the same coarsened
place share one circle whose area grows with their number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sijil.errors import ConfigError

__all__ = ["ATLAS", "MapData", "map_data", "map_json", "map_svg"]

ATLAS = Path(__file__).with_name("static") / "vendor" / "countries-50m.json"
SYRIA = "760"  # ISO 3166-1 numeric, the id world-atlas gives each country
WIDTH = 800
MARGIN = 12

Ring = list[tuple[float, float]]


@lru_cache(maxsize=2)
def country_rings(
    atlas: Path = ATLAS, country: str = SYRIA
) -> tuple[tuple[tuple[float, float], ...], ...]:
    """The outline rings (lon, lat) of one country of a world-atlas TopoJSON file."""
    try:
        topology = json.loads(atlas.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError("map data missing: run scripts/vendor-publish.sh") from exc
    except ValueError as exc:
        raise ConfigError(f"map data {atlas.name} is not JSON") from exc
    scale = topology["transform"]["scale"]
    translate = topology["transform"]["translate"]
    arcs: list[Ring] = []
    for arc in topology["arcs"]:
        x = y = 0
        points: Ring = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * scale[0] + translate[0], y * scale[1] + translate[1]))
        arcs.append(points)
    for geometry in topology["objects"]["countries"]["geometries"]:
        if str(geometry.get("id")) != country:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings: list[tuple[tuple[float, float], ...]] = []
        for polygon in polygons:
            for ring in polygon:
                points = []
                for index in ring:
                    arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
                    points.extend(arc if not points else arc[1:])
                rings.append(tuple(points))
        return tuple(rings)
    raise ConfigError(f"map data has no country {country}")


@dataclass(frozen=True)
class MapData:
    width: int
    height: int
    outline: str  # SVG path data
    points: list[tuple[float, float, list[str]]]  # x, y, incident codes there


class _Projection:
    def __init__(self, rings: tuple[tuple[tuple[float, float], ...], ...]) -> None:
        lons = [lon for ring in rings for lon, _ in ring]
        lats = [lat for ring in rings for _, lat in ring]
        self.west, self.east = min(lons), max(lons)
        self.south, self.north = min(lats), max(lats)
        self.k = math.cos(math.radians((self.south + self.north) / 2))
        self.scale = (WIDTH - 2 * MARGIN) / ((self.east - self.west) * self.k)
        self.height = round((self.north - self.south) * self.scale + 2 * MARGIN)

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        x = MARGIN + (lon - self.west) * self.k * self.scale
        y = MARGIN + (self.north - lat) * self.scale
        return round(x, 1), round(y, 1)


def map_data(located: Iterable[tuple[str, float, float]], atlas: Path = ATLAS) -> MapData:
    """The outline and the current incidents' points (code, lat, lon), projected."""
    rings = country_rings(atlas)
    project = _Projection(rings)
    parts = []
    for ring in rings:
        xy = [project(lon, lat) for lon, lat in ring]
        parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in xy) + "Z")
    places: dict[tuple[float, float], list[str]] = {}
    for code, lat, lon in located:
        places.setdefault(project(lon, lat), []).append(code)
    points = [(x, y, codes) for (x, y), codes in sorted(places.items())]
    return MapData(WIDTH, project.height, "".join(parts), points)


def radius(count: int) -> float:
    return round(3 + 2 * math.sqrt(count - 1), 1)


def map_json(data: MapData) -> bytes:
    """What static/map.js draws: the outline path and the points with their codes."""
    body: dict[str, Any] = {
        "width": data.width,
        "height": data.height,
        "outline": data.outline,
        "points": [[x, y, radius(len(codes)), codes] for x, y, codes in data.points],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def map_svg(data: MapData) -> bytes:
    """The same map as a standalone SVG image, for where scripts cannot load data."""
    circles = "".join(
        f'<circle cx="{x:g}" cy="{y:g}" r="{radius(len(codes)):g}"/>' for x, y, codes in data.points
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {data.width} {data.height}" '
        f'width="{data.width}" height="{data.height}">'
        f'<rect width="{data.width}" height="{data.height}" fill="#eef3f7"/>'
        f'<path d="{data.outline}" fill="#fbfaf6" stroke="#5b6670" stroke-width="1.2"/>'
        f'<g fill="#b3261e" fill-opacity="0.55" stroke="#7a1812" stroke-width="0.6">{circles}</g>'
        "</svg>\n"
    )
    return svg.encode()
