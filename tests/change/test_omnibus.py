import numpy as np
import pytest

from sitewatch.change.omnibus import (
    corrected_chi2_sf,
    omnibus_rho_omega2,
    omnibus_test,
)
from sitewatch.change.sar import log_q_equal_means, pair_pvalue
from sitewatch.errors import InputError


def gamma_series(
    rng: np.random.Generator, k: int, enl: float, shape: tuple[int, ...], mean: float = 1.0
) -> np.ndarray:
    """``k`` dates of unit-mean ``enl``-look intensities of ``shape``."""
    return (rng.standard_gamma(enl, (k, *shape)) * (mean / enl)).astype(np.float32)


@pytest.mark.parametrize("bands", [1, 2])
@pytest.mark.parametrize("k", [2, 5, 12])
def test_no_change_p_values_are_uniform(bands: int, k: int) -> None:
    rng = np.random.default_rng(k * 10 + bands)
    n = 40_000
    x = gamma_series(rng, k, 4.4, (bands, 1, n))
    res = omnibus_test(x, 4.4, alpha=0.05)
    for p in (res.p_value.ravel(), res.step_p_values.ravel()):
        # deciles of a uniform: binomial sd of a 0.1 share is ~0.0015 here
        shares = np.histogram(p, bins=10, range=(0, 1))[0] / p.size
        assert np.abs(shares - 0.1).max() < 0.01
    share = float((res.p_value < 0.05).mean())
    assert abs(share - 0.05) < 0.006
    # a first change needs the omnibus test to reject too: at most alpha
    first = float((res.first_change >= 0).mean())
    assert first <= share
    assert first > 0.5 * 0.05


def test_omnibus_statistic_is_the_k_date_likelihood_ratio() -> None:
    rng = np.random.default_rng(3)
    k, enl = 6, 4.4
    x = gamma_series(rng, k, enl, (1, 8, 9)).astype(np.float64)
    res = omnibus_test(x, enl)
    rho, omega2 = omnibus_rho_omega2(k, enl)
    stat = -2.0 * rho * log_q_equal_means(list(x[:, 0]), enl)
    expected = corrected_chi2_sf(stat, k - 1.0, omega2)
    np.testing.assert_allclose(res.p_value, expected, rtol=1e-5, atol=1e-7)


def test_two_dates_agree_with_the_exact_f_test() -> None:
    rng = np.random.default_rng(4)
    x = gamma_series(rng, 2, 10.0, (1, 2000)).astype(np.float64)
    res = omnibus_test(x, 10.0)
    np.testing.assert_allclose(res.p_value[0], pair_pvalue(x[0], x[1], 10.0)[0], atol=1e-5)
    np.testing.assert_array_equal(res.step_p_values[0], res.p_value)


@pytest.mark.parametrize("j", [1, 3, 5])
def test_a_change_is_found_at_its_date(j: int) -> None:
    rng = np.random.default_rng(j)
    k, enl = 7, 10.0
    x = gamma_series(rng, k, enl, (40, 50))
    x[j:, 10:30, 10:40] *= 8.0  # a new bright structure from date j on
    res = omnibus_test(x, enl, alpha=0.01)
    inside = res.first_change[10:30, 10:40]
    assert (inside >= 0).mean() > 0.9
    # an omnibus rejection lets any earlier step reject by chance (alpha each)
    assert (inside[inside >= 0] == j).mean() > 0.95
    assert (res.first_change[30:] >= 0).mean() < 0.02
    # after a chance rejection before j, the restart still finds the change at j
    assert res.changes[j - 1, 10:30, 10:40].mean() > 0.9
    assert np.delete(res.changes, j - 1, axis=0)[:, 10:30, 10:40].mean() < 0.02


def test_restart_finds_a_second_change() -> None:
    rng = np.random.default_rng(8)
    x = gamma_series(rng, 8, 10.0, (30, 30))
    x[2:] *= 10.0  # built at date 2 ...
    x[6:] /= 10.0  # ... removed at date 6
    res = omnibus_test(x, 10.0)
    assert (res.first_change == 2).mean() > 0.95
    assert res.changes[5].mean() > 0.9  # entry j - 1 holds date j
    assert res.changes[[0, 2, 3, 4, 6]].mean() < 0.02


