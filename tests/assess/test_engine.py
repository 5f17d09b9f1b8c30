"""The assessment engine on hand-built events and timelines with known answers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from assesskit import DATES, make_event, make_site, make_timeline

from sitewatch.assess.engine import evaluate, evaluate_on
from sitewatch.assess.profiles import load_profile, parse_profile
from sitewatch.errors import InputError, ProfileError
from sitewatch.io.assessment import EventRecord
from sitewatch.models import STATUS_LEVELS, Event, ZoneTimelineRow

LAUNCH = load_profile("launch_site")
D = DATES


_BURSTS = {("engine_test_stand", D[7]): 0.03, ("rail_transfer", D[8]): 0.04}


def _burst() -> tuple[list[Event], list[ZoneTimelineRow]]:
    """Rebuilding at the test stand (seen at D[7]) and the transfer structure (seen at D[8])."""
    events = [
        make_event("e0001", "engine_test_stand", D[7], 400.0, confirmed_on=D[8],
                   last_unchanged=D[6]),
        make_event("e0002", "rail_transfer", D[8], 300.0, confirmed_on=D[9],
                   last_unchanged=D[7]),
        make_event("e0003", "engine_test_stand", D[7], 60.0, kind="transient",
                   confirmed_on=D[8]),
    ]  # fmt: skip
    return events, make_timeline(_BURSTS)


def test_quiet_stays_quiet() -> None:
    a = evaluate(LAUNCH, make_site(), [], make_timeline(), DATES)
    assert [p.status for p in a.history] == ["quiet"] * len(DATES)
    assert a.status == "quiet" and not any(r.triggered for r in a.indicators)
    assert all(0.0 <= p.score < 0.25 for p in a.history)
    assert "No indicator reached its threshold" in a.summary


def test_burst_at_two_zones_goes_high_at_the_right_date() -> None:
    events, timeline = _burst()
    a = evaluate(LAUNCH, make_site(), events, timeline, DATES)
    status = {p.date: p.status for p in a.history}
    assert all(status[d] == "quiet" for d in D[:7])
    # first look: an unconfirmed change, however large, is a lead, not an alert
    assert status[D[7]] == "activity"
    # the test stand's change is confirmed and corroborated by its burst above baseline
    assert status[D[8]] == "high"
    assert status[D[9]] == "high"
    scores = {p.date: p.score for p in a.history}
    assert scores[D[6]] < 0.25 <= scores[D[7]] < 0.5 <= 0.75 <= scores[D[8]] <= 1.0


def test_high_needs_corroboration() -> None:
    # one confirmed structure, no anomaly, one zone: a lead, not a finding
    events = [make_event("e0001", "engine_test_stand", D[7], 400.0, confirmed_on=D[8])]
    ev = evaluate_on(LAUNCH, make_site(), events, make_timeline(), D[8])
    fired = {(r.name, r.zone) for f in ev.findings if (r := f.result).triggered}
    assert ("structural_change", "engine_test_stand") in fired
    assert (ev.status, ev.capped) == ("elevated", True)
    # the same structure at a second zone corroborates it
    events.append(make_event("e0002", "rail_transfer", D[8], 300.0, confirmed_on=D[8]))
    ev = evaluate_on(LAUNCH, make_site(), events, make_timeline(), D[8])
    assert (ev.status, ev.capped) == ("high", False)


def _as_known_on(e: Event, d: dt.date) -> Event | None:
    """The event as a run stopped at ``d`` would have emitted it."""
    if e.first_seen > d:
        return None
    settled = e.confirmed_on is not None and e.confirmed_on <= d
    growth = tuple(s for s in e.growth if s.date <= d)
    return dataclasses.replace(
        e, confirmed=settled, confirmed_on=e.confirmed_on if settled else None,
        kind=e.kind if settled else "appeared", growth=growth, area_m2=growth[-1].area_m2,
    )  # fmt: skip


def test_no_lookahead() -> None:
    events, timeline = _burst()
    events.append(make_event("e0004", "launch_pad", D[4], 200.0, confirmed_on=D[6],
                             growth=[(D[4], 200.0), (D[5], 600.0), (D[9], 900.0)]))  # fmt: skip
    site = make_site()
    full = evaluate(LAUNCH, site, events, timeline, DATES)
    for i, d in enumerate(DATES):
        cut = [c for e in events if (c := _as_known_on(e, d)) is not None]
        rows = [r for r in timeline if r.date <= d]
        partial = evaluate(LAUNCH, site, cut, rows, DATES[: i + 1])
        assert partial.history[-1] == full.history[i], d
        if i == len(DATES) - 1:
            assert partial.indicators == full.indicators


def test_indicator_results_cite_evidence_and_values() -> None:
    events, timeline = _burst()
    ev = evaluate_on(LAUNCH, make_site(), events, timeline, D[9])
    by = {(f.result.name, f.result.zone): f for f in ev.findings}
    sc = by[("structural_change", "engine_test_stand")]
    assert sc.result.value == pytest.approx(400.0) and sc.result.evidence == ("e0001",)
    assert (sc.start, sc.end) == (D[6], D[7])
    za = by[("several_zones_active", None)]
    assert za.result.value == 2 and za.result.triggered and za.zones == (
        "engine_test_stand", "rail_transfer"
    )
    tc = by[("vehicles_and_equipment", "engine_test_stand")]
    assert tc.result.value == 1 and tc.result.evidence == ("e0003",)
    # a transient is not a structure, even before it settles
    assert "e0003" not in by[("structural_change", "engine_test_stand")].result.evidence


def test_window_lets_old_change_fade() -> None:
    events, timeline = _burst()
    dates = (*DATES, D[-1] + dt.timedelta(days=60))
    a = evaluate(LAUNCH, make_site(), events, timeline, dates)
    assert a.history[-1].status == "quiet"
    assert (
        "The last alert period ran from 2019-03-22 to 2019-04-11 (peak: high), at the engine "
        "test stand and the rail-mounted transfer structure."
    ) in a.summary


@pytest.mark.parametrize("extra_days", [0, 60])
def test_late_minor_alert_does_not_hide_the_main_one(extra_days: int) -> None:
    events, _ = _burst()
    later = tuple(D[-1] + dt.timedelta(days=10 * k) for k in range(1, 7))
    # one small confirmed structure at one zone: elevated (high, not corroborated)
    events.append(make_event("e0009", "launch_pad", later[3], 200.0, confirmed_on=later[4]))
    dates = (*DATES, *later)
    if extra_days:
        dates = (*dates, dates[-1] + dt.timedelta(days=extra_days))
    a = evaluate(LAUNCH, make_site(), events, make_timeline(_BURSTS, dates=dates), dates)
    assert a.history[-1].status == ("quiet" if extra_days else "elevated")
    main = ("The strongest alert period ran from 2019-03-22 to 2019-04-11 (peak: high), at the "
            "engine test stand and the rail-mounted transfer structure.")  # fmt: skip
    assert main in a.summary
    assert ("The last alert period" in a.summary) == bool(extra_days)


def test_growth_rate_and_event_count() -> None:
    text = """\
