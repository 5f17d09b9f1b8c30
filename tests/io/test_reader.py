"""Reading windows of stacks onto a target grid: direct, resampled and warped reads."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window
from rasterkit import UTM, textured, utm_transform, write_tif

from sitewatch.errors import RasterReadError
from sitewatch.io.raster import open_image
from sitewatch.io.reader import SharedBlocks, StackReader


@pytest.mark.parametrize(
    ("dtype", "nodata"),
    [("uint8", 0), ("uint16", 0), ("int16", -9999), ("float32", -1.0), ("uint16", None)],
)
def test_direct_read_values_and_nodata(tmp_path: Path, dtype: str, nodata: float | None) -> None:
    data = textured((2, 8, 10), base=100, spread=20).astype(dtype)
    if nodata is not None:
        data[0, 2, 3] = nodata  # one band's nodata invalidates the pixel for all bands
        data[1, 5, 7] = nodata
    stack = open_image(write_tif(tmp_path / "i.tif", data, nodata=nodata))
    with StackReader(stack, stack.grid) as r:
        block = r.read(Window(0, 0, 10, 8))
    assert block.data.dtype == np.float32 and block.data.shape == (2, 8, 10)
    np.testing.assert_array_equal(block.data, data.astype(np.float32))
    expected = np.ones((8, 10), bool)
    if nodata is not None:
        expected[2, 3] = expected[5, 7] = False
    np.testing.assert_array_equal(block.valid, expected)


def test_negative_int16_values_survive(tmp_path: Path) -> None:
    data = np.array([[[-300, -1], [0, 250]]], np.int16)
    stack = open_image(write_tif(tmp_path / "i.tif", data))
    with StackReader(stack, stack.grid) as r:
        block = r.read(Window(0, 0, 2, 2))
    np.testing.assert_array_equal(block.data[0], [[-300, -1], [0, 250]])
    assert block.valid.all()


def test_nan_and_inf_are_not_valid(tmp_path: Path) -> None:
    data = np.ones((2, 3, 3), np.float32)
    data[0, 0, 0] = np.nan
    data[1, 2, 2] = np.inf
    stack = open_image(write_tif(tmp_path / "f.tif", data))
    with StackReader(stack, stack.grid) as r:
        valid = r.read(Window(0, 0, 3, 3)).valid
    assert valid.sum() == 7 and not valid[0, 0] and not valid[2, 2]


def test_nan_nodata_value(tmp_path: Path) -> None:
    data = np.ones((1, 3, 3), np.float32)
    data[0, 1, 1] = np.nan
    stack = open_image(write_tif(tmp_path / "f.tif", data, nodata=float("nan")))
    with StackReader(stack, stack.grid) as r:
        valid = r.read(Window(0, 0, 3, 3)).valid
    assert valid.sum() == 8 and not valid[1, 1]


def test_window_read_is_the_matching_part(tmp_path: Path) -> None:
    data = textured((3, 20, 30)).astype(np.float32)
    stack = open_image(write_tif(tmp_path / "i.tif", data))
    with StackReader(stack, stack.grid) as r:
        block = r.read(Window(7, 4, 11, 9))
    np.testing.assert_array_equal(block.data, data[:, 4:13, 7:18])


def test_pixel_space_png_reads_directly(tmp_path: Path) -> None:
    data = textured((3, 5, 6), base=100, spread=30).astype(np.uint8)
    stack = open_image(write_tif(tmp_path / "i.png", data, crs=None, driver="PNG"))
    with StackReader(stack, stack.grid) as r:
        block = r.read(Window(0, 0, 6, 5))
    np.testing.assert_array_equal(block.data, data)


def test_band_folder_coarse_band_resampled_onto_finest_grid(tmp_path: Path) -> None:
    folder = tmp_path / "s2"
    folder.mkdir()
    # A ramp along x is reproduced exactly by bilinear resampling away from the edges.
    x10 = np.arange(24, dtype=np.float32)[None, :].repeat(24, axis=0) * 10 + 5  # centre, m
    x20 = np.arange(12, dtype=np.float32)[None, :].repeat(12, axis=0) * 20 + 10
    write_tif(folder / "s_B02.tif", x10, transform=utm_transform(10.0))
    write_tif(folder / "s_B11.tif", x20, transform=utm_transform(20.0))
    stack = open_image(folder)
    assert stack.names == ["blue", "swir16"] and stack.grid.transform.a == 10.0
    with StackReader(stack, stack.grid) as r:
        block = r.read(Window(0, 0, 24, 24))
    assert block.data.shape == (2, 24, 24)
    np.testing.assert_allclose(block.data[1, :, 2:-2], block.data[0, :, 2:-2], atol=1e-3)
    assert block.valid.all()


def _warped_copy(before: np.ndarray, folder: Path, right_m: float) -> Path:
    """BEFORE's left ``right_m`` metres, reprojected to EPSG:4326 (NaN outside)."""
    top = 5_000_000.0
    bottom = top - before.shape[1] * 10.0
    left, south, right, north = transform_bounds(
        UTM, "EPSG:4326", 500_000.0, bottom, 500_000.0 + right_m, top
    )
    res = 0.00005
    w, h = int(np.ceil((right - left) / res)), int(np.ceil((north - south) / res))
    transform = Affine(res, 0, left, 0, -res, north)
    out = np.full((before.shape[0], h, w), np.nan, np.float32)
    reproject(
        before.astype(np.float32),
        out,
        src_transform=utm_transform(),
        src_crs=UTM,
        dst_transform=transform,
        dst_crs="EPSG:4326",
        resampling=Resampling.bilinear,
        dst_nodata=np.nan,
    )
    return write_tif(
        folder / "after_4326.tif", out, crs="EPSG:4326", transform=transform, nodata=float("nan")
    )


