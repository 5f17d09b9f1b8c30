"""Evaluate a profile on a run's events and zone timeline, as of each acquisition date.

No lookahead: as of date ``d`` an event exists only if ``first_seen <= d``; its
area is the last growth step dated ``<= d``; its kind is known only once it was
settled (``confirmed_on <= d``): before that it is a *pending* candidate, which
counts for indicators with ``persistent: false`` whose kinds include any
non-transient kind, and never for ``persistent: true`` ones. Timeline signals
use the rows dated ``<= d`` (``anomaly_z`` is already computed against earlier
dates only). The window of an indicator is ``(d - window_days, d]``.

Signals (per zone, or over the whole site for ``zones: site``):

``changed_area_m2``
    Area the matching events gained inside the window (their first detection
    and their growth steps dated in it).
``event_count``
    Number of matching events first seen inside the window.
``growth_rate_m2_per_day``
    Largest growth of one matching event inside the window after its first
    detection, divided by ``window_days``: a structure that keeps growing.
``zones_active``
    Number of the indicator's zones where a matching event gained area inside
    the window (one result, zone None).
``transient_count``
    Number of events first seen inside the window that had reverted by ``d``
    (vehicles, cranes, equipment).
``activity_anomaly``
    Largest ``anomaly_z`` of the zone's timeline rows inside the window (the
    ``_site`` rows for ``zones: site``) whose changed area is at least
    ``min_area_m2``.  With ``persistent: true``, only rows dated when a
    matching event of the zone, settled by ``d``, was first seen or grew: a
    burst that was gone at the next look (vehicles, a missed cloud) is not
    progress.

Status: the highest level among triggered indicators, except that ``high``
needs corroboration: at least one triggered ``high`` result and one other
triggered alert result (``elevated`` or ``high``) that differs from it in
signal or in zone; otherwise the status is ``elevated``. One line of evidence,
however strong, is a lead to check, not a finding.

Score: ``(L + f) / 4`` with ``L`` the status index (quiet 0 ... high 3). For
``L > 0``, ``f = 1 - 1 / rho`` where ``rho`` (>= 1) is the largest
``value / threshold`` among triggered results whose level is at least the
status (capped ``high`` results count for ``elevated``); for ``quiet``, ``f``
is the largest ``value / threshold`` of any result, clipped to ``[0, 0.99]``.
So the score is in ``[0, 1)``, rises with the level, and inside a level says
how far past (or how close to) the thresholds the evidence is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import InputError
from ..models import (
    STATUS_LEVELS,
    Assessment,
    GrowthStep,
    IndicatorResult,
    Site,
    StatusLevel,
    StatusPoint,
    ZoneTimelineRow,
)
from .profiles import Indicator, Profile

__all__ = ["EventLike", "Evaluation", "Finding", "evaluate", "evaluate_on"]

SITE_ROW = "_site"  # timeline.csv's zone name for the whole site
_ALERT: tuple[StatusLevel, ...] = ("elevated", "high")


class EventLike(Protocol):
    """What the engine reads of an event (:class:`sitewatch.models.Event` has it all)."""

    @property
    def event_id(self) -> str: ...
    @property
    def first_seen(self) -> dt.date: ...
    @property
    def last_unchanged(self) -> dt.date | None: ...
    @property
    def zone(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def area_m2(self) -> float: ...
    @property
    def confirmed_on(self) -> dt.date | None: ...
    @property
    def growth(self) -> tuple[GrowthStep, ...]: ...


@dataclass(frozen=True)
class Finding:
    """An indicator result with what the summary cites about it.

    Parameters
    ----------
    result : IndicatorResult
    start, end : datetime.date or None
        Bracket of the evidence: the earliest ``last_unchanged`` (or ``first_seen``)
        and the latest detection or growth date of its events, as of the date.
    peak_date : datetime.date or None
        For ``activity_anomaly``: the date of the largest z.
    window_activity, baseline_activity, baseline_mean : float
        Mean ``activity_index`` of the zone inside the window, and median and mean
        before it (NaN when unknown).
    kinds : tuple of str
        Kinds of the evidence events as of the date (``pending`` when unsettled).
    zones : tuple of str
        Zones of the evidence events.
    """

    result: IndicatorResult
    start: dt.date | None = None
    end: dt.date | None = None
    peak_date: dt.date | None = None
    window_activity: float = math.nan
    baseline_activity: float = math.nan
    baseline_mean: float = math.nan
    kinds: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    @property
    def baseline_ratio(self) -> float:
        """Window activity over the zone's median activity before it (NaN when undefined)."""
        if not (math.isfinite(self.window_activity) and self.baseline_activity > 0):
            return math.nan
        return self.window_activity / self.baseline_activity

    @property
    def mean_ratio(self) -> float:
        """Window activity over the zone's mean activity before it (NaN when undefined)."""
        if not (math.isfinite(self.window_activity) and self.baseline_mean > 0):
            return math.nan
        return self.window_activity / self.baseline_mean


@dataclass(frozen=True)
class Evaluation:
    """The profile as of one date: findings, status, score and whether ``high`` was capped."""

    date: dt.date
    findings: tuple[Finding, ...]
    status: StatusLevel
    score: float
    capped: bool