def test_dual_pol_sees_a_change_in_one_band() -> None:
    rng = np.random.default_rng(5)
    x = gamma_series(rng, 5, 4.4, (2, 40, 40))
    x[3:, 1, :, :20] *= 20.0  # a 13 dB rise in vh only
    res = omnibus_test(x, [4.4, 4.4])
    assert (res.first_change[:, :20] == 3).mean() > 0.9
    assert (res.first_change[:, 20:] >= 0).mean() < 0.03
    assert res.enl == (4.4, 4.4)


def test_missing_dates_are_skipped() -> None:
    rng = np.random.default_rng(6)
    k = 6
    x = gamma_series(rng, k, 4.4, (1, 3, 40))
    x[2:, :, :, :20] *= 10.0
    x[1, 0, 0] = np.nan  # row 0 misses date 1
    x[[0, 3], 0, 1] = np.nan  # row 1 misses dates 0 and 3
    x[:5, 0, 2] = np.nan  # row 2 has one date left
    res = omnibus_test(x, 4.4)
    for row, keep in ((0, [0, 2, 3, 4, 5]), (1, [1, 2, 4, 5])):
        alone = omnibus_test(x[keep, :, row : row + 1], 4.4)
        np.testing.assert_allclose(res.p_value[row], alone.p_value[0], rtol=1e-5)
        # steps of the kept dates, the dropped ones not judged
        kept_steps = [d - 1 for d in keep[1:]]
        np.testing.assert_allclose(
            res.step_p_values[kept_steps, row], alone.step_p_values[:, 0], rtol=1e-5
        )
        assert np.isnan(np.delete(res.step_p_values[:, row], kept_steps, axis=0)).all()
        expect = np.where(alone.first_change[0] >= 0, np.take(keep, alone.first_change[0]), -1)
        np.testing.assert_array_equal(res.first_change[row], expect)
    assert res.n_dates[0, 0] == 5 and res.n_dates[2, 0] == 1
    assert np.isnan(res.p_value[2]).all() and (res.first_change[2] == -1).all()
    assert not res.judged[2].any()


def test_blocks_do_not_change_the_result() -> None:
    rng = np.random.default_rng(9)
    x = gamma_series(rng, 5, 4.4, (2, 23, 17))
    x[3:, :, 5:15] *= 5.0
    whole = omnibus_test(x, 4.4)
    rows = omnibus_test(x, 4.4, block_bytes=1)
    np.testing.assert_array_equal(whole.p_value, rows.p_value)
    np.testing.assert_array_equal(whole.changes, rows.changes)


def test_a_list_of_dates_is_accepted() -> None:
    rng = np.random.default_rng(10)
    x = gamma_series(rng, 3, 4.4, (6, 7))
    res = omnibus_test(list(x), 4.4)
    assert res.p_value.shape == (6, 7) and res.step_p_values.shape == (2, 6, 7)


@pytest.mark.parametrize(
    ("mutate", "kwargs", "match"),
    [
        (lambda x: x[:1], {}, "at least 2"),
        (lambda x: [x[0], x[1][:, :3]], {}, "date 1 has shape"),
        (lambda x: _set(x, 2, 0.0), {}, "date 2, band 0 has 1 pixel"),
        (lambda x: _set(x, 1, -3.0), {}, r"date 1.*smallest -3"),
        (lambda x: _set(x, 0, np.inf), {}, "date 0.*infinite"),
        (lambda x: x, {"enl": 0.0}, "enl=0.0 must be"),
        (lambda x: x, {"enl": [4.4, 4.4]}, r"one per band \(1\)"),
        (lambda x: x, {"alpha": 1.5}, r"alpha=1.5 must be in \(0, 1\)"),
        (lambda x: x, {"alpha": "high"}, r"alpha='high' must be in"),
    ],
)
def test_bad_input_raises(mutate, kwargs, match) -> None:  # type: ignore[no-untyped-def]
    x = np.ones((3, 4, 4), np.float32)
    args = {"enl": 4.4, **kwargs}
    with pytest.raises(InputError, match=match):
        omnibus_test(mutate(x), **args)


def _set(x: np.ndarray, date: int, value: float) -> np.ndarray:
    x = x.copy()
    x[date, 1, 2] = value
    return x
