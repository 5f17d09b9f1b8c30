import numpy as np
import pytest

from sitewatch.preprocess.shadows import shadow_explained, shadow_regions

SOIL = np.array([1100.0, 1400.0, 1700.0, 2300.0])
DEPTH = np.array([0.45, 0.55, 0.6, 0.65])


def _scene(shadow_rows: slice, extra: np.ndarray | None = None) -> np.ndarray:
    img = np.broadcast_to(SOIL[:, None, None], (4, 40, 40)).copy()
    img[:, 10:14, 18:22] = 2600.0  # a tall structure
    # sun in the south-east (azimuth 135): shadows fall to the north-west
    for k, r in enumerate(range(shadow_rows.start, shadow_rows.stop, -1)):
        img[:, r, 14 - k - 2 : 18 - k] *= (1 - DEPTH)[:, None]
    if extra is not None:
        img[:, extra] = np.array([650.0, 700.0, 750.0, 850.0])[:, None]
    return img


def test_a_lengthening_shadow_is_explained_a_new_dark_patch_is_not() -> None:
    before = _scene(slice(9, 5, -1))
    patch = np.zeros((40, 40), bool)
    patch[30:36, 30:36] = True  # asphalt laid far from any shadow
    after = _scene(slice(9, 2, -1), extra=patch)
    valid = np.ones((40, 40), bool)
    explained, changed = shadow_explained(before, after, valid, 135.0, 3.0)
    tip = changed & ~patch
    assert tip.any() and explained[tip].mean() > 0.9
    assert changed[patch].all() and not explained[patch].any()
    cand = tip | patch
    dropped = shadow_regions(cand, explained, changed)
    assert dropped[tip].all() and not dropped[patch].any()


@pytest.mark.parametrize(("reach_m", "explained_all"), [(20.0, True), (10.0, False)])
def test_the_reach_allows_a_pixel_of_blur(reach_m: float, explained_all: bool) -> None:
    """At 10 m pixels the lengthened tip's far end lies 3 px (diagonally) from the old
    shadow: a 20 m reach finds it only with the pixel that blur adds, 10 m does not."""
    before, after = _scene(slice(9, 5, -1)), _scene(slice(9, 2, -1))
    explained, changed = shadow_explained(
        before, after, np.ones((40, 40), bool), 135.0, 10.0, reach_m=reach_m
    )
    tip = changed & (before.mean(axis=0) >= 1500)
    assert tip.sum() >= 9
    assert explained[tip].all() == explained_all


@pytest.mark.parametrize("azimuth", [315.0])
def test_wrong_sun_side_explains_nothing(azimuth: float) -> None:
    before = _scene(slice(9, 5, -1))
    after = _scene(slice(9, 2, -1))
    explained, changed = shadow_explained(before, after, np.ones((40, 40), bool), azimuth, 3.0)
    assert changed.any() and explained[changed].mean() < 0.2


def test_nothing_valid_gives_empty_masks() -> None:
    img = _scene(slice(9, 5, -1))
    e, c = shadow_explained(img, img, np.zeros((40, 40), bool), 135.0, 3.0)
    assert not e.any() and not c.any()


def _tower(sun_azimuth: float, length: int) -> np.ndarray:
    """A tower on soil with a 3 px wide shadow of ``length`` px away from the sun."""
    img = np.broadcast_to(SOIL[:, None, None], (4, 60, 60)).copy()
    away = np.deg2rad(sun_azimuth + 180.0)
    dr, dc = -np.cos(away), np.sin(away)
    for k in range(1, length + 1):
        for w in (-1, 0, 1):
            r, c = int(round(50 + k * dr - w * dc)), int(round(45 + k * dc + w * dr))
            img[:, r, c] = SOIL * (1 - DEPTH)
    img[:, 49:52, 44:47] = 2600.0
    return img


def test_a_thin_tower_shadow_shortening_as_the_sun_turns_is_explained() -> None:
    # winter: long shadow at azimuth 150; spring: short shadow at azimuth 144
    before, after = _tower(150.0, 30), _tower(144.0, 12)
    explained, changed = shadow_explained(before, after, np.ones((60, 60), bool), 144.0, 3.0)
    assert changed.sum() > 30
    assert shadow_regions(changed, explained, changed)[changed].all()


