"""CVA: robust whitening, data-calibrated threshold, implanted change."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.change.base import PairSample
from sitewatch.change.cva import CVAMethod
from sitewatch.change.stats import robust_covariance
from sitewatch.errors import NoValidDataError


def sample_of(before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> PairSample:
    return PairSample([before], [after], [valid])


def _noise_pair(seed: int, n_bands: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = rng.normal(100.0, 10.0, size=(n_bands, 200, 200)).astype(np.float32)
    a = (b + 3.0 + rng.normal(0.0, 1.0, size=b.shape)).astype(np.float32)
    return b, a, np.ones((200, 200), bool)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_change_false_alarms_near_alpha(seed: int) -> None:
    b, a, v = _noise_pair(seed)
    p = CVAMethod().fit(sample_of(b, a, v)).score(b, a, v).p_value
    # cube-root Gaussian approximation of chi-square(4): close, not exact
    assert 0.005 <= float(np.mean(p < 0.01)) <= 0.02


@pytest.mark.parametrize("offset", [0.0, 50.0])
def test_implanted_change_found_and_offset_ignored(offset: float) -> None:
    b, a, v = _noise_pair(3)
    a += offset  # a global radiometric offset is not change
    a[:, 20:50, 30:60] += 8.0
    p = CVAMethod().fit(sample_of(b, a, v)).score(b, a, v).p_value
    patch = np.zeros(v.shape, bool)
    patch[20:50, 30:60] = True
    assert np.mean(p[patch] < 0.01) > 0.95
    assert np.mean(p[~patch] < 0.01) < 0.03


def test_robust_covariance_ignores_outliers() -> None:
    rng = np.random.default_rng(4)
    d = rng.normal(size=(20000, 3)) * [1.0, 2.0, 3.0]
    d[:2000] += 40.0  # 10% gross change
    centre, cov = robust_covariance(d)
    np.testing.assert_allclose(centre, 0.0, atol=0.1)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), [1.0, 2.0, 3.0], rtol=0.1)


def test_identical_images_raise() -> None:
    b, _a, v = _noise_pair(5)
    with pytest.raises(NoValidDataError):
        CVAMethod().fit(sample_of(b, b.copy(), v))


def test_nan_outside_valid() -> None:
    b, a, v = _noise_pair(6)
    v[:, :7] = False
    s = CVAMethod().fit(sample_of(b, a, v)).score(b, a, v)
    assert np.all(np.isnan(s.p_value[:, :7]))
    assert np.all(np.isfinite(s.p_value[:, 7:]))
