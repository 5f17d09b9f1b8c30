"""Scenarios: what happens at the simulated site, when, and under which skies.

A :class:`Scenario` fixes everything random up front from the seed: the
acquisition dates, each date's nuisances (clouds, haze, radiometric drift,
noise, shift, coverage, CRS, snow) and the events with their true onsets and
polygons. Rendering (:mod:`sitewatch.sim.render`) and the truth
(:mod:`sitewatch.sim.truth`) only read it, so both are reproducible.

Scenarios: ``sohae-2019`` (dismantling at the engine test stand and the
rail-mounted transfer structure from late July 2018, quiet winter, rapid
rebuilding from mid February 2019), ``quiet`` (no events, same nuisances),
``cloudy`` and ``misregistered`` (the Sohae events under heavier clouds or
larger shifts).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
from shapely.geometry import Polygon

from ..errors import InputError
from ..models import AreaGeometry, ContextEvent
from ..preprocess.sun import sun_position as solar_position
from .layout import (
    DEFAULT_PIXEL_M,
    DEFAULT_SIZE,
    SITE_LONLAT,
    Layout,
    Structure,
    build_layout,
    rectangle,
    union_of,
)

__all__ = [
    "SCENARIOS",
    "Acquisition",
    "EventKind",
    "Nuisance",
    "Scenario",
    "SimEvent",
    "build_scenario",
    "sun_position",
]

EventKind: TypeAlias = Literal["appeared", "disappeared", "modified", "transient"]
CloudPatch: TypeAlias = tuple[float, float, float]  # (x, y, radius), UTM metres


@dataclass(frozen=True)
class Nuisance:
    """How bad the skies and the sensor are over a scenario (draws per date follow).

    Parameters
    ----------
    clear_prob : float
        Chance a date has no cloud at all.
    overcast_prob : float
        Chance a date is (almost) fully overcast.
    cloud_cover : (float, float)
        Range of the cloud fraction of the other dates.
    shift_px : (float, float)
        Range of the misregistration magnitude in pixels (random direction).
    partial_prob : float
        Chance a scene edge crosses the site (nodata beyond it).
    haze_max : float
        Largest haze strength (0..1).
    noise : (float, float)
        Range of the sensor noise factor (1 is typical Sentinel-2 L1C).
    snow_prob : float
        Chance of one snowy date in January.
    """

    clear_prob: float = 0.45
    overcast_prob: float = 0.08
    cloud_cover: tuple[float, float] = (0.05, 0.6)
    shift_px: tuple[float, float] = (0.1, 0.6)
    partial_prob: float = 0.12
    haze_max: float = 0.6
    noise: tuple[float, float] = (0.8, 1.4)
    snow_prob: float = 0.5


@dataclass(frozen=True)
class Acquisition:
    """One date and everything that makes its image differ from the ground truth.

    Parameters
    ----------
    date : datetime.date
        Acquisition day (overpass ~10:30 local solar time).
    crs : str
        CRS the image is written in: the site's UTM zone, or ``EPSG:4326`` for one date.
    shift_px : (float, float)
        (rows, cols) by which the image content is displaced from its true place.
    cloud_cover : float
        Fraction of the scene under cloud (0..1), before forced patches.
    cloud_height_m : float
        Sets how far cloud shadows fall from their clouds.
    cloud_patches : tuple of (x, y, radius)
        Extra clouds at given places (UTM metres), e.g. over an event on purpose.
    haze : float
        Strength of the low-frequency additive veil (0..1).
    gain, offset : tuple of 4 floats
        Per-band (blue, green, red, nir) radiometric drift: ``dn * gain + offset``.
    noise : float
        Sensor noise factor.
    coverage_edge : (float, float) or None
        A scene edge: (angle of its normal in degrees from east, distance in metres
        from the scene centre); pixels beyond it are nodata. None: full coverage.
    snow : float
        Share of natural ground under patchy snow (0..1).
    sun_elevation, sun_azimuth : float
        Degrees; the azimuth is clockwise from north.
    """

    date: dt.date
    crs: str
    shift_px: tuple[float, float]
    cloud_cover: float
    cloud_height_m: float
    cloud_patches: tuple[CloudPatch, ...]
    haze: float
    gain: tuple[float, float, float, float]
    offset: tuple[float, float, float, float]
    noise: float
    coverage_edge: tuple[float, float] | None
    snow: float
    sun_elevation: float
    sun_azimuth: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (for ``scenario.json``)."""
        return {
            "date": self.date.isoformat(),
            "crs": self.crs,
            "shift_px": {"rows": round(self.shift_px[0], 4), "cols": round(self.shift_px[1], 4)},
            "cloud_cover": round(self.cloud_cover, 4),
            "cloud_height_m": round(self.cloud_height_m, 1),
            "cloud_patches": [[round(v, 1) for v in p] for p in self.cloud_patches],
            "haze": round(self.haze, 4),
            "gain": [round(v, 4) for v in self.gain],
            "offset": [round(v, 2) for v in self.offset],
            "noise": round(self.noise, 3),
            "coverage_edge": None
            if self.coverage_edge is None
            else {
                "normal_deg": round(self.coverage_edge[0], 2),
                "offset_m": round(self.coverage_edge[1], 1),
            },
            "snow": round(self.snow, 3),
            "sun_elevation": round(self.sun_elevation, 2),
            "sun_azimuth": round(self.sun_azimuth, 2),
        }