def test_other_crs_is_warped_and_outside_is_not_valid(tmp_path: Path) -> None:
    before = textured((2, 64, 64), seed=3)
    b = open_image(write_tif(tmp_path / "b.tif", before.astype(np.float32)))
    a = open_image(_warped_copy(before, tmp_path, right_m=320.0))  # covers columns 0..31
    with StackReader(a, b.grid) as r:
        block = r.read(Window(0, 0, 64, 64))
    assert block.data.shape == (2, 64, 64)
    assert not block.valid[:, 34:].any()  # east of AFTER: not judged
    assert block.valid[2:-2, 2:30].all()
    inside = block.valid
    err = np.abs(block.data[:, inside] - before[:, inside]).mean()
    assert err < 0.05 * before.std()  # the same scene, back on BEFORE's grid


def write_truncated(path: Path) -> Path:
    """A valid tiled, DEFLATE GeoTIFF of 512 x 512 noise, cut to half its size."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4000, (3, 512, 512)).astype("uint16")
    write_tif(path, data, tiled=True, blocksize=256, compress="deflate")
    os.truncate(path, path.stat().st_size // 2)
    return path


def test_truncated_geotiff_opens_but_fails_to_read(tmp_path: Path) -> None:
    stack = open_image(write_truncated(tmp_path / "cut.tif"))  # the header is intact
    assert stack.grid.shape == (512, 512)
    with StackReader(stack, stack.grid) as r:
        r.read(Window(0, 0, 256, 256))  # the first tile is whole
        with pytest.raises(
            RasterReadError, match=r"cut\.tif: read failed at rows .*truncated"
        ) as e:
            r.read(Window(0, 256, 512, 256))
    # GDAL's own words, not rasterio's "see previous exception"
    assert "previous exception" not in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------- shared blocks


def _halo_windows(height: int, width: int, tile: int, halo: int) -> list[Window]:
    out = []
    for r in range(0, height, tile):
        for c in range(0, width, tile):
            r0, c0 = max(0, r - halo), max(0, c - halo)
            r1, c1 = min(height, r + tile + halo), min(width, c + tile + halo)
            out.append(Window(c0, r0, c1 - c0, r1 - r0))
    return out


@pytest.mark.parametrize(("dtype", "nodata"), [("uint16", 0), ("int16", -9999), ("float32", None)])
def test_shared_blocks_give_the_direct_reads_and_decode_each_block_once(
    tmp_path: Path, dtype: str, nodata: float | None
) -> None:
    data = textured((3, 300, 270), base=500, spread=100).astype(dtype)
    if nodata is not None:
        data[1, 130:140, 5:9] = nodata
    path = write_tif(tmp_path / "t.tif", data, nodata=nodata, tiled=True, blocksize=128)
    stack = open_image(path)
    windows = _halo_windows(300, 270, 100, 9)  # halos cross block edges
    shared = SharedBlocks(windows)
    got: dict[int, object] = {}

    def work(k: int) -> None:
        with StackReader(stack, stack.grid, shared=shared) as r:
            for i in range(k, len(windows), 3):
                got[i] = r.read(windows[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with StackReader(stack, stack.grid) as plain:
        for i, win in enumerate(windows):
            expected = plain.read(win)
            np.testing.assert_array_equal(got[i].data, expected.data)  # type: ignore[attr-defined]
            np.testing.assert_array_equal(got[i].valid, expected.valid)  # type: ignore[attr-defined]
    assert shared.decoded == 3 * 3  # every 128 px block of 300 x 270 once, none twice
    assert shared.held == 0  # all released after the last window that needed them


def test_shared_blocks_leave_unplanned_windows_and_small_blocks_to_direct_reads(
    tmp_path: Path,
) -> None:
    data = textured((2, 200, 200)).astype("uint16")
    tiled = open_image(write_tif(tmp_path / "t.tif", data, tiled=True, blocksize=128))
    striped = open_image(write_tif(tmp_path / "s.tif", data))  # strips of a few rows
    win = Window(10, 20, 150, 160)
    for stack, planned, decoded in ((tiled, [], 0), (striped, [win], 0), (tiled, [win], 4)):
        shared = SharedBlocks(planned)
        with StackReader(stack, stack.grid, shared=shared) as r:
            np.testing.assert_array_equal(r.read(win).data, data[:, 20:180, 10:160])
        assert shared.decoded == decoded


def test_shared_block_read_of_a_truncated_file_fails_cleanly(tmp_path: Path) -> None:
    stack = open_image(write_truncated(tmp_path / "cut.tif"))
    win = Window(0, 200, 512, 312)
    with StackReader(stack, stack.grid, shared=SharedBlocks([win])) as r:
        with pytest.raises(RasterReadError, match=r"cut\.tif: read failed at rows .*truncated"):
            r.read(win)
