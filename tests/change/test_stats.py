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
