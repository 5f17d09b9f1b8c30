"""Load and validate site files, write them back, and derive the site grid.

A site file is an RFC 7946 GeoJSON FeatureCollection in WGS 84 (lon, lat):

- one feature with ``"role": "site"``: the area of interest, a Polygon or
  MultiPolygon, with properties ``name``, optional ``profile`` (default
  ``generic``) and optional ``context_events: [{"date": "YYYY-MM-DD", "label": ...}]``;
- any number of features with ``"role": "zone"`` and ``"zone": <name>``: named
  polygons inside the site.

Every problem raises :class:`InvalidSiteError` naming the file, the feature
(index and name), the value found and the fix.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from affine import Affine
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from .errors import InputError, InvalidSiteError, MissingFileError
from .models import ContextEvent, Site, SiteGrid, Zone

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "WELL_KNOWN_ZONES",
    "load_site",
    "parse_site",
    "site_grid",
    "site_to_geojson",
    "zones_on_grid",
]

PROFILES = ("generic", "launch_site", "construction")
DEFAULT_PROFILE = "generic"
# Names the launch_site indicators look for; any other zone name is accepted too.
WELL_KNOWN_ZONES = (
    "launch_pad",
    "gantry",
    "assembly_building",
    "engine_test_stand",
    "rail_transfer",
    "propellant_storage",
    "support",
)
# timeline.csv uses this zone name for the whole site, so no zone may take it.
RESERVED_ZONE = "_site"
# Share of a zone's area allowed outside the site: digitising slop along a shared edge.
ZONE_OUTSIDE_TOLERANCE = 0.01
# Largest grid site_grid will describe: beyond this the pixel size is almost
# certainly in the wrong unit (degrees instead of metres).
MAX_GRID_PIXELS = 2**31 - 1

_AREA_TYPES = ("Polygon", "MultiPolygon")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Names RFC 7946's predecessor used for WGS 84 lon/lat; anything else is a different CRS.
_WGS84_CRS_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:ogc::crs84",
    "crs84",
    "epsg:4326",
    "urn:ogc:def:crs:epsg::4326",
}

Position = tuple[float, float]
Ring = list[Position]


# --- reading -----------------------------------------------------------------------


def load_site(path: str | Path) -> Site:
    """Read and validate a site GeoJSON file.

    Parameters
    ----------
    path : str or Path
        A UTF-8 GeoJSON FeatureCollection (see the module docstring).

    Returns
    -------
    Site
        With polygons oriented as RFC 7946 asks (exterior rings counter-clockwise).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(
            f"{path}: site file not found; give the path of a GeoJSON FeatureCollection "
            "with one 'site' feature"
        )
    if path.is_dir():
        raise InvalidSiteError(f"{path}: is a folder; give the site .geojson file inside it")
    try:
        text = path.read_text(encoding="utf-8")  # RFC 7946 section 11: UTF-8 only
    except UnicodeDecodeError as exc:
        raise InvalidSiteError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the site file as UTF-8 GeoJSON"
        ) from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSiteError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "fix the syntax or re-export the site as GeoJSON"
        ) from exc
    return parse_site(obj, source=str(path))


