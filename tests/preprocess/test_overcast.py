"""Guard for mostly cloudy scenes (``sitewatch.preprocess.overcast``)."""

from __future__ import annotations

import numpy as np

from sitewatch.preprocess.masks import spectral_cloud_mask
from sitewatch.preprocess.overcast import overcast_mask, with_overcast

BANDS = ["blue", "green", "red", "nir"]


def _median(h: int = 64, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(1)
    base = np.array([0.05, 0.08, 0.1, 0.3], np.float32)[:, None, None]
    return (base + rng.normal(0, 0.005, (4, h, w))).astype(np.float32)


def test_mostly_cloudy_scene_is_masked() -> None:
    med = _median()
    scene = med.copy()
    scene[:, :40] = 0.5  # a white cloud over 62 % of the scene
    valid = np.ones(med.shape[1:], bool)
    cloud, shadow = overcast_mask(scene, BANDS, valid, med)
    assert cloud[:38].all() and not cloud[45:].any()
    m = with_overcast(spectral_cloud_mask(scene, BANDS, valid, med), cloud, shadow)
    assert m.clear_fraction < 0.4
    assert "overcast" in m.source


def test_small_bright_roof_is_left_alone() -> None:
    med = _median()
    scene = med.copy()
    scene[:, 10:14, 10:14] = 0.5  # 16 px: far below the overcast share
    cloud, shadow = overcast_mask(scene, BANDS, np.ones(med.shape[1:], bool), med)
    assert not cloud.any() and not shadow.any()