def evaluate(
    profile: Profile,
    site: Site,
    events: Sequence[EventLike],
    timeline_rows: Sequence[ZoneTimelineRow],
    dates: Iterable[dt.date],
) -> Assessment:
    """Evaluate ``profile`` as of each date; the last date gives the assessment.

    Parameters
    ----------
    profile
        From :func:`sitewatch.assess.profiles.load_profile`.
    site
        Its name and zones; zones the profile names must exist (see
        :meth:`Profile.check_site`).
    events
        The run's events (:class:`sitewatch.models.Event` or records read back).
    timeline_rows
        The run's zone timeline.
    dates
        Acquisition dates to evaluate (duplicates merged, sorted).

    Returns
    -------
    Assessment
        Indicators and summary as of the last date, and the status history.
    """
    from .summary import summarize

    ds = sorted(set(dates))
    if not ds:
        raise InputError("dates: no acquisition date given; give the run's dates")
    evals = [evaluate_on(profile, site, events, timeline_rows, d) for d in ds]
    last = evals[-1]
    return Assessment(
        site=site.name,
        profile=profile.name,
        as_of=last.date,
        status=last.status,
        score=last.score,
        indicators=tuple(f.result for f in last.findings),
        summary=summarize(profile, site, last, evals),
        history=tuple(StatusPoint(e.date, e.status, e.score) for e in evals),
    )


def evaluate_on(
    profile: Profile,
    site: Site,
    events: Sequence[EventLike],
    timeline_rows: Sequence[ZoneTimelineRow],
    date: dt.date,
) -> Evaluation:
    """The profile's findings, status and score using only what was known on ``date``.

    Raises
    ------
    ProfileError
        The profile names a zone the site lacks (see :meth:`Profile.check_site`).
    """
    profile.check_site(site)
    known: dict[str | None, list[EventLike]] = {}
    for e in events:
        if e.first_seen <= date:
            known.setdefault(e.zone, []).append(e)
    rows: dict[str, list[ZoneTimelineRow]] = {}
    for r in timeline_rows:
        if r.date <= date:
            rows.setdefault(r.zone, []).append(r)
    findings: list[Finding] = []
    for ind in profile.indicators:
        for zone in _zones_of(ind, site):
            findings.append(_measure(ind, zone, site, known, rows, date))
    status, capped = _status(findings)
    return Evaluation(date, tuple(findings), status, _score(findings, status), capped)


# --- zones and as-of views of events --------------------------------------------------


def _zones_of(ind: Indicator, site: Site) -> list[str | None]:
    """Zones to evaluate ``ind`` on; ``[None]`` for one site-wide result."""
    if ind.zones == "site":
        return [None]
    names = list(site.zone_names) if ind.zones == "any" else [
        z for z in ind.zones if z in site.zone_names
    ]  # fmt: skip
    if not names:
        return []  # a site without (these) zones: only site-wide indicators apply
    return [None] if ind.signal == "zones_active" else list(names)


def _settled(e: EventLike, date: dt.date) -> bool:
    return e.confirmed_on is not None and e.confirmed_on <= date


def _kind_as_of(e: EventLike, date: dt.date) -> str:
    return e.kind if _settled(e, date) else "pending"


def _area_as_of(e: EventLike, date: dt.date) -> float:
    if e.first_seen > date:
        return 0.0
    steps = [s.area_m2 for s in e.growth if s.date <= date]
    return float(steps[-1]) if steps else float(e.area_m2)


def _matches(ind: Indicator, e: EventLike, date: dt.date) -> bool:
    kind = _kind_as_of(e, date)
    if kind == "pending":
        if ind.persistent or not (ind.kinds - {"transient"}):
            return False
    elif kind not in ind.kinds:
        return False
    return _area_as_of(e, date) >= ind.min_area_m2


# --- one indicator, one zone ------------------------------------------------------------