def parse_site(obj: Mapping[str, Any], source: str = "<site>") -> Site:
    """Validate a decoded site GeoJSON object and build the :class:`Site`.

    Parameters
    ----------
    obj : mapping
        The decoded JSON of a site file.
    source : str
        Where ``obj`` came from; starts every error message.
    """
    features = _features(obj, source)
    site: Site | None = None
    site_index = -1
    zones: list[tuple[int, Zone]] = []
    # One pass in file order, so the first problem in the file is the one reported.
    for i, feat in enumerate(features):
        where = _Where(source, i, "")
        props = _properties(feat, where)
        role = props.get("role")
        if role == "site":
            if site is not None:
                raise InvalidSiteError(
                    f'{source}: features {site_index} and {i} both have "role": "site"; keep '
                    "one (a site in several parts is one feature with a MultiPolygon)"
                )
            site, site_index = _site(feat, props, where), i
        elif role == "zone":
            zones.append((i, _zone(feat, props, where, zones)))
        elif role is None:
            raise where.error(
                "has no 'role' property",
                'set "role": "site" on the area of interest and "role": "zone" '
                '(with "zone": <name>) on each named part of it',
            )
        else:
            raise where.error(f"unknown role {_show(role)}", 'use "role": "site" or "role": "zone"')
    if site is None:
        found = f"only {len(features)} zone features" if features else "the collection is empty"
        raise InvalidSiteError(
            f'{source}: no feature has "role": "site" ({found}); add one '
            'Polygon feature with properties {"role": "site", "name": ...}'
        )
    for i, zone in zones:
        _check_inside(zone, site, _Where(source, i, f"zone {zone.name!r}"))
    return Site(
        name=site.name,
        profile=site.profile,
        geometry=site.geometry,
        zones=tuple(z for _, z in zones),
        context_events=site.context_events,
    )


class _Where:
    """A feature's place in its file, for error messages."""

    def __init__(self, source: str, index: int, label: str) -> None:
        self.source, self.index, self.label = source, index, label

    def error(self, problem: str, fix: str) -> InvalidSiteError:
        label = f" ({self.label})" if self.label else ""
        return InvalidSiteError(f"{self.source}: feature {self.index}{label}: {problem}; {fix}")


def _features(obj: object, source: str) -> list[Any]:
    if not isinstance(obj, Mapping):
        raise InvalidSiteError(
            f"{source}: top-level JSON is a {type(obj).__name__}, not an object; give a "
            "GeoJSON FeatureCollection"
        )
    kind = obj.get("type")
    if kind != "FeatureCollection":
        hint = (
            'wrap it: {"type": "FeatureCollection", "features": [...]}'
            if kind in ("Feature", *_AREA_TYPES)
            else "give a GeoJSON FeatureCollection with a 'site' feature and optional zones"
        )
        raise InvalidSiteError(f"{source}: type is {_show(kind)}, not 'FeatureCollection'; {hint}")
    _check_crs_member(obj.get("crs"), source)
    features = obj.get("features")
    if not isinstance(features, list):
        raise InvalidSiteError(
            f"{source}: 'features' is {_show(features)}, not a list; give a list of Features"
        )
    return features


def _check_crs_member(crs: object, source: str) -> None:
    # RFC 7946 dropped "crs" (everything is WGS 84 lon/lat), but old exports still
    # carry one; a projected CRS there means the coordinates are metres, not degrees.
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, Mapping) else None
    if isinstance(name, str) and name.strip().lower() in _WGS84_CRS_NAMES:
        return
    raise InvalidSiteError(
        f"{source}: 'crs' member names {_show(name if name is not None else crs)}; RFC 7946 "
        "GeoJSON is WGS 84 (lon, lat): reproject the file to EPSG:4326 and drop 'crs'"
    )


def _properties(feat: object, where: _Where) -> Mapping[str, Any]:
    if not isinstance(feat, Mapping) or feat.get("type") != "Feature":
        got = _show(feat.get("type")) if isinstance(feat, Mapping) else type(feat).__name__
        raise where.error(
            f"is not a GeoJSON Feature (type {got})",
            'give {"type": "Feature", "geometry": ..., "properties": {...}}',
        )
    props = feat.get("properties")
    if props is None:  # RFC 7946 allows null properties
        return {}
    if not isinstance(props, Mapping):
        raise where.error(f"'properties' is {_show(props)}, not an object", "give an object")
    # Name the feature in every later message once we know what it is.
    if props.get("role") == "site" and isinstance(props.get("name"), str):
        where.label = f"site {props['name']!r}"
    elif props.get("role") == "zone":
        name = props.get("zone")
        where.label = f"zone {name!r}" if isinstance(name, str) else "zone without a name"
    elif "role" in props:
        where.label = f"role {_show(props['role'])}"
    return props


