"""Cloud, cloud-shadow and nodata masks of one scene, and the clear-sky median of a series.

Two sources of masks:

* :func:`scl_mask` reads a Sentinel-2 scene classification layer (SCL) when
  the scene ships one;
* :func:`spectral_cloud_mask` is the built-in test for everything else:
  bright, white and hazy pixels relative to the clear-sky median of the
  series (:func:`series_clear_median`), and cloud shadows as pixels darker in
  every band than that median, searched along the anti-solar direction from
  each cloud when the sun azimuth is known.

Images are ``(bands, h, w)`` arrays on the site grid (north up, rows going
south); masks are ``(h, w)`` bool.  Nothing here reads files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..change.stats import nan_percentile, robust_sigma, strided_indices
from ..errors import InputError

#: scenes clearer than this over the site may serve as references (``--min-clear``)
DEFAULT_MIN_CLEAR = 0.3

# Sentinel-2 L2A scene classification codes
SCL_NODATA = 0
SCL_SATURATED = 1
SCL_DARK_OR_TOPO_SHADOW = 2
SCL_CLOUD_SHADOW = 3
SCL_VEGETATION = 4
SCL_NOT_VEGETATED = 5
SCL_WATER = 6
SCL_UNCLASSIFIED = 7
SCL_CLOUD_MEDIUM = 8
SCL_CLOUD_HIGH = 9
SCL_CIRRUS = 10
SCL_SNOW = 11

# absolute reflectance levels (0..1) used by the spectral test
_ABS_CLOUD_BRIGHTNESS = 0.25  # visible mean above which an unreferenced pixel may be cloud
_ABS_MIN_CLOUD_BRIGHTNESS = 0.10  # a referenced cloud is at least this bright
_MIN_BRIGHTENING = 0.06  # smallest visible brightening called thick cloud
_MIN_HAZE = 0.03  # smallest blue excess called haze
_WHITENESS = 0.7  # Fmask whiteness limit (mean |band - mean| / mean)
_EDGE_BRIGHTENING = 0.02  # a cloud's rim: neighbours brightened by at least this
_EDGE_GROW_PX = 3  # how far the rim is followed
_MAX_HOLE_PX = 100  # holes in a cloud up to this size are cloud too
_SHADOW_SPREAD_PX = 10  # how far strict shadow seeds spread over moderately dark pixels
_ABS_DILATE_PX = 2  # without a median there is no rim test: plain dilation
_MIN_CLOUD_AREA_M2 = 2000.0  # smaller bright objects are roofs or glints, not clouds
_MIN_CLOUD_PX = 20  # the same when the pixel size is unknown
#: smaller clouds need a matching shadow when the sun's position is known
CONFIRM_CLOUD_AREA_M2 = 50_000.0  # smaller clouds need a matching shadow (sun position known)
_CLOUD_BASE_M = (200.0, 3000.0)  # heights of the cloud bases whose shadows are searched for
_CONFIRM_CLOUD_PX = 500  # the same when the pixel size is unknown
_MATCH_STRICT = 0.02  # a matched shadow holds at least this share of strictly dark pixels
_MATCH_STRICT_THICK = 0.3  # ... and this share when the cloud is opaque
_THICK_BRIGHTENING = 0.15  # median visible brightening of an opaque cloud object
_SHADOW_AREA_FACTOR = 1.5  # a shadow object may reach this multiple of the total cloud area
_SHADOW_RATIO = 0.65  # strict shadow: scene / median over all bands below this
_SHADOW_RATIO_LOOSE = 0.85  # inside a matched cloud projection
_SHADOW_RATIO_EDGE = 0.93  # a shadow's penumbra
_MAX_SHADOW_DISTANCE_M = 6000.0
#: strictly dark objects this large are cloud shadow when their cloud may be out of view
_ORPHAN_SHADOW_M2 = 20_000.0
_ORPHAN_SHADOW_PX = 200  # the same when the pixel size is unknown
_ORPHAN_SAMPLE = 20_000  # pixels looked at, about, to place the unseen clouds
_MEDIAN_SAMPLE = 200_000  # pixels a scene-wide median or spread is taken over, about
_ORPHAN_STEPS = 12  # cloud heights tried over the range
_MAX_SHADOW_DISTANCE_PX = 300
_LOW_PERCENTILE = 25.0  # the darker quarter of a pixel's dates: ground or shadow, not cloud
#: clear pixels a scene-wide offset needs before it is measured over them alone
MIN_SKY_PX = 500
#: a date this much brighter (mean over bands, 0..1 reflectance) than a pixel's darker
#: quarter of dates is cloud to :func:`series_clear_median`; clouds add light, shadows scale it
CLOUD_BRIGHTENING = 0.15


@dataclass(frozen=True)
class CloudMask:
    """Masks of one scene on the site grid.

    Attributes
    ----------
    cloud, shadow
        ``(h, w)`` bool: cloud (thick, haze or cirrus) and cloud shadow.
    clear
        ``(h, w)`` bool: valid data that is neither cloud nor shadow.
    clear_fraction
        Share of the region (the whole grid unless one was given) that is clear.
    valid
        ``(h, w)`` bool: pixels with data (inside coverage, not nodata/saturated).
    snow
        ``(h, w)`` bool: snow or ice; counted as clear but flagged.
    source
        ``"scl"`` or ``"spectral"``.
    """

    cloud: np.ndarray
    shadow: np.ndarray
    clear: np.ndarray
    clear_fraction: float
    valid: np.ndarray
    snow: np.ndarray
    source: str

    def usable_as_reference(self, min_clear: float = DEFAULT_MIN_CLEAR) -> bool:
        """True when ``clear_fraction >= min_clear``: clear enough to serve as a reference."""
        return self.clear_fraction >= min_clear


def clear_fraction(clear: np.ndarray, region: np.ndarray | None = None) -> float:
    """Share of ``region`` (default: every pixel) that is ``clear``; 0.0 for an empty region."""
    if region is None:
        return float(clear.mean()) if clear.size else 0.0
    n = int(np.count_nonzero(region))
    return float(np.count_nonzero(clear & region)) / n if n else 0.0


def _check_mask(name: str, mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise InputError(
            f"{name} has shape {mask.shape} but the image is {shape}; "
            f"give a boolean {name} of shape {shape}"
        )
    return mask.astype(bool, copy=False)


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return np.asarray(yy * yy + xx * xx <= radius * radius + 0.5)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0 or not mask.any():
        return mask
    return np.asarray(ndi.binary_dilation(mask, structure=_disk(radius)))


def _finish(
    cloud: np.ndarray,
    shadow: np.ndarray,
    valid: np.ndarray,
    snow: np.ndarray,
    region: np.ndarray | None,
    source: str,
) -> CloudMask:
    cloud = cloud & valid
    shadow = shadow & valid & ~cloud
    snow = snow & valid & ~cloud
    clear = valid & ~cloud & ~shadow
    return CloudMask(
        cloud=cloud,
        shadow=shadow,
        clear=clear,
        clear_fraction=clear_fraction(clear, region),
        valid=valid,
        snow=snow,
        source=source,
    )


# ---------------------------------------------------------------------------
# Sentinel-2 SCL


def scl_mask(
    scl: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    dilate_px: int = 0,
    region: np.ndarray | None = None,
) -> CloudMask:
    """Masks from a Sentinel-2 L2A scene classification layer.

    Classes: 0 nodata and 1 saturated/defective are not valid; 3 is cloud
    shadow; 8, 9 (cloud medium/high probability) and 10 (thin cirrus) are
    cloud; 11 (snow) is clear but flagged in ``snow``.  Values outside 0..11
    (e.g. a warp fill of 255, NaN) count as nodata.

    Parameters
    ----------
    scl
        ``(h, w)`` SCL codes resampled onto the grid with nearest neighbour.
    valid
        Optional ``(h, w)`` mask of pixels with data in the bands themselves.
    dilate_px
        Grow clouds and shadows by this many pixels (SCL under-detects cloud
        edges; 1-2 px at 10 m is a common choice).
    region
        Optional ``(h, w)`` mask (the site) over which ``clear_fraction`` is taken.
    """
    scl = np.asarray(scl)
    if scl.ndim != 2:
        raise InputError(f"scl has shape {scl.shape}; give the (h, w) scene classification layer")
    if dilate_px < 0:
        raise InputError(f"dilate_px is {dilate_px}; give 0 or a positive number of pixels")
    valid_in = _check_mask("valid", valid, scl.shape)
    region = _check_mask("region", region, scl.shape)
    if np.issubdtype(scl.dtype, np.floating):
        known = np.isfinite(scl) & (scl == np.round(scl))
        codes = np.where(known, scl, -1).astype(np.int64)
    else:
        codes = scl.astype(np.int64)
    known_code = (codes >= 0) & (codes <= SCL_SNOW)
    ok = known_code & (codes != SCL_NODATA) & (codes != SCL_SATURATED)
    if valid_in is not None:
        ok &= valid_in
    cloud = np.isin(codes, (SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS))
    shadow = codes == SCL_CLOUD_SHADOW
    cloud = _dilate(cloud, dilate_px)
    shadow = _dilate(shadow, dilate_px)
    return _finish(cloud, shadow, ok, codes == SCL_SNOW, region, "scl")


# ---------------------------------------------------------------------------
# clear-sky median of a series


def series_clear_median(
    stack: np.ndarray,
    valid: np.ndarray,
    *,
    percentile: float = 50.0,
    cloud_brightening: float | None = CLOUD_BRIGHTENING,
    max_chunk_bytes: int = 64 * 2**20,
) -> np.ndarray:
    """Per-pixel median (or other percentile) of a series over its valid, not cloud-bright dates.

    Run it first with the nodata masks, mask each scene against it, then
    again with the clear masks for a cleaner median.  Where a pixel is cloudy
    on most of its dates the plain median is the cloud, and every test
    against it fails (clear ground looks like shadow, clouds look clear).
    Clouds add light while shadows scale it down, so where the plain median
    (mean over bands) is more than ``cloud_brightening`` above the pixel's
    darker quarter of dates, the dates brighter than that are left out: a
    pixel cloudy on up to three quarters of its dates still gets its ground.
    Elsewhere (clouds on fewer than half the dates, a roof bright on every
    date, shadows in the darker quarter) the plain median is kept.  The price:
    a surface that brightens that much for good (a new white roof) counts as
    the reference only once it holds three quarters of the dates, not half.

    Parameters
    ----------
    stack
        ``(t, bands, h, w)`` images of one grid (any real dtype; float32 keeps memory low).
    valid
        ``(t, h, w)`` bool: which pixels of each date may contribute.
    percentile
        50 gives the median; a lower value (e.g. 35) is more robust where
        clouds are frequent, since clouds only brighten.
    cloud_brightening
        Brightening over the pixel's 25th percentile (the stack's units: 0.15
        for 0..1 reflectance) above which a date is cloud; None keeps every
        valid date (a plain percentile).
    max_chunk_bytes
        Rows are processed in chunks whose float32 working copy stays below this.

    Returns
    -------
    numpy.ndarray
        ``(bands, h, w)`` float32; NaN where no date is valid.
    """
    stack = np.asarray(stack)
    valid = np.asarray(valid)
    if stack.ndim != 4:
        raise InputError(
            f"stack has shape {stack.shape}; give a (dates, bands, h, w) array of one grid"
        )
    t, nb, h, w = stack.shape
    if valid.shape != (t, h, w):
        raise InputError(
            f"valid has shape {valid.shape} but stack is {stack.shape}; "
            f"give a (dates, h, w) = {(t, h, w)} boolean mask"
        )
    if not 0.0 <= percentile <= 100.0:
        raise InputError(f"percentile is {percentile}; give a value between 0 and 100")
    if cloud_brightening is not None and not cloud_brightening > 0:
        raise InputError(
            f"cloud_brightening is {cloud_brightening}; give a positive brightening in the "
            "stack's units (e.g. 0.15 for 0..1 reflectance) or None"
        )
    valid = valid.astype(bool, copy=False)
    out = np.full((nb, h, w), np.nan, dtype=np.float32)
    row_bytes = max(1, t * nb * w * 4)
    step = int(max(1, min(h, max_chunk_bytes // row_bytes)))
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        v = valid[:, None, r0:r1, :]
        chunk = np.where(
            v, stack[:, :, r0:r1, :].astype(np.float32, copy=False), np.float32(np.nan)
        )
        if cloud_brightening is not None:
            b = chunk.mean(axis=1)
            low = nan_percentile(b, _LOW_PERCENTILE)
            limit = low + np.float32(cloud_brightening)
            above = b > limit
            # only where the plain median is itself that bright: cloud on most dates
            cloudy = 2 * above.sum(axis=0) > np.isfinite(b).sum(axis=0)
            np.copyto(chunk, np.float32(np.nan), where=(above & cloudy)[:, None])
        out[:, r0:r1, :] = nan_percentile(chunk, percentile)
    return out


# ---------------------------------------------------------------------------
# spectral / temporal cloud test


def _band_index(band_names: Sequence[str], name: str) -> int | None:
    lowered = [b.lower() for b in band_names]
    return lowered.index(name) if name in lowered else None


def infer_reflectance_scale(scene: np.ndarray, valid: np.ndarray) -> float:
    """Guess the divisor to 0..1 reflectance: 1, 255 (8-bit) or 10000 (Sentinel-2 DN)."""
    sample = scene[:, valid]
    if sample.size == 0:
        return 1.0
    sample = sample[:, :: max(1, sample.shape[1] // 200_000)]
    hi = float(np.nanpercentile(sample, 99))
    if hi <= 1.5:
        return 1.0
    if scene.dtype == np.uint8:
        return 255.0
    return 10000.0


def offset_pixels(usable: np.ndarray, sky: np.ndarray | None) -> np.ndarray:
    """Pixels a scene-wide offset is measured over: the clear ``sky`` among ``usable`` when
    it holds at least :data:`MIN_SKY_PX`, else every usable pixel.

    Over every pixel, a scene mostly under cloud takes the cloud's brightening for its
    offset.
    """
    if sky is not None:
        clear = usable & sky
        if _enough_sky(clear):
            return clear
    return usable


def _enough_sky(clear: np.ndarray) -> bool:
    """Whether ``clear`` sky holds the :data:`MIN_SKY_PX` an offset is measured over."""
    return int(np.count_nonzero(clear)) >= MIN_SKY_PX


def _robust_sigma(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(robust_sigma(x)) if x.size else 0.0


def _data_edge(valid: np.ndarray) -> np.ndarray:
    """Valid pixels on the edge of the data (4-connected to nodata, or on the grid's border)."""
    inner = np.zeros_like(valid)
    inner[1:-1, 1:-1] = (
        valid[1:-1, 1:-1] & valid[:-2, 1:-1] & valid[2:, 1:-1] & valid[1:-1, :-2] & valid[1:-1, 2:]
    )
    return valid & ~inner


def _remove_small(
    mask: np.ndarray, min_px: int, keep_touching: np.ndarray | None = None
) -> np.ndarray:
    """Drop 8-connected objects of ``mask`` under ``min_px`` pixels, except any touching
    ``keep_touching`` (e.g. :func:`_data_edge`: an object cut there shows only part of its size).
    """
    if min_px <= 1 or not mask.any():
        return mask
    lab, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())
    keep = sizes >= min_px
    if keep_touching is not None:
        keep[lab[keep_touching & mask]] = True
    keep[0] = False
    return np.asarray(keep[lab])


