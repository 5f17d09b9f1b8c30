"""Shared statistics: the row-chunked thin matrix product IR-MAD iterates with."""

from __future__ import annotations

import numpy as np
import pytest

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