def _site(feat: Mapping[str, Any], props: Mapping[str, Any], where: _Where) -> Site:
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise where.error(
            f"site 'name' is {_show(name)}", 'give the site a name, e.g. "name": "Sohae"'
        )
    profile = props.get("profile", DEFAULT_PROFILE)
    if profile is None:
        profile = DEFAULT_PROFILE
    if profile not in PROFILES:
        raise where.error(
            f"unknown profile {_show(profile)}",
            f"use one of {', '.join(PROFILES)} (or leave it out for {DEFAULT_PROFILE!r})",
        )
    geometry = _area(feat.get("geometry"), where)
    west, _, east, _ = geometry.bounds
    if east - west > 180.0:
        raise where.error(
            f"spans {east - west:.1f} degrees of longitude (it crosses the antimeridian or "
            "is too large)",
            "split it into one site on each side of 180 degrees",
        )
    events = _context_events(props.get("context_events"), where)
    return Site(name=name, profile=profile, geometry=geometry, context_events=events)


def _zone(
    feat: Mapping[str, Any],
    props: Mapping[str, Any],
    where: _Where,
    seen: Sequence[tuple[int, Zone]],
) -> Zone:
    name = props.get("zone")
    if not isinstance(name, str) or not name.strip():
        hint = (
            f' (it has "name": {_show(props["name"])}; zone names go in "zone")'
            if "name" in props
            else ""
        )
        raise where.error(
            f"zone feature has 'zone' {_show(name)}{hint}",
            'give each zone a name, e.g. "zone": "launch_pad"',
        )
    if name == RESERVED_ZONE:
        raise where.error(
            f"zone name {name!r} is reserved for the whole site in timelines",
            "pick another name",
        )
    for j, other in seen:
        if other.name == name:
            raise where.error(
                f"duplicate zone name {name!r} (feature {j} already uses it)",
                "give each zone a unique name, or merge them into one MultiPolygon zone",
            )
    return Zone(name=name, geometry=_area(feat.get("geometry"), where))


def _context_events(value: object, where: _Where) -> tuple[ContextEvent, ...]:
    if value is None:
        return ()
    fix = 'give context_events as [{"date": "YYYY-MM-DD", "label": "..."}, ...]'
    if not isinstance(value, list):
        raise where.error(f"context_events is {_show(value)}, not a list", fix)
    events = []
    for k, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise where.error(f"context_events[{k}] is {_show(item)}, not an object", fix)
        raw_date, label = item.get("date"), item.get("label")
        date = None
        if isinstance(raw_date, str) and _ISO_DATE.fullmatch(raw_date):
            try:
                date = dt.date.fromisoformat(raw_date)
            except ValueError:
                date = None
        if date is None:
            raise where.error(
                f"context_events[{k}] date is {_show(raw_date)}, not an ISO date",
                'write it as YYYY-MM-DD, e.g. "2019-02-28"',
            )
        if not isinstance(label, str) or not label.strip():
            raise where.error(
                f"context_events[{k}] ({raw_date}) has label {_show(label)}",
                'give each event a non-empty "label", e.g. "Hanoi summit"',
            )
        events.append(ContextEvent(date=date, label=label))
    return tuple(events)


# --- geometry ----------------------------------------------------------------------


