"""What a report needs, gathered in one object: :class:`ReportInputs`.

Everything here is already in memory at the end of a run (the site, its grid,
events, zone timeline, per-scene records, the aligned optical series and the
radar series) plus the assessment; the report never reads files.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..models import Assessment, Event, Site, SiteGrid, ZoneTimelineRow

__all__ = ["ImageSeries", "RadarSeries", "ReportInputs", "SceneRecord"]

#: band names the report needs to draw true-colour images
RGB_BANDS = ("red", "green", "blue")
#: radar chips show the first of these the series has (co-polarised: strongest return)
DB_BANDS = ("vv", "hh")


@dataclass(frozen=True)
class SceneRecord:
    """One acquisition as the report cites it.

    Parameters
    ----------
    date : datetime.date
    scene_id : str
    clear_fraction : float
        Share of the site that was clear, 0..1.
    shift_px : tuple of float
        (dy, dx) alignment shift applied to the scene, in pixels.
    residual_px : float or None
        Disagreement of the sub-window shift estimates (pixels); None when not measured.
    status : str
        What the run did with the scene (``used``, ``below-min-clear``, ``misaligned``...).
    sensor : str
        ``optical`` or ``sar``; radar scenes are not cloud-masked nor aligned, so
        their clear fraction is their valid share and their shift zero.
    """

    date: dt.date
    scene_id: str
    clear_fraction: float
    shift_px: tuple[float, float] = (0.0, 0.0)
    residual_px: float | None = None
    status: str = "used"
    sensor: str = "optical"

    @property
    def shift_size_px(self) -> float:
        return math.hypot(*self.shift_px)


@dataclass(frozen=True, eq=False)
class ImageSeries:
    """The aligned images of a run on the site grid.

    Parameters
    ----------
    dates : tuple of datetime.date
        One per image, oldest first, no duplicates.
    band_names : tuple of str
        Common band names in stack order; must include red, green and blue.
    data : numpy.ndarray
        ``(dates, bands, h, w)`` float reflectance, NaN where not valid.
    valid : numpy.ndarray or None
        ``(dates, h, w)`` bool; pixels where it is False count as not valid too
        (e.g. the run's clear masks), so ``data`` need not be copied to hold NaN.
    """

    dates: tuple[dt.date, ...]
    band_names: tuple[str, ...]
    data: np.ndarray
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 4:
            raise InputError(f"data: array of shape {self.data.shape}; give (dates, bands, h, w)")
        n, nb = self.data.shape[:2]
        if n != len(self.dates) or nb != len(self.band_names):
            raise InputError(
                f"data: shape {self.data.shape} does not match {len(self.dates)} dates and "
                f"{len(self.band_names)} bands {self.band_names}; give one image per date "
                "and one layer per band"
            )
        _check_dates_and_mask(self.dates, self.data, self.valid)
        missing = [b for b in RGB_BANDS if b not in self.band_names]
        if missing:
            raise InputError(
                f"band_names: {self.band_names} lack {', '.join(missing)}; the report draws "
                "true-colour images and needs red, green and blue"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of each image."""
        return int(self.data.shape[2]), int(self.data.shape[3])

    def rgb(self, index: int) -> np.ndarray:
        """Image ``index`` as ``(h, w, 3)`` red, green, blue (NaN where not valid)."""
        layers = [self.data[index, self.band_names.index(b)] for b in RGB_BANDS]
        rgb = np.stack(layers, axis=-1).astype(np.float32)
        if self.valid is not None:
            rgb[~self.valid[index]] = np.nan
        return rgb

    def index_on_or_before(self, date: dt.date) -> int | None:
        """Index of the last image dated ``date`` or earlier; None if there is none."""
        return _index_on_or_before(self.dates, date)

    def index_on_or_after(self, date: dt.date) -> int | None:
        """Index of the first image dated ``date`` or later; None if there is none."""
        return _index_on_or_after(self.dates, date)


@dataclass(frozen=True, eq=False)
class RadarSeries:
    """The radar (SAR) images of a run on the site grid, as linear intensity.

    The report draws them in decibels (:meth:`db`); keeping the run's linear
    intensity here means no conversion is done twice and no scale flag is needed.

    Parameters
    ----------
    dates : tuple of datetime.date
        One per image, oldest first, no duplicates.
    band_names : tuple of str
        Polarisations in stack order (``vv``, ``vh``, ``hh``, ``hv``).
    data : numpy.ndarray
        ``(dates, bands, h, w)`` linear intensity (power), > 0 where valid.
    valid : numpy.ndarray or None
        ``(dates, h, w)`` bool, pixels observed at each date; None: all of them
        (values that are not finite or not positive count as not valid anyway).
    scene_ids : tuple of str
        One per image; empty when unknown.
    """

    dates: tuple[dt.date, ...]
    band_names: tuple[str, ...]
    data: np.ndarray
    valid: np.ndarray | None = None
    scene_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.data.ndim != 4:
            raise InputError(
                f"radar data: array of shape {self.data.shape}; give (dates, bands, h, w)"
            )
        n, nb = self.data.shape[:2]
        if n != len(self.dates) or nb != len(self.band_names) or nb == 0:
            raise InputError(
                f"radar data: shape {self.data.shape} does not match {len(self.dates)} dates "
                f"and {len(self.band_names)} polarisations {self.band_names}; give one image "
                "per date and one layer per polarisation"
            )
        if self.scene_ids and len(self.scene_ids) != n:
            raise InputError(
                f"scene_ids: {len(self.scene_ids)} ids for {n} radar dates; give one per date "
                "or none"
            )
        _check_dates_and_mask(self.dates, self.data, self.valid)

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of each image."""
        return int(self.data.shape[2]), int(self.data.shape[3])

    @property
    def db_band(self) -> str:
        """The polarisation chips show: vv (or hh), else the first."""
        return next((b for b in DB_BANDS if b in self.band_names), self.band_names[0])

    def db(self, index: int, band: str | None = None) -> np.ndarray:
        """Image ``index`` of ``band`` (default :attr:`db_band`) as ``(h, w)`` dB.

        NaN where not valid.
        """
        x = self.data[index, self.band_names.index(band or self.db_band)].astype(np.float64)
        return self._to_db(x, index)

    def mean_db(self, index: int) -> np.ndarray:
        """Image ``index`` as ``(h, w)`` dB averaged over the polarisations, NaN where not valid."""
        return self._to_db(self.data[index].astype(np.float64), index).mean(axis=0)

    def _to_db(self, x: np.ndarray, index: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(np.isfinite(x) & (x > 0), 10.0 * np.log10(x), np.nan)
        if self.valid is not None:
            out[..., ~self.valid[index]] = np.nan
        return out.astype(np.float32)

    def scene_id(self, index: int) -> str:
        return self.scene_ids[index] if self.scene_ids else "n/a"

    def index_before(self, date: dt.date) -> int | None:
        """Index of the last image dated strictly before ``date``; None if there is none."""
        return _index_on_or_before(self.dates, date - dt.timedelta(days=1))

    def index_on_or_after(self, date: dt.date) -> int | None:
        """Index of the first image dated ``date`` or later; None if there is none."""
        return _index_on_or_after(self.dates, date)


def _index_on_or_before(dates: tuple[dt.date, ...], date: dt.date) -> int | None:
    found = [i for i, d in enumerate(dates) if d <= date]
    return found[-1] if found else None


def _index_on_or_after(dates: tuple[dt.date, ...], date: dt.date) -> int | None:
    return next((i for i, d in enumerate(dates) if d >= date), None)


def _check_dates_and_mask(
    dates: tuple[dt.date, ...], data: np.ndarray, valid: np.ndarray | None
) -> None:
    if list(dates) != sorted(set(dates)):
        raise InputError(
            f"dates: {[d.isoformat() for d in dates]} are not increasing and unique; "
            "sort the series and merge same-day images"
        )
    if valid is not None and valid.shape != (data.shape[0], *data.shape[2:]):
        raise InputError(
            f"valid: mask of shape {valid.shape} does not match data of shape "
            f"{data.shape}; give one (h, w) mask per date, or None"
        )


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything :func:`sitewatch.report.render_report` draws and cites.

    Parameters
    ----------
    site : Site
        Name, zones (EPSG:4326) and context events.
    grid : SiteGrid
        The analysis grid the events and the image series live on.
    assessment : Assessment
    events : tuple of Event
    timeline : tuple of ZoneTimelineRow
        Rows of ``timeline.csv`` (zone ``_site`` for the whole site).
    scenes : tuple of SceneRecord
        One per acquisition of the run, optical and radar.
    series : ImageSeries or None
        Aligned optical images on ``grid``; None for a radar-only run.
    radar : RadarSeries or None
        Radar images on ``grid``; None for an optical-only run.
    """

    site: Site
    grid: SiteGrid
    assessment: Assessment
    events: tuple[Event, ...]
    timeline: tuple[ZoneTimelineRow, ...]
    scenes: tuple[SceneRecord, ...]
    series: ImageSeries | None
    radar: RadarSeries | None = None

    def __post_init__(self) -> None:
        if self.series is None and self.radar is None:
            raise InputError(
                "series, radar: both None; give the run's optical series, its radar series, or both"
            )
        for name, images in (("series", self.series), ("radar", self.radar)):
            if images is None:
                continue
            if images.shape != self.grid.shape:
                raise InputError(
                    f"{name}: images of {images.shape[0]} x {images.shape[1]} px do not "
                    f"fit the {self.grid.height} x {self.grid.width} px site grid; give the "
                    "series the run put onto this grid"
                )
            if not images.dates:
                raise InputError(f"{name}: holds no image; give at least one image or None")
        for e in self.events:
            if tuple(e.grid_shape) != self.grid.shape:
                raise InputError(
                    f"events: {e.event_id} lives on a {e.grid_shape} grid, not the site grid "
                    f"{self.grid.shape}; give events from the same run"
                )
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "timeline", tuple(self.timeline))
        object.__setattr__(self, "scenes", tuple(sorted(self.scenes, key=lambda s: s.date)))

    def scene_on(self, date: dt.date, sensor: str = "optical") -> SceneRecord | None:
        """The ``sensor`` scene record of ``date``, if the run has one."""
        return next((s for s in self.scenes if s.date == date and s.sensor == sensor), None)