@dataclass(frozen=True)
class SimEvent:
    """A change on the ground with its true onset.

    Parameters
    ----------
    event_id : str
        ``t01``, ``t02``... in onset order.
    zone : str
        The zone holding the event.
    kind : {"appeared", "disappeared", "modified", "transient"}
        ``transient`` things are present from ``onset`` until ``end`` only.
    onset : datetime.date
        The day the change happened on the ground.
    end : datetime.date or None
        First day a transient is gone again; None for lasting changes.
    label : str
        What happened, for people.
    adds : tuple of Structure
        Drawn from ``onset`` on (over the base layout, in onset order).
    removes : tuple of str
        Base structure ids no longer drawn from ``onset`` on.
    geometry : Polygon or MultiPolygon
        The truth polygon (UTM): what changed.
    """

    event_id: str
    zone: str
    kind: EventKind
    onset: dt.date
    end: dt.date | None
    label: str
    adds: tuple[Structure, ...]
    removes: tuple[str, ...]
    geometry: AreaGeometry

    def active(self, date: dt.date) -> bool:
        """Whether the change is on the ground on ``date``."""
        return self.onset <= date and (self.end is None or date < self.end)


@dataclass(frozen=True)
class Scenario:
    """A site, its dates with their nuisances, and the events that happen there.

    Parameters
    ----------
    name : str
        One of :data:`SCENARIOS`.
    seed : int
        Everything random derives from it.
    layout : Layout
        Grid, site, zones and built structures.
    acquisitions : tuple of Acquisition
        In date order.
    events : tuple of SimEvent
        In onset order.
    nuisance : Nuisance
        The settings the acquisitions were drawn with.
    context_events : tuple of ContextEvent
        Outside events shown on the timeline (the Hanoi summit).
    site_name : str
        Name of the site in ``site.geojson``.
    """

    name: str
    seed: int
    layout: Layout
    acquisitions: tuple[Acquisition, ...]
    events: tuple[SimEvent, ...]
    nuisance: Nuisance
    context_events: tuple[ContextEvent, ...]
    site_name: str = "Sohae Satellite Launching Station (simulated)"

    @property
    def dates(self) -> tuple[dt.date, ...]:
        return tuple(a.date for a in self.acquisitions)

    def structures_on(self, date: dt.date) -> tuple[Structure, ...]:
        """Structures standing on ``date``: the base layout less removals, plus additions."""
        active = [e for e in self.events if e.active(date)]
        removed = {sid for e in active for sid in e.removes}
        base = [s for s in self.layout.structures if s.id not in removed]
        return tuple(base) + tuple(s for e in active for s in e.adds)


# --- building scenarios ---------------------------------------------------------------

START = dt.date(2018, 6, 1)
STOP = dt.date(2019, 4, 30)
CONTEXT = (ContextEvent(dt.date(2019, 2, 28), "Hanoi summit"),)
#: shortest and longest gap between acquisitions, days (Sentinel-2A and 2B with clouds)
DEFAULT_CADENCE_DAYS = (5, 10)


