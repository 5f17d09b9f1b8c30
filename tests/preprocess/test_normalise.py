"""Radiometric normalisation: orthogonal regression over IR-MAD no-change pixels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.errors import InputError, NoValidDataError
from sitewatch.preprocess.normalise import (
    Normalisation,
    normalise_to_reference,
    orthogonal_regression,
)

N = 160
GAINS = np.array([1.25, 0.8, 1.1, 0.92])
OFFSETS = np.array([0.02, -0.015, 0.03, 0.05])


@pytest.mark.parametrize(("slope", "intercept"), [(2.0, 1.0), (0.5, -3.0), (-1.5, 0.2), (1.0, 0.0)])
def test_orthogonal_regression_is_unbiased_with_noise_in_both(
    slope: float, intercept: float
) -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 10, 20000)
    x = t + rng.normal(0, 0.3, t.size)
    y = slope * t + intercept + rng.normal(0, 0.3, t.size)
    s, i = orthogonal_regression(x, y)
    assert s == pytest.approx(slope, rel=0.01) and i == pytest.approx(intercept, abs=0.05)
    ols = np.polyfit(x, y, 1)[0]
    assert abs(s - slope) < abs(ols - slope)  # ordinary least squares is attenuated


def test_orthogonal_regression_exact_and_bad_input() -> None:
    assert orthogonal_regression([0, 1, 2, np.nan], [1, 3, 5, 7]) == pytest.approx((2.0, 1.0))
    with pytest.raises(InputError, match="x has 3 values and y 2"):
        orthogonal_regression([1, 2, 3], [1, 2])
    with pytest.raises(NoValidDataError, match="only 1 finite"):
        orthogonal_regression([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(NoValidDataError, match="x is constant"):
        orthogonal_regression([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])


def _pair(seed: int, changed_share: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference, target (reference = GAINS * target + OFFSETS) and the changed pixels."""
    rng = np.random.default_rng(seed)
    # correlated bands: a few land covers with texture, like blue/green/red/nir reflectance
    cover = ndi.gaussian_filter(rng.normal(size=(N, N)), 4)
    veg = np.array([0.03, 0.06, 0.04, 0.30])
    soil = np.array([0.08, 0.11, 0.15, 0.22])
    town = np.array([0.10, 0.11, 0.12, 0.17])
    mix = np.clip(cover * 2 + 0.5, 0, 1)[None]
    surf = mix * veg[:, None, None] + (1 - mix) * soil[:, None, None]
    surf = np.where(cover[None] > 0.25, town[:, None, None], surf)
    surf = surf * (1 + 0.15 * ndi.gaussian_filter(rng.normal(size=(1, N, N)), 1.2))
    ref = surf + rng.normal(0, 0.003, surf.shape)
    tgt = (surf - OFFSETS[:, None, None]) / GAINS[:, None, None] + rng.normal(0, 0.003, surf.shape)
    # 10 % of the pixels changed between dates: new buildings, cleared fields, water
    changed = np.zeros((N, N), bool)
    while changed.mean() < changed_share:
        y, x = rng.integers(0, N - 16, size=2)
        hy, hx = rng.integers(4, 16, size=2)
        changed[y : y + hy, x : x + hx] = True
    new = rng.choice(
        np.stack([veg, soil, town, [0.3, 0.32, 0.33, 0.35], [0.05, 0.04, 0.03, 0.01]]), N * N
    )
    new = new.T.reshape(4, N, N) * (1 + 0.05 * rng.normal(size=(4, N, N)))
    tgt = np.where(changed[None], (new - OFFSETS[:, None, None]) / GAINS[:, None, None], tgt)
    return ref.astype(np.float32), tgt.astype(np.float32), changed


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [1.0, 10000.0])
def test_recovers_gains_and_offsets_with_changed_pixels(seed: int, scale: float) -> None:
    ref, tgt, changed = _pair(seed)
    valid = np.ones((N, N), bool)
    valid[:10] = False  # a nodata strip, filled with garbage
    tgt[:, :10] = -9999
    r = normalise_to_reference(ref * scale, tgt * scale, valid)
    assert isinstance(r, Normalisation) and r.method == "irmad"
    np.testing.assert_allclose(r.gains, GAINS, rtol=0.02)
    # offsets within 2 % of each band's mean level
    level = ref.reshape(4, -1).mean(axis=1) * scale
    assert np.all(np.abs(r.offsets - OFFSETS * scale) <= 0.02 * level), (r.offsets, OFFSETS * scale)
    assert r.n_pixels == int(r.no_change.sum()) >= 500
    assert not r.no_change[:10].any()
    assert (r.no_change & changed).sum() <= 0.01 * r.n_pixels  # IR-MAD kept the changes out
    err = np.abs(r.normalised - ref * scale)[:, valid & ~changed]
    assert np.median(err) < 0.01 * scale