def _area(geom: object, where: _Where) -> Polygon | MultiPolygon:
    """A valid, non-empty, 2-D Polygon or MultiPolygon with RFC 7946 orientation."""
    if not isinstance(geom, Mapping):
        raise where.error(f"geometry is {_show(geom)}", "give a Polygon or MultiPolygon geometry")
    kind = geom.get("type")
    if kind not in _AREA_TYPES:
        raise where.error(
            f"geometry type is {_show(kind)}, not a Polygon or MultiPolygon",
            "draw the area as a polygon",
        )
    coords = geom.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords
    if (
        not isinstance(polygons, list)
        or not polygons
        or not all(isinstance(p, list) and p for p in polygons)
    ):
        raise where.error(
            f"{kind} is empty (coordinates {_show(coords)})",
            "give at least one ring of 4 or more [lon, lat] positions, the last equal to the first",
        )
    rings_per_polygon = [[_ring(r, where) for r in p] for p in polygons]
    _check_ranges([pos for p in rings_per_polygon for r in p for pos in r], where)
    parts = [Polygon(p[0], p[1:]) for p in rings_per_polygon]
    result: Polygon | MultiPolygon = parts[0] if kind == "Polygon" else MultiPolygon(parts)
    if not result.is_valid:
        raise where.error(
            f"invalid geometry: {explain_validity(result)} (position is lon lat)",
            "fix it in a GIS (QGIS 'Fix geometries', or shapely.make_valid) so rings do not "
            "cross themselves or each other",
        )
    if result.area <= 0.0:
        raise where.error("polygon has zero area", "give a polygon that encloses some ground")
    return _orient(result)


def _ring(ring: object, where: _Where) -> Ring:
    if not isinstance(ring, list):
        raise where.error(
            f"ring is {_show(ring)}, not a list of positions", "give [[lon, lat], ...]"
        )
    out: Ring = []
    for pos in ring:
        ok = isinstance(pos, list) and len(pos) in (2, 3) and all(_finite(v) for v in pos)
        if not ok:
            raise where.error(
                f"position {_show(pos)} is not [lon, lat] (or [lon, lat, height]) numbers",
                "give every position as two finite numbers",
            )
        out.append((float(pos[0]), float(pos[1])))  # heights are dropped: sites are 2-D
    if len(out) < 4:
        raise where.error(
            f"ring has {len(out)} positions {_show(ring)}",
            "a polygon ring needs at least 4 positions, the last equal to the first",
        )
    if out[0] != out[-1]:
        raise where.error(
            f"ring is not closed (starts at {list(out[0])}, ends at {list(out[-1])})",
            "repeat the first position at the end of the ring",
        )
    return out


def _check_ranges(positions: list[Position], where: _Where) -> None:
    for lon, lat in positions:
        if abs(lat) <= 90.0 and abs(lon) <= 180.0:
            continue
        if abs(lat) > 90.0 and abs(lat) <= 180.0 and abs(lon) <= 90.0:
            raise where.error(
                f"position [{lon}, {lat}] has latitude {lat} beyond 90: coordinates look "
                "like (lat, lon); GeoJSON wants (lon, lat)",
                "swap the two numbers of every position",
            )
        raise where.error(
            f"position [{lon}, {lat}] is out of range (lon must be in [-180, 180], "
            "lat in [-90, 90])",
            "if these are projected metres, reproject the file to EPSG:4326 (WGS 84 lon, lat)",
        )


def _orient(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    # RFC 7946 section 3.1.6: exterior rings counter-clockwise, holes clockwise.
    if isinstance(geom, Polygon):
        return orient(geom, sign=1.0)
    return MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])


def _check_inside(zone: Zone, site: Site, where: _Where) -> None:
    outside = zone.geometry.difference(site.geometry).area / zone.geometry.area
    if outside <= ZONE_OUTSIDE_TOLERANCE:
        return
    lon, lat = zone.geometry.centroid.x, zone.geometry.centroid.y
    west, south, east, north = site.bounds
    if zone.geometry.disjoint(site.geometry):
        problem = "lies entirely outside the site"
    else:
        problem = f"lies {outside:.1%} outside the site (tolerance {ZONE_OUTSIDE_TOLERANCE:.0%})"
    raise where.error(
        f"{problem}: zone centre ({lon:.5f}, {lat:.5f}), site bounds "
        f"({west:.5f}, {south:.5f}, {east:.5f}, {north:.5f})",
        "move or clip the zone inside the site polygon, or enlarge the site",
    )


