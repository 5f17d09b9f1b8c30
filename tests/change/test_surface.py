"""Tests of the new-man-made-surface test (tests/change/test_surface.py once dropped in)."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.change.surface import (
    achromatic_index,
    fit_new_surface_test,
    fit_surface_classes,
    rgb_indices,
)
from sitewatch.errors import NoValidDataError


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("red", "green", "blue"), (0, 1, 2)),
        (("blue", "green", "red", "nir"), (2, 1, 0)),
        (("band1", "band2", "band3"), None),
        (("vv",), None),
    ],
)
def test_rgb_indices(names: tuple[str, ...], expected: tuple[int, int, int] | None) -> None:
    assert rgb_indices(names) == expected


def test_achromatic_index_is_low_for_grey_and_high_for_colour() -> None:
    img = np.zeros((3, 8, 16), np.float32)
    img[:, :, :8] = 120.0  # grey
    img[:, :, 8:] = np.array([40.0, 160.0, 40.0])[:, None, None]  # green
    idx = achromatic_index(img, (0, 1, 2), 0, floor=1.0)
    assert np.allclose(idx[:, :8], 0.0)
    assert np.all(idx[:, 8:] > 0.8)


def test_fit_surface_classes_recovers_two_populations() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.2, 0.03, 4000), rng.normal(0.6, 0.05, 6000)])
    c = fit_surface_classes(x)
    assert c.built_mean == pytest.approx(0.2, abs=0.01)
    assert c.natural_mean == pytest.approx(0.6, abs=0.01)
    assert c.built_sd == pytest.approx(0.03, abs=0.01)


def test_fit_surface_classes_rejects_constant_values() -> None:
    with pytest.raises(NoValidDataError, match="no spread"):
        fit_surface_classes(np.full(100, 0.3))


def _field(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Chromatic (vegetation-like) field with a grey road: both classes present."""
    img = np.empty((3,) + shape, np.float32)
    for k, level in enumerate((70.0, 130.0, 50.0)):
        img[k] = level + rng.normal(0, 6, shape)
    img[:, :, 40:52] = 150.0 + rng.normal(0, 4, (3, shape[0], 12))
    return img


def _fit_and_score(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    valid = np.ones(before.shape[1:], bool)
    chi2 = ((after - before) ** 2).sum(axis=0)  # stands in for the IR-MAD statistic
    test = fit_new_surface_test([before], [after], [valid], [chi2], (0, 1, 2), 2)
    return test.pvalue(before, after)


def test_new_grey_roof_is_found_and_colour_balance_is_not() -> None:
    rng = np.random.default_rng(1)
    before = _field(rng, (96, 96))
    # AFTER: a brighter, warmer acquisition of the same place, plus a new grey roof
    after = before * np.array([1.15, 1.05, 0.95], np.float32)[:, None, None] + 8.0
    after += rng.normal(0, 3, after.shape).astype(np.float32)
    after[:, 60:80, 60:80] = 110.0 + rng.normal(0, 3, (3, 20, 20))
    p = _fit_and_score(before, after)
    assert np.mean(p[63:77, 63:77] < 0.01) > 0.9
    outside = np.ones(p.shape, bool)
    outside[55:85, 55:85] = False
    assert np.mean(p[outside] < 0.01) < 0.01


def test_fit_rejects_an_empty_sample() -> None:
    img = np.ones((3, 8, 8), np.float32)
    none = np.zeros((8, 8), bool)
    with pytest.raises(NoValidDataError, match="no valid pixel"):
        fit_new_surface_test([img], [img], [none], [np.zeros((8, 8))], (0, 1, 2), 1)
