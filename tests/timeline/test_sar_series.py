import numpy as np
import pytest
from scipy import special

from sitewatch.errors import InputError
from sitewatch.timeline.sar_series import SarReference, _combine_bands, sequential_pvalue

L = 4.4


@pytest.mark.parametrize("n", [1, 4, 12])
def test_sequential_pvalue_is_uniform_under_no_change(n: int) -> None:
    rng = np.random.default_rng(n)
    total = rng.gamma(L * n, 1 / L, 200_000)
    x = rng.gamma(L, 1 / L, 200_000)
    p = sequential_pvalue(x, total, np.full(x.shape, n), L)
    for alpha in (0.01, 0.1):
        assert abs(float(np.mean(p < alpha)) - alpha) < 4 * np.sqrt(alpha / 200_000) + 1e-3


def test_sequential_pvalue_is_nan_without_history() -> None:
    p = sequential_pvalue(np.ones(3), np.zeros(3), np.zeros(3), L)
    assert np.isnan(p).all()


def _series(rng: np.random.Generator, t: int, shape: tuple[int, int]) -> np.ndarray:
    return rng.gamma(L, 1 / L, (2, *shape)).astype(np.float32)


def test_reference_false_alarms_near_alpha_and_change_found() -> None:
    rng = np.random.default_rng(0)
    shape = (120, 120)
    ref = SarReference.empty(2, shape, (L, L))
    valid = np.ones(shape, bool)
    none = np.zeros(shape, bool)
    rates = []
    for t in range(6):
        x = _series(rng, t, shape)
        p = ref.compare(x, valid)
        if t:
            rates.append(float(np.mean(p < 0.01)))
        ref = ref.update(x, valid, none)
    assert 0.005 < np.mean(rates) < 0.02
    x = _series(rng, 6, shape)
    x[:, 40:60, 40:60] *= 10.0  # a new structure: +10 dB
    p = ref.compare(x, valid)
    assert np.mean(p[42:58, 42:58] < 0.01) > 0.95
    assert ref.signed_change(x)[50, 50] > 5.0


def test_held_pixels_keep_history_and_restart_when_released() -> None:
    shape = (4, 4)
    ref = SarReference.empty(1, shape, (L,), vote=False)
    valid = np.ones(shape, bool)
    hold = np.zeros(shape, bool)
    ref = ref.update(np.ones((1, *shape)), valid, hold)
    hold[0, 0] = True
    ref = ref.update(np.full((1, *shape), 9.0), valid, hold)  # held: not pooled
    assert ref.count[0, 0] == 1 and ref.total[0, 0, 0] == 1.0
    assert ref.count[1, 1] == 2
    ref = ref.update(np.full((1, *shape), 5.0), valid, np.zeros(shape, bool))
    assert ref.count[0, 0] == 1 and ref.total[0, 0, 0] == 5.0  # restarted


def test_empty_rejects_bad_enl() -> None:
    with pytest.raises(InputError, match="enl"):
        SarReference.empty(2, (3, 3), (4.4,))


def test_band_combination_matches_the_chi_square_quantiles() -> None:
    rng = np.random.default_rng(3)
    p1, p2 = rng.uniform(0, 1, 500) ** 6, rng.uniform(0, 1, 500)
    p1[:3] = [0.0, 1.0, 1e-300]
    want = special.chdtrc(2.0, special.chdtri(1.0, p1) + special.chdtri(1.0, p2))
    np.testing.assert_allclose(_combine_bands([p1, p2]), want, rtol=1e-10, atol=0)
