"""SAR rendering: speckle statistics, bright structures, events, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.change.sar import estimate_enl
from sitewatch.errors import InputError
from sitewatch.sim.layout import build_layout
from sitewatch.sim.render import footprint_mask
from sitewatch.sim.sar import (
    SARWeather,
    render_sar_scene,
    sar_backscatter,
    sar_sigma0,
    speckle,
)
from sitewatch.sim.scenarios import Scenario, build_scenario


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario("sohae-2019", seed=7, size=128)


def test_scene_is_two_band_float32_power_on_the_site_grid(scenario: Scenario) -> None:
    scene = render_sar_scene(scenario, scenario.dates[0])
    assert scene.data.shape == (2, 128, 128) and scene.data.dtype == np.float32
    assert np.isfinite(scene.data).all() and (scene.data > 0).all()
    assert scene.transform == scenario.layout.transform and scene.crs == "EPSG:32651"
    assert scene.bands == ("vv", "vh") and scene.enl == 4.4


def test_same_date_same_image(scenario: Scenario) -> None:
    d0, d1 = scenario.dates[:2]
    a = render_sar_scene(scenario, d0).data
    np.testing.assert_array_equal(a, render_sar_scene(scenario, d0).data)
    assert not np.array_equal(a, render_sar_scene(scenario, d1).data)


@pytest.mark.parametrize("enl", [4.4, 10.0])
def test_speckle_has_the_requested_enl(scenario: Scenario, enl: float) -> None:
    date = scenario.dates[3]
    scene = render_sar_scene(scenario, date, enl=enl)
    # the speckle alone is the image over its noise-free backscatter: homogeneous
    ratio = scene.data / sar_sigma0(scenario, date)
    valid = np.ones(ratio.shape[1:], bool)
    for band in ratio:
        assert abs(float(band.mean()) - 1.0) < 0.02
        assert estimate_enl([band], [valid]) == pytest.approx(enl, rel=0.1)


def test_speckle_of_a_flat_field() -> None:
    rng = np.random.default_rng(1)
    x = speckle(np.full((140, 140), 0.05, np.float32), 4.4, rng)
    assert estimate_enl([x], [np.ones(x.shape, bool)]) == pytest.approx(4.4, rel=0.1)
    assert float(x.mean()) == pytest.approx(0.05, rel=0.02)


def test_structures_are_brighter_than_ground(scenario: Scenario) -> None:
    date = scenario.dates[0]
    vv = render_sar_scene(scenario, date).data[0]
    built = np.zeros(vv.shape, bool)
    for s in scenario.structures_on(date):
        if s.height_m > 0 and s.material in ("steel", "steel_roof", "tank", "roof"):
            built |= footprint_mask(scenario.layout, s.polygon)
    # ground far from anything built: the scene's outer rows
    ground = np.zeros(vv.shape, bool)
    ground[:10, 20:] = True
    assert float(vv[built].mean()) > 10.0 * float(vv[ground].mean())


def test_dismantling_darkens_the_footprint(scenario: Scenario) -> None:
    event = next(e for e in scenario.events if "ets_stand" in e.removes)
    before = max(d for d in scenario.dates if d < event.onset)
    after = min(d for d in scenario.dates if d >= event.onset)
    mask = footprint_mask(scenario.layout, event.geometry)
    vv0 = sar_sigma0(scenario, before)[0][mask].mean()
    vv1 = sar_sigma0(scenario, after)[0][mask].mean()
    assert vv0 > 4.0 * vv1  # > 6 dB: bright steel to rough debris


def test_volume_scattering_shows_in_vh() -> None:
    layout = build_layout(64)
    shape = (64, 64)
    ones, zeros = np.ones(shape, np.float32), np.zeros(shape, np.float32)

    def sigma0(veg: np.ndarray, green: float) -> np.ndarray:
        cover = {"veg": veg, "forest": zeros, "soil": ones, "sea": zeros}
        weather = SARWeather(wind=1.0, moisture=ones, green=np.full(shape, green, np.float32))
        return sar_backscatter(layout, (), cover, weather)

    soil, grass, dormant = sigma0(zeros, 1.0), sigma0(ones, 1.0), sigma0(ones, 0.0)
    assert grass[1].mean() > 2.0 * soil[1].mean()  # vh: volume scattering
    assert grass[1].mean() / grass[0].mean() > soil[1].mean() / soil[0].mean()
    assert grass[1].mean() > dormant[1].mean()  # it grows with the season


@pytest.mark.parametrize("enl", [0.0, -1.0, float("nan")])
def test_bad_enl_raises(scenario: Scenario, enl: float) -> None:
    with pytest.raises(InputError, match="enl=.* must be > 0"):
        render_sar_scene(scenario, scenario.dates[0], enl=enl)
    with pytest.raises(InputError, match="enl=.* must be > 0"):
        speckle(np.ones((4, 4)), enl, np.random.default_rng(0))


def test_landcover_on_another_grid_raises() -> None:
    layout = build_layout(64)
    small = np.ones((8, 8), np.float32)
    cover = {"veg": small, "forest": small, "soil": small, "sea": small}
    weather = SARWeather(wind=1.0, moisture=small, green=small)
    with pytest.raises(InputError, match=r"landcover\['veg'\]: shape \(8, 8\)"):
        sar_backscatter(layout, (), cover, weather)
