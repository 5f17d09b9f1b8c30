"""Rendering: radiometry, clouds, coverage and misregistration of small scenes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from skimage.registration import phase_cross_correlation

from sitewatch.sim.render import CLEAR, CLOUD, NODATA, footprint_mask, render_scene, scene_masks
from sitewatch.sim.scenarios import Scenario, build_scenario


def cloud_shares(s: Scenario) -> np.ndarray:
    return np.array([(scene_masks(s, i) == CLOUD).mean() for i in range(len(s.dates))])


def clear_skies(s: Scenario) -> Scenario:
    """The scenario with every nuisance but drift, noise, haze and shift switched off."""
    acqs = tuple(
        replace(
            a, cloud_cover=0.0, cloud_patches=(), coverage_edge=None, snow=0.0, crs=s.layout.crs
        )
        for a in s.acquisitions
    )
    return replace(s, acquisitions=acqs)


def test_scene_is_four_band_uint16_on_the_utm_grid() -> None:
    s = build_scenario("sohae-2019", seed=7, size=64)
    i = next(k for k, a in enumerate(s.acquisitions) if a.crs == s.layout.crs)
    data, transform, crs, mask = render_scene(s, i)
    assert data.shape == (4, 64, 64) and data.dtype == np.uint16
    assert crs == "EPSG:32651" and transform.a == 3.0 and transform.e == -3.0
    assert mask.shape == (64, 64) and mask.dtype == np.uint8
    valid = mask != NODATA
    assert (data[:, valid] > 0).all()  # 0 is kept for nodata
    assert (data[:, ~valid] == 0).all()


def test_cloud_fractions_vary_and_cloudy_is_cloudier() -> None:
    sohae = cloud_shares(build_scenario("sohae-2019", seed=7, size=64))
    cloudy = cloud_shares(build_scenario("cloudy", seed=7, size=64))
    assert (sohae == 0).any() and (sohae > 0.2).any()
    assert sohae.std() > 0.1
    assert cloudy.mean() > sohae.mean() + 0.15
    assert (cloudy > 0.9).sum() > (sohae > 0.9).sum()


def test_clouds_are_bright_and_soft_edged() -> None:
    s = build_scenario("cloudy", seed=2, size=96)
    i = next(
        k
        for k, a in enumerate(s.acquisitions)
        if 0.3 < a.cloud_cover < 0.7 and a.crs == s.layout.crs
    )
    data, _, _, mask = render_scene(s, i)
    blue = data[0].astype(float)
    cloud, clear = mask == CLOUD, mask == CLEAR
    assert np.median(blue[cloud]) > 2 * np.median(blue[clear])
    # soft edges: a range of intermediate brightness between clear ground and cloud core
    mid = (blue > np.percentile(blue[clear], 95)) & (blue < np.percentile(blue[cloud], 50))
    assert mid.mean() > 0.02


def test_partial_coverage_leaves_nodata_beyond_the_scene_edge() -> None:
    s = build_scenario("sohae-2019", seed=7, size=64)
    a = replace(s.acquisitions[0], coverage_edge=(0.0, 0.0), crs=s.layout.crs)  # east half gone
    s2 = replace(s, acquisitions=(a, *s.acquisitions[1:]))
    data, _, _, mask = render_scene(s2, 0)
    assert (mask[:, 40:] == NODATA).all() and (mask[:, :24] != NODATA).all()
    assert (data[:, :, 40:] == 0).all()


def test_lasting_changes_are_clearly_visible() -> None:
    s = clear_skies(build_scenario("sohae-2019", seed=7, size=256))
    for e in s.events:
        if e.kind == "transient":
            continue
        before = max(i for i, d in enumerate(s.dates) if d < e.onset)
        after = min(i for i, d in enumerate(s.dates) if d >= e.onset)
        a = render_scene(s, before).data.astype(float)
        b = render_scene(s, after).data.astype(float)
        foot = footprint_mask(s.layout, e.geometry.buffer(-3.0))
        diff = np.abs(b - a)[:, foot].mean(axis=1).max()
        background = np.abs(b - a)[:, ~footprint_mask(s.layout, e.geometry.buffer(30))]
        assert diff > 400, (e.event_id, e.label, diff)
        assert diff > 4 * np.median(background), e.event_id


@pytest.mark.parametrize("name", ["quiet", "misregistered"])
def test_misregistration_matches_the_scenario(name: str) -> None:
    s = build_scenario(name, seed=4, size=128)
    ok = [
        i for i, a in enumerate(s.acquisitions)
        if a.cloud_cover == 0 and not a.cloud_patches and a.coverage_edge is None
        and a.crs == s.layout.crs and a.snow == 0
    ]  # fmt: skip
    assert len(ok) >= 2
    i, j = ok[0], ok[1]
    a = render_scene(s, i).data.astype(float).sum(axis=0)
    b = render_scene(s, j).data.astype(float).sum(axis=0)
    measured, _, _ = phase_cross_correlation(a, b, upsample_factor=50)
    # the shift that registers j onto i undoes j's displacement relative to i
    expected = np.subtract(s.acquisitions[i].shift_px, s.acquisitions[j].shift_px)
    assert np.abs(measured - expected).max() < 0.2, (measured, expected)


def test_rasterised_polygons_keep_their_area() -> None:
    from sitewatch.sim.layout import build_layout, rectangle
    from sitewatch.sim.render import _convex_coverage, _grid

    layout = build_layout(64, 3.0)
    g = _grid(layout, 0)
    cx, cy = layout.centre
    # (corners of small, rotated shapes are slightly generous: a one-pixel soft edge)
    for w, h, angle, tol in ((30.0, 18.0, 0.0, 0.03), (40.0, 12.0, 30.0, 0.05), (9, 9, 45, 0.1)):
        cov = _convex_coverage(g, np.asarray(rectangle(cx + 1.3, cy - 0.7, w, h, angle)))
        assert cov is not None
        assert cov[1].sum() * 9.0 == pytest.approx(w * h, rel=tol)
