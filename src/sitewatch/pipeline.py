"""The whole ``sitewatch run`` pipeline as one library function, :func:`run_site`.

Stages (DESIGN.md "Data flow"):

1. **Catalog and grid.**  The site file is loaded, the imagery catalogued
   (:func:`~sitewatch.io.catalog.open_catalog`); the site grid takes the finest
   imagery's pixel size unless one is given.
2. **Read and mask.**  Every scene's shared optical bands are read onto the grid
   (a scene that does not overlap, or whose file is corrupt, is skipped with a
   warning).  Clouds come from the scene's SCL layer when it has one, otherwise
   from :func:`~sitewatch.preprocess.masks.spectral_cloud_mask` against the
   series' clear-sky median (computed twice: from the valid pixels, then from
   the first pass's clear pixels).  The series is held as one float32 array
   (``dates x bands x h x w``: 288 MB for 50 dates of a 600 x 600 site, 4 bands).
   Mostly cloudy scenes, which defeat the spectral test's scene-wide offset, are
   caught by :func:`~sitewatch.preprocess.overcast.overcast_mask`.
3. **Align.**  Each scene is registered by phase correlation to the clearest
   scene of the series.  A trusted shift is applied; an untrusted one (weak
   texture) is applied only when under 1.5 px, which the default method
   tolerates anyway; a scene with a larger untrusted shift is kept on the
   timeline but not tested ("misaligned").
4. **Normalise.**  Each scene is mapped band by band onto the radiometry of the
   alignment target (:func:`_normalised`), one fixed anchor, so that fitting
   errors do not accumulate from date to date.
5. **Change.**  Date by date, the scene is tested against the last clear aligned
   state of every pixel (:class:`~sitewatch.timeline.ReferenceState`) with the
   default pairwise method fitted on that date's pair (one block), after
   removing the smooth part of their difference (haze veils, illumination:
   :mod:`~sitewatch.preprocess.background`) and, where the date's normalisation
   was not trusted, the shifts of whole materials
   (:mod:`~sitewatch.preprocess.material`).  New candidates must pass the
   region-level test of :mod:`~sitewatch.change.regions` and must not be much
   closer to the look before the reference's than to the reference
   (:meth:`~sitewatch.timeline.ReferenceState.odd_reference`); the p-values feed
   the :class:`~sitewatch.timeline.EventTracker`.  Scenes below ``min_clear`` are
   tested where clear but never become the reference.  A pixel's first clear
   look beside a cloud raises no candidate against it until a second look
   (:class:`~sitewatch.timeline.FirstLookDoubt`).
6. **Outputs.**  Events, zone timeline, per-date change maps and ``run.json``,
   all committed together at the end (:class:`~sitewatch.io.outputs.OutputFolder`).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
from scipy import ndimage as ndi

from . import __version__
from .change.auto import AutoOpticalMethod
from .change.base import ChangeMethod, FittedChange, PairSample
from .change.clean import clean_decision
from .change.regions import series_alpha, significant_regions, strong_regions
from .change.registry import get_method
from .change.stats import strided_indices
from .errors import (
    BandMismatchError,
    CatalogError,
    InputError,
    NoOverlapError,
    NoValidDataError,
)
from .io.catalog import open_catalog
from .io.outputs import OutputFolder, sha256_file
from .io.raster import Grid
from .io.scenes import Skipped, common_bands, finest_pixel_m, grid_of, read_or_skip, site_rasters
from .models import Event, Scene, SceneSeries, SensorKind, Site, SiteGrid, ZoneTimelineRow
from .pipeline_sar import SarScale, run_sar_series, sar_bands
from .preprocess.align import ReferenceCache, apply_shift, estimate_shift, pick_texture_band
from .preprocess.background import block_px_for, smooth_difference
from .preprocess.masks import (
    CONFIRM_CLOUD_AREA_M2,
    DEFAULT_MIN_CLEAR,
    CloudMask,
    infer_reflectance_scale,
    offset_pixels,
    scl_mask,
    series_clear_median,
    spectral_cloud_mask,
)
from .preprocess.material import material_shift
from .preprocess.normalise import normalise_to_reference
from .preprocess.overcast import overcast_mask, with_overcast
from .preprocess.recurrence import recurrent_objects, without_objects
from .preprocess.shadows import shadow_explained, shadow_regions
from .preprocess.sun import sun_position
from .preprocess.water import optical_water, water_regions
from .sites import load_site, site_grid
from .timeline.doubt import FirstLookDoubt
from .timeline.events import EventTracker
from .timeline.fusion import fuse_events
from .timeline.reference import ReferenceState
from .timeline.zones import ZoneCounts, timeline_rows, zone_counts

__all__ = ["RunOptions", "RunResult", "SceneReport", "run_site"]

Progress = Callable[[int, int], None]

#: fewest judged pixels a date needs for its change method to be fitted
MIN_FIT_PIXELS = 500
#: judged pixels a date's test is fitted on at most (in blocks of FIT_BLOCK x FIT_BLOCK)
FIT_PIXELS = 65_536
FIT_BLOCK = 64
#: shifts smaller than this (pixels) are not resampled: interpolation would only blur
_MIN_SHIFT_PX = 0.1
#: an untrusted alignment (weak texture) is still applied up to this shift (pixels); the
#: default change method tolerates about a pixel of residual misregistration
_MAX_UNTRUSTED_SHIFT_PX = 1.5
#: coarsest window (metres) of the default optical test on each date of a series; see
#: :func:`_series_method`
SERIES_COARSEST_M = 20.0
#: a pixel's first clear look this close (metres) to a cloud or its shadow is not trusted
#: as its reference until a second look (:class:`~sitewatch.timeline.FirstLookDoubt`)
DOUBT_NEAR_M = 30.0


@dataclass(frozen=True)
class RunOptions:
    """Parameters of a run.

    Parameters
    ----------
    resolution
        Pixel size of the site grid in metres; None: the finest imagery's.
    alpha
        Per-pixel false-alarm rate of the change decision.
    min_clear
        Scenes with a smaller clear share of the site never become the reference.
    method
        Pairwise change method (registry name).
    overwrite
        Replace an earlier run in the output folder.
    margin_m
        Ground added around the site's bounds on the grid.
    collection
        STAC collection to search (STAC API sources).
    sensors
        ``all``, or only ``optical`` or ``sar`` scenes.
    enl
        Equivalent number of looks of the radar scenes; None: estimated.
    sar_scale
        How radar values are stored: ``auto`` (dB when any value is negative, else
        linear intensity), ``intensity``, ``amplitude`` or ``db``.
    """

    resolution: float | None = None
    alpha: float = 0.01
    min_clear: float = DEFAULT_MIN_CLEAR
    method: str = "auto"
    overwrite: bool = False
    margin_m: float = 100.0
    collection: str | None = None
    sensors: Literal["all", "optical", "sar"] = "all"
    enl: float | None = None
    sar_scale: SarScale = "auto"

    def check(self) -> None:
        """Raise :class:`InputError` on out-of-range values."""
        if self.resolution is not None and not (
            math.isfinite(self.resolution) and self.resolution > 0
        ):
            raise InputError(
                f"--resolution: {self.resolution}; give a pixel size in metres > 0, e.g. 10"
            )
        if not 0.0 < self.alpha < 1.0:
            raise InputError(f"--alpha: {self.alpha}; give a false-alarm rate in (0, 1), e.g. 0.01")
        if not 0.0 <= self.min_clear <= 1.0:
            raise InputError(f"--min-clear: {self.min_clear}; give a share in [0, 1], e.g. 0.3")
        if self.sensors not in ("all", "optical", "sar"):
            raise InputError(f"--sensors: {self.sensors!r}; give all, optical or sar")
        if self.enl is not None and not (math.isfinite(self.enl) and self.enl > 0):
            raise InputError(f"--enl: {self.enl}; give the number of looks (> 0), e.g. 4.4")
        if self.sar_scale not in ("auto", "intensity", "amplitude", "db"):
            raise InputError(
                f"--sar-scale: {self.sar_scale!r}; give auto, intensity, amplitude or db"
            )


@dataclass(frozen=True)
class SceneReport:
    """What happened to one scene of the catalog."""

    id: str
    date: dt.date
    status: str  # "used", "below-min-clear", "misaligned", "skipped"
    clear_fraction: float = 0.0
    shift_px: tuple[float, float] = (0.0, 0.0)
    reason: str = ""
    sensor: SensorKind = "optical"
    residual_px: float | None = None
    source: str = ""  # the href of the scene's first band, for provenance links


@dataclass
class RunResult:
    """Result of :func:`run_site`."""

    out_dir: Path
    site: Site
    grid: SiteGrid
    band_names: tuple[str, ...]
    events: list[Event]
    timeline: list[ZoneTimelineRow]
    scenes: list[SceneReport]
    outputs: dict[str, Path]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    series: SceneSeries | None = None
    radar: SceneSeries | None = None

    def events_by(self) -> dict[tuple[str, str], int]:
        """Event counts per (zone or ``-``, kind)."""
        out: dict[tuple[str, str], int] = {}
        for e in self.events:
            key = (e.zone or "-", e.kind)
            out[key] = out.get(key, 0) + 1
        return out


def _fail_no_scenes(imagery: str | Path, skipped: list[tuple[str, str]]) -> CatalogError:
    detail = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
    return CatalogError(
        f"imagery: {imagery} holds no usable dated image"
        + (f" ({detail})" if detail else "")
        + "; give a folder of images whose names hold the date (YYYY-MM-DD or YYYYMMDD)"
    )


def _masks(
    data: np.ndarray,
    valid: np.ndarray,
    quality: list[np.ndarray | None],
    bands: list[str],
    pixel_m: float,
    site_mask: np.ndarray,
    suns: list[tuple[float, float]],
) -> list[CloudMask]:
    """Cloud masks of every date: SCL where given, spectral against the clear median.

    ``data`` is reflectance already (0..1): the run divided it by one scale for the
    whole series, so the masks must not guess a scale per date again.

    The sun's position (elevation, azimuth) lets the spectral test match each cloud
    with its shadow, so a fresh white roof (which brightens like a cloud but casts
    none) stays clear; where the shadow cannot be looked for, a bright object that
    comes back in place on other dates is a surface (:func:`recurrent_objects`).
    """

    def spectral(
        d: np.ndarray,
        v: np.ndarray,
        median: np.ndarray,
        sun: tuple[float, float],
        sky: np.ndarray | None = None,
    ) -> CloudMask:
        m = spectral_cloud_mask(
            d, bands, v, median, sun_azimuth_deg=sun[1], pixel_size_m=pixel_m,
            sun_elevation_deg=sun[0], region=site_mask, reflectance_scale=1.0, sky=sky,
        )  # fmt: skip
        return with_overcast(m, *overcast_mask(d, bands, v, median), region=site_mask)

    median = series_clear_median(data, valid)
    first = [spectral(d, v, median, sun) for d, v, sun in zip(data, valid, suns)]
    median = series_clear_median(data, np.stack([m.clear for m in first]))
    out = [
        scl_mask(q, v, dilate_px=1, region=site_mask) if q is not None
        else spectral(d, v, median, sun, f.clear)
        for d, v, q, sun, f in zip(data, valid, quality, suns, first)
    ]  # fmt: skip
    spectral_i = [i for i, q in enumerate(quality) if q is None]
    if spectral_i:
        surfaces = recurrent_objects(
            [out[i].cloud | out[i].shadow for i in spectral_i],
            _brightness_anomaly(
                data, valid, median, spectral_i, [out[i].clear for i in spectral_i]
            ),
            valid[spectral_i],
            max_px=max(1, int(CONFIRM_CLOUD_AREA_M2 / pixel_m**2)),
        )  # fmt: skip
        for i, surf in zip(spectral_i, surfaces):
            out[i] = without_objects(out[i], surf, region=site_mask)
    return out


def _brightness_anomaly(
    data: np.ndarray,
    valid: np.ndarray,
    median: np.ndarray,
    dates: list[int],
    clear: list[np.ndarray],
) -> np.ndarray:
    """``(len(dates), h, w)`` mean-band brightness minus the median's, each date's offset
    removed.

    The offset is taken over the date's clear pixels: on a mostly cloudy date the
    median of all pixels is the cloud's brightness, which would make the ground
    under every gap look darkened and hide a surface's anomaly from
    :func:`recurrent_objects`.
    """
    ref = median.mean(axis=0)
    out = np.full((len(dates), *data.shape[2:]), np.nan, np.float32)
    for i, k in enumerate(dates):
        v = valid[k]
        a = data[k].mean(axis=0) - ref
        ok = v & np.isfinite(a)
        if ok.any():
            level = a[offset_pixels(ok, clear[i])]
            out[i] = np.where(ok, a - np.float32(np.median(level)), np.float32(np.nan))
    return out


#: per-band gains a date's normalisation may apply at most (a sanity bound)
_GAIN_RANGE = (0.67, 1.5)
#: correlation every band needs over the no-change pixels for its gain to be trusted
_MIN_CORRELATION = 0.95
#: clear pixels, at most, the normalisation is fitted on (evenly spaced)
_NORMALISE_SAMPLE = 40_000
#: side (pixels) of the mean filter both dates pass before the normalisation is fitted
_NORMALISE_SMOOTH_PX = 5


def _normalised(scene: np.ndarray, anchor: np.ndarray, both: np.ndarray) -> np.ndarray | None:
    """``scene`` in the radiometry of ``anchor`` (per-band orthogonal regression over
    IR-MAD no-change pixels among ``both``); None when the fit fails or is not trusted.

    The smooth-difference correction after it is additive: left to it, a gain
    between the dates (sun, atmosphere) is a difference that grows with brightness,
    and a large bright roof reads as changed.  The anchor is one fixed scene (the
    alignment target), not the running reference: fitted against the reference,
    which is built from normalised scenes, each date's small error became the next
    one's target, and on real Sentinel-2 ground the fitted gains ended 12-19 % above
    the true ones after 20 dates (Cupertino, quiet seed 3; now within 1.4 % on dates
    without haze).  Both dates are averaged over 5 x 5 px first, so the blur of
    resampling a shifted scene does not read as lost contrast (a 3 % gain error
    per date before).  A fit is trusted when every band's two dates correlate at
    0.95 or more over the no-change pixels (real ground under gains, haze and noise:
    0.96-0.999; a simulated season of greening vegetation: NIR down to 0.16, gain
    13) and no gain leaves 0.67-1.5.  Fitted on a sample: the full image cost 0.4 s
    a 600 x 600 px date.
    """
    nb = scene.shape[0]
    k = _NORMALISE_SMOOTH_PX
    inner = ndi.binary_erosion(both, np.ones((k, k), bool), border_value=0)
    if not inner.any():
        return None
    at = strided_indices(inner, _NORMALISE_SAMPLE)
    sample = (nb, 1, at.size)

    def smooth(img: np.ndarray) -> np.ndarray:
        flat = np.where(both, img, np.float32(0.0))
        return ndi.uniform_filter(flat, size=(1, k, k)).reshape(nb, -1)[:, at].reshape(sample)

    try:
        fit = normalise_to_reference(smooth(anchor), smooth(scene), np.ones(sample[1:], bool))
    except NoValidDataError:
        return None
    if (
        np.any(fit.correlation < _MIN_CORRELATION)
        or np.any(fit.gains < _GAIN_RANGE[0])
        or np.any(fit.gains > _GAIN_RANGE[1])
    ):
        return None
    gains = fit.gains.astype(np.float32)[:, None, None]
    return scene * gains + fit.offsets.astype(np.float32)[:, None, None]


def _series_method(method: ChangeMethod) -> ChangeMethod:
    """The default optical test with windows up to :data:`SERIES_COARSEST_M`.

    On a pair, the test asks a change to be coherent over 40 m, which keeps
    texture and noise out.  In a series, a candidate must also pass the
    series-level region test and hold at the next clear look, so the coarsest
    window can go: it dilutes a 15 m building below significance (the razed
    control building at the Sohae test stand was found only when its replacement
    rose, months later).  Other methods are used as given.
    """
    if isinstance(method, AutoOpticalMethod) and method.coarsest_m > SERIES_COARSEST_M:
        return replace(method, coarsest_m=SERIES_COARSEST_M)
    return method


def _fit_and_score(
    method: ChangeMethod,
    ref: np.ndarray,
    scene: np.ndarray,
    valid: np.ndarray,
    pixel_m: float,
    bands: tuple[str, ...],
) -> np.ndarray:
    """p-values of ``scene`` against ``ref`` on ``valid``; NaN elsewhere or when too few."""
    p = np.full(valid.shape, np.nan)
    if int(valid.sum()) < MIN_FIT_PIXELS:
        return p
    before = np.nan_to_num(ref, nan=0.0).astype(np.float32, copy=False)
    after = np.nan_to_num(scene, nan=0.0).astype(np.float32, copy=False)
    blocks = _fit_blocks(valid)
    sample = PairSample(
        [before[(slice(None), *b)] for b in blocks], [after[(slice(None), *b)] for b in blocks],
        [valid[b] for b in blocks],
        pixel_m, bands,
    )  # fmt: skip
    try:
        fitted: FittedChange = method.fit(sample)
    except NoValidDataError:
        return p
    score = fitted.score(before, after, valid)
    p[valid] = np.asarray(score.p_value, dtype=float)[valid]
    return p


def _fit_blocks(valid: np.ndarray) -> list[tuple[slice, slice]]:
    """Blocks of the grid to fit a date's test on: all of it up to :data:`FIT_PIXELS`,
    else the :data:`FIT_BLOCK`-square blocks with most judged pixels, spread over the site.

    The fit's statistics need tens of thousands of pixels, not the whole site, so
    its cost stays flat as sites grow; the test is then applied everywhere.
    """
    h, w = valid.shape
    if h * w <= FIT_PIXELS:
        return [(slice(0, h), slice(0, w))]
    b = FIT_BLOCK
    blocks = [
        (slice(r, min(r + b, h)), slice(c, min(c + b, w)))
        for r in range(0, h, b) for c in range(0, w, b)
    ]  # fmt: skip
    counts = np.array([int(valid[sl].sum()) for sl in blocks])
    # mostly judged blocks, every k-th in row-major order so they spread over the site
    dense = [i for i in np.argsort(-counts, kind="stable") if counts[i] >= b * b // 2]
    dense.sort()
    need = -(-FIT_PIXELS // (b * b))
    if len(dense) < need:
        return [blocks[i] for i in np.argsort(-counts, kind="stable") if counts[i] > 0][
            : max(need, 1)
        ]
    step = len(dense) / need
    return [blocks[dense[int(k * step)]] for k in range(need)]


def _input_files(site_path: Path, scenes: list[Scene]) -> dict[str, str]:
    paths = [site_path]
    for s in scenes:
        for a in [*s.bands.values(), *([s.quality] if s.quality else [])]:
            if "://" not in a.href:
                paths.append(Path(a.href))
    out: dict[str, str] = {}
    for p in paths:
        key = str(p)
        if key not in out and p.is_file():
            out[key] = sha256_file(p)
    return out


def run_site(
    site_path: str | Path,
    imagery: str | Path,
    out_dir: str | Path,
    options: RunOptions | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run the whole pipeline on one site and write its output folder.

    Parameters
    ----------
    site_path
        Site GeoJSON (see :func:`sitewatch.sites.load_site`).
    imagery
        A folder of dated images, or a STAC JSON file or URL.
    out_dir
        Output folder; must not hold a run unless ``options.overwrite``.
    options
        See :class:`RunOptions`.
    progress
        Called with (done, total) as scenes are read and tested.

    Raises
    ------
    InvalidSiteError, CatalogError, NoOverlapError, NoValidDataError, OutputError
        Bad input; nothing is written.
    """
    t0 = time.perf_counter()
    opts = options or RunOptions()
    opts.check()
    outputs = OutputFolder(out_dir, overwrite=opts.overwrite)
    site_path = Path(site_path)
    site = load_site(site_path)
    bbox = site.bounds if "://" in str(imagery) else None  # an API is searched by the site
    catalog = open_catalog(imagery, collection=opts.collection, bbox=bbox)
    warnings = [f"skipped {name}: {reason}" for name, reason in catalog.skipped]
    optical = [s for s in catalog.scenes if s.sensor == "optical"]
    radar = [s for s in catalog.scenes if s.sensor == "sar"]
    for kind, scenes in (("optical", optical), ("sar", radar)):
        if scenes and opts.sensors not in ("all", kind):
            warnings.append(f"left out {len(scenes)} {kind} scene(s): --sensors {opts.sensors}")
            scenes.clear()
    if not optical and not radar:
        raise _fail_no_scenes(imagery, list(catalog.skipped))
    bands = common_bands(optical) if optical else []
    pixel_m = opts.resolution or _finest(optical, bands, radar)
    if pixel_m is None:
        raise BandMismatchError(
            f"imagery: no scene of {imagery} is georeferenced or readable; give GeoTIFFs with a "
            "CRS, or pass --resolution"
        )
    sgrid = site_grid(site, pixel_m, opts.margin_m)
    grid = grid_of(sgrid)
    site_mask, labels, zone_names = site_rasters(site, sgrid)
    method = _series_method(get_method(opts.method))
    min_area_px = max(1, method.cleanup(pixel_m).min_area_px)
    total = 2 * len(optical) + len(radar)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    try:
        opt = (
            _optical_series(
                optical, bands, site, sgrid, grid, site_mask, labels, zone_names, method,
                min_area_px, opts, outputs, tick,
            )
            if optical
            else None
        )  # fmt: skip
        sar = (
            run_sar_series(
                radar, site, sgrid, grid, labels, zone_names, site_mask, outputs,
                alpha=opts.alpha, min_area_px=min_area_px, enl=opts.enl,
                scale=opts.sar_scale, progress=tick,
            )
            if radar
            else None
        )  # fmt: skip
        reports = list(opt.reports) if opt else []
        events = opt.events if opt else []
        rows = list(opt.rows) if opt else []
        if opt:
            warnings += opt.warnings
        if sar:
            warnings += sar.warnings
            reports += [
                SceneReport(s.id, s.date, status, 1.0 if status == "used" else 0.0,
                            (0.0, 0.0), reason, "sar", None, _href(s))
                for s, status, reason in sar.reports
            ]  # fmt: skip
            events = fuse_events(events, sar.events, pixel_m * pixel_m)
            rows += sar.rows
        if not any(r.status != "skipped" for r in reports):
            _fail_unread(imagery, len(optical) + len(radar), reports, warnings)
        rows.sort(key=lambda r: (r.date, r.sensor))
        reports.sort(key=lambda r: (r.date, r.sensor))
        outputs.write_events(events, grid)
        outputs.write_timeline(rows)
        params = asdict(opts)
        params["resolution_used"] = pixel_m
        if sar:
            params["enl_used"] = list(sar.enl)
        kept = [s for s in [*optical, *radar] if any(r.id == s.id for r in reports)]
        run_info = {
            "software": {"name": "sitewatch", "version": __version__},
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "inputs": {"site": str(site_path), "imagery": str(imagery)},
            "input_sha256": _input_files(site_path, kept),
            "site": site.name,
            "parameters": params,
            "grid": {
                "crs": sgrid.crs,
                "transform": list(sgrid.transform)[:6],
                "width": sgrid.width,
                "height": sgrid.height,
            },  # fmt: skip
            "bands": bands,
            "scenes": [
                {**asdict(r), "date": r.date.isoformat(), "shift_px": list(r.shift_px)}
                for r in reports
            ],
            "warnings": warnings,
            "n_events": len(events),
        }
        outputs.write_json("run.json", run_info)
        written = outputs.commit()
    except BaseException:
        outputs.abort()
        raise
    return RunResult(
        Path(out_dir), site, sgrid, tuple(bands), events, rows, reports, written, warnings,
        time.perf_counter() - t0, opt.series if opt else None, sar.images if sar else None,
    )  # fmt: skip


