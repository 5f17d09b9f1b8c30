"""The chi-square survival function behind the IR-MAD weights and p-values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from sitewatch.change.stats import chi2_sf

X = np.concatenate([np.linspace(0.0, 60.0, 2001), np.linspace(60.0, 1400.0, 301)])


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 6, 8, 2.5])
def test_matches_scipy_for_even_and_odd_dof(dof: float) -> None:
    expected = special.chdtrc(dof, X)
    got = chi2_sf(X, dof, np.float64)
    assert got.dtype == np.float64 and got.shape == X.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dof", [2, 4, 8])
def test_float32_values_are_scipys(dof: int) -> None:
    x = np.random.default_rng(dof).chisquare(dof, 20_000).astype(np.float32) * 3
    got = chi2_sf(x, dof)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, special.chdtrc(np.float64(dof), x).astype(np.float32))


@pytest.mark.parametrize("dof", [3, 4])
def test_special_values_as_scipy(dof: int) -> None:
    x = np.array([np.nan, -1.0, 0.0, np.inf])
    np.testing.assert_array_equal(chi2_sf(x, dof, np.float64), special.chdtrc(dof, x))


def test_even_dof_values_by_hand() -> None:
    # dof 4: exp(-x/2) (1 + x/2); at x = 2 that is 2 / e
    assert chi2_sf(np.array([0.0, 2.0]), 4, np.float64) == pytest.approx(
        [1.0, 2.0 / np.e], rel=1e-15
    )
