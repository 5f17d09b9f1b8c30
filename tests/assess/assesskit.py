"""Hand-built sites, events and zone timelines with known answers for the assessment tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from shapely.geometry import box

from sitewatch.models import Event, GrowthStep, Site, Zone, ZoneTimelineRow
from sitewatch.timeline.zones import robust_z

#: twelve acquisitions ten days apart
DATES = tuple(dt.date(2019, 1, 1) + dt.timedelta(days=10 * i) for i in range(12))
ZONES = ("launch_pad", "engine_test_stand", "rail_transfer")


def make_site(zones: Sequence[str] = ZONES, profile: str = "launch_site") -> Site:
    zs = tuple(Zone(z, box(124.70 + 0.001 * i, 39.66, 124.7005 + 0.001 * i, 39.6605))
               for i, z in enumerate(zones))  # fmt: skip
    return Site("Test site", profile, box(124.69, 39.65, 124.72, 39.67), zs)


def make_event(
    event_id: str,
    zone: str | None,
    first_seen: dt.date,
    area_m2: float,
    *,
    kind: str = "appeared",
    confirmed_on: dt.date | None = None,
    growth: Sequence[tuple[dt.date, float]] = (),
    last_unchanged: dt.date | None = None,
) -> Event:
    steps = tuple(GrowthStep(d, a) for d, a in growth) or (GrowthStep(first_seen, area_m2),)
    return Event(
        event_id, first_seen, last_unchanged, zone, kind, area_m2, 0.9, 1e-6,  # type: ignore[arg-type]
        confirmed_on is not None, confirmed_on, 0.3, steps, np.ones((2, 2), bool), (0, 0), (8, 8),
    )  # fmt: skip


def make_timeline(
    bursts: dict[tuple[str, dt.date], float] | None = None,
    zones: Sequence[str] = ZONES,
    base: float = 0.001,
    dates: Sequence[dt.date] = DATES,
) -> list[ZoneTimelineRow]:
    """Rows with a small alternating activity, plus ``bursts`` (zone, date) -> activity."""
    bursts = bursts or {}
    rows = []
    for zone in ("_site", *zones):
        act = [base * (1 + (i % 3)) for i in range(len(dates))]
        for i, d in enumerate(dates):
            act[i] = bursts.get((zone, d), act[i])
        z = robust_z(act)
        for i, d in enumerate(dates):
            rows.append(ZoneTimelineRow(d, zone, 1.0, act[i], act[i] * 20000, act[i], float(z[i])))
    return rows