def test_correlation_says_how_well_each_line_is_determined() -> None:
    ref, tgt, _ = _pair(0)
    good = normalise_to_reference(ref, tgt, np.ones((N, N), bool))
    assert good.correlation[3] > 0.95
    # the NIR of the target replaced by unrelated values: that band's gain means nothing
    tgt[3] = np.random.default_rng(5).permutation(tgt[3].ravel()).reshape(N, N)
    bad = normalise_to_reference(ref, tgt, np.ones((N, N), bool))
    assert abs(bad.correlation[3]) < 0.3
    np.testing.assert_allclose(bad.correlation[:3], good.correlation[:3], atol=0.02)


def test_naive_regression_over_all_pixels_is_biased() -> None:
    """Why the no-change selection matters: the same fit over every pixel misses by far more."""
    ref, tgt, _ = _pair(0, changed_share=0.15)
    everything = normalise_to_reference(ref, tgt, np.ones((N, N), bool), np.ones((N, N), bool))
    selected = normalise_to_reference(ref, tgt, np.ones((N, N), bool))
    assert everything.method == "given"
    assert np.abs(everything.gains / GAINS - 1).max() > 3 * np.abs(selected.gains / GAINS - 1).max()


def test_given_no_change_mask_is_used() -> None:
    ref, tgt, changed = _pair(4)
    r = normalise_to_reference(ref, tgt, np.ones((N, N), bool), ~changed)
    assert r.method == "given" and r.n_pixels == int((~changed).sum())
    np.testing.assert_allclose(r.gains, GAINS, rtol=0.02)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (
            (np.zeros((3, 8, 8)), np.zeros((3, 8, 9)), np.ones((8, 8), bool)),
            {},
            InputError,
            "reference has shape",
        ),
        (
            (np.zeros((8, 8)), np.zeros((8, 8)), np.ones((8, 8), bool)),
            {},
            InputError,
            "reference has shape",
        ),
        (
            (np.zeros((3, 8, 8)), np.zeros((3, 8, 8)), np.ones((8, 7), bool)),
            {},
            InputError,
            "valid has shape",
        ),
        (
            (np.zeros((3, 8, 8)), np.zeros((3, 8, 8)), np.ones((8, 8), bool)),
            {"no_change_mask": np.ones((4, 4), bool)},
            InputError,
            "no_change_mask has shape",
        ),
        (
            (np.zeros((3, 8, 8)), np.zeros((3, 8, 8)), np.ones((8, 8), bool)),
            {"ncp_threshold": 1.5},
            InputError,
            "ncp_threshold is 1.5",
        ),
        (
            (np.ones((3, 40, 40)), np.ones((3, 40, 40)), np.zeros((40, 40), bool)),
            {},
            NoValidDataError,
            "valid leaves 0 pixels",
        ),
        (
            (np.ones((3, 40, 40)), np.ones((3, 40, 40)), np.ones((40, 40), bool)),
            {"no_change_mask": np.zeros((40, 40), bool)},
            NoValidDataError,
            "only 0 no-change pixels",
        ),
    ],
)
def test_bad_input(args: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        normalise_to_reference(*args, **kwargs)


def test_constant_band_is_reported() -> None:
    ref, tgt, _ = _pair(5)
    tgt[1] = 0.1
    with pytest.raises(NoValidDataError, match="constant band"):
        normalise_to_reference(ref, tgt, np.ones((N, N), bool))