def build_scenario(
    name: str,
    seed: int = 7,
    size: int | None = None,
    pixel_m: float | None = None,
    *,
    cadence_days: tuple[int, int] = DEFAULT_CADENCE_DAYS,
    max_dates: int | None = None,
) -> Scenario:
    """The scenario ``name``, drawn from ``seed``.

    Parameters
    ----------
    name : str
        ``sohae-2019``, ``quiet``, ``cloudy`` or ``misregistered``.
    seed : int
        Same seed, same scenario (and the same images, bit for bit).
    size : int or None
        Scene side in pixels (default 512: 1.5 km at 3 m); small values make fast tests.
    pixel_m : float or None
        Pixel side in metres (default 3).
    cadence_days : (int, int)
        Shortest and longest gap between acquisitions in days, each gap drawn
        uniformly between them (default 5-10, about 44 dates from June 2018 to
        April 2019).
    max_dates : int or None
        Keep at most this many acquisitions, the earliest (the events are drawn on
        the dates kept). None: every date up to the end of April 2019.
    """
    if name not in SCENARIOS:
        raise InputError(
            f"scenario: {name!r} is not a known scenario; use one of {', '.join(SCENARIOS)}"
        )
    size = DEFAULT_SIZE if size is None else int(size)
    if size < 64:
        raise InputError(f"size: {size} px is too small to draw the site; give 64 or more")
    pixel = DEFAULT_PIXEL_M if pixel_m is None else float(pixel_m)
    if not math.isfinite(pixel) or pixel <= 0:
        raise InputError(f"pixel_m: got {pixel_m!r}; give a positive pixel size in metres")
    if len(cadence_days) != 2 or not 1 <= cadence_days[0] <= cadence_days[1]:
        raise InputError(
            f"cadence_days: got {cadence_days!r}; give (shortest, longest) gap in days with "
            "1 <= shortest <= longest, e.g. (5, 10)"
        )
    if max_dates is not None and max_dates < 2:
        raise InputError(f"max_dates: got {max_dates!r}; give 2 or more, or None for all dates")
    lo, hi = (int(d) for d in cadence_days)
    dates = _dates(_rng(int(seed), 1), (lo, hi), max_dates)
    return SCENARIOS[name](name, int(seed), build_layout(size, pixel), dates)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    # Separate streams per purpose, so adding an event does not move every cloud.
    return np.random.default_rng([seed, *stream])


def _dates(
    rng: np.random.Generator, cadence_days: tuple[int, int], max_dates: int | None
) -> list[dt.date]:
    lo, hi = cadence_days
    d = START + dt.timedelta(days=int(rng.integers(0, 5)))
    out: list[dt.date] = []
    while d <= STOP and (max_dates is None or len(out) < max_dates):
        out.append(d)
        d += dt.timedelta(days=int(rng.integers(lo, hi + 1)))
    return out


def sun_position(date: dt.date, lat: float = SITE_LONLAT[1]) -> tuple[float, float]:
    """(elevation, azimuth) in degrees at 10:30 local solar time, Sentinel-2's overpass."""
    return solar_position(date, lat)