def _reference_sun(
    ref: ReferenceState, sun_of: dict[dt.date, tuple[float, float]], where: np.ndarray
) -> tuple[float, float]:
    """The sun on the date most of the ``where`` pixels' reference comes from."""
    index = ref.index[where & ref.observed]
    return sun_of[ref.dates[int(np.bincount(index).argmax())]] if index.size else (90.0, 0.0)


def _href(scene: Scene) -> str:
    return next(iter(scene.bands.values())).href


def _finest(optical: list[Scene], bands: list[str], radar: list[Scene]) -> float | None:
    sizes = [finest_pixel_m(optical, bands) if optical else None]
    if radar:
        sizes.append(finest_pixel_m(radar, sar_bands(radar)))
    known = [s for s in sizes if s is not None]
    return min(known) if known else None


def _fail_unread(
    imagery: str | Path, n: int, reports: list[SceneReport], warnings: list[str]
) -> NoReturn:
    if sum("does not overlap" in w for w in warnings) >= n:
        raise NoOverlapError(
            f"imagery: none of the {n} scenes of {imagery} overlaps the site; check that the "
            "imagery covers the site (and the site's coordinates are lon, lat)"
        )
    raise NoValidDataError(
        f"imagery: none of the {n} scenes of {imagery} could be read; " + "; ".join(warnings[:2])
    )


