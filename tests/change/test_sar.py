"""Tests of the SAR intensity pair test (sitewatch.change.sar)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.change.base import PairSample
from sitewatch.change.clean import clean_decision
from sitewatch.change.registry import get_method
from sitewatch.change.sar import (
    FittedSARRatio,
    SARRatioMethod,
    choose_8bit_scale,
    estimate_enl,
    local_median,
    looks_needed,
    neighbourhood_for,
    pair_pvalue,
    pair_test,
    vote_pvalue,
)
from sitewatch.errors import InputError, NoValidDataError

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
BERN = DATA / "change" / "sar" / "bern"


def gamma_pair(
    rng: np.random.Generator, enl: float, shape: tuple[int, ...], mean: np.ndarray | float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two independent ``enl``-look intensity images with the same mean."""
    b = mean * rng.gamma(enl, 1.0 / enl, shape)
    a = mean * rng.gamma(enl, 1.0 / enl, shape)
    return b.astype(np.float32), a.astype(np.float32)


def sample_of(b: np.ndarray, a: np.ndarray, valid: np.ndarray | None = None) -> PairSample:
    v = np.ones(b.shape[-2:], bool) if valid is None else valid
    return PairSample(before=[b], after=[a], valid=[v])


def f1_score(dec: np.ndarray, truth: np.ndarray) -> float:
    m = truth != 255
    y, p = truth[m] == 1, dec[m]
    tp = float((y & p).sum())
    return 2 * tp / max(float(y.sum() + p.sum()), 1.0)


# --------------------------------------------------------------------------
# the per-pixel test
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bands", [1, 2])
@pytest.mark.parametrize("enl", [1.0, 4.4, 10.0])
@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_false_alarm_rate_matches_alpha(bands: int, enl: float, alpha: float) -> None:
    rng = np.random.default_rng(int(enl * 10) + bands)
    n = 200
    b, a = gamma_pair(rng, enl, (bands, n, n))
    _, p = pair_test(b, a, [enl] * bands)
    rate = float((p < alpha).mean())
    sd = np.sqrt(alpha * (1 - alpha) / (n * n))
    assert abs(rate - alpha) < 4.5 * sd, (rate, alpha)


@pytest.mark.parametrize("enl", [0.7, 1.0, 4.4, 10.0, 37.5])
def test_tabulated_pvalue_matches_exact_f_test(enl: float) -> None:
    ratio = np.geomspace(1e-3, 1e3, 801)
    before = ratio[None].astype(np.float64)
    after = np.ones_like(before)
    stat, p = pair_test(before, after, [enl])
    exact = pair_pvalue(before[0], after[0], enl)
    ok = exact > 1e-250
    np.testing.assert_allclose(p[ok], exact[ok], rtol=1e-4, atol=1e-12)
    # p = 1 at equal intensities and monotone in |ln ratio|
    assert p[400] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(p[400:]) <= 1e-12) and np.all(np.diff(stat[400:]) >= 0)


def test_dual_pol_combines_both_bands() -> None:
    rng = np.random.default_rng(7)
    b, a = gamma_pair(rng, 10.0, (2, 64, 64))
    a_vh = a.copy()
    a_vh[1] *= 4.0  # change in VH only
    _, p_none = pair_test(b, a, [10.0, 10.0])
    _, p_vh = pair_test(b, a_vh, [10.0, 10.0])
    assert np.median(p_vh) < 0.05 < np.median(p_none)


# --------------------------------------------------------------------------
# equivalent number of looks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("enl", [1.0, 4.4, 10.0])
def test_estimate_enl_recovers_true_looks(enl: float) -> None:
    rng = np.random.default_rng(3)
    imgs = [rng.gamma(enl, 1.0 / enl, (256, 256)) for _ in range(2)]
    est = estimate_enl(imgs, [np.ones((256, 256), bool)] * 2)
    assert est == pytest.approx(enl, rel=0.1)


@pytest.mark.parametrize("enl", [1.0, 4.4, 10.0])
def test_estimate_enl_ignores_texture_and_edges(enl: float) -> None:
    # piecewise-constant backscatter over a 10:1 range: only block edges and
    # the texture mix means, so the homogeneous blocks must still dominate
    rng = np.random.default_rng(4)
    mean = np.kron(rng.gamma(2.0, 0.5, (12, 12)), np.ones((24, 24)))
    img = mean * rng.gamma(enl, 1.0 / enl, mean.shape)
    est = estimate_enl([img], [np.ones(img.shape, bool)])
    assert est == pytest.approx(enl, rel=0.15)