name: t
indicators:
  - {name: grow, signal: growth_rate_m2_per_day, zones: [launch_pad], window_days: 20,
     threshold: 10, level: elevated}
  - {name: count, signal: event_count, zones: site, kinds: [appeared], window_days: 20,
     threshold: 2, level: activity}
"""
    p = parse_profile(text)
    e = make_event("e0001", "launch_pad", D[2], 100.0, confirmed_on=D[3],
                   growth=[(D[2], 100.0), (D[3], 300.0), (D[4], 450.0)])  # fmt: skip
    f = make_event("e0002", None, D[4], 50.0, confirmed_on=D[5])
    ev = evaluate_on(p, make_site(), [e, f], make_timeline(), D[4])
    grow, count = (x.result for x in ev.findings)
    assert grow.value == pytest.approx(350.0 / 20) and grow.triggered and grow.evidence == (
        "e0001",
    )
    # e0001 was first seen 20 days before: outside (D[4] - 20, D[4]]
    assert count.value == 1 and not count.triggered


def test_site_without_zones_uses_site_wide_indicators() -> None:
    site = make_site(())
    events = [make_event("e0001", None, D[3], 500.0, confirmed_on=D[4])]
    a = evaluate(LAUNCH, site, events, make_timeline(zones=()), DATES[:6])
    assert {r.zone for r in a.indicators} == {None}
    assert {r.name for r in a.indicators} == {"site_change"}
    assert a.history[4].status == "activity"
    assert "The site has no zones" in a.summary


def test_unknown_zone_and_no_dates_are_refused() -> None:
    p = parse_profile(
        "name: t\nindicators:\n  - {name: a, signal: event_count, zones: [moon], window_days: 5,"
        " threshold: 1, level: activity}\n", "t.yaml"
    )
    with pytest.raises(ProfileError, match=r"t\.yaml, line 3: .*'moon'"):
        evaluate(p, make_site(), [], [], DATES)
    with pytest.raises(InputError, match="dates"):
        evaluate(LAUNCH, make_site(), [], [], [])


def test_status_levels_are_ordered_in_the_score() -> None:
    events, timeline = _burst()
    a = evaluate(LAUNCH, make_site(), events, timeline, DATES)
    for p in a.history:
        level = STATUS_LEVELS.index(p.status)
        assert level / 4 <= p.score < (level + 1) / 4


def test_records_read_back_evaluate_like_events() -> None:
    events, timeline = _burst()
    records = [
        EventRecord(e.event_id, e.first_seen, e.last_unchanged, e.zone, e.kind, e.area_m2,
                    e.score, e.p_value, e.confirmed, e.confirmed_on, e.growth)
        for e in events
    ]  # fmt: skip
    a = evaluate(LAUNCH, make_site(), events, timeline, DATES)
    b = evaluate(LAUNCH, make_site(), records, timeline, DATES)
    assert a == b


def test_an_alert_under_way_says_since_when_and_where() -> None:
    events, timeline = _burst()
    a = evaluate(LAUNCH, make_site(), events, timeline, DATES[:10])
    assert a.history[-1].status == "high"
    assert (
        "The current alert period began on 2019-03-22 (peak so far: high), at the engine "
        "test stand and the rail-mounted transfer structure."
    ) in a.summary


def test_a_burst_gone_at_the_next_look_is_not_progress() -> None:
    # 1,200 m2 at the pad on one date, reverted at the next look: vehicles or a missed cloud
    events = [make_event("e0001", "launch_pad", D[7], 1200.0, kind="transient",
                         confirmed_on=D[8])]  # fmt: skip
    timeline = make_timeline({("launch_pad", D[7]): 0.05})
    a = evaluate(LAUNCH, make_site(), events, timeline, DATES)
    status = {p.date: p.status for p in a.history}
    # a lead while pending, then a transient: never an alert
    assert status[D[7]] == "activity" and status[D[8]] == "activity"
    assert set(status.values()) <= {"quiet", "activity"}
    # the same burst confirmed as a new structure is progress
    events = [dataclasses.replace(events[0], kind="appeared")]
    ev = evaluate_on(LAUNCH, make_site(), events, timeline, D[8])
    fired = {r.name: r for f in ev.findings if (r := f.result).triggered}
    assert fired["rapid_progress"].evidence == ("e0001",)
