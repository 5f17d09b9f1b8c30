"""The assessment summary: plain sentences citing zones, dates, areas, ids and baselines."""

from __future__ import annotations

import pytest
from assesskit import DATES, make_event, make_site, make_timeline

from sitewatch.assess.engine import evaluate, evaluate_on
from sitewatch.assess.profiles import load_profile
from sitewatch.assess.summary import summarize, zone_label

D = DATES
LAUNCH = load_profile("launch_site")


def test_summary_cites_zones_dates_areas_ids_and_baseline() -> None:
    events = [
        make_event("e0011", "engine_test_stand", D[7], 1500.0, confirmed_on=D[8],
                   last_unchanged=D[6], growth=[(D[7], 1500.0), (D[8], 2300.0)]),
        make_event("e0012", "rail_transfer", D[8], 560.0, confirmed_on=D[9], last_unchanged=D[6]),
    ]  # fmt: skip
    timeline = make_timeline({("engine_test_stand", D[7]): 0.03, ("engine_test_stand", D[8]):
                              0.02, ("rail_transfer", D[8]): 0.04})  # fmt: skip
    a = evaluate(LAUNCH, make_site(), events, timeline, DATES[:10])
    s = a.summary
    assert s.startswith("As of 2019-04-01, Test site is at status high")
    assert (
        "Structural change (high): 2,300 m2 of new structures at the engine test stand "
        "between 2019-03-02 and 2019-03-22 (event e0011)"
    ) in s
    assert "times the zone's median activity" in s
    assert "560 m2 of new structures at the rail-mounted transfer structure" in s
    assert "2 zones active within the same weeks (the engine test stand, the rail-mounted" in s
    # the unconfirmed-change indicator restates the same events: cited once
    assert "Early change" not in s


def test_summary_when_high_is_not_corroborated() -> None:
    events = [make_event("e0001", "engine_test_stand", D[7], 400.0, confirmed_on=D[8])]
    ev = evaluate_on(LAUNCH, make_site(), events, make_timeline(), D[8])
    s = summarize(LAUNCH, make_site(), ev)
    assert "status elevated" in s and "not yet corroborated" in s


def test_summary_when_nothing_happened_before() -> None:
    events = [make_event("e0001", "engine_test_stand", D[7], 400.0, confirmed_on=D[8])]
    timeline = make_timeline({("engine_test_stand", D[7]): 0.02}, base=0.0)
    ev = evaluate_on(LAUNCH, make_site(), events, timeline, D[8])
    assert "where the zone showed no change before" in summarize(LAUNCH, make_site(), ev)


@pytest.mark.parametrize(
    ("zone", "label"),
    [("engine_test_stand", "the engine test stand"), ("rail_transfer",
     "the rail-mounted transfer structure"), ("north_yard", "the north yard"), (None, "the site")],
)  # fmt: skip
def test_zone_label(zone: str | None, label: str) -> None:
    assert zone_label(zone) == label
