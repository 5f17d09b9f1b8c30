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


def test_previous_is_the_look_the_reference_replaced_and_a_released_hold_starts_afresh() -> None:
    clear = np.ones((4, 5), bool)
    ref = ReferenceState.empty(2, (4, 5)).update(_scene(1.0), clear, D[0])
    assert np.isnan(ref.previous).all()  # nothing was replaced
    cloudy = clear.copy()
    cloudy[0, 0] = False
    hold = np.zeros((4, 5), bool)
    hold[3, :] = True
    ref = ref.update(_scene(2.0), cloudy, D[1], hold=hold)
    assert ref.previous[:, 1, 1].tolist() == [1.0, 1.0]
    assert np.isnan(ref.previous[:, 0, 0]).all()  # not seen: nothing replaced
    assert np.isnan(ref.previous[:, 3]).all() and (ref.values[:, 3] == 1.0).all()  # held
    ref = ref.update(_scene(3.0), clear, D[2])
    assert ref.previous[:, 1, 1].tolist() == [2.0, 2.0]
    assert ref.previous[:, 0, 0].tolist() == [1.0, 1.0]
    # the held row's hold was released: its change is the new normal, with no history
    assert np.isnan(ref.previous[:, 3]).all() and (ref.values[:, 3] == 3.0).all()


@pytest.mark.parametrize(
    ("scene_value", "odd"),
    [
        (1.0, True),  # back to the look before: the reference (a hazy look) was odd
        (1.5, False),  # a real change differs from both looks
        (1.1, True),  # near the look before, within half the distance to the reference
        (1.35, False),
    ],
)
def test_odd_reference_blames_a_degraded_look_not_a_real_change(
    scene_value: float, odd: bool
) -> None:
    clear = np.ones((8, 8), bool)
    ref = ReferenceState.empty(2, (8, 8)).update(_scene(1.0, (8, 8)), clear, D[0])
    hazy = _scene(1.0, (8, 8))
    hazy[:, 2:5, 2:5] = 1.6
    ref = ref.update(hazy, clear, D[1])
    regions = np.zeros((8, 8), bool)
    regions[2:5, 2:5] = True
    regions[6:, 6:] = True  # a second region, where the reference is not to blame
    scene = _scene(1.0, (8, 8))
    scene[:, 2:5, 2:5] = scene_value
    scene[:, 6:, 6:] = 1.4
    out = ref.odd_reference(scene, regions)
    assert out[2:5, 2:5].all() == odd and not out[~regions].any() and not out[6:, 6:].any()


def test_odd_reference_needs_a_previous_look_for_half_the_region() -> None:
    clear = np.ones((8, 8), bool)
    first = clear.copy()
    first[:, :4] = False  # the left half is seen for the first time on the second date
    ref = ReferenceState.empty(2, (8, 8)).update(_scene(1.0, (8, 8)), first, D[0])
    ref = ref.update(_scene(1.6, (8, 8)), clear, D[1])
    regions = np.zeros((8, 8), bool)
    regions[2:5, 1:5] = True  # three quarters without a previous look
    assert not ref.odd_reference(_scene(1.0, (8, 8)), regions).any()
    regions[2:5, 1:8] = True  # now mostly with one
    assert ref.odd_reference(_scene(1.0, (8, 8)), regions)[2:5, 1:8].all()


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
