"""The per-pixel reference: last clear state, holds, and the injected change test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.timeline.reference import ReferenceState, check_dates

D = [dt.date(2024, 5, 1) + dt.timedelta(days=i) for i in range(4)]


def _scene(value: float, shape: tuple[int, int] = (4, 5)) -> np.ndarray:
    return np.full((2, *shape), value, dtype=np.float32)


def test_reference_keeps_the_last_clear_value_of_each_pixel() -> None:
    ref = ReferenceState.empty(2, (4, 5))
    assert not ref.observed.any()
    clear = np.ones((4, 5), bool)
    ref = ref.update(_scene(1.0), clear, D[0])
    cloudy = clear.copy()
    cloudy[0, 0] = False
    ref = ref.update(_scene(2.0), cloudy, D[1])
    assert ref.values[:, 0, 0].tolist() == [1.0, 1.0]
    assert ref.values[:, 1, 1].tolist() == [2.0, 2.0]
    assert (ref.reference_date(0, 0), ref.reference_date(1, 1)) == (D[0], D[1])
    assert ref.dates == (D[0], D[1])


def test_hold_keeps_the_pre_change_state_and_update_leaves_the_old_state_alone() -> None:
    clear = np.ones((4, 5), bool)
    ref0 = ReferenceState.empty(2, (4, 5)).update(_scene(1.0), clear, D[0])
    hold = np.zeros((4, 5), bool)
    hold[2:, :] = True
    ref1 = ref0.update(_scene(3.0), clear, D[1], hold=hold)
    assert (ref1.values[0, 2:] == 1.0).all() and (ref1.values[0, :2] == 3.0).all()
    assert (ref1.index[2:] == 0).all() and (ref1.index[:2] == 1).all()
    assert (ref0.values == 1.0).all()


def test_compare_judges_only_clear_pixels_with_a_reference() -> None:
    clear = np.ones((4, 5), bool)
    ref = ReferenceState.empty(2, (4, 5))
    assert np.isnan(ref.compare(_scene(1.0), clear, lambda r, s, v: np.zeros(v.shape))).all()
    ref = ref.update(_scene(1.0), clear, D[0])
    cloudy = clear.copy()
    cloudy[0] = False
    calls: list[int] = []

    def test(r: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
        calls.append(int(v.sum()))
        return np.full(v.shape, 2.0)  # clipped to 1

    p = ref.compare(_scene(1.5), cloudy, test)
    assert calls == [15]
    assert np.isnan(p[0]).all() and (p[1:] == 1.0).all()
    assert ref.signed_change(_scene(1.5))[1, 1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("scene", "clear", "match"),
    [
        (_scene(1.0, (4, 4)), np.ones((4, 5), bool), r"scene: shape \(2, 4, 4\)"),
        (np.ones((3, 4, 5), np.float32), np.ones((4, 5), bool), "same bands"),
        (_scene(1.0), np.ones((5, 4), bool), r"clear: shape \(5, 4\)"),
    ],
)
def test_mismatched_shapes_are_named(scene: np.ndarray, clear: np.ndarray, match: str) -> None:
    ref = ReferenceState.empty(2, (4, 5))
    with pytest.raises(InputError, match=match):
        ref.update(scene, clear, D[0])


def test_change_test_must_return_one_p_per_pixel() -> None:
    clear = np.ones((4, 5), bool)
    ref = ReferenceState.empty(2, (4, 5)).update(_scene(1.0), clear, D[0])
    with pytest.raises(InputError, match="change_test: returned shape"):
        ref.compare(_scene(1.0), clear, lambda r, s, v: np.zeros(3))


def test_dates_must_increase() -> None:
    clear = np.ones((4, 5), bool)
    ref = ReferenceState.empty(2, (4, 5)).update(_scene(1.0), clear, D[1])
    with pytest.raises(InputError, match="does not follow"):
        ref.update(_scene(1.0), clear, D[0])
    with pytest.raises(InputError, match="strictly increasing"):
        check_dates([D[0], D[0]])
    with pytest.raises(InputError, match="not a date"):
        check_dates(["2024-05-01"])  # type: ignore[list-item]
    assert check_dates([dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)]) == (D[0],)


def test_empty_needs_bands_and_a_grid() -> None:
    with pytest.raises(InputError, match="n_bands, shape"):
        ReferenceState.empty(0, (4, 5))