def _low_building(shadow_px: int) -> np.ndarray:
    """A roof (rows 20-27) with the sun in the south and ``shadow_px`` rows of shadow
    north of it; the row along the wall is a mixed pixel, shaded but not dark."""
    img = np.broadcast_to(SOIL[:, None, None], (4, 40, 40)).copy()
    img[:, 20:28, 10:30] = 2600.0
    img[:, 19, 10:30] = (SOIL * 0.78)[:, None]
    for k in range(2, shadow_px + 1):
        img[:, 20 - k, 10:30] = (SOIL * (1 - DEPTH))[:, None]
    return img


def test_a_low_buildings_autumn_shadow_is_explained_by_the_sun_falling() -> None:
    # summer: only the mixed pixel along the wall; autumn: 3 more px of full shadow
    before, after = _low_building(1), _low_building(4)
    valid = np.ones((40, 40), bool)
    strip = np.zeros((40, 40), bool)
    strip[16:19, 10:30] = True
    suns = ((65.0, 180.0), (35.0, 180.0))
    explained, changed = shadow_explained(before, after, valid, 180.0, 3.0, suns=suns)
    assert changed[strip].all()
    assert shadow_regions(changed, explained, changed)[strip].all()
    # without the sun's elevations only the old-shadow rule applies: it finds no old shadow
    explained, changed = shadow_explained(before, after, valid, 180.0, 3.0)
    assert not shadow_regions(changed, explained, changed)[strip].any()


def test_a_darkening_beside_lit_ground_that_cast_no_shadow_is_not_a_shadow() -> None:
    # a cloud's shadow beside open ground: no caster had a shadow there before
    before = np.broadcast_to(SOIL[:, None, None], (4, 40, 40)).copy()
    after = before.copy()
    after[:, 15:19, 10:30] = (SOIL * (1 - DEPTH))[:, None]
    explained, changed = shadow_explained(
        before, after, np.ones((40, 40), bool), 180.0, 3.0, suns=((65.0, 180.0), (35.0, 180.0))
    )
    assert changed[15:19, 10:30].all() and not explained.any()


@pytest.mark.parametrize(
    ("suns", "rows"),
    [
        (((50.0, 180.0), (65.0, 180.0)), 3),  # the sun rose: shadows cannot lengthen
        (((35.0, 180.0), (34.0, 180.0)), 9),  # barely moved: beyond the 2 px tolerance
    ],
)
def test_a_dark_strip_longer_than_the_sun_allows_is_not_a_shadow(
    suns: tuple[tuple[float, float], tuple[float, float]], rows: int
) -> None:
    # new dark ground north of a building is a change, not its shadow
    before, after = _low_building(1), _low_building(rows)
    explained, changed = shadow_explained(
        before, after, np.ones((40, 40), bool), 180.0, 3.0, suns=suns
    )
    strip = np.zeros((40, 40), bool)
    strip[20 - rows : 19, 10:30] = True
    assert changed[strip].all()
    assert not shadow_regions(changed, explained, changed)[strip].any()


def test_a_shadow_shortening_in_spring_is_explained_by_the_sun_rising() -> None:
    before, after = _low_building(4), _low_building(1)
    explained, changed = shadow_explained(
        before, after, np.ones((40, 40), bool), 180.0, 3.0, suns=((35.0, 180.0), (65.0, 180.0))
    )
    strip = np.zeros((40, 40), bool)
    strip[16:19, 10:30] = True
    assert changed[strip].all()
    assert shadow_regions(changed, explained, changed)[strip].all()


def test_the_blurred_end_of_a_lengthened_shadow_is_explained_with_it() -> None:
    # a tower's shadow grows by 3 px; its new end pixel is only half shaded: darker,
    # but not dark, and a dark new patch beside no shadow stays unexplained
    before, after = _tower(180.0, 12), _tower(180.0, 15)
    after[:, 50 - 16, 44:47] = (SOIL * (1 - DEPTH / 2.5))[:, None]
    patch = np.zeros((60, 60), bool)
    patch[5:9, 5:9] = True
    after[:, patch] = (SOIL * (1 - DEPTH))[:, None]
    explained, changed = shadow_explained(before, after, np.ones((60, 60), bool), 180.0, 3.0)
    end = np.zeros((60, 60), bool)
    end[50 - 16, 44:47] = True
    assert changed[end].all() and explained[end].all()
    assert changed[patch].all() and not explained[patch].any()
