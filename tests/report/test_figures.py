from __future__ import annotations

import dataclasses
import io

import matplotlib.image
import numpy as np
import pytest
from affine import Affine
from reportkit import DATES, build_inputs, site_and_grid

from sitewatch.errors import InputError
from sitewatch.models import StatusPoint
from sitewatch.report.figures import mask_edges, nice_length, png_bytes, site_map_png, timeline_png
from sitewatch.sites import zones_on_grid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decode(data: bytes) -> np.ndarray:
    assert data.startswith(PNG_SIGNATURE)
    return matplotlib.image.imread(io.BytesIO(data), format="png")


def test_png_bytes_round_trips() -> None:
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[2, 3] = (255, 0, 255)
    back = _decode(png_bytes(rgb))
    assert back.shape[:2] == (5, 7)
    assert np.round(back[2, 3, :3] * 255).tolist() == [255, 0, 255]


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)])
def test_png_bytes_rejects_non_rgb8(bad: np.ndarray) -> None:
    with pytest.raises(InputError, match="rgb: array"):
        png_bytes(bad)


@pytest.mark.parametrize(
    ("target", "expected"), [(1234.0, 1000.0), (260.0, 200.0), (7.0, 5.0), (0.3, 0.2), (50.0, 50.0)]
)
def test_nice_length(target: float, expected: float) -> None:
    assert nice_length(target) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan")])
def test_nice_length_rejects_non_positive(bad: float) -> None:
    with pytest.raises(InputError, match="target"):
        nice_length(bad)


def test_mask_edges_trace_pixel_borders() -> None:
    one = mask_edges(np.ones((1, 1), bool), offset=(2, 3))
    assert one.shape == (4, 2, 2)
    xs, ys = one[..., 0], one[..., 1]
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (3, 4, 2, 3)
    ell = np.array([[1, 0], [1, 1]], bool)  # an L of three pixels: perimeter 8 edges
    assert mask_edges(ell).shape == (8, 2, 2)
    assert mask_edges(np.zeros((3, 3), bool)).shape == (0, 2, 2)


def test_site_map_png_draws_an_image() -> None:
    inputs = build_inputs()
    grid, site = inputs.grid, inputs.site
    rgb = np.full((*grid.shape, 3), 90, np.uint8)
    data = site_map_png(rgb, grid.transform, zones_on_grid(site, grid), inputs.events, title="t")
    img = _decode(data)
    assert img.shape[1] > 500 and img.shape[0] > 500
    assert img[..., :3].std() > 0.05  # outlines, labels and the bar, not a blank canvas


def test_site_map_png_rejects_a_rotated_grid() -> None:
    grid, _ = site_and_grid()
    rotated = Affine(10.0, 1.0, grid.transform.c, 0.0, -10.0, grid.transform.f)
    with pytest.raises(InputError, match="not north-up"):
        site_map_png(np.zeros((*grid.shape, 3), np.uint8), rotated, {}, [])


def test_timeline_png_with_and_without_extras() -> None:
    inputs = build_inputs()
    full = timeline_png(
        inputs.timeline, inputs.site.zone_names, inputs.events, inputs.assessment.history,
        inputs.site.context_events,
    )  # fmt: skip
    site_rows = [r for r in inputs.timeline if r.zone == "_site"]
    bare = timeline_png(site_rows, (), [], [StatusPoint(DATES[0], "quiet", 0)], ())
    # one panel per zone plus the whole site: the full figure is taller
    assert _decode(full).shape[0] > _decode(bare).shape[0]


def test_timeline_png_draws_radar_dates_as_their_own_line() -> None:
    inputs = build_inputs()
    site_rows = [r for r in inputs.timeline if r.zone == "_site"]
    radar = [dataclasses.replace(r, sensor="sar", activity_index=0.5) for r in site_rows]
    history = inputs.assessment.history
    optical_only = _decode(timeline_png(site_rows, (), [], history, ()))
    both = _decode(timeline_png(site_rows + radar, (), [], history, ()))
    assert both.shape == optical_only.shape
    assert not np.array_equal(both, optical_only)


def test_timeline_png_needs_dates() -> None:
    with pytest.raises(InputError, match="rows, history"):
        timeline_png([], [], [], [], [])
