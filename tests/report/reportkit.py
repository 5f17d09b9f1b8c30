"""Builders of small hand-made report inputs (used by conftest and the tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np
from pyproj import Transformer
from shapely.geometry import Polygon, box

from sitewatch.models import (
    Assessment,
    ContextEvent,
    Event,
    GrowthStep,
    IndicatorResult,
    Site,
    SiteGrid,
    StatusPoint,
    Zone,
    ZoneTimelineRow,
)
from sitewatch.report import ImageSeries, RadarSeries, ReportInputs, SceneRecord
from sitewatch.sites import site_grid

DATES = (dt.date(2019, 2, 1), dt.date(2019, 2, 11), dt.date(2019, 2, 21), dt.date(2019, 3, 3))
#: radar dates between the optical ones: events first seen on DATES[2] fall between the last two
RADAR_DATES = (dt.date(2019, 2, 5), dt.date(2019, 2, 17), dt.date(2019, 3, 1))
BANDS = ("blue", "green", "red", "nir")
LON, LAT = 124.705, 39.66


def _site_polygon() -> Polygon:
    d = 0.0035  # about 300 m of latitude, 270 m of longitude here
    return box(LON - d, LAT - d, LON + d, LAT + d)


def zone_from_pixels(grid: SiteGrid, rows: tuple[int, int], cols: tuple[int, int]) -> Polygon:
    """A lon/lat polygon covering grid rows ``rows[0]:rows[1]`` and cols ``cols[0]:cols[1]``."""
    to_ll = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    corners = [(cols[0], rows[0]), (cols[1], rows[0]), (cols[1], rows[1]), (cols[0], rows[1])]
    xy = [grid.transform @ c for c in corners]
    return Polygon([to_ll.transform(x, y) for x, y in xy])


def square_event(
    event_id: str,
    offset: tuple[int, int],
    size: int,
    grid: SiteGrid,
    kind: str = "appeared",
    zone: str | None = "pad",
    score: float = 0.9,
    confirmed: bool = True,
    first_seen: dt.date = DATES[2],
    last_unchanged: dt.date | None = DATES[1],
    sensors: tuple[str, ...] = ("optical",),
) -> Event:
    area = size * size * grid.pixel_size**2
    return Event(
        event_id=event_id, first_seen=first_seen, last_unchanged=last_unchanged, zone=zone,
        kind=kind, area_m2=area, score=score, p_value=1e-9, confirmed=confirmed,
        confirmed_on=DATES[3] if confirmed else None, change=1.0,
        growth=(GrowthStep(first_seen, area),), mask=np.ones((size, size), bool),
        offset=offset, grid_shape=grid.shape, sensors=sensors,
    )  # fmt: skip


def _changed(events: list[Event], dates: Sequence[dt.date]) -> Iterator[tuple[int, slice, slice]]:
    """(date index, rows, cols) of each non-transient event's box on and after its first_seen."""
    for e in events:
        if e.kind == "transient":
            continue
        r, c = e.offset
        rows = slice(max(r, 0), r + e.mask.shape[0])
        cols = slice(max(c, 0), c + e.mask.shape[1])
        for t, d in enumerate(dates):
            if d >= e.first_seen:
                yield t, rows, cols


