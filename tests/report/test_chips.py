from __future__ import annotations

import numpy as np
import pytest
from reportkit import DATES, site_and_grid, square_event

from sitewatch.errors import InputError
from sitewatch.report.chips import (
    NODATA_RGB,
    OUTLINE_RGB,
    CropWindow,
    apply_stretch,
    chip_pair,
    crop_window,
    fit_stretch,
    footprint_in,
    grey_rgb,
)


def _flat(h: int, w: int, value: float) -> np.ndarray:
    return np.full((h, w, 3), value, np.float32)


def test_fit_stretch_pools_all_images_and_survives_empty_channels() -> None:
    dark, bright = _flat(4, 4, 0.1), _flat(4, 4, 0.5)
    dark[..., 2] = np.nan
    bright[..., 2] = np.nan
    s = fit_stretch(dark, bright, low=0.0, high=100.0)
    assert s.lo[:2] == (pytest.approx(0.1), pytest.approx(0.1))
    assert s.hi[:2] == (pytest.approx(0.5), pytest.approx(0.5))
    assert (s.lo[2], s.hi[2]) == (0.0, 1.0)


@pytest.mark.parametrize(("low", "high"), [(50.0, 50.0), (-1.0, 98.0), (2.0, 101.0)])
def test_fit_stretch_rejects_bad_percentiles(low: float, high: float) -> None:
    with pytest.raises(InputError, match="low, high"):
        fit_stretch(_flat(2, 2, 0.1), low=low, high=high)


def test_apply_stretch_clips_and_greys_out_invalid_pixels() -> None:
    img = np.array([[[0.0, 0.5, 2.0], [np.nan, 0.2, 0.2]]], np.float32)
    out = apply_stretch(img, fit_stretch(_flat(1, 1, 0.0), _flat(1, 1, 1.0), low=0, high=100))
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [0, 128, 255]
    assert out[0, 1].tolist() == list(NODATA_RGB)


@pytest.mark.parametrize(
    ("offset", "size", "expected"),
    [
        ((40, 40), (4, 4), CropWindow(26, 58, 26, 58)),  # min side 32 around the centre
        ((40, 40), (20, 10), CropWindow(20, 80, 20, 70)),  # margin = larger side
        ((0, 0), (4, 4), CropWindow(0, 18, 0, 18)),  # clipped at the top-left corner
        ((95, 90), (10, 20), CropWindow(75, 100, 70, 100)),  # footprint runs off the grid
        ((300, 300), (4, 4), CropWindow(286, 100, 286, 100)),  # wholly off the grid: empty
    ],
)
def test_crop_window_margin_and_clipping(
    offset: tuple[int, int], size: tuple[int, int], expected: CropWindow
) -> None:
    w = crop_window(offset, size, (100, 100))
    assert w == expected
    assert w.empty == (offset == (300, 300))


@pytest.mark.parametrize(("size", "margin"), [((0, 3), None), ((3, 3), -1)])
def test_crop_window_rejects_bad_sizes(size: tuple[int, int], margin: int | None) -> None:
    with pytest.raises(InputError, match="size|margin_px"):
        crop_window((0, 0), size, (10, 10), margin)


def test_footprint_in_drops_the_part_outside_the_window() -> None:
    grid, _ = site_and_grid()
    e = square_event("e1", (2, 2), 4, grid)
    f = footprint_in(e, CropWindow(4, 10, 0, 10))
    assert f.shape == (6, 10)
    assert f.sum() == 2 * 4  # rows 4 and 5 of the 4 x 4 square
    assert f[:2, 2:6].all()


def test_chip_pair_shares_one_stretch_and_outlines_outside_the_footprint() -> None:
    grid, _ = site_and_grid()
    e = square_event("e1", (40, 30), 4, grid)
    h, w = grid.shape
    before = _flat(h, w, 0.1)
    after = before.copy()
    after[40:44, 30:34] = 0.5
    pair = chip_pair(e, before, after)
    assert pair.before is not None and pair.after is not None
    b, a = pair.before.rgb, pair.after.rgb
    assert b.shape == a.shape and b.shape[0] == pair.window.shape[0] * pair.scale
    ring_b, ring_a = (b == OUTLINE_RGB).all(-1), (a == OUTLINE_RGB).all(-1)
    assert ring_b.any() and (ring_a == ring_b).all()
    # One stretch: the unchanged ground looks the same on both sides; only the square differs.
    differ = (a != b).any(-1)
    s = pair.scale
    r0, c0 = (40 - pair.window.row0) * s, (30 - pair.window.col0) * s
    assert differ[r0 : r0 + 4 * s, c0 : c0 + 4 * s].all()
    differ[r0 : r0 + 4 * s, c0 : c0 + 4 * s] = False
    assert not differ.any()
    assert pair.before.valid_fraction == 1.0
    window = (slice(pair.window.row0, pair.window.row1), slice(pair.window.col0, pair.window.col1))
    assert pair.stretch == fit_stretch(before[window], after[window])


@pytest.mark.parametrize("offset", [(0, 0), (86, 68), (-2, -3)])
def test_chip_pair_near_or_across_the_edge_is_clipped(offset: tuple[int, int]) -> None:
    grid, _ = site_and_grid()
    e = square_event("e1", offset, 4, grid)
    img = _flat(*grid.shape, 0.2)
    pair = chip_pair(e, img, img)
    assert pair.after is not None
    assert pair.after.rgb.shape[0] < 32 * pair.scale  # smaller than an unclipped chip
    assert (pair.after.rgb == OUTLINE_RGB).all(-1).any()


def test_chip_pair_off_the_grid_or_missing_image_gives_no_chip() -> None:
    grid, _ = site_and_grid()
    img = _flat(*grid.shape, 0.2)
    off = chip_pair(square_event("e1", (500, 500), 4, grid), img, img)
    assert off.before is None and off.after is None and off.window.empty
    assert off.stretch is None
    first = chip_pair(square_event("e2", (10, 10), 4, grid, last_unchanged=None), None, img)
    assert first.before is None and first.after is not None


def test_chip_pair_rejects_an_image_of_another_grid() -> None:
    grid, _ = site_and_grid()
    e = square_event("e1", (10, 10), 4, grid, first_seen=DATES[1])
    with pytest.raises(InputError, match="after: image of shape"):
        chip_pair(e, None, _flat(10, 10, 0.1))


def test_grey_rgb_repeats_one_layer_and_keeps_nan() -> None:
    layer = np.array([[-12.0, np.nan]], np.float32)
    rgb = grey_rgb(layer)
    assert rgb.shape == (1, 2, 3)
    assert rgb[0, 0].tolist() == [-12.0, -12.0, -12.0] and np.isnan(rgb[0, 1]).all()
    with pytest.raises(InputError, match="layer: array of shape \\(1, 2, 3\\)"):
        grey_rgb(rgb)