def _drop_large(mask: np.ndarray, max_px: int) -> np.ndarray:
    """Remove connected objects of ``mask`` larger than ``max_px`` pixels."""
    if not mask.any():
        return mask
    lab, _ = ndi.label(mask, structure=np.ones((3, 3), bool))
    sizes = np.bincount(lab.ravel())
    keep = sizes <= max_px
    keep[0] = False
    return np.asarray(keep[lab])


def _fill_small_holes(mask: np.ndarray, max_px: int) -> np.ndarray:
    """Fill holes of at most ``max_px`` pixels inside ``mask`` (a bright roof under a cloud)."""
    if not mask.any():
        return mask
    # one labelling of the background (4-connected, as binary_fill_holes sees it): a hole is
    # a background object off the grid's border; far cheaper than filling by propagation
    lab, n = ndi.label(~mask)
    if n == 0:
        return mask
    small = np.bincount(lab.ravel(), minlength=n + 1) <= max_px
    small[0] = False
    small[lab[0]] = small[lab[-1]] = small[lab[:, 0]] = small[lab[:, -1]] = False
    return mask | np.asarray(small[lab])


def _shift_mask(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Integer translation of a bool mask (content moves by +dy rows, +dx cols), zero fill."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def _spread_shadow(
    seeds: np.ndarray, loose: np.ndarray, edge: np.ndarray | None, cloud: np.ndarray
) -> np.ndarray:
    """Strict shadow seeds spread over the moderately dark pixels around them
    (hysteresis), then over the penumbra when ``edge`` is given."""
    if not seeds.any():
        return seeds
    out = seeds | np.asarray(
        ndi.binary_dilation(seeds, structure=_disk(1), iterations=_SHADOW_SPREAD_PX, mask=loose)
    )
    if edge is not None:
        out |= np.asarray(
            ndi.binary_dilation(
                out, structure=_disk(1), iterations=_EDGE_GROW_PX, mask=edge & ~cloud
            )
        )
    return out