def _acquisitions(
    dates: list[dt.date], nuisance: Nuisance, rng: np.random.Generator, layout: Layout
) -> list[Acquisition]:
    n = len(dates)
    # One date (not the first, which later stages may use as a reference) comes in lon/lat.
    geographic = int(rng.integers(1, n))
    snow_dates = [i for i, d in enumerate(dates) if d.month == 1]
    snowy = int(rng.choice(snow_dates)) if snow_dates and rng.random() < nuisance.snow_prob else -1
    extent = layout.width * layout.pixel_m
    out = []
    for i, d in enumerate(dates):
        season = math.cos(2 * math.pi * (d.timetuple().tm_yday - 200) / 365.0)  # +1 summer
        # The Korean west coast is cloudiest in the July-August monsoon, clearest in winter.
        clear_p = min(max(nuisance.clear_prob - 0.2 * season, 0.02), 0.95)
        overcast_p = nuisance.overcast_prob * (1.0 + 0.8 * season)
        r = rng.random()
        if r < clear_p:
            cover = 0.0
        elif r < clear_p + overcast_p:
            cover = float(rng.uniform(0.92, 1.0))
        else:
            cover = float(rng.uniform(*nuisance.cloud_cover))
        mag = float(rng.uniform(*nuisance.shift_px))
        ang = float(rng.uniform(0, 2 * math.pi))
        edge = None
        if rng.random() < nuisance.partial_prob:
            # A swath or tile edge at a few degrees from north-south or east-west,
            # leaving 35-80% of the scene covered.
            normal = float(rng.choice([0.0, 90.0, 180.0, 270.0]) + rng.uniform(-12, 12))
            keep = float(rng.uniform(0.35, 0.8))
            edge = (normal, (keep - 0.5) * extent)
        # Drift: winter scenes darker (low sun, BRDF), every band its own gain.
        gain = 1.0 + 0.03 * season + rng.normal(0.0, 0.035, 4)
        offset = rng.normal(0.0, 50.0, 4)
        el, az = sun_position(d)
        out.append(
            Acquisition(
                date=d,
                crs="EPSG:4326" if i == geographic else layout.crs,
                shift_px=(mag * math.sin(ang), mag * math.cos(ang)),
                cloud_cover=cover,
                cloud_height_m=float(rng.uniform(600, 2500)),
                cloud_patches=(),
                haze=float(nuisance.haze_max * rng.beta(1.2, 4.0)),
                gain=tuple(float(g) for g in gain),  # type: ignore[arg-type]
                offset=tuple(float(o) for o in offset),  # type: ignore[arg-type]
                noise=float(rng.uniform(*nuisance.noise)),
                coverage_edge=edge,
                snow=float(rng.uniform(0.3, 0.7)) if i == snowy else 0.0,
                sun_elevation=el,
                sun_azimuth=az,
            )
        )
    return out


# --- the Sohae story -----------------------------------------------------------------------


def _day(rng: np.random.Generator, start: dt.date, span_days: int) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, span_days + 1)))


def _crane(layout: Layout, sid: str, u: float, v: float, boom_deg: float) -> tuple[Structure, ...]:
    """A crawler crane: body and a 40 m boom (tall: its shadow is long)."""
    s = layout.scale
    x, y = layout.local(u, v)
    a = math.radians(boom_deg)
    bx, by = x + 22 * s * math.cos(a), y + 22 * s * math.sin(a)
    return (
        Structure(f"{sid}_body", "crane", rectangle(x, y, 12 * s, 8 * s, boom_deg), 4.0),
        Structure(f"{sid}_boom", "crane", rectangle(bx, by, 40 * s, 2.5 * s, boom_deg), 20.0),
    )


def _vehicles(
    layout: Layout, sid: str, u: float, v: float, rng: np.random.Generator
) -> tuple[Structure, ...]:
    """4-7 trucks parked in a ~40 x 24 m area centred on (u, v)."""
    s = layout.scale
    n = int(rng.integers(4, 8))
    out = []
    for k in range(n):
        du, dv = rng.uniform(-14, 14), rng.uniform(-8, 8)
        x, y = layout.local(u + du, v + dv)
        ang = float(rng.choice([0.0, 90.0]) + rng.normal(0, 5))
        mat = "vehicle_white" if rng.random() < 0.6 else "vehicle_green"
        out.append(Structure(f"{sid}_v{k}", mat, rectangle(x, y, 10 * s, 3 * s, ang), 3.0))
    return tuple(out)


def _hull_of(parts: tuple[Structure, ...]) -> AreaGeometry:
    # A vehicle group is reported as the area it occupies, as an analyst would draw it.
    hull = union_of(parts).convex_hull
    if not isinstance(hull, Polygon):  # pragma: no cover - trucks have area
        raise ValueError("vehicles do not form an area")
    return hull


def _rect_structure(
    layout: Layout, sid: str, mat: str, u: float, v: float, w: float, h: float, height: float
) -> Structure:
    s = layout.scale
    return Structure(sid, mat, rectangle(*layout.local(u, v), w * s, h * s), height)


