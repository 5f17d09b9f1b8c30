"""The chi-square survival function behind the IR-MAD no-change weights."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from sitewatch.change.stats import _chi2_sf

X = np.concatenate([np.linspace(0.0, 60.0, 2001), np.linspace(60.0, 1400.0, 301)])


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 6, 8])
def test_matches_scipy_for_even_and_odd_dof(dof: int) -> None:
    expected = special.chdtrc(dof, X)
    got = _chi2_sf(X, dof)
    assert got.dtype == np.float64 and got.shape == X.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


def test_even_dof_values_by_hand() -> None:
    # dof 4: exp(-x/2) (1 + x/2); at x = 2 that is 2 / e
    assert _chi2_sf(np.array([0.0, 2.0]), 4) == pytest.approx([1.0, 2.0 / np.e], rel=1e-15)
