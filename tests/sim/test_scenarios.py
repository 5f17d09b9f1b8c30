"""Scenarios: dates, events, nuisances and determinism (small scenes, no files)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.sim.layout import SITE_CRS
from sitewatch.sim.render import render_scene
from sitewatch.sim.scenarios import SCENARIOS, build_scenario

SIZE = 96


@pytest.fixture(scope="module")
def sohae():
    return build_scenario("sohae-2019", seed=7, size=SIZE)


@pytest.fixture(scope="module")
def sohae_full():
    # Building (not rendering) the full-size scenario is cheap: sizes are checked on it.
    return build_scenario("sohae-2019", seed=7)


def test_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(InputError) as info:
        build_scenario("sohae-2020", seed=1, size=SIZE)
    for name in SCENARIOS:
        assert name in str(info.value)


def test_too_small_a_scene_is_refused() -> None:
    with pytest.raises(InputError, match="size"):
        build_scenario("quiet", size=16)


def test_same_seed_same_pixels_different_seed_different() -> None:
    a = build_scenario("sohae-2019", seed=11, size=64)
    b = build_scenario("sohae-2019", seed=11, size=64)
    c = build_scenario("sohae-2019", seed=12, size=64)
    assert a.dates == b.dates
    assert a.events == b.events
    for i in (0, len(a.dates) // 2):
        ra, rb = render_scene(a, i), render_scene(b, i)
        assert ra.data.tobytes() == rb.data.tobytes()
        assert ra.cloud_mask.tobytes() == rb.cloud_mask.tobytes()
        assert ra.transform == rb.transform and ra.crs == rb.crs
    assert a.dates != c.dates or a.acquisitions != c.acquisitions
    assert render_scene(a, 0).data.tobytes() != render_scene(c, 0).data.tobytes()


def test_dates_span_june_2018_to_april_2019_every_5_to_10_days(sohae) -> None:
    dates = sohae.dates
    assert dates[0] >= dt.date(2018, 6, 1) and dates[0] < dt.date(2018, 6, 10)
    assert dt.date(2019, 4, 20) <= dates[-1] <= dt.date(2019, 4, 30)
    gaps = {(b - a).days for a, b in zip(dates[:-1], dates[1:])}
    assert gaps <= set(range(5, 11))


def test_events_lie_inside_the_site_and_their_zones(sohae, sohae_full) -> None:
    for scenario in (sohae, sohae_full):
        zones = scenario.layout.zones
        assert set(zones) == {
            "launch_pad", "gantry", "engine_test_stand", "rail_transfer",
            "assembly_building", "propellant_storage", "support",
        }  # fmt: skip
        for e in scenario.events:
            assert e.zone in zones
            assert zones[e.zone].buffer(1e-6).contains(e.geometry), e.event_id
            assert scenario.layout.site.contains(e.geometry)
            for part in e.adds:
                assert zones[e.zone].buffer(1e-6).contains(part.polygon), (e.event_id, part.id)


def test_zones_are_disjoint(sohae) -> None:
    names = list(sohae.layout.zones)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert sohae.layout.zones[a].intersection(sohae.layout.zones[b]).area == 0


def test_quiet_has_no_events_but_the_same_nuisances() -> None:
    quiet = build_scenario("quiet", seed=7, size=SIZE)
    sohae = build_scenario("sohae-2019", seed=7, size=SIZE)
    assert quiet.events == ()
    assert quiet.dates == sohae.dates
    assert any(a.cloud_cover > 0 for a in quiet.acquisitions)


def test_sohae_dismantling_then_rebuilding(sohae) -> None:
    lasting = [e for e in sohae.events if e.kind != "transient"]
    for zone in ("engine_test_stand", "rail_transfer"):
        gone = [e for e in lasting if e.zone == zone and e.kind == "disappeared"]
        back = [e for e in lasting if e.zone == zone and e.kind == "appeared"]
        assert gone and back, zone
        # late July 2018 (the building at the test stand follows in August)
        assert dt.date(2018, 7, 20) <= min(e.onset for e in gone) <= dt.date(2018, 7, 31)
        assert all(e.onset <= dt.date(2018, 8, 31) for e in gone)
        # mid February 2019
        assert dt.date(2019, 2, 10) <= min(e.onset for e in back) <= dt.date(2019, 2, 22)
    # quiet through the winter: nothing lasting or transient between October and February
    winter = [e for e in sohae.events if dt.date(2018, 10, 31) < e.onset < dt.date(2019, 2, 1)]
    assert winter == []
    assert [(c.date, c.label) for c in sohae.context_events] == [
        (dt.date(2019, 2, 28), "Hanoi summit")
    ]


def test_cranes_and_vehicles_are_transient(sohae) -> None:
    transient = [e for e in sohae.events if e.kind == "transient"]
    labels = " ".join(e.label for e in transient)
    assert "crane" in labels and "vehicles" in labels
    for e in sohae.events:
        if "crane" in e.label or "vehicle" in e.label:
            assert e.kind == "transient"
        assert (e.end is not None) == (e.kind == "transient")
        if e.end is not None:
            assert e.end > e.onset
            # a transient spans at least one acquisition
            assert any(e.active(d) for d in sohae.dates)
    rebuild = [e for e in transient if dt.date(2019, 2, 1) <= e.onset <= dt.date(2019, 3, 31)]
    assert {e.zone for e in rebuild} >= {"engine_test_stand", "rail_transfer"}


def test_real_changes_are_at_least_150_m2_at_full_size(sohae_full) -> None:
    for e in sohae_full.events:
        if e.kind != "transient":
            assert e.geometry.area >= 150, e
    assert sohae_full.layout.pixel_m == 3.0 and sohae_full.layout.width == 512


def test_one_date_is_in_epsg_4326(sohae) -> None:
    crs = [a.crs for a in sohae.acquisitions]
    assert crs.count("EPSG:4326") == 1
    assert crs.count(SITE_CRS) == len(crs) - 1
    i = crs.index("EPSG:4326")
    scene = render_scene(sohae, i)
    assert scene.crs == "EPSG:4326"
    assert scene.transform.a < 1e-3 and scene.transform.e < 0  # degrees, north-up
    west, north = scene.transform.c, scene.transform.f
    assert 124.6 < west < 124.705 < west + scene.data.shape[2] * scene.transform.a
    assert 39.66 < north < 39.7
    # the rotated UTM footprint leaves nodata corners
    assert (scene.data == 0).all(axis=0).any()
    assert scene.cloud_mask.shape == scene.data.shape[1:]


def test_shifts_follow_the_scenario_settings() -> None:
    for name, (lo, hi) in (("sohae-2019", (0.1, 0.6)), ("misregistered", (0.5, 2.0))):
        s = build_scenario(name, seed=5, size=64)
        mags = [float(np.hypot(*a.shift_px)) for a in s.acquisitions]
        assert lo - 1e-9 <= min(mags) and max(mags) <= hi + 1e-9
    big = build_scenario("misregistered", seed=5, size=64)
    assert max(float(np.hypot(*a.shift_px)) for a in big.acquisitions) > 1.0


def test_some_dates_are_partial_and_snow_only_in_january() -> None:
    s = build_scenario("sohae-2019", seed=3, size=64)
    assert any(a.coverage_edge is not None for a in s.acquisitions)
    for a in s.acquisitions:
        if a.snow > 0:
            assert a.date.month == 1