@dataclass
class _OpticalSeries:
    events: list[Event]
    rows: list[ZoneTimelineRow]
    reports: list[SceneReport]
    warnings: list[str]
    series: SceneSeries


def _optical_series(
    optical: list[Scene],
    bands: list[str],
    site: Site,
    sgrid: SiteGrid,
    grid: Grid,
    site_mask: np.ndarray,
    labels: np.ndarray,
    zone_names: tuple[str, ...],
    method: ChangeMethod,
    min_area_px: int,
    opts: RunOptions,
    outputs: OutputFolder,
    tick: Callable[[], None],
) -> _OpticalSeries:
    """Read, mask, align, test and track the optical scenes; write their change maps."""
    pixel_m = abs(sgrid.transform.a)
    n = len(optical)
    h, w = sgrid.shape
    nb = len(bands)
    data = np.empty((n, nb, h, w), np.float32)
    valid = np.zeros((n, h, w), bool)
    quality: list[np.ndarray | None] = []
    kept: list[Scene] = []
    reports: list[SceneReport] = []
    warnings: list[str] = []
    for s in optical:
        sd = read_or_skip(s, bands, sgrid, site)
        if isinstance(sd, Skipped):
            reports.append(SceneReport(s.id, s.date, "skipped", reason=sd.reason))
            warnings.append(sd.warning)
        else:
            i = len(kept)
            data[i] = sd.data
            valid[i] = sd.valid
            quality.append(sd.quality)
            kept.append(s)
        tick()
    if not kept:
        _fail_unread("the optical imagery", n, reports, warnings)
    m = len(kept)
    data = data[:m]
    valid = valid[:m]
    scale = infer_reflectance_scale(data[0], valid[0])
    if scale != 1.0:
        data /= np.float32(scale)

    # -- masks ----------------------------------------------------------------------
    lon, lat = site.centroid
    suns = [sun_position(s.datetime, lat, lon) for s in kept]
    masks = _masks(data, valid, quality, bands, pixel_m, site_mask, suns)
    fractions = [m_.clear_fraction for m_ in masks]
    ref_i = next((i for i, f in enumerate(fractions) if f >= opts.min_clear and f > 0), None)
    if ref_i is None:
        best = max(fractions)
        raise NoValidDataError(
            f"imagery: no scene is clear enough over the site (clearest {best:.0%}, "
            f"--min-clear {opts.min_clear:g}); add clearer dates or lower --min-clear"
        )
    # Alignment target: the clearest scene (earliest among equals), so clouds on the
    # first reference do not weaken every match.
    align_i = int(np.argmax(fractions))
    band_t = pick_texture_band(data[align_i], masks[align_i].clear)
    align_cache: ReferenceCache = {}
    sun_of = {s.date: sun for s, sun in zip(kept, suns)}

    # -- align, test, track -----------------------------------------------------------
    btuple = tuple(bands)
    ref = ReferenceState.empty(nb, (h, w))
    tracker = EventTracker(
        (h, w), pixel_area_m2=pixel_m * pixel_m, zone_labels=labels if zone_names else None,
        zone_names=zone_names, site_mask=site_mask, alpha=opts.alpha, min_area_px=min_area_px,
    )  # fmt: skip
    counts: list[ZoneCounts] = []
    block_px = block_px_for(pixel_m)
    dates: list[dt.date] = []
    clear_used = np.zeros((m, h, w), bool)
    doubt = FirstLookDoubt.empty((h, w), max(1, round(DOUBT_NEAR_M / pixel_m)))
    nothing = np.zeros((h, w), bool)
    for i, s in enumerate(kept):
        scene = data[i]
        clear = masks[i].clear
        status, shift, reason = "used", (0.0, 0.0), ""
        residual: float | None = None
        if i != align_i and clear.sum() > 0:
            try:
                al = estimate_shift(
                    data[align_i, band_t], scene[band_t], masks[align_i].clear, clear,
                    reference_cache=align_cache,
                )  # fmt: skip
            except NoValidDataError as exc:
                status, reason = "misaligned", str(exc)
            else:
                shift = (al.dy, al.dx)
                residual = al.residual_px
                size = math.hypot(al.dy, al.dx)
                if not al.ok and size > _MAX_UNTRUSTED_SHIFT_PX:
                    status, reason = "misaligned", al.reason
                elif size >= _MIN_SHIFT_PX:
                    scene, clear = apply_shift(scene, al.dy, al.dx, valid=clear)
        if status == "misaligned":
            clear = np.zeros_like(clear)
            warnings.append(f"not tested {s.id}: alignment not trusted ({reason})")
        elif fractions[i] < opts.min_clear:
            status = "below-min-clear"
        both = clear & ref.observed
        if both.sum() >= MIN_FIT_PIXELS:
            matched = None
            if i != align_i:
                matched = _normalised(scene, data[align_i], clear & masks[align_i].clear)
            linear = i == align_i or matched is not None  # a trusted line to the anchor
            if matched is not None:
                scene = matched
            scene = scene - smooth_difference(scene, ref.values, both, block_px)
            # After a trusted linear fit, per-material shifts are mostly noise in how the
            # reference's classes fall: on real ground they moved a bright roof class by
            # +-0.01 from date to date, a false change on large roofs.
            if not linear:
                scene = scene - material_shift(scene, ref.values, both)
        p = ref.compare(
            scene, clear,
            lambda r, a, v: _fit_and_score(method, r, a, v, pixel_m, btuple),
        )  # fmt: skip
        judged = np.isfinite(p)
        testable = doubt.testable(judged)
        # New candidates must pass the region-level test; pixels awaiting
        # confirmation vote with the plain per-pixel decision.
        with np.errstate(invalid="ignore"):
            raw = testable & (p < opts.alpha)
            agreed = judged & (p >= opts.alpha)
        strong = significant_regions(p, testable, opts.alpha, tracker.min_area_px)
        strong = strong_regions(
            strong, p, series_alpha(opts.alpha, int(testable.sum()), tracker.min_area_px, m)
        )
        if strong.any():
            explained, changed = shadow_explained(
                ref.values, scene, clear & ref.observed, suns[i][1], pixel_m,
                suns=(_reference_sun(ref, sun_of, strong), suns[i]),
            )  # fmt: skip
            strong &= ~shadow_regions(strong, explained, changed)
            water = optical_water(ref.values, scene, bands)
            if water is not None:
                strong &= ~water_regions(strong, water)
            strong &= ~ref.odd_reference(scene, strong & ~tracker.awaiting)
        decision_in = raw & (strong | tracker.awaiting)
        new = tracker.update(
            s.date, clear, ref.signed_change(scene), p_value=p, decision=decision_in
        )
        first = replaced = nothing
        if status != "below-min-clear" and status != "misaligned":
            seen_before = ref.observed
            ref = ref.update(scene, clear, s.date, hold=tracker.hold)
            replaced = ref.index == len(ref.dates) - 1  # what the reference took from this look
            first = replaced & ~seen_before
        doubt.update(
            agreed=agreed, replaced=replaced, first=first, sky=masks[i].cloud | masks[i].shadow
        )
        decision = clean_decision(strong, judged, min_area_px=tracker.min_area_px)
        dmap = np.where(judged, decision.astype(np.uint8), np.uint8(255))
        outputs.write_change_map(s.date.isoformat(), dmap, p, grid)
        counts.append(zone_counts(judged, new, labels, len(zone_names), site_mask))
        dates.append(s.date)
        reports.append(
            SceneReport(s.id, s.date, status, round(fractions[i], 4), shift, reason, "optical",
                        residual, _href(s))
        )  # fmt: skip
        clear_used[i] = clear
        if i != align_i:  # the alignment target must stay as read
            data[i] = scene
        tick()
    events = tracker.finish()
    rows = timeline_rows(dates, counts, zone_names, pixel_m * pixel_m)
    series = SceneSeries(tuple(s.date for s in kept), tuple(s.id for s in kept), btuple,
                           data, clear_used)  # fmt: skip
    return _OpticalSeries(events, rows, reports, warnings, series)
