"""Region-level significance of change decisions (``sitewatch.change.regions``)."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.change.regions import region_alpha, significant_regions


def test_region_alpha_is_bonferroni_over_windows() -> None:
    assert region_alpha(0.01, 10_000, 25) == 0.01 / 400
    assert region_alpha(0.01, 10, 25) == 0.01  # never above alpha


def test_weak_blob_dropped_strong_blob_kept() -> None:
    p = np.full((40, 40), 0.5)
    p[2:8, 2:8] = 0.003  # passes alpha, not the region level
    p[20:26, 20:26] = 0.003
    p[22, 22] = 1e-9  # one strong pixel makes the region significant
    p[0, 39] = np.nan
    judged = np.isfinite(p)
    out = significant_regions(p, judged, 0.01, 25)
    assert not out[2:8, 2:8].any()
    assert out[20:26, 20:26].all()
    assert out.sum() == 36


def test_nothing_below_alpha() -> None:
    p = np.full((10, 10), 0.5)
    assert not significant_regions(p, np.ones_like(p, bool), 0.01, 25).any()


def test_series_alpha_divides_by_windows_and_dates() -> None:
    from sitewatch.change.regions import region_alpha, series_alpha

    assert series_alpha(0.01, 10_000, 25, 40) == pytest.approx(region_alpha(0.01, 10_000, 25) / 40)


def test_strong_regions_need_a_significant_median_not_one_extreme_pixel() -> None:
    from sitewatch.change.regions import strong_regions

    p = np.full((20, 20), 0.5)
    p[2:6, 2:6] = 1e-12  # a real change: every pixel strong
    p[10:16, 10:16] = 1e-3
    p[12, 12] = 1e-30  # smoothed noise around one extreme pixel
    regions = p < 0.01
    kept = strong_regions(regions, p, 1e-8)
    assert kept[2:6, 2:6].all() and not kept[10:16, 10:16].any()