def _transient_window(
    rng: np.random.Generator, dates: list[dt.date], near: dt.date, n_dates: int
) -> tuple[dt.date, dt.date]:
    """Onset and end bracketing ``n_dates`` acquisitions from the first one after ``near``."""
    i = next((k for k, d in enumerate(dates) if d >= near), len(dates) - 1)
    prev = dates[i - 1] if i > 0 else dates[i] - dt.timedelta(days=5)
    gap = (dates[i] - prev).days
    onset = dates[i] - dt.timedelta(days=int(rng.integers(0, max(gap - 1, 1))))
    last = dates[min(i + n_dates - 1, len(dates) - 1)]
    return onset, last + dt.timedelta(days=1)


def _sohae_events(layout: Layout, dates: list[dt.date], rng: np.random.Generator) -> list[SimEvent]:
    drafts: list[tuple[dt.date, str, str, dict[str, Any]]] = []

    def add(
        zone: str,
        kind: EventKind,
        onset: dt.date,
        label: str,
        adds: tuple[Structure, ...],
        removes: tuple[str, ...] = (),
        end: dt.date | None = None,
    ) -> None:
        if removes:
            geom = union_of(tuple(layout.structure(sid) for sid in removes))
        elif kind == "transient" and len(adds) > 2:
            geom = _hull_of(adds)
        else:
            geom = union_of(adds)
        fields = dict(zone=zone, kind=kind, onset=onset, end=end, label=label, adds=adds,
                      removes=removes, geometry=geom)  # fmt: skip
        drafts.append((onset, zone, label, fields))

    def scar(of: str) -> tuple[Structure, ...]:
        # Dismantled ground: debris and bare earth where the structure stood.
        return (Structure(f"{of}_scar", "disturbed", layout.structure(of).vertices, 0.0),)

    # Dismantling from late July 2018.
    ets_gone = _day(rng, dt.date(2018, 7, 20), 10)
    rts_gone = _day(rng, dt.date(2018, 7, 22), 8)
    bldg_gone = ets_gone + dt.timedelta(days=int(rng.integers(12, 26)))
    # fmt: off
    add("engine_test_stand", "disappeared", ets_gone,
        "engine test stand superstructure dismantled", scar("ets_stand"), ("ets_stand",))
    add("rail_transfer", "disappeared", rts_gone,
        "rail-mounted transfer structure dismantled", scar("rts_structure"), ("rts_structure",))
    add("engine_test_stand", "disappeared", bldg_gone,
        "engine test stand control building razed", scar("ets_building"), ("ets_building",))
    # fmt: on
    for zone, (u, v, boom), near in (
        ("engine_test_stand", (-390, 395, -30), ets_gone - dt.timedelta(days=3)),
        ("rail_transfer", (-120, -100, 200), rts_gone - dt.timedelta(days=2)),
    ):
        # Taking a 45 m tower down takes weeks: the cranes stay for 2-4 acquisitions.
        on, end = _transient_window(rng, dates, near, int(rng.integers(2, 5)))
        crane = _crane(layout, f"crane_{zone}_{on:%m%d}", u, v, boom)
        add(zone, "transient", on, "crane on site", crane, end=end)
    on, end = _transient_window(rng, dates, ets_gone, 2)
    add("engine_test_stand", "transient", on, "vehicles",
        _vehicles(layout, "veh_ets_1", -300, 320, rng), end=end)  # fmt: skip

    # Routine traffic at the support area in summer/autumn and in spring.
    for k, near in enumerate((dt.date(2018, 6, 20), dt.date(2018, 9, 25), dt.date(2019, 4, 10))):
        on, end = _transient_window(rng, dates, _day(rng, near, 14), 1)
        trucks = _vehicles(layout, f"veh_sup_{k}", -400, -300, rng)
        add("support", "transient", on, "vehicles at the support area", trucks, end=end)

    # Rapid rebuilding from mid February 2019, bigger than before.
    ets_new = _day(rng, dt.date(2019, 2, 12), 8)
    rts_new = _day(rng, dt.date(2019, 2, 14), 8)
    bldg_new = ets_new + dt.timedelta(days=int(rng.integers(10, 20)))
    pad_new = _day(rng, dt.date(2019, 3, 5), 10)
    # fmt: off
    add("engine_test_stand", "appeared", ets_new, "engine test stand rebuilt",
        (_rect_structure(layout, "ets_stand_new", "steel", -428, 428, 44, 36, 50),))
    add("rail_transfer", "appeared", rts_new, "rail-mounted transfer structure reassembled",
        (_rect_structure(layout, "rts_new", "steel_roof", -70, -50, 56, 40, 35),))
    add("engine_test_stand", "appeared", bldg_new, "new blue-roofed building at the test stand",
        (_rect_structure(layout, "ets_building_new", "roof_blue", -345, 462, 50, 28, 10),))
    add("launch_pad", "modified", pad_new, "pad apron resurfaced",
        (_rect_structure(layout, "pad_resurface", "asphalt", 100, 0, 70, 40, 0),))
    # fmt: on
    for zone, (u, v, boom), near, n in (
        ("engine_test_stand", (-380, 380, -35), ets_new - dt.timedelta(days=2), 3),
        ("rail_transfer", (-120, -100, 190), rts_new - dt.timedelta(days=1), 2),
    ):
        on, end = _transient_window(rng, dates, near, n)
        crane = _crane(layout, f"crane_{zone}_{on:%m%d}", u, v, boom)
        add(zone, "transient", on, "crane on site", crane, end=end)
    for zone, (u, v), near in (
        ("engine_test_stand", (-300, 505), ets_new),
        ("rail_transfer", (-20, 10), rts_new + dt.timedelta(days=4)),
        ("gantry", (300, 0), pad_new),
    ):
        on, end = _transient_window(rng, dates, near, 1)
        trucks = _vehicles(layout, f"veh_{zone}_{on:%m%d}", u, v, rng)
        add(zone, "transient", on, "vehicles", trucks, end=end)

    drafts.sort(key=lambda d: d[:3])
    return [
        SimEvent(event_id=f"t{k:02d}", **fields)
        for k, (_, _, _, fields) in enumerate(drafts, start=1)
    ]


