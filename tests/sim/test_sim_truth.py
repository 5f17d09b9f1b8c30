"""Truth: first_seen and last_unchanged follow clear acquisitions; events.geojson form."""

from __future__ import annotations

from dataclasses import replace

import pytest
from shapely.geometry import shape

from sitewatch.sim.scenarios import Scenario, build_scenario
from sitewatch.sim.truth import truth_events, truth_geojson
from sitewatch.sim.write import scenario_site


def clear_skies(s: Scenario) -> Scenario:
    acqs = tuple(
        replace(a, cloud_cover=0.0, cloud_patches=(), coverage_edge=None) for a in s.acquisitions
    )
    return replace(s, acquisitions=acqs)


@pytest.fixture(scope="module")
def sohae() -> Scenario:
    return build_scenario("sohae-2019", seed=7, size=96)


def test_clear_skies_first_seen_is_the_first_date_on_or_after_onset(sohae) -> None:
    s = clear_skies(sohae)
    for t in truth_events(s):
        e = t.event
        assert t.first_seen == min(d for d in s.dates if d >= e.onset)
        before = [d for d in s.dates if d < e.onset]
        assert t.last_unchanged == (before[-1] if before else None)


def test_a_cloud_on_the_first_look_moves_first_seen_to_the_next_clear_date(sohae) -> None:
    s = clear_skies(sohae)
    e = next(ev for ev in s.events if ev.kind == "disappeared" and ev.zone == "engine_test_stand")
    i = next(k for k, d in enumerate(s.dates) if d >= e.onset)
    c = e.geometry.centroid
    acqs = list(s.acquisitions)
    acqs[i] = replace(acqs[i], cloud_patches=((c.x, c.y, 60.0),))
    cloudy = replace(s, acquisitions=tuple(acqs))
    t = next(t for t in truth_events(cloudy) if t.event.event_id == e.event_id)
    assert t.first_seen == s.dates[i + 1]
    assert t.last_unchanged == max(d for d in s.dates if d < e.onset)
    # a scene edge that leaves the event out does the same
    acqs[i] = replace(s.acquisitions[i], coverage_edge=(180.0, 0.0))  # west half gone
    partial = replace(s, acquisitions=tuple(acqs))
    t = next(t for t in truth_events(partial) if t.event.event_id == e.event_id)
    assert t.first_seen == s.dates[i + 1]


def test_sohae_hides_the_reassembled_transfer_structure_on_its_first_look(sohae) -> None:
    e = next(ev for ev in sohae.events if ev.zone == "rail_transfer" and ev.kind == "appeared")
    t = next(t for t in truth_events(sohae) if t.event is e)
    first_after = min(d for d in sohae.dates if d >= e.onset)
    assert t.first_seen is not None and t.first_seen > first_after


def test_transients_are_first_seen_while_present(sohae) -> None:
    for t in truth_events(sohae):
        if t.first_seen is not None:
            assert t.event.active(t.first_seen)
            if t.last_unchanged is not None:
                assert t.last_unchanged < t.event.onset


def test_truth_geojson_has_the_events_geojson_properties(sohae) -> None:
    fc = truth_geojson(sohae)
    assert fc["type"] == "FeatureCollection"
    site = scenario_site(sohae)
    observed = [t for t in truth_events(sohae) if t.observed]
    assert len(fc["features"]) == len(observed) > 0
    ids = {f["properties"]["event_id"] for f in fc["features"]}
    assert ids.isdisjoint({u["event_id"] for u in fc["unobserved"]})
    for f in fc["features"]:
        p = f["properties"]
        assert {"event_id", "first_seen", "last_unchanged", "zone", "kind", "area_m2",
                "score", "p_value", "onset"} <= set(p)  # fmt: skip
        assert p["kind"] in ("appeared", "disappeared", "modified", "transient")
        assert p["score"] == 1.0 and p["p_value"] == 0.0
        assert p["first_seen"] >= p["onset"]
        assert p["last_unchanged"] < p["onset"]
        geom = shape(f["geometry"])
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert site.geometry.contains(geom)
        assert site.zone(p["zone"]).geometry.buffer(1e-7).contains(geom)


def test_quiet_truth_is_empty() -> None:
    quiet = build_scenario("quiet", seed=7, size=64)
    fc = truth_geojson(quiet)
    assert fc["features"] == [] and fc["unobserved"] == []


def test_an_event_never_clear_before_its_onset_is_unobserved(sohae) -> None:
    s = clear_skies(sohae)
    e = next(ev for ev in s.events if ev.kind == "disappeared" and ev.zone == "engine_test_stand")
    c = e.geometry.centroid
    acqs = [
        replace(a, cloud_patches=((c.x, c.y, 60.0),)) if a.date < e.onset else a
        for a in s.acquisitions
    ]
    hidden = replace(s, acquisitions=tuple(acqs))
    t = next(t for t in truth_events(hidden) if t.event.event_id == e.event_id)
    assert t.first_seen is not None and t.last_unchanged is None and not t.observed
    fc = truth_geojson(hidden)
    assert e.event_id not in {f["properties"]["event_id"] for f in fc["features"]}
    (u,) = [u for u in fc["unobserved"] if u["event_id"] == e.event_id]
    assert u["reason"] == "never clear before the onset"
