"""Reading catalog scenes onto a site grid (``sitewatch.io.scenes``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterkit import utm_transform, write_tif
from shapely.geometry import box

from sitewatch.errors import BandMismatchError, NoOverlapError
from sitewatch.io.scenes import (
    common_bands,
    finest_pixel_m,
    grid_of,
    read_scene,
    scene_stack,
    site_rasters,
)
from sitewatch.models import BandAsset, Scene, Site, Zone
from sitewatch.sites import site_grid

# A site inside the 10 m UTM 33N raster written below (origin 500000, 5000000).
LON0, LAT0 = 15.0015, 45.1155  # near the raster's top-left area
UTC = dt.timezone.utc


def _site(lon: float = LON0, lat: float = LAT0) -> Site:
    geom = box(lon, lat - 0.003, lon + 0.004, lat)
    zone = Zone("pad", box(lon + 0.001, lat - 0.002, lon + 0.002, lat - 0.001))
    return Site("test", "generic", geom, (zone,))


def _image(path: Path, value: int = 1000, size: int = 200) -> Path:
    from pyproj import Transformer

    t = Transformer.from_crs(4326, 32633, always_xy=True)
    x, y = t.transform(LON0, LAT0)
    x0, y0 = np.floor(x / 10) * 10 - 500, np.ceil(y / 10) * 10 + 500
    rng = np.random.default_rng(value)
    data = (value + rng.integers(0, 50, (4, size, size))).astype("uint16")
    return write_tif(
        path, data, transform=utm_transform(10.0, x0, y0), nodata=0,
        descriptions=["blue", "green", "red", "nir"],
    )  # fmt: skip


def _scene(path: Path, day: int = 1, quality: Path | None = None) -> Scene:
    bands = {n: BandAsset(str(path), i + 1) for i, n in enumerate(["blue", "green", "red", "nir"])}
    return Scene(
        path.stem, dt.datetime(2020, 1, day, tzinfo=UTC), "optical", bands,
        quality=BandAsset(str(quality)) if quality else None,
    )  # fmt: skip


def test_common_bands_in_stack_order(tmp_path: Path) -> None:
    a = _scene(_image(tmp_path / "a.tif"))
    b = Scene("b", a.datetime, "optical", {k: a.bands[k] for k in ("nir", "red", "blue")})
    assert common_bands([a, b]) == ["blue", "red", "nir"]
    c = Scene("c", a.datetime, "optical", {"nir": a.bands["nir"]})
    with pytest.raises(BandMismatchError):
        common_bands([a, c])


def test_read_scene_onto_grid(tmp_path: Path) -> None:
    site = _site()
    scene = _scene(_image(tmp_path / "a.tif", 1000))
    assert finest_pixel_m([scene], ["red", "nir"]) == pytest.approx(10.0)
    grid = site_grid(site, 10.0)
    sd = read_scene(scene, ["red", "nir"], grid, site)
    assert sd.data.shape == (2, *grid.shape) and sd.data.dtype == np.float32
    assert sd.valid.mean() > 0.9
    assert 1000 <= float(sd.data[0][sd.valid].mean()) <= 1050
    assert sd.quality is None
    assert scene_stack(scene, ["nir"]).names == ["nir"]
    assert grid_of(grid).crs.to_epsg() == 32633


def test_quality_layer_read_nearest(tmp_path: Path) -> None:
    site = _site()
    img = _image(tmp_path / "a.tif")
    scl = np.full((200, 200), 4, np.uint8)
    scl[:100] = 9
    with rasterio.open(img) as ds:  # the SCL layer on the image's grid
        transform = ds.transform
    q = write_tif(tmp_path / "a_SCL.tif", scl, transform=transform)
    sd = read_scene(_scene(img, quality=q), ["red"], site_grid(site, 10.0), site)
    assert sd.quality is not None
    assert set(np.unique(sd.quality[np.isfinite(sd.quality)])) <= {4.0, 9.0}


def test_scene_off_site_is_no_overlap(tmp_path: Path) -> None:
    far = _site(LON0 + 1.0)
    scene = _scene(_image(tmp_path / "a.tif"))
    with pytest.raises(NoOverlapError):
        read_scene(scene, ["red"], site_grid(far, 10.0), far)


def test_site_rasters(tmp_path: Path) -> None:
    site = _site()
    grid = site_grid(site, 10.0)
    mask, labels, names = site_rasters(site, grid)
    assert names == ("pad",)
    assert mask.shape == labels.shape == grid.shape
    assert 0 < mask.mean() < 1
    assert labels.max() == 1 and (labels == 1).sum() < mask.sum()
    assert not (labels[~mask] == 1).any()


def test_read_or_skip_turns_unusable_scenes_into_one_line_warnings(tmp_path: Path) -> None:
    from sitewatch.io.scenes import Skipped, read_or_skip

    site = Site("s", "generic", box(124.70, 39.65, 124.71, 39.66))
    grid = site_grid(site, 10.0, 0.0)
    broken = tmp_path / "2019-01-01.tif"
    broken.write_bytes(b"not a tiff")
    scene = Scene("2019-01-01", dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc), "optical",
                  {"red": BandAsset(str(broken)), "nir": BandAsset(str(broken), 2)})  # fmt: skip
    got = read_or_skip(scene, ["red", "nir"], grid, site)
    assert isinstance(got, Skipped)
    assert got.warning.startswith("skipped 2019-01-01: ") and "\n" not in got.warning
