"""What a report needs, gathered in one object: :class:`ReportInputs`.

Everything here is already in memory at the end of a run (the site, its grid,
events, zone timeline, per-scene records, the aligned image series) plus the
assessment; the report never reads files.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..models import Assessment, Event, Site, SiteGrid, ZoneTimelineRow

__all__ = ["ImageSeries", "ReportInputs", "SceneRecord"]

#: band names the report needs to draw true-colour images
RGB_BANDS = ("red", "green", "blue")


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
    """

    date: dt.date
    scene_id: str
    clear_fraction: float
    shift_px: tuple[float, float] = (0.0, 0.0)
    residual_px: float | None = None
    status: str = "used"

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
        if list(self.dates) != sorted(set(self.dates)):
            raise InputError(
                f"dates: {[d.isoformat() for d in self.dates]} are not increasing and unique; "
                "sort the series and merge same-day images"
            )
        if self.valid is not None and self.valid.shape != (n, *self.data.shape[2:]):
            raise InputError(
                f"valid: mask of shape {self.valid.shape} does not match data of shape "
                f"{self.data.shape}; give one (h, w) mask per date, or None"
            )
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
        found = [i for i, d in enumerate(self.dates) if d <= date]
        return found[-1] if found else None

    def index_on_or_after(self, date: dt.date) -> int | None:
        """Index of the first image dated ``date`` or later; None if there is none."""
        return next((i for i, d in enumerate(self.dates) if d >= date), None)


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
        One per acquisition of the run.
    series : ImageSeries
        Aligned images on ``grid``.
    """

    site: Site
    grid: SiteGrid
    assessment: Assessment
    events: tuple[Event, ...]
    timeline: tuple[ZoneTimelineRow, ...]
    scenes: tuple[SceneRecord, ...]
    series: ImageSeries

    def __post_init__(self) -> None:
        if self.series.shape != self.grid.shape:
            raise InputError(
                f"series: images of {self.series.shape[0]} x {self.series.shape[1]} px do not "
                f"fit the {self.grid.height} x {self.grid.width} px site grid; give the "
                "series the run aligned onto this grid"
            )
        if not self.series.dates:
            raise InputError("series: holds no image; give at least one aligned image")
        for e in self.events:
            if tuple(e.grid_shape) != self.grid.shape:
                raise InputError(
                    f"events: {e.event_id} lives on a {e.grid_shape} grid, not the site grid "
                    f"{self.grid.shape}; give events from the same run"
                )
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "timeline", tuple(self.timeline))
        object.__setattr__(self, "scenes", tuple(sorted(self.scenes, key=lambda s: s.date)))

    def scene_on(self, date: dt.date) -> SceneRecord | None:
        """The scene record of ``date``, if the run has one."""
        return next((s for s in self.scenes if s.date == date), None)
