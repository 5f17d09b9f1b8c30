"""IR-MAD: calibrated chi-square p-values and detection of an implanted change."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from sitewatch.change.base import PairSample
from sitewatch.change.irmad import IRMADMethod
from sitewatch.change.stats import canonical_pairs, fit_irmad
from sitewatch.errors import NoValidDataError


def correlated_pair(
    seed: int, n_bands: int = 4, shape: tuple[int, int] = (200, 200), noise: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two dates of the same random scene: a linear mix of the first plus noise (no change)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(n_bands, n_bands))
    scene = rng.normal(size=(n_bands, *shape))
    before = np.tensordot(mix, scene, axes=1) + 100.0
    gain = rng.uniform(0.5, 2.0, size=(n_bands, 1, 1))
    after = gain * before + 7.0 + noise * rng.normal(size=before.shape)
    valid = np.ones(shape, bool)
    return before.astype(np.float32), after.astype(np.float32), valid


def sample_of(
    before: np.ndarray, after: np.ndarray, valid: np.ndarray, pixel_size_m: float | None = None
) -> PairSample:
    """The whole pair as one block."""
    return PairSample([before], [after], [valid], pixel_size_m=pixel_size_m)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bands", [3, 4, 6])
@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_false_alarm_rate_on_no_change_is_alpha(seed: int, n_bands: int, alpha: float) -> None:
    b, a, v = correlated_pair(seed, n_bands, shape=(300, 300))
    p = IRMADMethod().fit(sample_of(b, a, v)).score(b, a, v).p_value
    rate = float(np.mean(p < alpha))
    assert alpha / 1.5 <= rate <= alpha * 1.5


@pytest.mark.parametrize("seed", [3, 4])
def test_p_values_are_uniform_on_no_change(seed: int) -> None:
    b, a, v = correlated_pair(seed, 4, shape=(300, 300))
    p = IRMADMethod().fit(sample_of(b, a, v)).score(b, a, v).p_value.ravel()
    deciles = np.histogram(p, bins=10, range=(0.0, 1.0))[0] / p.size
    assert np.all(np.abs(deciles - 0.1) < 0.01)


def test_textbook_weighting_is_miscalibrated_but_ours_is_not() -> None:
    # the finding: variances taken with chi-square weights shrink
    b, a, v = correlated_pair(5, 4, shape=(250, 250))
    x = b.reshape(4, -1).T.astype(np.float64)
    y = a.reshape(4, -1).T.astype(np.float64)
    w = np.ones(x.shape[0])
    chi = np.zeros(x.shape[0])
    for _ in range(16):
        mx, my, ca, cb, _rho = canonical_pairs(x, y, w)
        m = (x - mx) @ ca - (y - my) @ cb
        mean = (w @ m) / w.sum()
        var = (w @ (m - mean) ** 2) / w.sum()
        chi = np.sum((m - mean) ** 2 / var, axis=1)
        w = special.chdtrc(4, chi)
    textbook = np.mean(special.chdtrc(4, chi) < 0.01)
    t = fit_irmad(x, y)
    ours = np.mean(special.chdtrc(4, np.sum(t.variates(x, y) ** 2, axis=1)) < 0.01)
    assert textbook > 0.05
    assert 0.01 / 1.5 <= ours <= 0.015


@pytest.mark.parametrize("shift", [3.0, 5.0])
def test_implanted_change_is_found(shift: float) -> None:
    b, a, v = correlated_pair(6, 4, shape=(200, 200))
    a[:, 50:80, 60:100] += shift * a.std(axis=(1, 2), keepdims=True)
    p = IRMADMethod().fit(sample_of(b, a, v)).score(b, a, v).p_value
    patch = np.zeros(v.shape, bool)
    patch[50:80, 60:100] = True
    assert np.mean(p[patch] < 0.01) > 0.95
    assert np.mean(p[~patch] < 0.01) < 0.02


def test_invalid_pixels_get_nan_and_tiles_match_whole() -> None:
    b, a, v = correlated_pair(7, 4, shape=(120, 90))
    v[:10] = False
    fitted = IRMADMethod().fit(sample_of(b, a, v))
    whole = fitted.score(b, a, v).p_value
    assert np.all(np.isnan(whole[:10]))
    tile = fitted.score(b[:, 40:80, 20:60], a[:, 40:80, 20:60], v[40:80, 20:60]).p_value
    np.testing.assert_allclose(tile, whole[40:80, 20:60], rtol=1e-5)


@pytest.mark.parametrize("which", ["before", "after"])
def test_constant_image_raises(which: str) -> None:
    b, a, v = correlated_pair(8, 3, shape=(50, 50))
    if which == "before":
        b[:] = 5.0
    else:
        a[:] = 5.0
    with pytest.raises(NoValidDataError, match=which):
        IRMADMethod().fit(sample_of(b, a, v))


def test_too_few_valid_pixels_raises() -> None:
    b, a, v = correlated_pair(9, 3, shape=(50, 50))
    v[:] = False
    v[0, :5] = True
    with pytest.raises(NoValidDataError, match="valid pixels"):
        IRMADMethod().fit(sample_of(b, a, v))