def test_enl_not_estimable_says_pass_enl() -> None:
    tiny = np.ones((1, 6, 6), np.float32)
    with pytest.raises(NoValidDataError, match="--enl"):
        SARRatioMethod().fit(sample_of(tiny, tiny))
    # the override makes the same data usable
    fitted = SARRatioMethod(enl=3.0).fit(sample_of(tiny, tiny))
    assert fitted.enl == (3.0,)


def test_enl_override_per_band_and_bad_values() -> None:
    rng = np.random.default_rng(1)
    b, a = gamma_pair(rng, 4.4, (2, 32, 32))
    assert SARRatioMethod(enl=[3.0, 5.0]).fit(sample_of(b, a)).enl == (3.0, 5.0)
    with pytest.raises(InputError, match="one per band"):
        SARRatioMethod(enl=[3.0, 4.0, 5.0]).fit(sample_of(b, a))
    with pytest.raises(InputError, match="enl"):
        SARRatioMethod(enl=0.0)


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
@pytest.mark.parametrize("where", ["before", "after"])
def test_nonpositive_intensity_is_a_clear_error(bad: float, where: str) -> None:
    rng = np.random.default_rng(2)
    b, a = gamma_pair(rng, 4.4, (1, 32, 32))
    b[0, 0, 0] += 0.3  # not integer-valued, so not an 8-bit product
    fitted = SARRatioMethod(enl=4.4).fit(sample_of(b, a))
    img = b if where == "before" else a
    img[0, 5, 5] = bad
    with pytest.raises(InputError, match=rf"{where}.*must be > 0"):
        fitted.score(b, a, np.ones((32, 32), bool))
    # the same pixel masked out is fine, and never judged
    valid = np.ones((32, 32), bool)
    valid[5, 5] = False
    out = fitted.score(b, a, valid)
    assert np.isnan(out.p_value[5, 5]) and np.isfinite(out.p_value[valid]).all()


def test_db_and_amplitude_inputs_match_intensity() -> None:
    rng = np.random.default_rng(5)
    b, a = gamma_pair(rng, 4.4, (1, 48, 48))
    valid = np.ones((48, 48), bool)
    ref = SARRatioMethod(enl=4.4, scale="intensity").fit(sample_of(b, a)).score(b, a, valid)
    for scale, f in (("db", lambda x: 10 * np.log10(x)), ("amplitude", np.sqrt)):
        m = SARRatioMethod(enl=4.4, scale=scale)  # type: ignore[arg-type]
        fb, fa = f(b).astype(np.float32), f(a).astype(np.float32)
        out = m.fit(sample_of(fb, fa)).score(fb, fa, valid)
        np.testing.assert_allclose(out.p_value, ref.p_value, rtol=1e-3, atol=1e-6)
    with pytest.raises(InputError, match="scale"):
        SARRatioMethod(scale="log")  # type: ignore[arg-type]


@pytest.mark.parametrize("truth", ["intensity", "amplitude"])
def test_8bit_product_scale_is_read_from_the_data(truth: str) -> None:
    rng = np.random.default_rng(8)
    inten = rng.gamma(4.4, 1 / 4.4, (2, 1, 192, 192))
    if truth == "intensity":
        q = np.clip(np.round(inten * 40), 0, 255)
    else:
        q = np.clip(np.round(np.sqrt(inten) * 90), 0, 255)
    q = q.astype(np.float32)
    assert choose_8bit_scale(sample_of(q[0], q[1])) == truth
    fitted = SARRatioMethod().fit(sample_of(q[0], q[1]))
    assert fitted.dequantise and fitted.scale == truth
    # zeros of an 8-bit product are quantisation, not an error
    q[0, 0, 0, 0] = 0
    assert np.isfinite(fitted.score(q[0], q[1], np.ones((192, 192), bool)).p_value).all()


