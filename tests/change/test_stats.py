"""Shared statistics: the jitted IR-MAD moments and variates, bilinear resampling, the box mean."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.change import stats


@pytest.mark.parametrize("n", [1, 5, 127, 128, 129, 1000])
def test_weighted_moments_match_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    z = rng.normal(size=(n, 6)) * [1, 10, 100, 1e3, 1, 1] + 500
    w = rng.random(n) + 0.01
    mean, cov = stats._weighted_moments(np.ascontiguousarray(z.T), w)
    expected_mean = (w @ z) / w.sum()
    zc = z - expected_mean
    expected_cov = (zc * w[:, None]).T @ zc / w.sum()
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(cov, expected_cov, rtol=1e-9, atol=1e-9 * np.abs(expected_cov).max())
    np.testing.assert_array_equal(cov, cov.T)


def test_mad_variates_and_chi2_match_the_matrix_products() -> None:
    rng = np.random.default_rng(3)
    zt = np.ascontiguousarray(rng.normal(size=(8, 301)))
    mean = rng.normal(size=8)
    ab = rng.normal(size=(8, 4))
    var = rng.random(4) + 0.1
    expected = ab.T @ (zt - mean[:, None])
    np.testing.assert_allclose(stats._mad_variates(zt, mean, ab), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        stats._mad_chi2(zt, mean, ab, var), ((expected**2) / var[:, None]).sum(axis=0), rtol=1e-12
    )


@pytest.mark.parametrize("mode", ["constant", "nearest"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (9, 1), (23, 31)])
def test_bilinear_grid_equals_ndimage_bit_for_bit(mode: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    img = (rng.normal(size=shape) * 1e3).astype(np.float32)
    # inside, on the edges, just outside and far outside; integer and fractional positions
    rows = np.concatenate(
        [np.arange(shape[0]) - 0.35, [-3.0, -0.5, 0.0, shape[0] - 1.0, shape[0] - 0.7]]
    )
    cols = np.concatenate([np.arange(shape[1]) + 1.6, [-1.25, 0.0, shape[1] - 1.0, shape[1] + 2.0]])
    coords = np.stack(np.meshgrid(rows, cols, indexing="ij"))
    expected = ndi.map_coordinates(img, coords, order=1, mode=mode, cval=0.0)
    got = stats.bilinear_grid(img, rows, cols, mode=mode)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize(("dy", "dx"), [(0.35, -1.2), (-2.0, 0.05), (7.5, 3.0)])
def test_bilinear_grid_is_ndimage_shift(dy: float, dx: float) -> None:
    img = np.random.default_rng(1).normal(size=(17, 12)).astype(np.float32)
    got = stats.bilinear_grid(img, np.arange(17) - dy, np.arange(12) - dx)
    expected = ndi.shift(img, (dy, dx), order=1, mode="constant", cval=0.0)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


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


@pytest.mark.parametrize(
    ("n_true", "limit", "expected"), [(10, 100, 10), (1000, 100, 100), (1050, 100, 105)]
)
def test_strided_indices_keep_about_limit_evenly(n_true: int, limit: int, expected: int) -> None:
    mask = np.zeros((60, 50), bool)
    mask.ravel()[np.arange(n_true) * 2] = True
    at = stats.strided_indices(mask, limit)
    assert at.size == expected
    assert mask.ravel()[at].all()
    assert np.unique(np.diff(at)).size == 1  # evenly spaced in the mask's order
