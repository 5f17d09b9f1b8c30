"""Zone timelines: per date and zone, how much of the clear area changed.

Rules:

* ``clear_fraction`` = clear pixels / zone pixels; ``changed_fraction`` = newly
  changed pixels / clear pixels (NaN when nothing was clear);
  ``changed_area_m2`` = newly changed pixels x pixel area.  ``_site`` counts
  the whole site (``site_mask``, default the whole grid).
* ``activity_index`` = ``changed_fraction`` where the zone was observable enough
  (``clear_fraction >= min_clear_fraction``, default 0.2), NaN otherwise: a zone
  glimpsed through a gap in the clouds gives too noisy a share to compare.  No
  smoothing, so one date's activity stays one date's.
* ``anomaly_z`` = ``(x - median) / max(1.4826 MAD, mad_floor)`` of the activity
  against the zone's own earlier valid activity values (the date itself is
  excluded), NaN until ``min_history`` (3) of them exist.  ``mad_floor``
  (default 0.005, i.e. half a percent of the zone) keeps a zone whose history
  is all zeros from turning any speck of change into a huge z.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..change.stats import MAD_TO_SIGMA
from ..errors import InputError
from ..models import SensorKind, ZoneTimelineRow
from .reference import check_dates, check_zones

__all__ = ["SITE_ZONE", "ZoneCounts", "robust_z", "timeline_rows", "zone_counts", "zone_timeline"]

SITE_ZONE = "_site"


@dataclass(frozen=True, eq=False)
class ZoneCounts:
    """Pixel counts of one date; index 0 is the whole site, ``i`` is zone ``i``."""

    total: np.ndarray
    clear: np.ndarray
    changed: np.ndarray


def zone_counts(
    clear: np.ndarray,
    changed: np.ndarray,
    labels: np.ndarray | None,
    n_zones: int,
    site_mask: np.ndarray | None = None,
) -> ZoneCounts:
    """Count total, clear and changed pixels of the site and of each zone at one date.

    ``changed`` counts only where ``clear``.  ``labels`` is 0 outside zones and
    ``i`` inside zone ``i`` (1-based); None means no zones.
    """
    c = np.asarray(clear, dtype=bool)
    ch = np.asarray(changed, dtype=bool)
    if c.ndim != 2 or ch.shape != c.shape:
        raise InputError(
            f"clear, changed: shapes {c.shape} and {ch.shape}; give two (h, w) masks of one grid"
        )
    ch = ch & c
    site = np.ones(c.shape, bool) if site_mask is None else np.asarray(site_mask, dtype=bool)
    if site.shape != c.shape:
        raise InputError(f"site_mask: shape {site.shape} does not match the grid {c.shape}")
    total = np.zeros(n_zones + 1, dtype=np.int64)
    clr = np.zeros(n_zones + 1, dtype=np.int64)
    chg = np.zeros(n_zones + 1, dtype=np.int64)
    total[0], clr[0], chg[0] = site.sum(), (c & site).sum(), (ch & site).sum()
    if labels is not None and n_zones:
        lab = np.asarray(labels).ravel()
        total[1:] = np.bincount(lab, minlength=n_zones + 1)[1:]
        clr[1:] = np.bincount(lab[c.ravel()], minlength=n_zones + 1)[1:]
        chg[1:] = np.bincount(lab[ch.ravel()], minlength=n_zones + 1)[1:]
    return ZoneCounts(total, clr, chg)


def robust_z(
    values: Sequence[float] | np.ndarray, *, min_history: int = 3, mad_floor: float = 0.005
) -> np.ndarray:
    """Robust z of each value against the finite values before it.

    ``z[i] = (x[i] - median(h)) / max(1.4826 * MAD(h), mad_floor)`` with ``h`` the
    finite values of ``x[:i]``; NaN where ``x[i]`` is NaN or ``h`` has fewer than
    ``min_history`` values.
    """
    if min_history < 1 or not mad_floor > 0:
        raise InputError(
            f"min_history, mad_floor: ({min_history}, {mad_floor}); give min_history >= 1 "
            "and mad_floor > 0"
        )
    x = np.asarray(values, dtype=float)
    z = np.full(x.shape, np.nan)
    hist: list[float] = []
    for i, v in enumerate(x.tolist()):
        if math.isfinite(v):
            if len(hist) >= min_history:
                h = np.asarray(hist)
                med = float(np.median(h))
                scale = max(MAD_TO_SIGMA * float(np.median(np.abs(h - med))), mad_floor)
                z[i] = (v - med) / scale
            hist.append(v)
    return z


def timeline_rows(
    dates: Sequence[dt.date],
    counts: Sequence[ZoneCounts],
    zone_names: Sequence[str],
    pixel_area_m2: float,
    *,
    min_clear_fraction: float = 0.2,
    min_history: int = 3,
    mad_floor: float = 0.005,
    sensor: SensorKind = "optical",
) -> list[ZoneTimelineRow]:
    """Timeline rows from per-date :func:`zone_counts` (date-major, ``_site`` first).

    ``sensor`` labels the rows; series of different sensors get separate rows
    and separate baselines (their sensitivities differ).
    """
    ds = check_dates(dates)
    names = (SITE_ZONE, *zone_names)
    if len(counts) != len(ds):
        raise InputError(f"counts: {len(counts)} items for {len(ds)} dates; give one per date")
    if not (math.isfinite(pixel_area_m2) and pixel_area_m2 > 0):
        raise InputError(f"pixel_area_m2: {pixel_area_m2} must be a positive area in m2")
    if not 0.0 <= min_clear_fraction <= 1.0:
        raise InputError(f"min_clear_fraction: {min_clear_fraction}; give a share in [0, 1]")
    n = len(ds)
    total = np.array([c.total for c in counts], dtype=float).reshape(n, -1)
    clr = np.array([c.clear for c in counts], dtype=float).reshape(n, -1)
    chg = np.array([c.changed for c in counts], dtype=float).reshape(n, -1)
    if total.shape[1] != len(names):
        raise InputError(
            f"counts: {total.shape[1] - 1} zones counted but {len(zone_names)} zone names; "
            "count with the same zones"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        clear_frac = np.where(total > 0, clr / total, 0.0)
        changed_frac = np.where(clr > 0, chg / clr, np.nan)
    activity = np.where(clear_frac >= min_clear_fraction, changed_frac, np.nan)
    activity[clr == 0] = np.nan
    z = np.column_stack(
        [
            robust_z(activity[:, j], min_history=min_history, mad_floor=mad_floor)
            for j in range(len(names))
        ]
    )
    rows = []
    for i, d in enumerate(ds):
        for j, name in enumerate(names):
            rows.append(
                ZoneTimelineRow(
                    date=d,
                    zone=name,
                    clear_fraction=float(clear_frac[i, j]),
                    changed_fraction=float(changed_frac[i, j]),
                    changed_area_m2=float(chg[i, j] * pixel_area_m2),
                    activity_index=float(activity[i, j]),
                    anomaly_z=float(z[i, j]),
                    sensor=sensor,
                )
            )
    return rows


def zone_timeline(
    dates: Sequence[dt.date],
    clear: Sequence[np.ndarray],
    changed: Sequence[np.ndarray],
    zone_labels: np.ndarray | None,
    zone_names: Sequence[str],
    pixel_area_m2: float,
    *,
    site_mask: np.ndarray | None = None,
    min_clear_fraction: float = 0.2,
    min_history: int = 3,
    mad_floor: float = 0.005,
) -> list[ZoneTimelineRow]:
    """Rows of ``timeline.csv`` from per-date clear and new-change masks.

    Parameters
    ----------
    dates
        Strictly increasing acquisition dates.
    clear, changed
        Per date, ``(h, w)`` bool masks: pixels that could be judged and new change
        (``TrackedSeries.judged`` and ``TrackedSeries.changed``; the first date,
        with no reference yet, then counts as unobserved rather than as no change).
    zone_labels, zone_names
        ``(h, w)`` int raster (0 outside zones, ``i`` in ``zone_names[i - 1]``) or None.
    pixel_area_m2
        Ground area of one pixel.
    site_mask, min_clear_fraction, min_history, mad_floor
        See the module notes.

    Returns
    -------
    list of ZoneTimelineRow
        Date-major; for each date ``_site`` first, then the zones in order.
    """
    ds = check_dates(dates)
    if len(clear) != len(ds) or len(changed) != len(ds):
        raise InputError(
            f"clear, changed: {len(clear)} and {len(changed)} masks for {len(ds)} dates; "
            "give one of each per date"
        )
    if not ds:
        return []
    shape = np.asarray(clear[0]).shape
    if len(shape) != 2:
        raise InputError(f"clear: shape {shape}; give (h, w) masks")
    labels, names = check_zones(zone_labels, zone_names, (int(shape[0]), int(shape[1])))
    counts = []
    for d, c, ch in zip(ds, clear, changed):
        if np.asarray(c).shape != shape or np.asarray(ch).shape != shape:
            raise InputError(
                f"clear, changed: shapes {np.asarray(c).shape}, {np.asarray(ch).shape} at "
                f"{d.isoformat()} do not match {shape}; give masks of one grid"
            )
        counts.append(zone_counts(c, ch, labels, len(names), site_mask))
    return timeline_rows(
        ds,
        counts,
        names,
        pixel_area_m2,
        min_clear_fraction=min_clear_fraction,
        min_history=min_history,
        mad_floor=mad_floor,
    )
