"""Change polygons as GeoJSON: EPSG:4326 with ground areas, or pixel space that says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterkit import UTM, utm_transform
from shapely.geometry import shape

from sitewatch.io.raster import Grid
from sitewatch.io.vector import mask_features, write_feature_collection
from sitewatch.io.writers import NOT_JUDGED

GRID = Grid(40, 30, utm_transform(10.0), CRS.from_user_input(UTM))
PIXEL_GRID = Grid(40, 30, Affine.identity(), None)


def _mask() -> np.ndarray:
    m = np.zeros((30, 40), np.uint8)
    m[5:15, 5:15] = 1  # 100 px
    m[20:22, 30:33] = 1  # 6 px
    m[0:3, 35:40] = NOT_JUDGED  # not judged is not change
    return m


def test_no_change_gives_no_features() -> None:
    assert mask_features(np.zeros((30, 40), np.uint8), GRID) == []
    assert mask_features(np.full((30, 40), NOT_JUDGED, np.uint8), GRID) == []


def test_georeferenced_features_are_lonlat_with_ground_area() -> None:
    p = np.full((30, 40), 0.5, np.float32)
    p[7, 7] = 1e-6
    p[21, 31] = 1e-3
    feats = mask_features(_mask(), GRID, p)
    assert len(feats) == 2
    by_px = {f["properties"]["area_px"]: f for f in feats}
    assert set(by_px) == {100, 6}
    big = by_px[100]
    assert big["type"] == "Feature" and big["geometry"]["type"] == "Polygon"
    lon, lat = shape(big["geometry"]).centroid.coords[0]
    # UTM 33N, easting 500 km: the central meridian 15 E; northing 5000 km: about 45.15 N.
    assert 14.99 < lon < 15.01 and 45.1 < lat < 45.2
    # 100 pixels of 10 m: 10 000 m2 on the ground (UTM scale error is well under 1%).
    assert big["properties"]["area_m2"] == pytest.approx(10_000, rel=0.01)
    assert by_px[6]["properties"]["area_m2"] == pytest.approx(600, rel=0.01)
    assert big["properties"]["p_value"] == pytest.approx(1e-6)
    assert by_px[6]["properties"]["p_value"] == pytest.approx(1e-3)
    ids = [f["properties"]["change_id"] for f in feats]
    assert len(set(ids)) == 2 and all(i.startswith("c") for i in ids)


def test_geographic_grid_area_is_measured_on_the_ellipsoid() -> None:
    # 10 x 10 pixels of 0.0001 deg at 45 N: about 1113 m x 787 m / 100 = 87.6 m2 each.
    grid = Grid(20, 20, Affine(0.0001, 0, 15.0, 0, -0.0001, 45.001), CRS.from_epsg(4326))
    m = np.zeros((20, 20), np.uint8)
    m[0:10, 0:10] = 1
    (feat,) = mask_features(m, grid)
    assert feat["properties"]["area_m2"] == pytest.approx(8760, rel=0.01)


def test_pixel_space_features_are_columns_and_rows() -> None:
    (feat,) = mask_features(_mask()[:16], Grid(40, 16, Affine.identity(), None))
    assert "area_m2" not in feat["properties"]
    assert feat["properties"]["area_px"] == 100
    xs, ys = zip(*feat["geometry"]["coordinates"][0])
    assert (min(xs), max(xs), min(ys), max(ys)) == (5, 15, 5, 15)


def test_diagonal_neighbours_form_one_region() -> None:
    m = np.zeros((30, 40), np.uint8)
    m[10, 10] = m[11, 11] = m[12, 12] = 1
    feats = mask_features(m, PIXEL_GRID)
    assert len(feats) == 1 and feats[0]["properties"]["area_px"] == 3


def test_write_feature_collection_georeferenced(tmp_path: Path) -> None:
    path = tmp_path / "c.geojson"
    write_feature_collection(path, mask_features(_mask(), GRID), GRID, sitewatch={"alpha": 0.01})
    fc = json.loads(path.read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    assert "coordinate_space" not in fc  # RFC 7946: lon/lat, EPSG:4326 implied
    assert "crs" not in fc
    assert fc["sitewatch"] == {"alpha": 0.01}


def test_write_feature_collection_pixel_space_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.geojson"
    write_feature_collection(path, mask_features(_mask(), PIXEL_GRID), PIXEL_GRID)
    fc = json.loads(path.read_text())
    assert fc["coordinate_space"] == "pixel"
    assert "not longitude/latitude" in fc["description"]
    assert len(fc["features"]) == 2


@pytest.mark.parametrize(
    ("pixel", "x0", "y0", "crs"),
    [
        (0.1, 500_000.0, 5_000_000.0, UTM),  # sub-metre pixels far from the origin
        (0.1, 301_000.0, 4_393_000.0, "EPSG:32651"),
        (3.0, 301_000.0, 4_393_000.0, "EPSG:32651"),
        (0.00009, 123.4567, 45.0, "EPSG:4326"),
    ],
)
@pytest.mark.parametrize("n", [1, 10, 13, 25, 28])
def test_area_px_is_exact_despite_floating_point(pixel, x0, y0, crs, n: int) -> None:
    grid = Grid(40, 40, Affine(pixel, 0, x0, 0, -pixel, y0), CRS.from_user_input(crs))
    m = np.zeros((40, 40), np.uint8)
    m[3 : 3 + n, 5 : 5 + n] = 1
    (feat,) = mask_features(m, grid)
    assert feat["properties"]["area_px"] == n * n
