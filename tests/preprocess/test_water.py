import numpy as np

from sitewatch.preprocess.water import optical_water, water_regions

BANDS = ("blue", "green", "red", "nir")
WATER = np.array([700.0, 650.0, 450.0, 250.0])
SOIL = np.array([1100.0, 1400.0, 1700.0, 2300.0])


def _img(sea_cols: int) -> np.ndarray:
    img = np.broadcast_to(SOIL[:, None, None], (4, 20, 20)).copy()
    img[:, :, :sea_cols] = WATER[:, None, None]
    return img


def test_glint_on_the_sea_is_dropped_a_ship_is_kept() -> None:
    before = _img(10)
    after = before.copy()
    after[:, 2:8, 2:8] *= 1.3  # glint: brighter water, still water
    after[:, 12:16, 3:7] = np.array([2600.0, 2600.0, 2650.0, 2800.0])[:, None, None]  # a ship
    water = optical_water(before, after, BANDS)
    assert water is not None
    cand = np.zeros((20, 20), bool)
    cand[2:8, 2:8] = True
    cand[12:16, 3:7] = True
    dropped = water_regions(cand, water)
    assert dropped[2:8, 2:8].all() and not dropped[12:16, 3:7].any()


def test_no_green_or_nir_band_gives_no_water_mask() -> None:
    assert optical_water(_img(5)[:3], _img(5)[:3], ("blue", "red", "swir16")) is None
