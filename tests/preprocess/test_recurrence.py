"""Masked objects whose anomaly recurs in place are surfaces (``preprocess.recurrence``)."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.preprocess.masks import CloudMask
from sitewatch.preprocess.recurrence import recurrent_objects, without_objects

T, H, W = 8, 60, 60


def _series(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    anomaly = rng.normal(0, 0.005, (T, H, W)).astype(np.float32)
    return anomaly, np.ones((T, H, W), bool)


def _disk(cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return np.asarray((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)


def test_a_new_roof_masked_as_cloud_on_every_later_date_is_a_surface() -> None:
    anomaly, valid = _series(0)
    roof = np.zeros((H, W), bool)
    roof[20:30, 25:37] = True
    anomaly[3:, roof] += 0.2  # built between dates 2 and 3, brighter than the median since
    masked = [roof.copy() if t >= 3 else np.zeros((H, W), bool) for t in range(T)]
    out = recurrent_objects(masked, anomaly, valid, max_px=500)
    for t in range(T):
        assert out[t][roof].all() == (t >= 3)
        assert not out[t][~roof].any()


def test_moving_clouds_are_not_surfaces() -> None:
    anomaly, valid = _series(1)
    masked = []
    for t in range(T):
        cloud = _disk(15 + 4 * t, 10 + 5 * t, 8)
        anomaly[t, cloud] += 0.3
        masked.append(cloud)
    out = recurrent_objects(masked, anomaly, valid, max_px=500)
    assert not any(o.any() for o in out)


def test_an_overcast_larger_than_max_px_is_never_a_surface() -> None:
    anomaly, valid = _series(3)
    anomaly += 0.3
    masked = [np.ones((H, W), bool) for _ in range(T)]
    out = recurrent_objects(masked, anomaly, valid, max_px=500)
    assert not any(o.any() for o in out)


def test_dates_cloudy_around_the_object_are_skipped_not_counted() -> None:
    anomaly, valid = _series(4)
    tower = np.zeros((H, W), bool)
    tower[25:33, 28:34] = True
    anomaly[3:, tower] -= 0.15  # a new dark structure
    masked = [np.zeros((H, W), bool) for _ in range(T)]
    masked[3] = tower.copy()  # called shadow on its first look
    for t in (4, 5):  # the next two looks are overcast there
        masked[t] = np.ones((H, W), bool)
        anomaly[t] += 0.3
    out = recurrent_objects(masked, anomaly, valid, max_px=500, looks=4)
    assert out[3][tower].all()
    # with only the two overcast looks allowed it cannot be told
    assert not recurrent_objects(masked, anomaly, valid, max_px=500, max_gap=2)[3].any()


def test_without_objects_returns_the_pixels_to_clear() -> None:
    cloud = np.zeros((4, 4), bool)
    cloud[:2] = True
    shadow = np.zeros((4, 4), bool)
    shadow[3, :2] = True
    valid = np.ones((4, 4), bool)
    clear = valid & ~cloud & ~shadow
    m = CloudMask(cloud, shadow, clear, float(clear.mean()), valid, np.zeros((4, 4), bool), "s")
    surf = np.zeros((4, 4), bool)
    surf[0] = True
    surf[3, 0] = True
    out = without_objects(m, surf)
    assert out.clear[0].all() and out.clear[3, 0] and not out.cloud[0].any()
    assert out.cloud[1].all() and out.shadow[3, 1]
    assert out.clear_fraction == pytest.approx(out.clear.mean())
    assert without_objects(m, np.zeros((4, 4), bool)) is m


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_px": 0}, "max_px"), ({"max_px": 5, "min_corr": 2.0}, "correlation")],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], match: str) -> None:
    anomaly, valid = _series(5)
    with pytest.raises(InputError, match=match):
        recurrent_objects([np.zeros((H, W), bool)] * T, anomaly, valid, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="dates"):
        recurrent_objects([np.zeros((H, W), bool)] * 3, anomaly, valid, max_px=5)