def _orphan_shadows(
    dark: np.ndarray,
    valid: np.ndarray,
    uy: float,
    ux: float,
    dist_px: tuple[float, float],
    min_px: int,
) -> np.ndarray:
    """Strictly dark objects of at least ``min_px`` pixels whose cloud may be out of view.

    A cloud casts its shadow ``t`` pixels down-sun, ``t`` within ``dist_px``; when,
    for some such ``t``, at least half of an object's pixels have their cloud
    position off the grid or on nodata, the cloud can be there unseen (a site
    window cuts clouds off far more often than their shadows).
    """
    out = np.zeros(dark.shape, bool)
    lab, n = ndi.label(dark, structure=np.ones((3, 3), bool))
    if n == 0:
        return out
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    big = sizes >= min_px
    big[0] = False
    if not big.any():
        return out
    h, w = dark.shape
    rows, cols = np.divmod(strided_indices(big[lab], _ORPHAN_SAMPLE), w)
    labs = lab[rows, cols]
    counts = np.bincount(labs, minlength=n + 1)
    orphan = np.zeros(n + 1, bool)
    for t in np.linspace(max(dist_px[0], 1.0), max(dist_px[1], 1.0), _ORPHAN_STEPS):
        r = np.rint(rows - t * uy).astype(np.int64)
        c = np.rint(cols - t * ux).astype(np.int64)
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        seen = np.zeros(rows.size, bool)
        seen[inside] = valid[r[inside], c[inside]]
        unseen = np.bincount(labs, weights=~seen, minlength=n + 1)
        orphan |= unseen >= 0.5 * np.maximum(counts, 1)
    orphan &= big
    return np.asarray(orphan[lab])


