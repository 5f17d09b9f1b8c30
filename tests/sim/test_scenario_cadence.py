"""The acquisition cadence and date count options of ``build_scenario``."""

from __future__ import annotations

import datetime as dt

import pytest

from sitewatch.errors import InputError
from sitewatch.sim.scenarios import DEFAULT_CADENCE_DAYS, build_scenario

SIZE = 64


def test_default_cadence_keeps_the_scenario_as_before() -> None:
    # Pinned from the scenario before the options existed (seed 1: 44 dates).
    s = build_scenario("sohae-2019", seed=1, size=SIZE)
    assert DEFAULT_CADENCE_DAYS == (5, 10)
    assert len(s.dates) == 44
    assert (s.dates[0], s.dates[-1]) == (dt.date(2018, 6, 3), dt.date(2019, 4, 24))
    explicit = build_scenario("sohae-2019", seed=1, size=SIZE, cadence_days=(5, 10))
    assert explicit.acquisitions == s.acquisitions
    assert [e.onset for e in explicit.events] == [e.onset for e in s.events]


@pytest.mark.parametrize("cadence", [(2, 3), (5, 8), (7, 7)])
def test_gaps_follow_the_cadence(cadence: tuple[int, int]) -> None:
    s = build_scenario("quiet", seed=2, size=SIZE, cadence_days=cadence)
    gaps = {(b - a).days for a, b in zip(s.dates, s.dates[1:])}
    assert min(gaps) >= cadence[0] and max(gaps) <= cadence[1]


def test_max_dates_keeps_the_earliest_and_events_follow_them() -> None:
    full = build_scenario("sohae-2019", seed=1, size=SIZE, cadence_days=(4, 7))
    cut = build_scenario("sohae-2019", seed=1, size=SIZE, cadence_days=(4, 7), max_dates=50)
    assert len(full.dates) > 50
    assert cut.dates == full.dates[:50]
    # Transient windows are drawn on the kept dates: none ends after the day past the last.
    ends = [e.end for e in cut.events if e.end is not None]
    assert ends and max(ends) <= cut.dates[-1] + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cadence_days": (0, 5)}, r"cadence_days: got \(0, 5\)"),
        ({"cadence_days": (8, 5)}, r"cadence_days: got \(8, 5\)"),
        ({"cadence_days": (5,)}, r"cadence_days: got \(5,\)"),
        ({"max_dates": 1}, "max_dates: got 1; give 2 or more"),
    ],
)
def test_bad_cadence_or_date_count_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        build_scenario("quiet", seed=1, size=SIZE, **kwargs)