def _finite(value: object) -> bool:
    # bool is an int in Python, but true/false is never a coordinate.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: object, limit: int = 80) -> str:
    """A value as the message shows it: JSON-like, shortened."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    if text == "null":
        text = "missing"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- writing -----------------------------------------------------------------------


def site_to_geojson(site: Site) -> dict[str, Any]:
    """The site as an RFC 7946 FeatureCollection that :func:`parse_site` reads back equal."""
    props: dict[str, Any] = {"role": "site", "name": site.name, "profile": site.profile}
    if site.context_events:
        props["context_events"] = [
            {"date": e.date.isoformat(), "label": e.label} for e in site.context_events
        ]
    features = [_feature(site.geometry, props)]
    features += [_feature(z.geometry, {"role": "zone", "zone": z.name}) for z in site.zones]
    return {"type": "FeatureCollection", "features": features}


def _feature(geom: Polygon | MultiPolygon, props: dict[str, Any]) -> dict[str, Any]:
    geom = _orient(geom)
    if isinstance(geom, Polygon):
        geometry = {"type": "Polygon", "coordinates": _polygon_coords(geom)}
    else:
        geometry = {
            "type": "MultiPolygon",
            "coordinates": [_polygon_coords(p) for p in geom.geoms],
        }
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _polygon_coords(poly: Polygon) -> list[list[list[float]]]:
    # Lists, not shapely.mapping's tuples, so the dict equals its own JSON round trip.
    rings = [poly.exterior, *poly.interiors]
    return [[[float(x), float(y)] for x, y in ring.coords] for ring in rings]


# --- site grid ---------------------------------------------------------------------


def site_grid(site: Site, pixel_size_m: float, margin_m: float = 100.0) -> SiteGrid:
    """The site's analysis grid: its UTM zone, its bounds plus a margin, whole pixels.

    Parameters
    ----------
    site : Site
        The site whose polygon the grid must cover.
    pixel_size_m : float
        Pixel side in metres, usually the finest imagery's.
    margin_m : float
        Ground added on every side of the site's bounds, so that co-registration
        and edge effects stay off the site.

    Returns
    -------
    SiteGrid
        North-up; its edges are multiples of the pixel size, so grids of
        overlapping sites (and imagery on the usual 10 m / 20 m UTM lattice)
        line up pixel for pixel.
    """
    if not _finite(pixel_size_m) or pixel_size_m <= 0:
        raise InputError(
            f"pixel_size_m: got {pixel_size_m!r}; give a positive pixel size in metres, e.g. 10"
        )
    if not _finite(margin_m) or margin_m < 0:
        raise InputError(f"margin_m: got {margin_m!r}; give a margin in metres >= 0, e.g. 100")
    px = float(pixel_size_m)
    crs = site.utm_crs()
    minx, miny, maxx, maxy = site.geometry_in(crs).bounds
    # The tolerance keeps float noise (e.g. 645123.0000000001 / 3) from adding a pixel.
    eps = 1e-9
    left = math.floor((minx - margin_m) / px + eps) * px
    bottom = math.floor((miny - margin_m) / px + eps) * px
    right = math.ceil((maxx + margin_m) / px - eps) * px
    top = math.ceil((maxy + margin_m) / px - eps) * px
    width = round((right - left) / px)
    height = round((top - bottom) / px)
    if width * height > MAX_GRID_PIXELS:
        raise InputError(
            f"pixel_size_m: {pixel_size_m!r} gives a {width} x {height} pixel grid for site "
            f"{site.name!r}; give the pixel size in metres (e.g. 10), not degrees"
        )
    transform = Affine(px, 0.0, left, 0.0, -px, top)
    return SiteGrid(crs=crs, transform=transform, width=width, height=height)


def zones_on_grid(site: Site, grid: SiteGrid) -> dict[str, Polygon | MultiPolygon]:
    """Each zone's polygon in the grid's CRS, keyed by zone name (for rasterising)."""
    return site.zone_geometries_in(grid.crs)
