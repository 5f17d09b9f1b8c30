"""First looks beside a cloud: doubted until a second look agrees with or replaces them."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.timeline.doubt import FirstLookDoubt

SHAPE = (20, 30)


def _mask(rows: slice, cols: slice) -> np.ndarray:
    m = np.zeros(SHAPE, bool)
    m[rows, cols] = True
    return m


def test_first_looks_beside_a_cloud_are_doubted_and_others_are_not() -> None:
    doubt = FirstLookDoubt.empty(SHAPE, near_px=3)
    cloud = _mask(slice(0, 20), slice(0, 10))
    first = ~cloud
    doubt.update(agreed=np.zeros(SHAPE, bool), replaced=first, first=first, sky=cloud)
    # columns 10-12 lie within 3 px of the cloud, column 13 and beyond do not
    assert doubt.doubtful[:, 10:13].all() and not doubt.doubtful[:, 13:].any()
    judged = np.ones(SHAPE, bool)
    assert not doubt.testable(judged)[:, 10:13].any() and doubt.testable(judged)[:, 13:].all()


@pytest.mark.parametrize("how", ["agreed", "replaced"])
def test_a_second_look_lifts_the_doubt(how: str) -> None:
    doubt = FirstLookDoubt.empty(SHAPE, near_px=3)
    cloud = _mask(slice(0, 20), slice(0, 10))
    doubt.update(agreed=np.zeros(SHAPE, bool), replaced=~cloud, first=~cloud, sky=cloud)
    second = _mask(slice(0, 10), slice(0, 30))  # the northern half is seen again
    none = np.zeros(SHAPE, bool)
    kwargs = {"agreed": none, "replaced": none, "first": none, "sky": none}
    kwargs[how] = second
    doubt.update(**kwargs)
    assert not doubt.doubtful[:10].any() and doubt.doubtful[10:, 10:13].all()


def test_a_look_that_neither_agrees_nor_replaces_keeps_the_doubt() -> None:
    # a date under --min-clear that disagrees: the doubted reference is still the reference
    doubt = FirstLookDoubt.empty(SHAPE, near_px=2)
    sky = _mask(slice(0, 5), slice(0, 30))
    doubt.update(agreed=np.zeros(SHAPE, bool), replaced=~sky, first=~sky, sky=sky)
    before = doubt.doubtful.copy()
    none = np.zeros(SHAPE, bool)
    doubt.update(agreed=none, replaced=none, first=none, sky=none)
    assert np.array_equal(doubt.doubtful, before) and before[5:7].all()


def test_clear_sky_doubts_nothing_and_bad_input() -> None:
    doubt = FirstLookDoubt.empty(SHAPE, near_px=5)
    all_px = np.ones(SHAPE, bool)
    doubt.update(agreed=np.zeros(SHAPE, bool), replaced=all_px, first=all_px,
                 sky=np.zeros(SHAPE, bool))  # fmt: skip
    assert not doubt.doubtful.any()
    with pytest.raises(InputError, match="near_px, shape"):
        FirstLookDoubt.empty(SHAPE, near_px=-1)
