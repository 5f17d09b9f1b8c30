"""Shared statistics: the row-chunked thin matrix product IR-MAD iterates with, the box mean."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.change import stats


@pytest.mark.parametrize("rows", [2, 5, 11, 1 << 20])
def test_thin_matmul_equals_matmul_bit_for_bit(monkeypatch, rows: int) -> None:
    monkeypatch.setattr(stats, "_THIN_ROWS", rows)
    rng = np.random.default_rng(rows)
    x = rng.normal(size=(23, 4)) * 1000 + 50  # 23 = 2 * 11 + 1: a one-row remainder
    m = rng.normal(size=(4, 3))
    got = stats._thin_matmul(x, m)
    assert got.shape == (23, 3) and got.dtype == np.float64
    np.testing.assert_array_equal(got, x @ m)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (5, 9), (37, 53)])
@pytest.mark.parametrize("r", [1, 2, 5])
def test_box_mean_matches_uniform_filter(shape: tuple[int, int], r: int) -> None:
    rng = np.random.default_rng(r)
    x = (rng.normal(size=shape) * 10 + 100).astype(np.float32)
    expected = ndi.uniform_filter(x, 2 * r + 1, mode="nearest")
    got = stats.box_mean(x, r)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_grow_pvalue_known_answer() -> None:
    p = np.full((11, 16), 0.9, np.float32)
    p[5, 2] = 1e-4  # the seed
    p[5, 3:14] = 0.05  # a line of weak evidence, significant at 10 * 0.01 only
    q = stats.grow_pvalue(p, 4, 10.0)
    assert q.dtype == np.float32
    # four steps of the line join the seed, at max(p / ratio, seed) = 0.005
    np.testing.assert_allclose(q[5, 3:7], 0.005)
    assert q[5, 2] == pytest.approx(1e-4)
    # the fifth step is out of reach; strong-evidence-free pixels keep their value or p / ratio
    assert q[5, 7] == pytest.approx(0.05)
    assert q[4, 2] == pytest.approx(0.09)
    decided = q <= 0.01
    assert decided.sum() == 5
    np.testing.assert_array_equal(stats.grow_pvalue(p, 0, 10.0), p)


@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05])
@pytest.mark.parametrize(("radius", "ratio"), [(1, 4.0), (3, 10.0), (6, 20.0)])
def test_grow_pvalue_is_seeded_region_growing(alpha: float, radius: int, ratio: float) -> None:
    rng = np.random.default_rng(radius)
    p = (rng.uniform(size=(50, 60)) ** 3).astype(np.float32)  # many small values, clustered
    p = ndi.minimum_filter(p, 3)
    p[rng.uniform(size=p.shape) < 0.05] = np.nan
    q = stats.grow_pvalue(p, radius, ratio)
    judged = ~np.isnan(p)
    strict = judged & (p <= alpha)
    loose = judged & (p <= ratio * alpha)
    expected = (
        ndi.binary_dilation(strict, np.ones((3, 3), bool), iterations=radius, mask=loose) | strict
    )
    np.testing.assert_array_equal(judged & (q <= alpha), expected)
    np.testing.assert_array_equal(np.isnan(q), ~judged)
    assert np.all(q[judged] >= p[judged] / ratio) and np.all(q[judged] <= p[judged])


def test_grow_pvalue_does_not_cross_unjudged_pixels_and_is_local() -> None:
    p = np.full((9, 20), 0.05, np.float32)
    p[:, 8] = np.nan  # a wall of unjudged pixels
    p[4, 5] = 1e-5
    q = stats.grow_pvalue(p, 10, 10.0)
    assert np.all(q[:, :8] <= 0.01)
    assert np.all(q[:, 9:] == pytest.approx(0.05))
    rng = np.random.default_rng(3)
    r = rng.uniform(size=(40, 40)).astype(np.float32) ** 4
    whole = stats.grow_pvalue(r, 3, 10.0)
    np.testing.assert_array_equal(
        stats.grow_pvalue(r[5:35, 5:35], 3, 10.0)[3:-3, 3:-3], whole[8:32, 8:32]
    )
