"""The radar branch of :func:`sitewatch.pipeline.run_site`.

Radar scenes (bands ``vv``/``vh``/``hh``/``hv``) are read onto the same site
grid as the optical ones, converted to linear intensity (dB detected, or as
``sar_scale`` says), and tested date by date against each pixel's pooled
history since its last change (:class:`~sitewatch.timeline.sar_series.SarReference`:
the sequential omnibus test with an exact F distribution).  The p-values go
through the same region test and event tracker as optical ones, so radar
events carry the same properties.  No cloud mask and no co-registration:
radar sees through clouds and terrain-corrected products are geolocated to
well under a pixel of a 10 m grid.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .change.regions import series_alpha, significant_regions, strong_regions
from .change.sar import estimate_enl, to_intensity
from .errors import InputError
from .io.catalog import SAR_BANDS
from .io.outputs import OutputFolder
from .io.raster import Grid
from .io.scenes import Skipped, read_or_skip
from .models import Event, Scene, SceneSeries, Site, SiteGrid, ZoneTimelineRow
from .timeline.events import EventTracker
from .timeline.sar_series import SarReference
from .timeline.zones import timeline_rows, zone_counts

__all__ = ["SarScale", "SarSeries", "run_sar_series", "sar_bands", "sar_scale_of"]

SarScale = Literal["auto", "intensity", "amplitude", "db"]
#: polarisations in the order they are stacked
_POL_ORDER = ("vv", "vh", "hh", "hv")
#: valid pixels the ENL estimate needs per date pooled
_ENL_DATES = 6


@dataclass
class SarSeries:
    """What the radar branch produced."""

    events: list[Event]
    rows: list[ZoneTimelineRow]
    dates: list[dt.date]
    reports: list[tuple[Scene, str, str]]  # scene, status, reason
    enl: tuple[float, ...] = ()
    warnings: list[str] = field(default_factory=list)
    images: SceneSeries | None = None


def sar_bands(scenes: list[Scene]) -> list[str]:
    """Polarisations every radar scene has (at least one), in a fixed order."""
    shared = set(SAR_BANDS)
    for s in scenes:
        shared &= set(s.bands)
    names = [b for b in _POL_ORDER if b in shared]
    if not names:
        raise InputError(
            "imagery: the radar scenes share no polarisation (vv, vh, hh, hv); give every "
            "radar date the same polarisations"
        )
    return names


def sar_scale_of(data: np.ndarray, valid: np.ndarray, declared: SarScale, name: str) -> str:
    """The scale of one radar scene's values: ``db`` when most valid values are negative.

    Raises
    ------
    InputError
        Values declared linear that can only be decibels (mostly negative), or a
        few negative values among linear ones (undeclared nodata, a broken product).
    """
    v = data[:, valid]
    n_neg = int((v < 0).sum())
    looks_db = n_neg > v.size // 2
    if declared == "db" or (declared == "auto" and looks_db):
        return "db"
    if looks_db:
        raise InputError(
            f"{name}: declared {declared} but {n_neg} of {v.size} valid values are negative "
            f"(smallest {float(v.min()):g}), as decibels are; pass --sar-scale db or auto"
        )
    if n_neg:
        raise InputError(
            f"{name}: {n_neg} valid value(s) are negative (smallest {float(v.min()):g}); "
            "linear intensity must be > 0: mask them as nodata, or pass --sar-scale db if "
            "the image is in decibels"
        )
    return "intensity" if declared == "auto" else declared


def run_sar_series(
    scenes: list[Scene],
    site: Site,
    sgrid: SiteGrid,
    grid: Grid,
    labels: np.ndarray,
    zone_names: tuple[str, ...],
    site_mask: np.ndarray,
    outputs: OutputFolder,
    *,
    alpha: float,
    min_area_px: int,
    enl: float | None = None,
    scale: SarScale = "auto",
    progress: Callable[[], None] | None = None,
) -> SarSeries:
    """Read, test and track the radar scenes of a site; write their change maps.

    Raises
    ------
    NoValidDataError
        The ENL cannot be estimated (pass ``enl``).
    InputError
        A dB image declared linear, or zero/negative linear intensities.
    """
    bands = sar_bands(scenes)
    h, w = sgrid.shape
    px_area = abs(sgrid.transform.a * sgrid.transform.e)
    kept: list[tuple[Scene, np.ndarray, np.ndarray]] = []
    reports: list[tuple[Scene, str, str]] = []
    warnings: list[str] = []
    for s in scenes:
        sd = read_or_skip(s, bands, sgrid, site)
        if isinstance(sd, Skipped):
            reports.append((s, "skipped", sd.reason))
            warnings.append(sd.warning)
        else:
            valid = sd.valid
            sc = sar_scale_of(sd.data, valid, scale, f"scene {s.id!r}")
            x = to_intensity(sd.data, valid, sc, name=f"scene {s.id!r}")  # type: ignore[arg-type]
            kept.append((s, x.astype(np.float32), valid))
        if progress is not None:
            progress()
    if not kept:
        return SarSeries([], [], [], reports, (), warnings)
    if enl is not None:
        enls = (float(enl),) * len(bands)
    else:
        pool = kept[:_ENL_DATES]
        enls = tuple(
            estimate_enl([x[b] for _, x, _ in pool], [v for _, _, v in pool])
            for b in range(len(bands))
        )
    ref = SarReference.empty(len(bands), (h, w), enls)
    tracker = EventTracker(
        (h, w), pixel_area_m2=px_area, zone_labels=labels if zone_names else None,
        zone_names=zone_names, site_mask=site_mask, alpha=alpha, min_area_px=min_area_px,
    )  # fmt: skip
    counts = []
    dates: list[dt.date] = []
    for s, x, valid in kept:
        p = ref.compare(x, valid)
        judged = np.isfinite(p)
        with np.errstate(invalid="ignore"):
            raw = judged & (p < alpha)
        strong = significant_regions(p, judged, alpha, min_area_px)
        strong = strong_regions(
            strong, p, series_alpha(alpha, int(judged.sum()), min_area_px, len(kept))
        )
        decision = raw & (strong | tracker.awaiting)
        new = tracker.update(s.date, valid, ref.signed_change(x), p_value=p, decision=decision)
        ref = ref.update(x, valid, tracker.hold)
        dmap = np.where(judged, strong.astype(np.uint8), np.uint8(255))
        outputs.write_change_map(f"{s.date.isoformat()}_sar", dmap, p, grid)
        counts.append(zone_counts(judged, new, labels, len(zone_names), site_mask))
        dates.append(s.date)
        reports.append((s, "used", ""))
    if len(kept) == 1:
        warnings.append(f"one radar date ({kept[0][0].id}): timeline only, nothing to compare")
    events = [dataclasses.replace(e, sensors=("sar",)) for e in tracker.finish()]
    rows = timeline_rows(dates, counts, zone_names, px_area, sensor="sar")
    images = SceneSeries(
        tuple(dates), tuple(s.id for s, _, _ in kept), tuple(bands),
        np.stack([x for _, x, _ in kept]), np.stack([v for _, _, v in kept]),
    )  # fmt: skip
    return SarSeries(events, rows, dates, reports, enls, warnings, images)