def _cloud_over_first_look(
    acqs: list[Acquisition], event: SimEvent, layout: Layout
) -> list[Acquisition]:
    """Put a cloud over ``event`` on the first date after its onset (first_seen moves on)."""
    from dataclasses import replace

    i = next((k for k, a in enumerate(acqs) if a.date >= event.onset), None)
    if i is None:
        return acqs
    c = event.geometry.centroid
    radius = 90.0 * layout.scale + math.sqrt(event.geometry.area)
    acqs = list(acqs)
    acqs[i] = replace(
        acqs[i], cloud_patches=((float(c.x), float(c.y), radius),), coverage_edge=None
    )
    return acqs


def _make(
    nuisance: Nuisance, with_events: bool
) -> Callable[[str, int, Layout, list[dt.date]], Scenario]:
    def make(name: str, seed: int, layout: Layout, dates: list[dt.date]) -> Scenario:
        acqs = _acquisitions(dates, nuisance, _rng(seed, 2), layout)
        events = _sohae_events(layout, dates, _rng(seed, 3)) if with_events else []
        if events:
            # Make the reassembled transfer structure's first look cloudy, as real skies do.
            rebuilt = next(e for e in events if e.zone == "rail_transfer" and e.kind == "appeared")
            acqs = _cloud_over_first_look(acqs, rebuilt, layout)
        return Scenario(
            name=name, seed=seed, layout=layout, acquisitions=tuple(acqs),
            events=tuple(events), nuisance=nuisance, context_events=CONTEXT,
        )  # fmt: skip

    return make


SCENARIOS: dict[str, Callable[[str, int, Layout, list[dt.date]], Scenario]] = {
    "sohae-2019": _make(Nuisance(), with_events=True),
    "quiet": _make(Nuisance(), with_events=False),
    "cloudy": _make(
        Nuisance(clear_prob=0.12, overcast_prob=0.25, cloud_cover=(0.3, 0.9)), with_events=True
    ),
    "misregistered": _make(Nuisance(shift_px=(0.5, 2.0)), with_events=True),
}
