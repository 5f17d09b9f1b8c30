"""Pairs: band matching, georeferencing checks, overlap windows, ground pixel size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterkit import UTM, textured, utm_transform, write_tif

from sitewatch.errors import BandMismatchError, InputError, MissingFileError, NoOverlapError
from sitewatch.io.geo import pixel_size_m
from sitewatch.io.pair import open_pair
from sitewatch.io.raster import Grid


def _img(path: Path, bands: int = 3, size: int = 16, labels=None, **kw) -> Path:
    data = textured((bands, size, size), seed=bands).astype("uint16")
    return write_tif(path, data, descriptions=labels, **kw)


def test_same_grid_pair(tmp_path: Path) -> None:
    p = open_pair(_img(tmp_path / "b.tif"), _img(tmp_path / "a.tif"))
    assert p.grid == p.before.grid
    assert (p.overlap.col_off, p.overlap.row_off, p.overlap.width, p.overlap.height) == (
        0,
        0,
        16,
        16,
    )
    assert p.band_names == ("band1", "band2", "band3")
    assert p.pixel_size_m == pytest.approx(10.0)


def test_named_bands_matched_in_before_order(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif", 4, labels=["B02", "B03", "B04", "B08"])
    a = _img(tmp_path / "a.tif", 3, labels=["red", "nir", "blue"])
    p = open_pair(b, a)
    assert p.band_names == ("blue", "red", "nir")
    assert [x.index for x in p.after.bands] == [3, 1, 2]
    assert [x.index for x in p.before.bands] == [1, 3, 4]


def test_named_bands_with_nothing_in_common(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif", 2, labels=["blue", "green"])
    a = _img(tmp_path / "a.tif", 2, labels=["vv", "vh"])
    with pytest.raises(BandMismatchError, match=r"none in common; give images of the same sensor"):
        open_pair(b, a)


def test_unnamed_different_band_counts(tmp_path: Path) -> None:
    b, a = _img(tmp_path / "b.tif", 4), _img(tmp_path / "a.tif", 2)
    with pytest.raises(
        BandMismatchError, match=r"BEFORE has 4 bands and AFTER has 2, with no band names.*--bands"
    ):
        open_pair(b, a)


def test_unnamed_band_counts_matched_with_positional_bands(tmp_path: Path) -> None:
    b, a = _img(tmp_path / "b.tif", 4), _img(tmp_path / "a.tif", 2)
    p = open_pair(b, a, ["band1", "band2"])
    assert p.band_names == ("band1", "band2")


def test_bands_selection_by_common_name(tmp_path: Path) -> None:
    labels = ["B02", "B03", "B04", "B08"]
    p = open_pair(
        _img(tmp_path / "b.tif", 4, labels=labels),
        _img(tmp_path / "a.tif", 4, labels=labels),
        ["nir", "red"],
    )
    assert p.band_names == ("nir", "red")


def test_bands_selection_naming_a_band_one_image_lacks(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif", 4, labels=["B02", "B03", "B04", "B08"])
    a = _img(tmp_path / "a.tif", 3, labels=["B02", "B03", "B04"])
    with pytest.raises(BandMismatchError, match=r"--bands: nir not found in .*a\.tif"):
        open_pair(b, a, ["red", "nir"])


def test_missing_after(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"after\.tif: no such file"):
        open_pair(_img(tmp_path / "b.tif"), tmp_path / "after.tif")


def test_georeferenced_with_plain_image(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif")
    a = _img(tmp_path / "a.tif", crs=None)
    with pytest.raises(InputError, match=r"BEFORE is georeferenced but the other image is not"):
        open_pair(b, a)
    with pytest.raises(InputError, match=r"AFTER is georeferenced but the other image is not"):
        open_pair(a, b)


def test_plain_images_of_the_same_size(tmp_path: Path) -> None:
    data = textured((3, 12, 9), base=100, spread=30).astype("uint8")
    b = write_tif(tmp_path / "b.png", data, crs=None, driver="PNG")
    a = write_tif(tmp_path / "a.png", data, crs=None, driver="PNG")
    p = open_pair(b, a)
    assert p.grid.crs is None and p.grid.shape == (12, 9)
    assert p.band_names == ("red", "green", "blue")
    assert p.pixel_size_m is None
    assert (p.overlap.width, p.overlap.height) == (9, 12)


def test_plain_images_of_different_sizes(tmp_path: Path) -> None:
    b = write_tif(tmp_path / "b.png", np.zeros((3, 8, 8), "uint8"), crs=None, driver="PNG")
    a = write_tif(tmp_path / "a.png", np.zeros((3, 8, 9), "uint8"), crs=None, driver="PNG")
    with pytest.raises(InputError, match=r"BEFORE is 8x8 px and AFTER 8x9 px.*crop them"):
        open_pair(b, a)


def test_images_that_do_not_overlap(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif")
    a = _img(tmp_path / "a.tif", transform=utm_transform(x0=510_000.0))
    with pytest.raises(NoOverlapError, match=r"does not overlap BEFORE.*same place"):
        open_pair(b, a)


def test_images_that_only_touch_do_not_overlap(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif")
    a = _img(tmp_path / "a.tif", transform=utm_transform(x0=500_160.0))  # shares an edge
    with pytest.raises(NoOverlapError):
        open_pair(b, a)


def test_partial_overlap_window(tmp_path: Path) -> None:
    # AFTER starts 8 px east and 4 px south of BEFORE's corner.
    b = _img(tmp_path / "b.tif", size=32)
    a = _img(tmp_path / "a.tif", size=32, transform=utm_transform(x0=500_080.0, y0=4_999_960.0))
    p = open_pair(b, a)
    assert p.grid == p.before.grid
    w = p.overlap
    # The window covers AFTER's footprint (a pixel of margin is allowed) and is clipped.
    assert w.col_off <= 8 and w.col_off >= 7 and w.row_off <= 4 and w.row_off >= 3
    assert w.col_off + w.width == 32 and w.row_off + w.height == 32


def test_mixed_crs_overlap_is_computed_in_before_crs(tmp_path: Path) -> None:
    b = _img(tmp_path / "b.tif", size=64)
    # AFTER in lon/lat over the west half of BEFORE (BEFORE's corner is at 15.0 E).
    left, top = 15.0, 45.1534772
    a = _img(
        tmp_path / "a.tif",
        size=32,
        crs="EPSG:4326",
        transform=Affine(0.000127, 0, left, 0, -0.00009, top),
    )
    p = open_pair(b, a)
    assert p.grid == p.before.grid and p.grid.crs == UTM
    assert p.overlap.col_off == 0 and p.overlap.row_off == 0
    assert 30 <= p.overlap.width <= 36 and 28 <= p.overlap.height <= 34


@pytest.mark.parametrize(
    ("crs", "transform", "expected"),
    [
        (UTM, utm_transform(10.0), 10.0),
        (UTM, utm_transform(60.0), 60.0),
        ("EPSG:2056", Affine(2.0, 0, 2_600_000, 0, -2.0, 1_200_000), 2.0),  # Swiss LV95
        ("EPSG:2263", Affine(10.0, 0, 1e6, 0, -10.0, 2e5), 3.048),  # NY State Plane, US feet
    ],
)
def test_pixel_size_in_metres(crs: str, transform: Affine, expected: float) -> None:
    grid = Grid(10, 10, transform, CRS.from_user_input(crs))
    assert pixel_size_m(grid) == pytest.approx(expected, rel=1e-3)


def test_pixel_size_of_geographic_grid() -> None:
    # 0.0001 deg at 45 N: 11.13 m north-south, 7.87 m east-west: 9.36 m equal-area side.
    grid = Grid(10, 10, Affine(0.0001, 0, 15.0, 0, -0.0001, 45.0005), CRS.from_epsg(4326))
    assert pixel_size_m(grid) == pytest.approx(9.36, rel=5e-3)


def test_pixel_size_in_pixel_space() -> None:
    assert pixel_size_m(Grid(4, 4, Affine.identity(), None)) is None