def _measure(
    ind: Indicator,
    zone: str | None,
    site: Site,
    known: dict[str | None, list[EventLike]],
    rows: dict[str, list[ZoneTimelineRow]],
    date: dt.date,
) -> Finding:
    """``known`` and ``rows``: events and timeline rows known on ``date``, by zone."""
    start = date - dt.timedelta(days=ind.window_days)
    value, evidence, peak = math.nan, [], None
    zone_rows = rows.get(zone or SITE_ROW, [])
    if ind.signal == "zones_active":
        candidates = [e for z in _zones_of_active(ind, site) for e in known.get(z, [])]
    elif zone is None:
        candidates = [e for group in known.values() for e in group]
    else:
        candidates = known.get(zone, [])
    if ind.signal == "activity_anomaly":
        # with persistent: true only the dates settled events began or grew on count
        pool = [e for e in candidates if _matches(ind, e, date)] if ind.persistent else candidates
        backed = {d for e in pool for d in _gain_dates(e, date)}
        inside = [
            r for r in zone_rows
            if r.date > start and math.isfinite(r.anomaly_z)
            and r.changed_area_m2 >= ind.min_area_m2
            and (not ind.persistent or r.date in backed)
        ]  # fmt: skip
        if inside:
            top = max(inside, key=lambda r: r.anomaly_z)
            value, peak = float(top.anomaly_z), top.date
            evidence = [e for e in pool if top.date in _gain_dates(e, date)]
    else:
        pool = [e for e in candidates if _matches(ind, e, date)]
        gained = {e.event_id: _area_as_of(e, date) - _area_as_of(e, start) for e in pool}
        if ind.signal == "changed_area_m2":
            evidence = [e for e in pool if gained[e.event_id] > 0]
            value = float(sum(gained[e.event_id] for e in evidence))
        elif ind.signal in ("event_count", "transient_count"):
            evidence = [e for e in pool if e.first_seen > start]
            value = float(len(evidence))
        elif ind.signal == "growth_rate_m2_per_day":
            later = {e.event_id: _growth_after_first(e, start, date) for e in pool}
            evidence = [max(pool, key=lambda e: later[e.event_id])] if pool else []
            best = later[evidence[0].event_id] if evidence else 0.0
            evidence = evidence if best > 0 else []
            value = best / ind.window_days
        else:  # zones_active
            evidence = [e for e in pool if gained[e.event_id] > 0]
            value = float(len({e.zone for e in evidence}))
    triggered = math.isfinite(value) and value >= ind.threshold
    evidence = sorted(evidence, key=lambda e: e.event_id)
    result = IndicatorResult(
        name=ind.name, zone=zone, signal=ind.signal, value=value, threshold=ind.threshold,
        triggered=triggered, level=ind.level, evidence=tuple(e.event_id for e in evidence),
        false_alarm_rate=ind.false_alarm_rate,
    )  # fmt: skip
    window_act, base_median, base_mean = _activity_vs_baseline(zone_rows, start)
    return Finding(
        result=result,
        start=min((e.last_unchanged or e.first_seen for e in evidence), default=None),
        end=max((_last_step(e, date) for e in evidence), default=None),
        peak_date=peak,
        window_activity=window_act,
        baseline_activity=base_median,
        baseline_mean=base_mean,
        kinds=tuple(sorted({_kind_as_of(e, date) for e in evidence})),
        zones=tuple(sorted({e.zone for e in evidence if e.zone is not None})),
    )


def _zones_of_active(ind: Indicator, site: Site) -> list[str | None]:
    names = site.zone_names if ind.zones == "any" else ind.zones
    return [z for z in names if z in site.zone_names]


def _gain_dates(e: EventLike, date: dt.date) -> set[dt.date]:
    """Dates up to ``date`` on which ``e`` was first seen or grew."""
    return {e.first_seen, *(s.date for s in e.growth if s.date <= date)}


def _growth_after_first(e: EventLike, start: dt.date, date: dt.date) -> float:
    steps = [s for s in e.growth if s.date <= date]
    gain, prev = 0.0, None
    for s in steps:
        if prev is not None and s.date > start:
            gain += max(0.0, s.area_m2 - prev)
        prev = s.area_m2
    return gain


def _last_step(e: EventLike, date: dt.date) -> dt.date:
    return max((s.date for s in e.growth if s.date <= date), default=e.first_seen)


def _activity_vs_baseline(
    rows: list[ZoneTimelineRow], start: dt.date
) -> tuple[float, float, float]:
    """Mean activity inside the window; median and mean activity before it (NaN if none)."""
    inside = [r.activity_index for r in rows if r.date > start]
    before = [r.activity_index for r in rows if r.date <= start]
    inside = [v for v in inside if math.isfinite(v)]
    before = [v for v in before if math.isfinite(v)]
    return (
        float(np.mean(inside)) if inside else math.nan,
        float(np.median(before)) if before else math.nan,
        float(np.mean(before)) if before else math.nan,
    )


# --- status and score -------------------------------------------------------------------


def _rank(level: StatusLevel) -> int:
    return STATUS_LEVELS.index(level)


def _status(findings: Sequence[Finding]) -> tuple[StatusLevel, bool]:
    """Highest triggered level, ``high`` only when corroborated (see the module notes)."""
    fired = [f.result for f in findings if f.result.triggered]
    if not fired:
        return "quiet", False
    top = max(fired, key=lambda r: _rank(r.level)).level
    if top != "high":
        return top, False
    for h in (r for r in fired if r.level == "high"):
        if any(o is not h and o.level in _ALERT and (o.signal, o.zone) != (h.signal, h.zone)
               for o in fired):  # fmt: skip
            return "high", False
    return "elevated", True


def _ratio(r: IndicatorResult) -> float:
    return r.value / r.threshold if math.isfinite(r.value) else 0.0


def _score(findings: Sequence[Finding], status: StatusLevel) -> float:
    level = _rank(status)
    results = [f.result for f in findings]
    if level == 0:
        f = min(max((_ratio(r) for r in results), default=0.0), 0.99)
        return round(max(f, 0.0) / 4.0, 3)
    rho = max(_ratio(r) for r in results if r.triggered and _rank(r.level) >= level)
    return round((level + 1.0 - 1.0 / rho) / 4.0, 3)