# --------------------------------------------------------------------------
# spatial step
# --------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [1, 2])
@pytest.mark.parametrize("side", [3, 5])
def test_local_median_matches_rank_filter(side: int, spacing: int) -> None:
    x = np.random.default_rng(0).random((40, 53))
    fp = np.zeros(((side - 1) * spacing + 1,) * 2, bool)
    fp[::spacing, ::spacing] = True
    ref = ndi.rank_filter(x, side * side // 2, footprint=fp, mode="mirror")
    np.testing.assert_array_equal(local_median(x, side, spacing), ref)


@pytest.mark.parametrize("side", [3, 5])
def test_vote_is_calibrated_on_independent_pvalues(side: int) -> None:
    p = np.random.default_rng(side).random((300, 300))
    pv = vote_pvalue(p, side)
    assert abs(float((pv < 0.01).mean()) - 0.01) < 0.003


def test_neighbourhood_follows_the_looks() -> None:
    need = looks_needed()
    assert 11.0 < need < 14.0
    assert neighbourhood_for(20.0, need) == 1
    assert neighbourhood_for(4.4, need) == 3
    assert neighbourhood_for(1.0, need) == 5


def test_tiles_with_halo_match_the_whole_image() -> None:
    rng = np.random.default_rng(9)
    b, a = gamma_pair(rng, 4.4, (1, 96, 96))
    fitted = FittedSARRatio(enl=(4.4,), scale="intensity", neighbourhood=3, spacing=2)
    valid = np.ones((96, 96), bool)
    whole = fitted.score(b, a, valid).p_value
    h = fitted.halo
    assert h == 2
    rows, cols = slice(30 - h, 60 + h), slice(10 - h, 50 + h)
    tile = fitted.score(b[:, rows, cols], a[:, rows, cols], valid[rows, cols]).p_value
    tile = tile[h:-h, h:-h]
    np.testing.assert_allclose(tile, whole[30:60, 10:50], rtol=1e-6)


# --------------------------------------------------------------------------
# the registered method end to end
# --------------------------------------------------------------------------


def test_registered_under_its_name() -> None:
    m = get_method("sar-ratio")
    assert isinstance(m, SARRatioMethod) and m.name == "sar-ratio" and m.sensor == "sar"


@pytest.mark.parametrize("bands", [1, 2])
# per-pixel decisions at 10 looks have ~65 % power for a fourfold change, so
# the map is holey there; the p-value vote recovers it
@pytest.mark.parametrize(
    ("enl", "neighbourhood", "floor"),
    [(4.4, "auto", 0.8), (10.0, 1, 0.7), (10.0, "auto", 0.85), (20.0, 1, 0.85)],
)
def test_implanted_fourfold_change_is_found(
    bands: int, enl: float, neighbourhood: int | str, floor: float
) -> None:
    rng = np.random.default_rng(int(enl) + 10 * bands)
    n = 160
    truth = np.zeros((n, n), np.uint8)
    truth[40:80, 50:100] = 1
    yy, xx = np.mgrid[:n, :n]
    truth[(yy - 120) ** 2 + (xx - 120) ** 2 <= 15**2] = 1
    mean = np.kron(rng.gamma(3.0, 1 / 3.0, (8, 8)), np.ones((20, 20)))  # texture
    b = (mean * rng.gamma(enl, 1 / enl, (bands, n, n))).astype(np.float32)
    a = mean * np.where(truth == 1, 4.0, 1.0) * rng.gamma(enl, 1 / enl, (bands, n, n))
    a = a.astype(np.float32)
    m = SARRatioMethod(neighbourhood=neighbourhood)  # type: ignore[arg-type]
    valid = np.ones((n, n), bool)
    fitted = m.fit(sample_of(b, a))
    assert fitted.enl[0] == pytest.approx(enl, rel=0.2)
    out = fitted.score(b, a, valid)
    assert out.p_value.dtype == np.float32 and out.p_value.shape == (n, n)
    cd = m.cleanup(None)
    dec = clean_decision(
        out.p_value < 0.01, valid, radius_px=cd.radius_px, min_area_px=cd.min_area_px
    )
    assert f1_score(dec, truth) > floor
    assert dec[truth == 0].mean() < 0.01


def test_no_change_pair_gives_almost_no_change_after_cleanup() -> None:
    rng = np.random.default_rng(12)
    b, a = gamma_pair(rng, 4.4, (1, 200, 200))
    m = SARRatioMethod()
    valid = np.ones((200, 200), bool)
    out = m.fit(sample_of(b, a)).score(b, a, valid)
    cd = m.cleanup(None)
    dec = clean_decision(
        out.p_value < 0.01, valid, radius_px=cd.radius_px, min_area_px=cd.min_area_px
    )
    assert dec.mean() < 0.002


# --------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------


@pytest.mark.skipif(not (BERN / "truth.png").exists(), reason="shared evaluation data absent")
def test_bern_flood_pair_f1_floor() -> None:
    rasterio = pytest.importorskip("rasterio")

    def read(name: str) -> np.ndarray:
        with rasterio.open(BERN / name) as src:
            return np.asarray(src.read(), dtype=np.float32)

    b, a = read("before.png"), read("after.png")
    truth = read("truth.png")[0].astype(np.uint8)
    valid = np.ones(truth.shape, bool)
    m = get_method("sar-ratio")
    fitted = m.fit(PairSample(before=[b], after=[a], valid=[valid]))
    out = fitted.score(b, a, valid)
    cd = m.cleanup(None)
    dec = clean_decision(
        out.p_value < 0.01, valid, radius_px=cd.radius_px, min_area_px=cd.min_area_px
    )
    # measured 0.858 (read as amplitude, ENL ~5.3, per-pixel test, 16-px minimum area)
    assert f1_score(dec, truth) > 0.83
