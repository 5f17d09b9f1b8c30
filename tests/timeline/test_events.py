"""Event tracking on synthetic series with known truth (3 bands, 40 x 40 px, 10 m pixels)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from sitewatch.errors import InputError
from sitewatch.models import Event
from sitewatch.timeline.events import EventTracker, TrackedSeries, track_series
from sitewatch.timeline.zones import zone_timeline

SIGMA = 0.01
SHAPE = (40, 40)
AREA = 100.0  # m2 per 10 m pixel
DATES = [dt.date(2024, 1, 1) + dt.timedelta(days=10 * i) for i in range(9)]

Box = tuple[slice, slice]
BUILDING: Box = (slice(10, 18), slice(10, 20))  # 80 px


def z_test(reference: np.ndarray, scene: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Calibrated test: sum over bands of squared standardised differences ~ chi2(bands)."""
    d = (scene - reference) / (SIGMA * np.sqrt(2.0))
    stat = np.sum(np.where(valid[None], d, 0.0) ** 2, axis=0)
    return np.asarray(stats.chi2.sf(stat, df=reference.shape[0]))


class Series:
    """A noisy 3-band background with per-date edits of the truth and of the clouds."""

    def __init__(self, n: int = len(DATES), seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.truth = [np.full((3, *SHAPE), 0.2, dtype=np.float32) for _ in range(n)]
        self.clear = [np.ones(SHAPE, bool) for _ in range(n)]
        self.dates = DATES[:n]

    def add(self, box: Box, dates: range | list[int], value: float = 0.5) -> Series:
        for i in dates:
            self.truth[i][(slice(None), *box)] = value
        return self

    def cloud(self, box: Box, i: int) -> Series:
        self.clear[i][box] = False
        return self

    def run(self, **options: object) -> TrackedSeries:
        scenes = [t + self.rng.normal(0.0, SIGMA, t.shape).astype(np.float32) for t in self.truth]
        kw: dict[str, object] = {"pixel_area_m2": AREA, "alpha": 1e-3, "min_area_px": 6}
        kw.update(options)
        return track_series(self.dates, scenes, self.clear, z_test, **kw)  # type: ignore[arg-type]


def only(events: list[Event]) -> Event:
    assert len(events) == 1, [(e.kind, e.first_seen, e.area_m2) for e in events]
    return events[0]


def test_building_seen_through_a_cloudy_date_is_one_appeared_event() -> None:
    s = Series().add(BUILDING, range(5, 9)).cloud(BUILDING, 6)
    ev = only(s.run().events)
    assert ev.kind == "appeared"
    assert ev.event_id == "e0001"
    assert (ev.first_seen, ev.last_unchanged, ev.confirmed_on) == (DATES[5], DATES[4], DATES[7])
    assert ev.confirmed
    assert ev.area_m2 == pytest.approx(80 * AREA)
    assert ev.footprint[BUILDING].all() and ev.footprint.sum() == 80
    assert ev.offset == (10, 10) and ev.mask.shape == (8, 10)
    assert 0.9 < ev.score <= 1.0 and 0.0 <= ev.p_value < 1e-6
    assert ev.change == pytest.approx(0.3, abs=0.01)
    assert [g.date for g in ev.growth] == [DATES[5]]


def test_cloud_at_the_first_date_moves_first_seen_but_not_last_unchanged() -> None:
    s = Series().add(BUILDING, range(5, 9)).cloud(BUILDING, 5)
    ev = only(s.run().events)
    assert (ev.kind, ev.first_seen, ev.last_unchanged) == ("appeared", DATES[6], DATES[4])
    assert ev.confirmed_on == DATES[7]


def test_partly_cloudy_before_gives_the_date_most_of_it_was_last_seen() -> None:
    # date 4 sees only a quarter of the site of the building: most was last seen at date 3
    s = Series().add(BUILDING, range(5, 9)).cloud((slice(10, 16), slice(0, 40)), 4)
    assert only(s.run().events).last_unchanged == DATES[3]


def test_vehicle_seen_once_is_transient() -> None:
    s = Series().add((slice(30, 33), slice(5, 9)), [4])
    ev = only(s.run().events)
    assert (ev.kind, ev.first_seen, ev.last_unchanged) == ("transient", DATES[4], DATES[3])
    assert ev.confirmed and ev.confirmed_on == DATES[5]
    assert ev.area_m2 == pytest.approx(12 * AREA)


def test_transient_is_judged_against_the_pre_change_state_across_clouds() -> None:
    box = (slice(30, 33), slice(5, 9))
    s = Series().add(box, [4]).cloud(box, 5)
    ev = only(s.run().events)
    assert (ev.kind, ev.confirmed_on) == ("transient", DATES[6])


def test_growing_region_is_one_event_with_its_growth() -> None:
    s = Series()
    s.add((slice(5, 15), slice(5, 10)), range(3, 9))
    s.add((slice(5, 15), slice(10, 15)), range(4, 9))
    s.add((slice(5, 15), slice(15, 22)), range(5, 9))
    ev = only(s.run().events)
    assert ev.kind == "appeared" and ev.first_seen == DATES[3]
    assert [g.date for g in ev.growth] == DATES[3:6]
    assert [g.area_m2 for g in ev.growth] == [50 * AREA, 100 * AREA, 170 * AREA]
    assert ev.area_m2 == 170 * AREA


def test_growth_next_to_a_cloudy_unconfirmed_part_joins_it() -> None:
    first = (slice(5, 15), slice(5, 10))
    s = Series().add(first, range(3, 9)).add((slice(5, 15), slice(10, 15)), range(4, 9))
    s.cloud(first, 4)
    ev = only(s.run().events)
    assert len(ev.growth) == 2 and ev.area_m2 == 100 * AREA


def test_a_change_beside_an_event_that_stopped_growing_is_a_new_event() -> None:
    # the first structure appears at 2 and stays; nothing grows at 3; its neighbour at 4
    s = Series().add((slice(5, 15), slice(5, 10)), range(2, 9))
    s.add((slice(5, 15), slice(10, 15)), range(4, 9))
    ev = s.run().events
    assert [(e.first_seen, e.last_unchanged) for e in ev] == [
        (DATES[2], DATES[1]), (DATES[4], DATES[3])
    ]


def test_a_change_of_another_kind_beside_a_growing_event_is_a_new_event() -> None:
    s = Series().add((slice(5, 15), slice(5, 10)), range(2, 9), 0.5)  # brighter: appeared
    s.add((slice(5, 15), slice(10, 15)), range(3, 9), 0.05)  # darker, next door, next date
    ev = s.run().events
    assert [(e.kind, e.first_seen) for e in ev] == [
        ("appeared", DATES[2]), ("disappeared", DATES[3])
    ]


def test_demolition_of_a_confirmed_building_is_a_new_event() -> None:
    s = Series().add(BUILDING, range(2, 6))  # built at 2, gone from 6 on
    ev = s.run().events
    assert [(e.event_id, e.kind, e.first_seen) for e in ev] == [
        ("e0001", "appeared", DATES[2]),
        ("e0002", "disappeared", DATES[6]),
    ]
    assert ev[1].last_unchanged == DATES[5]


@pytest.mark.parametrize(
    ("value", "kind"), [(0.5, "appeared"), (0.05, "disappeared"), (None, "modified")]
)
def test_kind_follows_the_direction_of_change(value: float | None, kind: str) -> None:
    s = Series()
    if value is None:  # half brighter, half darker
        s.add((slice(10, 18), slice(10, 15)), range(4, 9), 0.5)
        s.add((slice(10, 18), slice(15, 20)), range(4, 9), 0.05)
    else:
        s.add(BUILDING, range(4, 9), value)
    assert only(s.run().events).kind == kind


def test_event_straddling_two_zones_takes_the_majority_zone() -> None:
    labels = np.zeros(SHAPE, np.int64)
    labels[:, :14] = 1  # 4 of the building's 10 columns in "gantry"
    labels[:, 14:30] = 2  # 6 in "launch_pad"
    s = Series().add(BUILDING, range(4, 9))
    ev = only(s.run(zone_labels=labels, zone_names=("gantry", "launch_pad")).events)
    assert ev.zone == "launch_pad"


def test_event_mostly_outside_zones_has_no_zone() -> None:
    labels = np.zeros(SHAPE, np.int64)
    labels[:, :12] = 1
    ev = only(Series().add(BUILDING, range(4, 9)).run(zone_labels=labels, zone_names=["a"]).events)
    assert ev.zone is None


@pytest.mark.parametrize(("site_from_col", "n"), [(0, 1), (15, 1), (16, 0), (30, 0)])
def test_event_mostly_outside_the_site_is_not_reported(site_from_col: int, n: int) -> None:
    site = np.zeros(SHAPE, bool)
    site[:, site_from_col:] = True  # the building spans columns 10-19
    out = Series().add(BUILDING, range(4, 9)).run(site_mask=site).events
    assert len(out) == n
    assert all(e.event_id == "e0001" for e in out)


@pytest.mark.parametrize(("core_p", "kind"), [(1e-12, "appeared"), (2e-3, "transient")])
def test_votes_weigh_by_detection_strength(core_p: float, kind: str) -> None:
    """A 6 x 6 change detected with a 2 px halo of barely significant pixels (window
    statistics spill past its edge): at the next look the halo (64 px) reverts and
    the core (36 px) stays.  Counted equally the halo outvotes the core; weighed by
    detection strength the change persists, and its footprint is the core."""
    core = np.zeros(SHAPE, bool)
    core[12:18, 12:18] = True
    halo = np.zeros(SHAPE, bool)
    halo[10:20, 10:20] = True
    halo &= ~core
    clear = np.ones(SHAPE, bool)
    tr = EventTracker(SHAPE, pixel_area_m2=AREA, alpha=1e-2, min_area_px=6)
    p0 = np.ones(SHAPE)
    p1 = np.where(core, core_p, np.where(halo, 5e-3, 1.0))
    p2 = np.where(core, core_p, 1.0)
    delta = np.where(core | halo, 0.1, 0.0)
    for date, p in zip(DATES, (p0, p1, p2)):
        tr.update(date, clear, delta, p_value=p)
    ev = only(tr.finish())
    assert ev.kind == kind
    assert ev.area_m2 == (36 if kind == "appeared" else 100) * AREA


def test_nothing_changes_gives_no_events() -> None:
    out = Series(seed=3).run()
    assert out.events == []
    assert not any(c.any() for c in out.changed)
    assert not out.judged[0].any() and out.judged[1].all()
    rows = zone_timeline(DATES, out.judged, out.changed, None, (), AREA)
    assert [r.clear_fraction for r in rows] == [0.0] + [1.0] * 8
    z = np.array([r.anomaly_z for r in rows])
    assert np.isnan(z[:4]).all() and (z[4:] == 0.0).all()


@pytest.mark.parametrize(("emit", "n"), [(True, 1), (False, 0)])
def test_change_at_the_last_date_is_unconfirmed(emit: bool, n: int) -> None:
    out = Series().add(BUILDING, [8]).run(emit_unconfirmed=emit)
    assert len(out.events) == n
    if emit:
        ev = out.events[0]
        assert (ev.kind, ev.confirmed, ev.confirmed_on) == ("appeared", False, None)
        assert ev.score <= 0.5


def test_event_ids_follow_first_seen_then_position() -> None:
    s = Series()
    s.add((slice(30, 36), slice(30, 36)), range(3, 9))  # lower right, first
    s.add((slice(2, 8), slice(25, 31)), range(5, 9))  # top right, later
    s.add((slice(2, 8), slice(2, 8)), range(5, 9))  # top left, later
    got = [(e.event_id, e.first_seen, e.offset) for e in s.run().events]
    assert got == [
        ("e0001", DATES[3], (30, 30)),
        ("e0002", DATES[5], (2, 2)),
        ("e0003", DATES[5], (2, 25)),
    ]


def test_reference_is_held_until_confirmation_then_moves_to_the_new_state() -> None:
    s = Series().add(BUILDING, range(5, 9)).cloud(BUILDING, 6)
    scenes = [t + 0.0 for t in s.truth]  # noise-free
    seen: list[int] = []

    def spy(reference: np.ndarray, scene: np.ndarray, valid: np.ndarray) -> np.ndarray:
        seen.append(int(np.round(reference[0, 12, 12] * 10)))
        return z_test(reference, scene, valid)

    out = track_series(DATES, scenes, s.clear, spy, pixel_area_m2=AREA, min_area_px=6)
    # reference value (x10) at a building pixel when each date from 1 on is tested
    assert seen == [2, 2, 2, 2, 2, 2, 2, 5]
    assert out.reference.index[12, 12] == 8 and out.reference.index[0, 0] == 8


def test_decisions_without_p_values_use_alpha_as_the_bound() -> None:
    tr = EventTracker(SHAPE, pixel_area_m2=AREA, alpha=0.01)
    clear, delta = np.ones(SHAPE, bool), np.zeros(SHAPE)
    dec = np.zeros(SHAPE, bool)
    dec[BUILDING] = True
    for i, d in enumerate(DATES[:4]):
        changed = i in (1, 2)  # seen at 1, still there against the old state at 2, then normal
        tr.update(d, clear, delta + changed, decision=dec if changed else ~clear)
        if i == 1:
            assert tr.hold[BUILDING].all() and tr.hold.sum() == 80
    ev = only(tr.finish())
    assert ev.p_value == 0.01 and ev.kind == "appeared" and ev.first_seen == DATES[1]
    assert not tr.hold.any()


def _tracker() -> EventTracker:
    return EventTracker(SHAPE, pixel_area_m2=AREA)


def _upd(**bad: object) -> Callable[[], object]:
    args: dict[str, object] = {
        "date": DATES[0],
        "clear": np.ones(SHAPE, bool),
        "delta": np.zeros(SHAPE),
        "p_value": np.ones(SHAPE),
    }
    args.update(bad)
    return lambda: _tracker().update(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (_upd(clear=np.ones((4, 4), bool)), r"clear: shape \(4, 4\)"),
        (_upd(delta=np.zeros((40, 41))), r"delta: shape"),
        (_upd(p_value=np.ones((3, 40, 40))), r"p_value: shape"),
        (_upd(p_value=None), "give at least one"),
        (lambda: EventTracker((40,), pixel_area_m2=AREA), "shape"),  # type: ignore[arg-type]
        (lambda: EventTracker(SHAPE, pixel_area_m2=0.0), "pixel_area_m2"),
        (lambda: EventTracker(SHAPE, pixel_area_m2=AREA, alpha=1.5), "alpha"),
        (lambda: EventTracker(SHAPE, pixel_area_m2=AREA, min_area_px=0), "min_area_px"),
        (
            lambda: EventTracker(SHAPE, pixel_area_m2=AREA, site_mask=np.ones((4, 4), bool)),
            r"site_mask: shape \(4, 4\)",
        ),
        (
            lambda: EventTracker(
                SHAPE, pixel_area_m2=AREA, zone_labels=np.full(SHAPE, 2), zone_names=["a"]
            ),
            "zone_labels: values",
        ),
        (
            lambda: EventTracker(
                SHAPE, pixel_area_m2=AREA, zone_labels=np.zeros((3, 3), int), zone_names=["a"]
            ),
            "zone_labels: shape",
        ),
        (
            lambda: EventTracker(
                SHAPE, pixel_area_m2=AREA, zone_labels=np.zeros(SHAPE, int), zone_names=["_site"]
            ),
            "zone_names",
        ),
    ],
)
def test_bad_tracker_input_is_named(call: Callable[[], object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()


def test_dates_must_increase_in_the_tracker() -> None:
    tr = _tracker()
    clear, delta, p = np.ones(SHAPE, bool), np.zeros(SHAPE), np.ones(SHAPE)
    tr.update(DATES[1], clear, delta, p_value=p)
    with pytest.raises(InputError, match="does not follow"):
        tr.update(DATES[1], clear, delta, p_value=p)
    with pytest.raises(InputError, match="does not follow"):
        tr.update(DATES[0], clear, delta, p_value=p)


@pytest.mark.parametrize(
    ("dates", "n_scenes", "match"),
    [
        ([DATES[1], DATES[0], DATES[2]], 3, "strictly increasing"),
        (DATES[:3], 2, "scenes: 2 items for 3 dates"),
    ],
)
def test_bad_series_input_is_named(dates: list[dt.date], n_scenes: int, match: str) -> None:
    scenes = [np.zeros((3, *SHAPE), np.float32)] * n_scenes
    with pytest.raises(InputError, match=match):
        track_series(dates, scenes, [np.ones(SHAPE, bool)] * 3, z_test, pixel_area_m2=AREA)


def test_scene_with_other_bands_is_refused() -> None:
    scenes = [np.zeros((3, *SHAPE), np.float32), np.zeros((2, *SHAPE), np.float32)]
    with pytest.raises(InputError, match=r"scene: shape \(2, 40, 40\)"):
        track_series(DATES[:2], scenes, [np.ones(SHAPE, bool)] * 2, z_test, pixel_area_m2=AREA)


def test_bridge_between_two_events_merges_them() -> None:
    s = Series().add((slice(10, 18), slice(5, 10)), range(3, 9))
    s.add((slice(10, 18), slice(15, 20)), range(3, 9))
    s.add((slice(10, 18), slice(10, 15)), range(4, 9))  # touches both
    ev = only(s.run().events)
    assert [g.area_m2 for g in ev.growth] == [80 * AREA, 120 * AREA]
    assert ev.footprint[BUILDING].all()


@pytest.mark.parametrize(("cloud_rows", "settled_at"), [(3, 6), (5, 7)])
def test_candidate_is_settled_once_half_of_it_was_seen_again(
    cloud_rows: int, settled_at: int
) -> None:
    # the building has 8 rows; clouds over 3 of them leave 5/8 to vote, over 5 only 3/8
    s = Series().add(BUILDING, range(5, 9)).cloud((slice(10, 10 + cloud_rows), slice(0, 40)), 6)
    ev = only(s.run().events)
    assert (ev.kind, ev.confirmed_on) == ("appeared", DATES[settled_at])


def test_event_footprint_is_read_only() -> None:
    ev = only(Series().add(BUILDING, range(4, 9)).run().events)
    with pytest.raises(ValueError, match="read-only"):
        ev.mask[0, 0] = False


def test_a_change_along_a_new_cloud_edge_waits_for_the_next_clear_look() -> None:
    # date 4: a cloud covers rows 10-18; the strip just below it brightens (its missed rim)
    rim = (slice(18, 21), slice(10, 20))
    s = Series().cloud((slice(10, 18), slice(10, 20)), 4).add(rim, [4])
    assert s.run().events == []
    # a real change there shows again at the next look: found then, dated by the first
    s = Series(seed=1).cloud((slice(10, 18), slice(10, 20)), 4).add(rim, range(4, 9))
    ev = only(s.run().events)
    assert (ev.kind, ev.first_seen, ev.last_unchanged) == ("appeared", DATES[4], DATES[3])
    # ... unless the rim went back and a change came later: dated by its own look
    s = Series(seed=1).cloud((slice(10, 18), slice(10, 20)), 4).add(rim, [4])
    s.add(rim, range(6, 9))
    ev = only(s.run().events)
    assert (ev.first_seen, ev.last_unchanged) == (DATES[6], DATES[5])
    # ... or the next look changed the other way (brighter rim, then a dark apron)
    s = Series(seed=1).cloud((slice(10, 18), slice(10, 20)), 4).add(rim, [4])
    s.add(rim, range(5, 9), value=0.0)
    ev = only(s.run().events)
    assert (ev.kind, ev.first_seen) == ("disappeared", DATES[5])


def test_a_change_beside_a_cloud_but_mostly_away_from_it_is_not_deferred() -> None:
    # a cloud ends two columns left of the building: one tenth of it is within 3 px
    s = Series().cloud((slice(10, 18), slice(0, 8)), 4).add(BUILDING, range(4, 9))
    ev = only(s.run().events)
    assert ev.first_seen == DATES[4]
    # without the rule even the rim of the previous test is an event at once
    rim = (slice(18, 21), slice(10, 20))
    s = Series().cloud((slice(10, 18), slice(10, 20)), 4).add(rim, [4])
    assert only(s.run(rim_px=0).events).kind == "transient"


def test_pixels_never_seen_before_are_not_a_rim() -> None:
    # the left columns are outside every image: a change along them is judged at once
    s = Series().add((slice(10, 20), slice(3, 9)), range(4, 9))
    for i in range(len(DATES)):
        s.cloud((slice(0, 40), slice(0, 3)), i)
    assert only(s.run().events).first_seen == DATES[4]


def test_a_deferred_rim_keeps_its_reference_but_is_not_awaiting() -> None:
    t = EventTracker(SHAPE, pixel_area_m2=AREA, alpha=1e-3, min_area_px=6)
    clear = np.ones(SHAPE, bool)
    zero = np.zeros(SHAPE)
    t.update(DATES[0], clear, zero, p_value=np.full(SHAPE, 0.5))
    clear2 = clear.copy()
    clear2[10:18, 10:20] = False
    p = np.full(SHAPE, 0.5)
    p[18:21, 10:20] = 1e-9
    new = t.update(DATES[1], clear2, zero, p_value=np.where(clear2, p, np.nan))
    assert not new.any()
    assert t.hold[18:21, 10:20].all() and t.hold.sum() == 30
    assert not t.awaiting.any()


@pytest.mark.parametrize(("rim_px", "rim_share"), [(-1, 0.25), (3, 0.0), (3, 1.5)])
def test_bad_rim_options_are_refused(rim_px: int, rim_share: float) -> None:
    with pytest.raises(InputError, match="rim_px, rim_share"):
        EventTracker(SHAPE, pixel_area_m2=AREA, rim_px=rim_px, rim_share=rim_share)


def test_a_building_touching_a_growing_event_at_a_corner_is_its_own_event() -> None:
    s = Series().add((slice(5, 15), slice(5, 15)), range(3, 9))
    s.add((slice(15, 25), slice(15, 25)), range(4, 9))  # diagonal neighbour, next look
    evs = s.run().events
    assert [(e.first_seen, e.area_m2) for e in evs] == [
        (DATES[3], 100 * AREA),
        (DATES[4], 100 * AREA),
    ]
    # with no edge asked for, it is growth
    assert len(s.run(join_edge_share=0.0).events) == 1


def test_a_bad_join_edge_share_is_refused() -> None:
    with pytest.raises(InputError, match="join_edge_share"):
        EventTracker(SHAPE, pixel_area_m2=AREA, join_edge_share=1.5)