def series_for(grid: SiteGrid, events: list[Event], seed: int = 0) -> ImageSeries:
    """Textured ground; each non-transient event's footprint brightens from first_seen on."""
    rng = np.random.default_rng(seed)
    h, w = grid.shape
    # Grey ground with a gentle east-west gradient and speckle, like bare soil.
    ground = 0.1 + 0.03 * np.linspace(0, 1, w, dtype=np.float32)[None, :]
    speckle = 0.01 * rng.standard_normal((h, w)).astype(np.float32)
    tint = np.array([0.9, 1.0, 1.1, 1.6], np.float32)[:, None, None]
    base = (ground + speckle)[None] * tint
    data = np.repeat(base[None], len(DATES), axis=0)
    for t, rows, cols in _changed(events, DATES):
        data[t, :, rows, cols] += 0.2
    data[0, :, : h // 3, :] = np.nan  # a cloud over the first date's northern third
    return ImageSeries(DATES, BANDS, data)


def radar_for(grid: SiteGrid, events: list[Event], seed: int = 0) -> RadarSeries:
    """Dual-pol gamma speckle (4 looks); footprints 10 dB brighter from first_seen on."""
    rng = np.random.default_rng(seed)
    h, w = grid.shape
    mean = np.empty((len(RADAR_DATES), 2, h, w), np.float32)
    mean[:, 0], mean[:, 1] = 0.05, 0.01  # vv about -13 dB, vh -20 dB
    for t, rows, cols in _changed(events, RADAR_DATES):
        mean[t, :, rows, cols] *= 10
    data = (mean * rng.gamma(4.0, 0.25, mean.shape)).astype(np.float32)
    ids = tuple(f"S1_{d:%Y%m%d}" for d in RADAR_DATES)
    return RadarSeries(
        RADAR_DATES, ("vv", "vh"), data, np.ones((len(RADAR_DATES), h, w), bool), ids
    )


def assessment_for(site: Site, events: list[Event]) -> Assessment:
    ids = tuple(e.event_id for e in events if e.kind != "transient")
    return Assessment(
        site=site.name, profile=site.profile, as_of=DATES[-1], status="high", score=0.82,
        indicators=(
            IndicatorResult("pad_construction", "pad", "changed_area", 900.0, 500.0, True,
                            "high", ids[:1], 0.0),
            IndicatorResult("site_burst", None, "activity_anomaly", float("nan"), 3.0, False,
                            "elevated", (), None),
        ),
        summary="900 m2 of new structures at the pad between 2019-02-11 and 2019-02-21.\n\n"
        "Second <paragraph> & more.",
        history=tuple(
            StatusPoint(d, s, v)
            for d, s, v in zip(DATES, ("quiet", "quiet", "elevated", "high"), (0, 0.1, 0.6, 0.82))
        ),
    )  # fmt: skip


def timeline_for(site: Site) -> tuple[ZoneTimelineRow, ...]:
    rows = []
    for i, d in enumerate(DATES):
        for z in ("_site", *site.zone_names):
            act = 0.0 if i < 2 else 0.05 * i
            rows.append(ZoneTimelineRow(d, z, 0.9, act, act * 1e4, act, float("nan")))
    return tuple(rows)


def site_and_grid() -> tuple[SiteGrid, Site]:
    """The test site (zones ``pad`` and ``stand``, a summit) and its 10 m grid."""
    bare = Site(name="Test range", profile="launch_site", geometry=_site_polygon())
    grid = site_grid(bare, 10.0, margin_m=50.0)
    zones = (
        Zone("pad", zone_from_pixels(grid, (20, 40), (15, 35))),
        Zone("stand", zone_from_pixels(grid, (30, 50), (45, 60))),
    )
    site = Site(
        name=bare.name, profile=bare.profile, geometry=bare.geometry, zones=zones,
        context_events=(ContextEvent(dt.date(2019, 2, 28), "Summit"),),
    )  # fmt: skip
    return grid, site


def default_events(grid: SiteGrid) -> list[Event]:
    """A confirmed event in each zone and a transient one outside them."""
    return [
        square_event("e0001", (25, 20), 6, grid),
        square_event("e0002", (35, 48), 4, grid, zone="stand", score=0.7),
        square_event("e0003", (10, 10), 3, grid, kind="transient", zone=None, score=0.6),
    ]


def build_inputs(
    events: list[Event] | None = None,
    zones: bool = True,
    optical: bool = True,
    radar: bool = False,
) -> ReportInputs:
    """Report inputs on the test site; ``events=None`` gives :func:`default_events`.

    ``optical`` and ``radar`` say which image series the inputs hold (and scenes list).
    """
    grid, site = site_and_grid()
    if not zones:
        site = Site(site.name, site.profile, site.geometry, (), site.context_events)
    if events is None:
        events = default_events(grid)
    scenes = tuple(
        SceneRecord(d, f"S2_{d:%Y%m%d}", 0.67 if i == 0 else 1.0, (0.1 * i, -0.2),
                    0.05 if i else None)
        for i, d in enumerate(DATES) if optical
    )  # fmt: skip
    if radar:
        scenes += tuple(SceneRecord(d, f"S1_{d:%Y%m%d}", 1.0, sensor="sar") for d in RADAR_DATES)
    return ReportInputs(
        site=site, grid=grid, assessment=assessment_for(site, events), events=tuple(events),
        timeline=timeline_for(site), scenes=scenes,
        series=series_for(grid, events) if optical else None,
        radar=radar_for(grid, events) if radar else None,
    )  # fmt: skip