def _match_shadows(
    cloud: np.ndarray,
    dark_loose: np.ndarray,
    dark_strict: np.ndarray,
    ground: np.ndarray,
    opacity: np.ndarray,
    uy: float,
    ux: float,
    max_px: int,
    min_px: int,
    confirm_px: int,
    shadow_range_px: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Project each cloud object along the anti-solar direction to where it best meets dark pixels.

    Returns the matched shadow pixels, the cloud objects to drop and the
    scene's shadow offset (the size-weighted median of the matched distances,
    None when no cloud matched).  The objects to drop are those
    smaller than ``confirm_px`` whose projection could be checked over clear
    land at 80 % of the distances in ``shadow_range_px`` (where the shadow of
    a cloud must fall, given the sun's elevation) and never met darkened
    ground (no placement 40 % moderately dark and 2 % strictly dark, 30 %
    for an opaque cloud): a new bright roof rather than a cloud.  A cloud
    whose shadow may fall outside the scene is never dropped.  Shadows are
    placed where the projection is most often moderately dark, with those
    shares of strictly dark pixels.
    """
    h, w = cloud.shape
    lab, n = ndi.label(cloud, structure=np.ones((3, 3), bool))
    out = np.zeros_like(cloud)
    drop = np.zeros_like(cloud)
    matched_d: list[float] = []
    if n == 0:
        return out, drop, None
    n_steps = 120
    step = max(1.0, max_px / n_steps)
    dists = np.arange(step, max_px + step, step)
    hi = math.inf
    if shadow_range_px is not None:
        dists = dists[dists >= shadow_range_px[0]]
        hi = shadow_range_px[1]
    # a cloud can be dropped only when every distance its shadow may lie at was looked at
    need = 0.8 * float((dists <= hi).sum()) if hi <= max_px else math.inf
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        obj = lab[sl] == i
        n_obj = int(obj.sum())
        if n_obj < min_px:
            continue
        oy, ox = np.nonzero(obj)
        oy = oy + sl[0].start
        ox = ox + sl[1].start
        best, best_d, checked = 0.0, -1.0, 0  # checked: placements inside the range
        any_loose = any_strict = 0.0
        # an opaque cloud casts a deep shadow; a thin one only dims the ground
        thick = float(np.median(opacity[oy, ox])) > _THICK_BRIGHTENING
        need_strict = _MATCH_STRICT_THICK if thick else _MATCH_STRICT
        for d in dists:
            yy = oy + int(round(d * uy))
            xx = ox + int(round(d * ux))
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            if inside.sum() < 0.5 * n_obj:
                break
            yy, xx = yy[inside], xx[inside]
            free = ~cloud[yy, xx] & ground[yy, xx]
            if free.sum() < 0.5 * n_obj:
                continue
            checked += int(d <= hi)
            # placement by the moderately dark share; a shadow must also hold strictly dark pixels
            score = float(dark_loose[yy[free], xx[free]].mean())
            strict = float(dark_strict[yy[free], xx[free]].mean())
            any_loose = max(any_loose, score)
            any_strict = max(any_strict, strict)
            if score > best and strict >= need_strict:
                best, best_d = score, float(d)
        no_shadow = any_loose < 0.4 or any_strict < need_strict
        if n_obj < confirm_px and checked >= max(need, 1) and no_shadow:
            drop[sl] |= obj
            continue
        if best < 0.4:
            continue
        matched_d.extend([best_d] * n_obj)
        yy = oy + int(round(best_d * uy))
        xx = ox + int(round(best_d * ux))
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        out[yy[inside], xx[inside]] = True
    out = np.asarray(ndi.binary_dilation(out, structure=np.ones((3, 3), bool), iterations=2))
    offset = float(np.median(matched_d)) if matched_d else None
    return out & dark_loose, drop, offset


def _layer_band(cloud: np.ndarray, uy: float, ux: float, offset: float) -> np.ndarray:
    """Where the clouds' shadows fall if every cloud is at the matched clouds' height (+-15 %)."""
    out = np.zeros_like(cloud)
    for d in np.arange(0.85 * offset, 1.15 * offset + 1.0, 1.0):
        out |= _shift_mask(cloud, int(round(d * uy)), int(round(d * ux)))
    return out


def spectral_cloud_mask(
    scene: np.ndarray,
    band_names: Sequence[str],
    valid: np.ndarray | None = None,
    reference_median: np.ndarray | None = None,
    sun_azimuth_deg: float | None = None,
    pixel_size_m: float | None = None,
    *,
    sun_elevation_deg: float | None = None,
    reflectance_scale: float | None = None,
    dilate_px: int | None = None,
    min_cloud_px: int | None = None,
    max_shadow_distance_m: float = _MAX_SHADOW_DISTANCE_M,
    region: np.ndarray | None = None,
    sky: np.ndarray | None = None,
) -> CloudMask:
    """Clouds, haze and cloud shadows from the bands alone, relative to the series when possible.

    With ``reference_median`` (the clear-sky median of the series, see
    :func:`series_clear_median`) each pixel is compared with its own clear
    history, after removing each band's scene-wide offset (sun, atmosphere):

    * *thick cloud*: the visible bands brighten by more than
      ``max(0.06, 5 sigma)`` (sigma: the scene's robust spread of that
      brightening), the brightening is spectrally flat (white: its spread
      across the visible bands is under 60 % of its mean and red does not
      outgrow blue, unlike soil or senescence) and the pixel is at least 0.10
      bright.  A roof bright in the median does not brighten, so it is kept.
    * *haze / thin cloud*: blue brightens by more than ``max(0.03, 4 sigma)``
      and at least as much as red (scattering is strongest in blue).
    * cloud objects smaller than ``min_cloud_px`` are dropped (unless cut by
      the edge of the data, which hides their size), each cloud is
      followed up to 3 px into its hazy rim (neighbours still 0.02 brighter)
      and holes of up to 100 px inside it (a bright roof under the cloud)
      are filled.
    * *shadow*: every band darker than the median and the sum of bands below
      65 % of it ("strict"); below 85 % is "moderately dark".  Water (NDWI
      of the median above 0) is never shadow.  Shadows must belong to a
      cloud: with ``sun_azimuth_deg`` each cloud object is projected along
      the anti-solar direction to the distance where it best meets dark
      ground (its moderately dark pixels there are shadow; with the sun's
      elevation too, only distances where the shadow of a cloud based 200 to
      3000 m high can fall are tried); without it, strict pixels within
      ``max_shadow_distance_m`` of a cloud.  Seeds then spread
      over moderately dark neighbours (10 px) and the penumbra (3 px), and no
      shadow object may exceed 1.5 times the cloud area.
    * with the sun's azimuth and elevation and a median, a strictly dark
      object of at least 2 ha, larger than the clouds in view can cast (1.5
      times their area), whose cloud may be out of view is shadow too (spread
      as above): for some cloud base from 200 to 3000 m, at least half of its
      pixels have their cloud position off the grid or on nodata (only with
      ``sky``: under an overcast the offset of a scene measured over every
      pixel is the cloud's, and all ground would look strictly dark).  A site's
      window cuts a cloud off far more often than its shadow.  A dark new
      surface that large next to the edge of the data is called shadow on that
      date; :func:`recurrent_objects` returns it when it stays.
    * with the sun's azimuth and elevation and a median, a cloud object under
      5 ha whose projection crossed clear land at the distances where the
      shadow of a cloud based 200 to 3000 m high must fall, without meeting
      darkened ground, is dropped: a fresh white roof brightens like a cloud
      but casts no cloud shadow.  When that stretch of ground is not in the
      scene (small sites, a low sun) or the sun is unknown, such a roof is
      called cloud; :func:`recurrent_clouds` across the series is the remedy.

    Without a median, absolute tests after Fmask (Zhu & Woodcock 2012) are
    used: visible mean above 0.25, whiteness below 0.7, haze-optimised
    transform ``blue - 0.5 red - 0.08 > 0``, NDVI below 0.6 when NIR and red
    exist; bright roofs and concrete can then be mistaken for cloud, so give
    the median whenever the series has one.  Snow (NDSI > 0.4 with green and
    swir16) is never cloud and is flagged.

    Parameters
    ----------
    scene
        ``(bands, h, w)`` reflectance (0..1, or DN scaled by ``reflectance_scale``).
    band_names
        Common names of the bands (``blue green red nir swir16 ...``); the
        visible ones drive the tests (all bands when none is named).
    valid
        ``(h, w)`` bool: pixels with data.  Default: finite in every band.
    reference_median
        ``(bands, h, w)`` clear-sky median in the same units; NaN where unknown.
    sun_azimuth_deg
        Sun azimuth, degrees clockwise from north, when known.
    sun_elevation_deg
        Sun elevation above the horizon in degrees, when known (with the
        azimuth, it lets a cloud without a shadow be dropped).
    pixel_size_m
        Ground pixel size, to turn ``max_shadow_distance_m`` into pixels
        (300 px when unknown).
    reflectance_scale
        Divisor to 0..1 reflectance; inferred when None (1, 255 or 10000).
    dilate_px
        Grow clouds and shadows by this many more pixels unconditionally.
        None: 0 with a median (each cloud and shadow is already grown up to
        3 px into neighbours still brighter, or darker, than the median: the
        hazy rim and the penumbra) and 2 without one.
    min_cloud_px
        Drop cloud objects smaller than this (new roofs, glints).  None:
        2000 m2 in pixels (20 px at 10 m; at least 3), or 20 px without
        ``pixel_size_m``.
    max_shadow_distance_m
        Farthest cloud-to-shadow distance searched.
    region
        ``(h, w)`` mask (the site) over which ``clear_fraction`` is taken.
    sky
        ``(h, w)`` pixels believed clear (a first pass's mask): with a median,
        each band's scene-wide offset is measured over them when they hold at
        least 500 pixels.  Over every pixel, a scene mostly under cloud gets the
        cloud's brightening as its offset, and its clear ground then looks as
        dark as a shadow.  The brightening's spread is still taken over every
        pixel: measured over the sky alone it flagged more clear pixels on the
        simulator's cloudy series, and an overcast scene is the job of
        :mod:`~sitewatch.preprocess.overcast`.
    """
    scene = np.asarray(scene)
    if scene.ndim != 3:
        raise InputError(f"scene has shape {scene.shape}; give a (bands, h, w) image")
    nb, h, w = scene.shape
    if len(band_names) != nb:
        raise InputError(
            f"band_names has {len(band_names)} names ({list(band_names)}) but scene has {nb} "
            "bands; give one name per band"
        )
    if dilate_px is not None and dilate_px < 0:
        raise InputError(
            f"dilate_px is {dilate_px}; give 0 or a positive number of pixels, or None"
        )
    if pixel_size_m is not None and not pixel_size_m > 0:
        raise InputError(f"pixel_size_m is {pixel_size_m}; give a positive size in metres or None")
    valid_m = _check_mask("valid", valid, (h, w))
    region = _check_mask("region", region, (h, w))
    sky = _check_mask("sky", sky, (h, w))
    finite = np.all(np.isfinite(scene), axis=0)
    valid_m = finite if valid_m is None else valid_m & finite
    if reference_median is not None:
        reference_median = np.asarray(reference_median)
        if reference_median.shape != scene.shape:
            raise InputError(
                f"reference_median has shape {reference_median.shape} but scene is "
                f"{scene.shape}; give the series median of the same bands and grid"
            )
    if reflectance_scale is None:
        reflectance_scale = infer_reflectance_scale(scene, valid_m)
    elif not reflectance_scale > 0:
        raise InputError(
            f"reflectance_scale is {reflectance_scale}; "
            "give a positive divisor (e.g. 10000) or None"
        )
    inv = np.float32(1.0 / reflectance_scale)
    refl = np.where(valid_m, scene.astype(np.float32) * inv, np.float32(0))

    idx = {n: _band_index(band_names, n) for n in ("blue", "green", "red", "nir", "swir16")}
    vis = [i for i in (idx["blue"], idx["green"], idx["red"]) if i is not None] or list(range(nb))
    bright = refl[vis].mean(axis=0)
    whiteness = np.abs(refl[vis] - bright).mean(axis=0) / np.maximum(bright, 1e-6)

    snow = np.zeros((h, w), bool)
    if idx["green"] is not None and idx["swir16"] is not None:
        g, s = refl[idx["green"]], refl[idx["swir16"]]
        ndsi = (g - s) / np.maximum(g + s, 1e-6)
        snow = (ndsi > 0.4) & (g > 0.1)
        if idx["nir"] is not None:
            snow &= refl[idx["nir"]] > 0.11

    # absolute (Fmask-like) tests: used alone without a median, and where the median is NaN
    abs_cloud = (bright > _ABS_CLOUD_BRIGHTNESS) & (whiteness < _WHITENESS)
    if idx["blue"] is not None and idx["red"] is not None:
        abs_cloud &= refl[idx["blue"]] - 0.5 * refl[idx["red"]] - 0.08 > 0
    if idx["nir"] is not None and idx["red"] is not None:
        nir, red = refl[idx["nir"]], refl[idx["red"]]
        abs_cloud &= (nir - red) / np.maximum(nir + red, 1e-6) < 0.6
    grow_edge: np.ndarray | None = None
    shadow_edge: np.ndarray | None = None
    sky_offset = False  # the scene-wide offset was measured over the clear sky

    if reference_median is None:
        opacity = bright - np.float32(0.1)
        cloud = abs_cloud
        # very dark land: shadowed vegetation keeps little NIR, shadowed soil little of anything
        dark_strict = (refl.mean(axis=0) < 0.05) & (bright < 0.05)
        dark_loose = (refl.mean(axis=0) < 0.08) & (bright < 0.08)
    else:
        med = reference_median.astype(np.float32) * inv
        has_med = valid_m & np.all(np.isfinite(med), axis=0)
        d = np.where(has_med, refl - np.where(has_med, med, 0), np.float32(0))
        offs = np.zeros(nb, dtype=np.float32)
        if has_med.any():
            level = offset_pixels(has_med, sky)
            sky_offset = sky is not None and _enough_sky(has_med & sky)
            at = strided_indices(level, _MEDIAN_SAMPLE)
            offs = np.median(d.reshape(nb, -1)[:, at], axis=1).astype(np.float32)
            d -= offs[:, None, None]
            d[:, ~has_med] = 0
        dv = d[vis]
        db = dv.mean(axis=0)
        opacity = np.where(has_med, db, bright - np.float32(0.1))
        on_med = strided_indices(has_med, _MEDIAN_SAMPLE)
        sigma = _robust_sigma(db.ravel()[on_med])
        t_bright = max(_MIN_BRIGHTENING, 5.0 * sigma)
        spread = dv.max(axis=0) - dv.min(axis=0)
        thick = (db > t_bright) & (spread < 0.6 * db) & (bright > _ABS_MIN_CLOUD_BRIGHTNESS)
        if idx["blue"] is not None and idx["red"] is not None:
            thick &= d[idx["red"]] <= 1.3 * d[idx["blue"]] + 0.02
        cloud = thick
        if idx["blue"] is not None:
            db_blue = d[idx["blue"]]
            sig_b = _robust_sigma(db_blue.ravel()[on_med])
            t_haze = max(_MIN_HAZE, 4.0 * sig_b)
            haze = (db_blue > t_haze) & (db > 0.5 * t_haze)
            if idx["red"] is not None:
                haze &= db_blue >= d[idx["red"]]
            if idx["green"] is not None:
                haze &= db_blue >= 0.8 * d[idx["green"]]
            cloud = cloud | haze
        cloud = np.where(has_med, cloud, abs_cloud)
        grow_edge = has_med & (db > max(_EDGE_BRIGHTENING, 3.0 * sigma)) & ~snow
        med_sum = np.where(has_med, med, 0).sum(axis=0) + np.float32(offs.sum())
        scene_sum = refl.sum(axis=0)
        with np.errstate(all="ignore"):
            ratio = np.where(has_med, scene_sum / np.maximum(med_sum, 1e-6), 1.0)
        all_darker = np.all(d < 0, axis=0)
        dark_strict = has_med & all_darker & (ratio < _SHADOW_RATIO)
        dark_loose = has_med & (d.mean(axis=0) < 0) & (ratio < _SHADOW_RATIO_LOOSE)
        shadow_edge = has_med & (d.mean(axis=0) < 0) & (ratio < _SHADOW_RATIO_EDGE)

    # water: a shadow on water is neither detectable nor harmful, but water that turns
    # clearer or darker between dates would look like one
    water = np.zeros((h, w), bool)
    if idx["green"] is not None and idx["nir"] is not None:
        base = refl if reference_median is None else np.where(has_med, med, refl)
        gg, nn = base[idx["green"]], base[idx["nir"]]
        water = (gg - nn) / np.maximum(gg + nn, 1e-6) > 0.0
        dark_strict &= ~water
        dark_loose &= ~water
        if shadow_edge is not None:
            shadow_edge &= ~water

    if min_cloud_px is None:
        min_cloud_px = (
            max(3, int(round(_MIN_CLOUD_AREA_M2 / pixel_size_m**2)))
            if pixel_size_m is not None
            else _MIN_CLOUD_PX
        )
    # a cloud cut by the edge of the data shows only part of its size
    cloud = _remove_small(cloud & valid_m & ~snow, min_cloud_px, keep_touching=_data_edge(valid_m))
    if grow_edge is not None and cloud.any():
        # follow the faint, hazy rim of each cloud: neighbours that are still brighter
        cloud |= np.asarray(
            ndi.binary_dilation(cloud, structure=_disk(1), iterations=_EDGE_GROW_PX, mask=grow_edge)
        )
    cloud = _fill_small_holes(cloud, _MAX_HOLE_PX) & valid_m

    shadow = np.zeros((h, w), bool)
    max_px = (
        int(round(max_shadow_distance_m / pixel_size_m))
        if pixel_size_m is not None
        else _MAX_SHADOW_DISTANCE_PX
    )
    max_px = max(1, min(max_px, 2 * max(h, w)))
    uy = ux = 0.0
    shadow_range: tuple[float, float] | None = None
    if sun_azimuth_deg is not None:
        az = np.deg2rad(float(sun_azimuth_deg))
        # shadows fall away from the sun: north is -row, east is +col
        uy, ux = float(np.cos(az)), float(-np.sin(az))
        if sun_elevation_deg is not None and sun_elevation_deg > 0 and pixel_size_m:
            # pixels of shadow offset per metre of cloud height
            reach = 1.0 / (math.tan(math.radians(sun_elevation_deg)) * pixel_size_m)
            shadow_range = (_CLOUD_BASE_M[0] * reach, _CLOUD_BASE_M[1] * reach)
    if cloud.any():
        if sun_azimuth_deg is not None:
            confirm_px = (
                int(round(CONFIRM_CLOUD_AREA_M2 / pixel_size_m**2))
                if pixel_size_m is not None
                else _CONFIRM_CLOUD_PX
            )
            if reference_median is None:
                confirm_px = 0  # absolute darkness is too crude to veto a cloud
            matched, drop, offset = _match_shadows(
                cloud,
                dark_loose,
                dark_strict,
                ~water,
                opacity,
                uy,
                ux,
                max_px,
                min_cloud_px,
                confirm_px,
                shadow_range,
            )
            cloud &= ~drop
            # A cloud's own projected footprint, and strictly dark ground where the other
            # clouds' shadows fall if they float at the matched clouds' height (one layer):
            # dark ground anywhere down-sun of a cloud would take in new dark structures.
            shadow = matched & valid_m & ~cloud
            if offset is not None and cloud.any():
                band = _layer_band(cloud, uy, ux, offset)
                shadow |= _remove_small(dark_strict & band & valid_m & ~cloud, min_cloud_px)
        else:
            dist = ndi.distance_transform_edt(~cloud)
            shadow = _remove_small(dark_strict & (dist <= max_px) & valid_m & ~cloud, min_cloud_px)
        shadow = _spread_shadow(shadow, dark_loose & valid_m & ~cloud, shadow_edge, cloud)
        # a shadow is the cloud's footprint on the ground: never much larger than the clouds
        shadow = _drop_large(shadow, int(_SHADOW_AREA_FACTOR * cloud.sum()) + 50)
    if sky_offset and shadow_range is not None:
        # only shadows larger than the clouds in view can cast: those are matched above
        orphan_px = max(
            int(round(_ORPHAN_SHADOW_M2 / pixel_size_m**2))
            if pixel_size_m is not None
            else _ORPHAN_SHADOW_PX,
            int(_SHADOW_AREA_FACTOR * cloud.sum()) + 51,
        )
        orphan = _orphan_shadows(
            dark_strict & valid_m & ~cloud & ~shadow, valid_m, uy, ux, shadow_range, orphan_px
        )
        if orphan.any():
            shadow |= _spread_shadow(orphan, dark_loose & valid_m & ~cloud, shadow_edge, cloud)

    if dilate_px is None:
        dilate_px = 0 if reference_median is not None else _ABS_DILATE_PX
    cloud = _dilate(cloud, dilate_px)
    shadow = _dilate(shadow, dilate_px)
    return _finish(cloud, shadow, valid_m, snow, region, "spectral")
