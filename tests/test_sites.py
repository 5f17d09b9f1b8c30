"""Site files: loading, validation errors, round trip, UTM zone and the site grid."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from affine import Affine
from pyproj import Geod
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from shapely.geometry import MultiPolygon, Polygon, box

import sitewatch
from sitewatch.errors import InputError, InvalidSiteError, MissingFileError, SitewatchError
from sitewatch.models import ContextEvent, Site, SiteGrid, utm_epsg
from sitewatch.sites import load_site, parse_site, site_grid, site_to_geojson, zones_on_grid

Json = dict[str, Any]


def square(x0: float, y0: float, x1: float, y1: float) -> Json:
    """A GeoJSON Polygon for a lon/lat box, exterior counter-clockwise (RFC 7946)."""
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry: Json, **props: Any) -> Json:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def sohae() -> Json:
    """A Sohae-like site: AOI around 39.66 N 124.705 E, three zones, one context event."""
    return {
        "type": "FeatureCollection",
        "features": [
            feature(
                square(124.690, 39.650, 124.720, 39.675),
                role="site",
                name="Sohae",
                profile="launch_site",
                context_events=[{"date": "2019-02-28", "label": "Hanoi summit"}],
            ),
            feature(
                square(124.692, 39.668, 124.696, 39.672), role="zone", zone="engine_test_stand"
            ),
            feature(square(124.700, 39.655, 124.706, 39.658), role="zone", zone="rail_transfer"),
            feature(square(124.708, 39.660, 124.714, 39.665), role="zone", zone="launch_pad"),
        ],
    }


def write(tmp_path: Path, obj: object, name: str = "site.geojson") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return load_site(write(tmp_path, sohae()))


# --- loading a valid site ------------------------------------------------------------


def test_load_valid_site(site: Site) -> None:
    assert site.name == "Sohae"
    assert site.profile == "launch_site"
    assert site.zone_names == ("engine_test_stand", "rail_transfer", "launch_pad")
    assert site.context_events == (ContextEvent(dt.date(2019, 2, 28), "Hanoi summit"),)
    assert site.geometry.equals(box(124.690, 39.650, 124.720, 39.675))
    assert site.zone("launch_pad").geometry.equals(box(124.708, 39.660, 124.714, 39.665))
    lon, lat = site.centroid
    assert lon == pytest.approx(124.705) and lat == pytest.approx(39.6625)
    assert site.bounds == pytest.approx((124.690, 39.650, 124.720, 39.675))


def test_round_trip_through_geojson(site: Site, tmp_path: Path) -> None:
    out = site_to_geojson(site)
    # The input is already RFC 7946 (counter-clockwise), so the output is the input.
    assert out == sohae()
    again = load_site(write(tmp_path, out, "again.geojson"))
    assert again == site


def test_defaults_null_properties_and_heights(tmp_path: Path) -> None:
    obj = sohae()
    del obj["features"][0]["properties"]["profile"]
    del obj["features"][0]["properties"]["context_events"]
    # Heights (3rd number) are allowed by RFC 7946 and dropped: sites are 2-D.
    ring = obj["features"][1]["geometry"]["coordinates"][0]
    obj["features"][1]["geometry"]["coordinates"][0] = [[x, y, 12.5] for x, y in ring]
    site = parse_site(obj)
    assert site.profile == "generic"
    assert site.context_events == ()
    assert not site.zone("engine_test_stand").geometry.has_z
    out = site_to_geojson(site)
    assert "context_events" not in out["features"][0]["properties"]


def test_clockwise_rings_are_reoriented(tmp_path: Path) -> None:
    obj = sohae()
    ring = obj["features"][0]["geometry"]["coordinates"][0]
    obj["features"][0]["geometry"]["coordinates"][0] = ring[::-1]  # clockwise
    site = parse_site(obj)
    assert isinstance(site.geometry, Polygon) and site.geometry.exterior.is_ccw
    assert site_to_geojson(site)["features"][0]["geometry"] == sohae()["features"][0]["geometry"]


def test_multipolygon_site_and_zone_tolerance(tmp_path: Path) -> None:
    obj = sohae()
    west = square(124.690, 39.650, 124.704, 39.675)["coordinates"]
    east = square(124.706, 39.650, 124.720, 39.675)["coordinates"]
    obj["features"][0]["geometry"] = {"type": "MultiPolygon", "coordinates": [west, east]}
    # rail_transfer straddles the 200 m gap between the parts: 1/3 outside, rejected...
    with pytest.raises(InvalidSiteError, match=r"rail_transfer'\): lies 33\.3% outside"):
        parse_site(obj)
    # ...while a zone 0.5% outside (digitising slop along an edge) is accepted as given.
    obj["features"][2]["geometry"] = square(124.700, 39.655, 124.70402, 39.658)
    site = parse_site(obj)
    assert isinstance(site.geometry, MultiPolygon) and len(site.geometry.geoms) == 2
    outside = site.zone("rail_transfer").geometry.difference(site.geometry).area
    assert 0 < outside / site.zone("rail_transfer").geometry.area <= 0.01
    assert parse_site(site_to_geojson(site)) == site


def test_zone_lookup_names_known_zones(site: Site) -> None:
    assert site.zone("rail_transfer").name == "rail_transfer"
    known = r"\(its zones: engine_test_stand, rail_transfer, launch_pad\)"
    with pytest.raises(InputError, match=rf"'gantry' is not a zone of site 'Sohae' {known}"):
        site.zone("gantry")


# --- UTM zone ------------------------------------------------------------------------


def test_utm_crs_north_and_south(site: Site) -> None:
    assert site.utm_crs() == "EPSG:32651"
    aoi = feature(square(15.00, -20.02, 15.02, -20.00), role="site", name="South")
    south = parse_site({"type": "FeatureCollection", "features": [aoi]})
    assert south.utm_crs() == "EPSG:32733"


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (124.705, 39.66, 32651),
        (15.01, -20.01, 32733),
        (5.32, 60.39, 32632),  # Bergen: zone 32V is widened over Norway (plain rule: 31)
        (11.93, 78.92, 32633),  # Ny-Alesund, Svalbard (plain rule: 32)
        (25.0, 78.0, 32635),  # Svalbard (plain rule: 35, kept)
        (40.0, 80.0, 32637),  # Franz Josef Land edge of the Svalbard cut (plain rule: 37)
        (180.0, 10.0, 32660),  # the antimeridian belongs to zone 60
        (-180.0, -10.0, 32701),
        (0.0, 0.0, 32631),  # the equator is north
    ],
)
def test_utm_epsg(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


@pytest.mark.parametrize(("lon", "lat"), [(124.705, 39.66), (-70.6, -33.4), (2.35, 48.85)])
def test_utm_epsg_agrees_with_proj_database(lon: float, lat: float) -> None:
    infos = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    assert str(utm_epsg(lon, lat)) in {i.code for i in infos}


def test_utm_epsg_rejects_positions_off_the_globe() -> None:
    with pytest.raises(InputError, match=r"\(39\.66, 124\.7\) is not a WGS 84 position"):
        utm_epsg(39.66, 124.7)


# --- site grid -----------------------------------------------------------------------


def test_site_grid_exact_numbers(site: Site) -> None:
    # Site bounds in EPSG:32651 are (644943.40, 4390276.54, 647569.69, 4393100.26).
    grid = site_grid(site, 10.0)
    assert grid == SiteGrid(
        crs="EPSG:32651",
        transform=Affine(10.0, 0.0, 644_840.0, 0.0, -10.0, 4_393_210.0),
        width=283,
        height=304,
    )
    assert grid.bounds == (644_840.0, 4_390_170.0, 647_670.0, 4_393_210.0)
    assert grid.shape == (304, 283) and grid.pixel_size == 10.0
    fine = site_grid(site, 3.0, margin_m=50.0)
    assert fine.bounds == (644_892.0, 4_390_224.0, 647_622.0, 4_393_152.0)
    assert (fine.width, fine.height) == (910, 976)


@pytest.mark.parametrize(("px", "margin"), [(10.0, 100.0), (3.0, 0.0), (0.5, 25.0), (20.0, 7.0)])
def test_site_grid_covers_site_plus_margin_and_is_snapped(
    site: Site, px: float, margin: float
) -> None:
    grid = site_grid(site, px, margin_m=margin)
    left, bottom, right, top = grid.bounds
    minx, miny, maxx, maxy = site.geometry_in(grid.crs).bounds
    # Covers the bounds plus the margin, and by less than one extra pixel on each side.
    assert left <= minx - margin < left + px
    assert bottom <= miny - margin < bottom + px
    assert right - px < maxx + margin <= right
    assert top - px < maxy + margin <= top
    for edge in (left, bottom, right, top):
        assert edge / px == pytest.approx(round(edge / px), abs=1e-6)
    assert grid.transform.b == grid.transform.d == 0.0 and grid.transform.e == -px


def test_zone_geometries_land_inside_the_grid(site: Site) -> None:
    grid = site_grid(site, 10.0)
    zones = zones_on_grid(site, grid)
    assert list(zones) == ["engine_test_stand", "rail_transfer", "launch_pad"]
    grid_box = box(*grid.bounds)
    site_utm = site.geometry_in(grid.crs)
    geod = Geod(ellps="WGS84")
    for name, geom in zones.items():
        assert grid_box.contains(geom) and site_utm.contains(geom), name
        # UTM areas match the ellipsoidal area to within the zone's scale error.
        ellipsoidal = abs(geod.geometry_area_perimeter(site.zone(name).geometry)[0])
        assert geom.area == pytest.approx(ellipsoidal, rel=2e-3), name
        # Pixel (col, row) of the zone's centre falls inside the raster.
        col, row = ~grid.transform @ (geom.centroid.x, geom.centroid.y)
        assert 0 <= col < grid.width and 0 <= row < grid.height, name
    assert zones == site.zone_geometries_in("EPSG:32651")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pixel_size_m": 0.0}, r"pixel_size_m: got 0\.0; give a positive pixel size in metres"),
        ({"pixel_size_m": math.nan}, r"pixel_size_m: got nan"),
        ({"pixel_size_m": 10.0, "margin_m": -5.0}, r"margin_m: got -5\.0; give a margin"),
        ({"pixel_size_m": 1e-6}, r"gives a \d+ x \d+ pixel grid .* not degrees"),
    ],
)
def test_site_grid_rejects_bad_sizes(site: Site, kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        site_grid(site, **kwargs)


# --- errors --------------------------------------------------------------------------


def test_invalid_site_error_is_a_value_error_and_exported() -> None:
    assert issubclass(InvalidSiteError, SitewatchError) and issubclass(InvalidSiteError, ValueError)
    assert sitewatch.InvalidSiteError is InvalidSiteError
    assert "InvalidSiteError" in sitewatch.__all__


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.geojson"
    with pytest.raises(MissingFileError, match=r"nowhere\.geojson: site file not found; give"):
        load_site(path)


def test_folder_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InvalidSiteError, match=r"is a folder; give the site \.geojson file"):
        load_site(tmp_path)
    path = tmp_path / "latin1.geojson"
    path.write_bytes('{"name": "Sōhae"}'.encode("utf-16"))
    with pytest.raises(InvalidSiteError, match=r"not UTF-8 text \(byte 0\); save the site"):
        load_site(path)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Json], Any]:
    """A mutation that sets obj[path...] = value (deleting when value is _DELETE)."""

    def mutate(obj: Json) -> None:
        target: Any = obj
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = copy.deepcopy(value)

    return mutate


_DELETE = object()
SITE_PROPS = ("features", 0, "properties")
SITE_GEOM = ("features", 0, "geometry")
EVENTS = (*SITE_PROPS, "context_events")
PAD_GEOM = ("features", 3, "geometry")
BOWTIE = {"type": "Polygon", "coordinates": [
    [[124.69, 39.65], [124.72, 39.675], [124.72, 39.65], [124.69, 39.675], [124.69, 39.65]]
]}  # fmt: skip
SWAPPED = {"type": "Polygon", "coordinates": [
    [[39.65, 124.69], [39.65, 124.72], [39.675, 124.72], [39.675, 124.69], [39.65, 124.69]]
]}  # fmt: skip
UTM_METRES = square(644943.4, 4390276.5, 647569.7, 4393100.3)
ANTIMERIDIAN = {"type": "MultiPolygon", "coordinates": [
    square(179.9, 10.0, 180.0, 10.1)["coordinates"],
    square(-180.0, 10.0, -179.9, 10.1)["coordinates"],
]}  # fmt: skip


def _add(feat: Json) -> Callable[[Json], None]:
    return lambda obj: obj["features"].append(copy.deepcopy(feat))


# fmt: off
ERROR_CASES: list[tuple[str, Callable[[Json], Any] | str, str]] = [
    ("not-json", '{"type": "FeatureCollection", features: []}',
     r"not valid JSON \(Expecting property name enclosed in double quotes at line 1, column 31\)"),
    ("json-list", "[1, 2]", r"top-level JSON is a list, not an object; give a GeoJSON"),
    ("a-feature", json.dumps(feature(square(0, 0, 1, 1), role="site", name="x")),
     r'type is "Feature", not \'FeatureCollection\'; wrap it: \{"type": "FeatureCollection"'),
    ("no-type", "{}",
     r"type is missing, not 'FeatureCollection'; give a GeoJSON FeatureCollection"),
    ("features-not-list", _set(("features",), {"a": 1}),
     r"'features' is \{\"a\": 1\}, not a list"),
    ("projected-crs-member",
     _set(("crs",), {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}}),
     r"'crs' member names \"urn:ogc:def:crs:EPSG::32651\"; RFC 7946 .* reproject the file "
     r"to EPSG:4326"),
    ("no-site", lambda obj: obj["features"].pop(0),
     r'no feature has "role": "site" \(only 3 zone features\); add one Polygon feature'),
    ("empty-collection", _set(("features",), []),
     r'no feature has "role": "site" \(the collection is empty\)'),
    ("two-sites", _add(feature(square(124.69, 39.65, 124.72, 39.675), role="site", name="B")),
     r'features 0 and 4 both have "role": "site"; keep one \(a site in several parts is one '
     r"feature with a MultiPolygon\)"),
    ("not-a-feature", _set(("features", 2), {"type": "Polygon"}),
     r'feature 2: is not a GeoJSON Feature \(type "Polygon"\); give \{"type": "Feature"'),
    ("site-point", _set(SITE_GEOM, {"type": "Point", "coordinates": [124.7, 39.66]}),
     r"feature 0 \(site 'Sohae'\): geometry type is \"Point\", not a Polygon or MultiPolygon; "
     r"draw the area as a polygon"),
    ("zone-line", _set(PAD_GEOM,
                       {"type": "LineString", "coordinates": [[124.71, 39.66], [124.712, 39.662]]}),
     r"feature 3 \(zone 'launch_pad'\): geometry type is \"LineString\", not a Polygon"),
    ("site-no-geometry", _set(SITE_GEOM, None),
     r"feature 0 \(site 'Sohae'\): geometry is missing; give a Polygon or MultiPolygon"),
    ("bowtie", _set(SITE_GEOM, BOWTIE),
     r"feature 0 \(site 'Sohae'\): invalid geometry: Self-intersection\[124\.70\d* 39\.66\d*\] "
     r"\(position is lon lat\); fix it in a GIS"),
    ("zone-partly-outside", _set(PAD_GEOM, square(124.716, 39.660, 124.724, 39.665)),
     r"feature 3 \(zone 'launch_pad'\): lies 50\.0% outside the site \(tolerance 1%\): zone "
     r"centre \(124\.72000, 39\.66250\), site bounds \(124\.69000, 39\.65000, 124\.72000, "
     r"39\.67500\); move or clip the zone inside the site polygon, or enlarge the site"),
    ("zone-entirely-outside", _set(("features", 1, "geometry"), square(125.0, 40.0, 125.01, 40.01)),
     r"feature 1 \(zone 'engine_test_stand'\): lies entirely outside the site"),
    ("duplicate-zone", _set(("features", 3, "properties", "zone"), "rail_transfer"),
     r"feature 3 \(zone 'rail_transfer'\): duplicate zone name 'rail_transfer' \(feature 2 "
     r"already uses it\); give each zone a unique name"),
    ("zone-without-name", _set(("features", 2, "properties", "zone"), _DELETE),
     r"feature 2 \(zone without a name\): zone feature has 'zone' missing; give each zone a "
     r"name, e.g\. \"zone\": \"launch_pad\""),
    ("zone-name-in-name", _set(("features", 2, "properties"), {"role": "zone", "name": "rail"}),
     r"zone feature has 'zone' missing \(it has \"name\": \"rail\"; zone names go in \"zone\"\)"),
    ("zone-name-not-string", _set(("features", 2, "properties", "zone"), 7),
     r"feature 2 \(zone without a name\): zone feature has 'zone' 7"),
    ("reserved-zone", _set(("features", 2, "properties", "zone"), "_site"),
     r"zone name '_site' is reserved for the whole site in timelines; pick another name"),
    ("swapped-lat-lon", _set(SITE_GEOM, SWAPPED),
     r"feature 0 \(site 'Sohae'\): position \[39\.65, 124\.69\] has latitude 124\.69 beyond 90: "
     r"coordinates look like \(lat, lon\); GeoJSON wants \(lon, lat\); swap the two numbers"),
    ("zone-swapped", _set(("features", 1, "geometry"), SWAPPED),
     r"feature 1 \(zone 'engine_test_stand'\): .*coordinates look like \(lat, lon\)"),
    ("projected-metres", _set(SITE_GEOM, UTM_METRES),
     r"position \[644943\.4, 4390276\.5\] is out of range \(lon must be in \[-180, 180\], lat "
     r"in \[-90, 90\]\); if these are projected metres, reproject the file to EPSG:4326"),
    ("lon-out-of-range", _set(SITE_GEOM, square(190.0, 10.0, 190.1, 10.1)),
     r"position \[190\.0, 10\.0\] is out of range"),
    ("unknown-profile", _set((*SITE_PROPS, "profile"), "rocket"),
     r"feature 0 \(site 'Sohae'\): unknown profile \"rocket\"; use one of generic, launch_site, "
     r"construction \(or leave it out for 'generic'\)"),
    ("site-no-name", _set((*SITE_PROPS, "name"), _DELETE),
     r"feature 0 \(role \"site\"\): site 'name' is missing; give the site a name"),
    ("bad-event-date", _set(EVENTS, [{"date": "28/02/2019", "label": "x"}]),
     r"context_events\[0\] date is \"28/02/2019\", not an ISO date; write it as YYYY-MM-DD"),
    ("impossible-event-date",
     _set(EVENTS, [{"date": "2019-02-30", "label": "x"}]),
     r"context_events\[0\] date is \"2019-02-30\", not an ISO date"),
    ("datetime-event-date",
     _set(EVENTS, [{"date": "2019-02-28T09:00:00Z", "label": "x"}]),
     r"context_events\[0\] date is \"2019-02-28T09:00:00Z\", not an ISO date"),
    ("event-without-label", _set(EVENTS,
                                [{"date": "2019-02-28", "label": "ok"}, {"date": "2019-06-30"}]),
     r"context_events\[1\] \(2019-06-30\) has label missing; give each event a non-empty "
     r"\"label\""),
    ("events-not-list", _set(EVENTS, "2019-02-28"),
     r"context_events is \"2019-02-28\", not a list; give context_events as \[\{\"date\""),
    ("empty-polygon", _set(SITE_GEOM, {"type": "Polygon", "coordinates": []}),
     r"feature 0 \(site 'Sohae'\): Polygon is empty \(coordinates \[\]\); give at least one "
     r"ring of 4 or more"),
    ("empty-multipolygon", _set(PAD_GEOM, {"type": "MultiPolygon", "coordinates": []}),
     r"feature 3 \(zone 'launch_pad'\): MultiPolygon is empty"),
    ("short-ring", _set(SITE_GEOM, {"type": "Polygon", "coordinates": [
        [[124.69, 39.65], [124.72, 39.65], [124.69, 39.65]]]}),
     r"ring has 3 positions .*; a polygon ring needs at least 4 positions"),
    ("open-ring", _set(SITE_GEOM, {"type": "Polygon", "coordinates": [
        [[124.69, 39.65], [124.72, 39.65], [124.72, 39.675], [124.69, 39.675]]]}),
     r"ring is not closed \(starts at \[124\.69, 39\.65\], ends at \[124\.69, 39\.675\]\); "
     r"repeat the first position"),
    ("text-coordinate", _set(SITE_GEOM, {"type": "Polygon", "coordinates": [
        [["124.69", "39.65"], [124.72, 39.65], [124.72, 39.675], [124.69, 39.65]]]}),
     r"position \[\"124\.69\", \"39\.65\"\] is not \[lon, lat\]"),
    ("antimeridian", _set(SITE_GEOM, ANTIMERIDIAN),
     r"spans 360\.0 degrees of longitude .*; split it into one site on each side of 180"),
    ("unknown-role", _set(("features", 2, "properties", "role"), "building"),
     r"feature 2 \(role \"building\"\): unknown role \"building\"; use \"role\": \"site\" or "
     r"\"role\": \"zone\""),
    ("missing-role", _set(("features", 2, "properties"), None),
     r"feature 2: has no 'role' property; set \"role\": \"site\""),
    ("properties-not-object", _set(("features", 2, "properties"), [1]),
     r"feature 2: 'properties' is \[1\], not an object"),
]
# fmt: on


@pytest.mark.parametrize(
    ("mutation", "match"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_site_file_errors(
    tmp_path: Path, mutation: Callable[[Json], Any] | str, match: str
) -> None:
    if isinstance(mutation, str):
        content: object = mutation
    else:
        content = sohae()
        mutation(content)
    path = write(tmp_path, content)
    with pytest.raises(InvalidSiteError, match=match) as info:
        load_site(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message  # every message names the file
    assert "\n" not in message  # one line, as the CLI prints it


def test_first_problem_in_file_order_is_reported() -> None:
    obj = sohae()
    obj["features"][0]["geometry"] = {"type": "Point", "coordinates": [124.7, 39.66]}
    obj["features"][3]["properties"]["role"] = "building"
    with pytest.raises(InvalidSiteError, match=r"^<site>: feature 0 \(site 'Sohae'\): geometry"):
        parse_site(obj)


def test_parse_site_names_its_source() -> None:
    with pytest.raises(InvalidSiteError, match=r"^upload\.geojson: no feature has"):
        parse_site({"type": "FeatureCollection", "features": []}, source="upload.geojson")


def test_importing_sites_stays_light() -> None:
    code = (
        "import sys, sitewatch.sites; "
        "print(sorted(m for m in ('rasterio', 'pyproj') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
