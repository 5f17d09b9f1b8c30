"""Writers: output path checks, atomic commits, tiled GeoTIFF and PNG writing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from rasterkit import UTM, listing, utm_transform

from sitewatch.errors import OutputError
from sitewatch.io.raster import Grid
from sitewatch.io.writers import (
    NOT_JUDGED,
    TileWriter,
    check_output_path,
    committed,
    write_geotiff,
    write_text_atomic,
)

GRID = Grid(70, 50, utm_transform(), CRS.from_user_input(UTM))
PIXEL_GRID = Grid(70, 50, Affine.identity(), None)


def test_check_output_path_accepts_a_new_file(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "m.tif", "--out") == tmp_path / "m.tif"


def test_check_output_path_relative_name_in_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_output_path("m.tif", "--out") == Path("m.tif")


def test_check_output_path_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"--vector: folder .*nowhere does not exist; create it"):
        check_output_path(tmp_path / "nowhere" / "v.geojson", "--vector")


def test_check_output_path_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"--out: .* is a folder; give a file name"):
        check_output_path(tmp_path, "--out")


def test_committed_renames_into_place_only_on_success(tmp_path: Path) -> None:
    with committed() as c:
        tmp = c.reserve(tmp_path / "a.txt")
        tmp.write_text("new")
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.")
        assert not (tmp_path / "a.txt").exists()
    assert listing(tmp_path) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "new"


def test_committed_failure_leaves_nothing_and_keeps_existing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), committed() as c:
        c.reserve(tmp_path / "a.txt").write_text("new")
        c.reserve(tmp_path / "b.txt").write_text("new")
        raise RuntimeError("boom")
    assert listing(tmp_path) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"


def test_write_text_atomic(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "s.json", "{}\n")
    assert listing(tmp_path) == ["s.json"] and (tmp_path / "s.json").read_text() == "{}\n"


def test_tile_writer_geotiff_tile_by_tile(tmp_path: Path) -> None:
    data = np.arange(50 * 70, dtype=np.uint8).reshape(1, 50, 70) % 3
    path = tmp_path / "m.tif"
    w = TileWriter(path, GRID, 1, "uint8", NOT_JUDGED, ("change",))
    for r in range(0, 50, 32):
        for c in range(0, 70, 32):
            h, wd = min(32, 50 - r), min(32, 70 - c)
            w.write(Window(c, r, wd, h), data[:, r : r + h, c : c + wd])
    w.close()
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(ds.read(), data)
        assert ds.crs == UTM and ds.transform == GRID.transform
        assert ds.nodata == NOT_JUDGED and ds.descriptions == ("change",)
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"


def test_tile_writer_float32_nan_nodata(tmp_path: Path) -> None:
    data = np.full((2, 50, 70), 0.25, np.float32)
    data[:, 0, 0] = np.nan
    w = TileWriter(tmp_path / "p.tif", GRID, 2, "float32", float("nan"), ("a", "b"))
    w.write(Window(0, 0, 70, 50), data)
    w.close()
    with rasterio.open(tmp_path / "p.tif") as ds:
        out = ds.read()
        assert np.isnan(ds.nodata)
    assert np.isnan(out[:, 0, 0]).all() and (out[:, 1:, :] == 0.25).all()


def test_tile_writer_png_in_pixel_space(tmp_path: Path) -> None:
    data = (np.arange(50 * 70).reshape(1, 50, 70) % 2).astype(np.uint8)
    w = TileWriter(tmp_path / "m.png", PIXEL_GRID, 1, "uint8", NOT_JUDGED)
    w.write(Window(0, 0, 40, 50), data[:, :, :40])
    w.write(Window(40, 0, 30, 50), data[:, :, 40:])
    w.close()
    with rasterio.open(tmp_path / "m.png") as ds:
        assert ds.driver == "PNG"
        np.testing.assert_array_equal(ds.read(), data)
    assert listing(tmp_path) == ["m.png"]


def test_tile_writer_png_rejects_float(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"PNG holds only 8/16-bit integers; write a \.tif"):
        TileWriter(tmp_path / "p.png", PIXEL_GRID, 1, "float32", None)


@pytest.mark.parametrize("name", ["m.jpg", "m.geojson", "m"])
def test_tile_writer_rejects_other_formats(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError, match=r"should end in \.tif or \.png"):
        TileWriter(tmp_path / name, GRID, 1, "uint8", None)


def test_write_geotiff_round_trip(tmp_path: Path) -> None:
    data = np.arange(3 * 50 * 70, dtype=np.uint16).reshape(3, 50, 70)
    write_geotiff(tmp_path / "x.tif", data, GRID, ("blue", "green", "red"), nodata=0)
    assert listing(tmp_path) == ["x.tif"]
    with rasterio.open(tmp_path / "x.tif") as ds:
        np.testing.assert_array_equal(ds.read(), data)
        assert ds.descriptions == ("blue", "green", "red")
        assert ds.crs == UTM and ds.nodata == 0


def test_write_geotiff_rejects_an_array_that_does_not_fit_the_grid(tmp_path: Path) -> None:
    # GDAL would stretch a 10 x 10 array over the 50 x 70 window without a word.
    with pytest.raises(ValueError, match=r"does not fit a \(50, 70\) grid"):
        write_geotiff(tmp_path / "x.tif", np.zeros((1, 10, 10), np.uint8), GRID)
    assert listing(tmp_path) == []


def test_write_geotiff_failure_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "x.tif").write_bytes(b"old")

    def broken_write(self, window, data):
        raise OSError("disk full")

    monkeypatch.setattr(TileWriter, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_geotiff(tmp_path / "x.tif", np.zeros((1, 50, 70), np.uint8), GRID)
    assert listing(tmp_path) == ["x.tif"]  # no temporary file, no sidecar
    assert (tmp_path / "x.tif").read_bytes() == b"old"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_outputs_get_the_usual_permissions_not_private_temp_ones(tmp_path: Path) -> None:
    # mkstemp creates 0600 files; a finished output must be readable like any other file.
    expected = 0o666 & ~_umask()
    write_geotiff(tmp_path / "x.tif", np.zeros((1, 50, 70), np.uint8), GRID)
    write_text_atomic(tmp_path / "s.json", "{}")
    for name in ("x.tif", "s.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def test_png_keeps_nodata(tmp_path: Path) -> None:
    w = TileWriter(tmp_path / "m.png", GRID, 1, "uint8", NOT_JUDGED)
    w.write(Window(0, 0, 70, 50), np.full((1, 50, 70), NOT_JUDGED, np.uint8))
    w.close()
    with rasterio.open(tmp_path / "m.png") as ds:
        assert ds.nodata == NOT_JUDGED and ds.crs == UTM
