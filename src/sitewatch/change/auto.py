"""The default optical change method: multi-scale IR-MAD with a robust null.

What it does, and why each step is there:

1. IR-MAD canonical transform, fitted on the sample, with robustly rescaled
   variates (see :func:`~sitewatch.change.stats.fit_irmad`).  It normalises
   the two dates radiometrically and decorrelates the bands, so that a
   global change of illumination or season is not change.
2. Two change features per scale, both in units of the no-change variates:

   * ``mchi``: squared length of the *locally averaged* variate vector.  A
     coherent change adds up inside the window while independent noise
     averages out, so its contrast grows with the window.
   * ``smin``: local mean of the misregistration-tolerant chi-square, the
     smallest squared distance between a pixel of one date and the 3x3
     neighbourhood of the other (both ways, the larger kept).  Edges that
     moved by a pixel (resampling, parallax) stop looking like change.

3. Scales are three octaves of window radius starting at 5 m (at least one
   pixel: 5, 10, 20 m up to a 40 m block), kept while they reach no further
   than 40 m, in pixels; 1, 2 and 4 pixels when the pixel size is unknown.
   At 10 m that is 1, 2, 4 px (the coarse window asks a change to be
   coherent over a block); at 30 m only 1 px; at 1.5 m 3, 6, 12 px.
4. Each feature's no-change law is fitted robustly from the data (cube root
   ~ Gaussian, centre = median, spread from the lower half, which changed
   pixels do not reach); this absorbs the unknown noise level and the spatial
   correlation of smoothed statistics, which no closed-form law knows.
5. Fusion is an intersection-union test: a pixel is changed only when every
   scale and feature rejects "no change", so its p-value is the largest of
   the per-feature p-values (valid at level alpha without correction).  A
   change that is real shows at every scale; speckle and edge artefacts
   do not.
6. Seed test (hysteresis without connectivity, see
   :func:`~sitewatch.change.stats.neighbourhood_seed_pvalue`): the pixel's
   3x3 neighbourhood must also reject "no change" by Simes' test.  The
   result is still an intersection-union p-value (valid, only more
   conservative); a coherent region pays almost nothing, a lone significant
   pixel must reject at alpha / 9.  It is local, so tiling does not change it,
   and it removes the seedless speckle that multiple testing over a large
   image produces.
7. Default clean-up drops regions smaller than the smallest test window.
8. On very-high-resolution RGB pairs only (named red, green and blue bands,
   pixels of 2 m or finer or pixel space), a second test joins by a
   Bonferroni union (see :mod:`~sitewatch.change.surface`): a *new man-made
   surface*, where AFTER is achromatic (grey roof, pavement) beyond its
   natural class while BEFORE was natural or markedly more colourful, after
   matching BEFORE's bands to AFTER on IR-MAD's invariant pixels.  When a
   whole scene changes (cleared soil, new lawn) the robust null absorbs that
   bulk change and misses the buildings; greyness still singles them out.
   Coarser pixels mix a roof with its surroundings, so the test is off there.
9. On the same VHR pairs, declared regions then grow (hysteresis, see
   :func:`~sitewatch.change.stats.grow_pvalue`) into 8-connected pixels within
   the surface test's window radius whose p-value is under ten times the
   level.  There an object spans many windows, and a box statistic of radius
   r dilutes the evidence over the r pixels inside an object's edge, so a
   roof is declared as its core.  Growth creates no region (each still holds
   a pixel significant at the level), it only restores the extent the window
   blurred.  Coarser pixels are left as they are.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numba
import numpy as np

from .base import ChangeScore, CleanupDefaults, PairSample, SensorKind
from .stats import (
    MADTransform,
    RobustNull,
    box_mean,
    check_tile,
    fit_irmad,
    fit_robust_null,
    grow_pvalue,
    neighbourhood_seed_pvalue,
    normal_sf,
    sample_pixels,
)
from .surface import NewSurfaceTest, fit_new_surface_test, rgb_indices

# IR-MAD's covariance needs far fewer pixels than a full-tile sample holds
_FIT_PIXELS = 250_000
# the fit's per-block features and per-feature nulls are independent and release the GIL
_FIT_THREADS = max(1, min(4, os.cpu_count() or 1))
# the coarsest pixel at which a roof spans many pixels, and the surface test's window radius
_VHR_MAX_M = 2.0
# at VHR, declared regions grow into pixels within this factor of the level (one decade)
_GROW_RATIO = 10.0


# Columns per 4 x 4 matrix product below: few enough that OpenBLAS computes each product on
# the calling thread (it splits gemm over threads from m * n * k >= 262144 on), so the tile
# workers are not joined by BLAS threads that wake for a tiny product and then spin on the
# cores the workers need.  Each output element is the same dot product either way.
_PROJECT_COLUMNS = 8192


def _project(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``tensordot(coef.T, x, axes=1)`` for a ``(bands, h, w)`` image, in column chunks."""
    nb, h, w = x.shape
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(nb, h * w)
    out = np.empty((coef.shape[1], h * w), np.float32)
    ct = coef.T
    for c in range(0, h * w, _PROJECT_COLUMNS):
        np.matmul(ct, flat[:, c : c + _PROJECT_COLUMNS], out=out[:, c : c + _PROJECT_COLUMNS])
    return out.reshape(coef.shape[1], h, w)


def _mad_parts(
    t: MADTransform, before: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The two dates' canonical variates, scaled so that their difference is standardised MAD."""
    ax = (t.a / t.scale).astype(np.float32)
    by = (t.b / t.scale).astype(np.float32)
    off = ((t.mean_x @ t.a - t.mean_y @ t.b + t.centre) / t.scale).astype(np.float32)
    pb = _project(ax, before)
    pb -= off[:, None, None]
    return pb, _project(by, after)


@numba.njit(nogil=True, cache=True)
def _shift_min_both(pb: np.ndarray, pa: np.ndarray) -> np.ndarray:  # pragma: no cover - jitted
    """Misregistration-tolerant chi-square, computed both ways, the larger kept.

    For each pixel, the smallest squared distance between one date's vector and
    the other date's 3x3 neighbourhood (edge pixels clamp to the border).
    Loops run shift by shift over whole rows so that memory is read in order.
    """
    nb, h, w = pb.shape
    best_b = np.full((h, w), np.inf, np.float32)
    best_a = np.full((h, w), np.inf, np.float32)
    sb = np.empty(w, np.float32)
    sa = np.empty(w, np.float32)
    for i in range(h):
        for di in range(-1, 2):
            ii = min(max(i + di, 0), h - 1)
            for dj in range(-1, 2):
                sb[:] = 0.0
                sa[:] = 0.0
                for k in range(nb):
                    rb = pb[k, ii]
                    ra = pa[k, ii]
                    qb = pb[k, i]
                    qa = pa[k, i]
                    # interior columns need no clamping; keep that loop branch-free
                    for j in range(1, w - 1):
                        d1 = rb[j + dj] - qa[j]
                        d2 = ra[j + dj] - qb[j]
                        sb[j] += d1 * d1
                        sa[j] += d2 * d2
                    for j in range(0, w, max(w - 1, 1)):
                        jj = min(max(j + dj, 0), w - 1)
                        d1 = rb[jj] - qa[j]
                        d2 = ra[jj] - qb[j]
                        sb[j] += d1 * d1
                        sa[j] += d2 * d2
                for j in range(w):
                    if sb[j] < best_b[i, j]:
                        best_b[i, j] = sb[j]
                    if sa[j] < best_a[i, j]:
                        best_a[i, j] = sa[j]
    return np.maximum(best_b, best_a)


def _local_mean(x: np.ndarray, valid: np.ndarray, r: int, weight: np.ndarray | None) -> np.ndarray:
    """Mean of ``x`` over the valid pixels of the box; NaN where none is valid.

    ``weight`` is the box mean of ``valid`` (None when every pixel is valid).
    """
    if weight is None:
        return box_mean(np.ascontiguousarray(x, dtype=np.float32), r)
    num = box_mean(np.where(valid, x, np.float32(0)).astype(np.float32, copy=False), r)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / weight
    out[weight < 1e-6] = np.nan
    return out


def _mad_chi2(t: MADTransform, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """IR-MAD change statistic of a block: squared length of the standardised variates."""
    pb, pa = _mad_parts(t, before, after)
    return ((pb - pa) ** 2).sum(axis=0)


def _valid_features(
    t: MADTransform,
    radii: tuple[int, ...],
    before: np.ndarray,
    after: np.ndarray,
    valid: np.ndarray,
) -> list[np.ndarray]:
    """The features of one sample block at its valid pixels (see :func:`_features`)."""
    pb, pa = _mad_parts(t, before, after)
    return [f[valid] for f in _features(pb, pa, valid, radii)]


def _box_share(valid: np.ndarray, r: int) -> np.ndarray:
    """Share of each pixel's ``(2r+1)^2`` box that lies inside the tile and is valid."""
    if r == 0:
        return valid.astype(np.float32)
    return box_mean(np.pad(valid.astype(np.float32), r), r)[r:-r, r:-r]


def _features(
    pb: np.ndarray, pa: np.ndarray, valid: np.ndarray, radii: tuple[int, ...]
) -> list[np.ndarray]:
    """Multi-scale features, in the order ``[smin_r, mchi_r for r in radii]``.

    A box cut by the edge of the tile or of the valid data averages fewer
    pixels, so its mean strays further from the no-change level than a full
    box's, and one null for all boxes would call the edges changed (a coverage
    edge gave false events along it).  Each box mean's deviation is shrunk by
    the square root of the share of the box it averages: the variance a full
    box would have.  The centre of ``smin`` is its median over the valid
    pixels (below its mean, so the edge stays slightly conservative).
    """
    smin = _shift_min_both(np.ascontiguousarray(pb), np.ascontiguousarray(pa))
    variates = pb - pa
    all_valid = bool(valid.all())
    centre = np.float32(np.median(smin[valid])) if valid.any() else np.float32(0)
    out: list[np.ndarray] = []
    for r in radii:
        weight = None if all_valid else box_mean(valid.astype(np.float32), r)
        share = _box_share(valid, r)
        shrink = np.sqrt(share)
        out.append(centre + (_local_mean(smin, valid, r, weight) - centre) * shrink)
        acc = np.zeros(valid.shape, np.float32)
        for v in variates:
            m = _local_mean(v, valid, r, weight)
            acc += m * m
        out.append(acc * share)
    return out


@dataclass(frozen=True)
class FittedAuto:
    """Fitted state of :class:`AutoOpticalMethod`."""

    transform: MADTransform
    nulls: tuple[RobustNull, ...]
    radii: tuple[int, ...]
    n_bands: int
    halo: int
    seed_radius: int = 0
    surface: NewSurfaceTest | None = None
    grow_radius: int = 0

    def score(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> ChangeScore:
        """Score one tile: intersection over scales, surface union, then the seed test.

        The union with the new-man-made-surface test, and the growth of
        declared regions that follows the seed test, apply only when they were
        fitted (see :meth:`AutoOpticalMethod.fit`).

        The statistic is the smallest per-feature z-score (before the union
        and the seed test); the p-value is the seeded one, on which decisions
        are made.
        """
        check_tile(before, after, valid, self.n_bands)
        pb, pa = _mad_parts(self.transform, before, after)
        zmin: np.ndarray | None = None
        for f, null in zip(_features(pb, pa, valid, self.radii), self.nulls):
            z = null.zscore(f)
            zmin = z if zmin is None else np.fmin(zmin, z, out=zmin)
        assert zmin is not None
        zmin[~valid] = np.nan
        p = normal_sf(zmin)
        if self.surface is not None:
            # Bonferroni union with the new-man-made-surface test: valid at alpha whatever
            # the two tests' dependence
            p = np.minimum(
                np.float32(1), np.float32(2) * np.fmin(p, self.surface.pvalue(before, after))
            )
            p[~valid] = np.nan
        p = neighbourhood_seed_pvalue(p, self.seed_radius)
        if self.grow_radius > 0:
            p = grow_pvalue(p, self.grow_radius, _GROW_RATIO)
        return ChangeScore(zmin, p)


@dataclass
class AutoOpticalMethod:
    """Multi-scale, misregistration-tolerant IR-MAD with a robust null (the default).

    Parameters
    ----------
    finest_m, coarsest_m, octaves
        With a known pixel size, the window radii are ``octaves`` doublings
        of the finest radius (``finest_m`` in pixels, at least one), kept
        while they reach no further than ``coarsest_m`` in whole pixels (the
        finest is always kept).
    radii_px
        Window radii in pixels, used in pixel space.
    lower, upper
        Percentiles whose spread fixes each feature's no-change scale.
    seed_px
        Radius in pixels of the neighbourhood seed test (0: no seed test).
    """

    name: str = "auto"
    description: str = (
        "default optical method: multi-scale IR-MAD, misregistration tolerant, robust null"
    )
    sensor: SensorKind = "optical"
    finest_m: float = 5.0
    coarsest_m: float = 40.0
    octaves: int = 3
    radii_px: tuple[int, ...] = (1, 2, 4)
    lower: float = 25.0
    upper: float = 50.0
    seed_px: int = 1

    def pixel_radii(self, pixel_size_m: float | None) -> tuple[int, ...]:
        """Window radii in pixels for a pixel size (None: pixel space)."""
        if pixel_size_m is None or not pixel_size_m > 0:
            return tuple(sorted(set(self.radii_px)))
        # both ends rounded to whole pixels the same way, so that e.g. 40 m at 10.4 m
        # pixels still allows a 4-pixel radius
        r0 = max(1, round(self.finest_m / pixel_size_m))
        r_max = round(self.coarsest_m / pixel_size_m)
        radii = [r0 << k for k in range(max(1, self.octaves))]
        return tuple(r for k, r in enumerate(radii) if k == 0 or r <= r_max)

    def fit(self, sample: PairSample) -> FittedAuto:
        """Fit IR-MAD, the robust null of every feature and, on VHR RGB, the surface test.

        The surface test (step 8 of the module docstring) reads IR-MAD's
        change statistic on the sample to pick its invariant pixels.
        """
        x, y = sample_pixels(sample, _FIT_PIXELS)
        t = fit_irmad(x, y, max_iter=20)
        radii = self.pixel_radii(sample.pixel_size_m)
        with ThreadPoolExecutor(_FIT_THREADS) as pool:
            blocks = list(
                pool.map(
                    partial(_valid_features, t, radii), sample.before, sample.after, sample.valid
                )
            )
            per_feature = [np.concatenate(fs) for fs in zip(*blocks)]
            del blocks
            nulls = tuple(
                pool.map(partial(fit_robust_null, lower=self.lower, upper=self.upper), per_feature)
            )
            seed = max(0, self.seed_px)
            halo = max(radii) + 1 + seed
            surface = None
            grow = 0
            rgb = rgb_indices(sample.band_names)
            px = sample.pixel_size_m
            if rgb is not None and (px is None or px <= _VHR_MAX_M):
                s_radius = max(self.radii_px) if px is None else max(1, round(_VHR_MAX_M / px))
                chi2 = list(pool.map(partial(_mad_chi2, t), sample.before, sample.after))
                surface = fit_new_surface_test(
                    sample.before, sample.after, sample.valid, chi2, rgb, s_radius
                )
                grow = s_radius
                halo = max(halo, s_radius + 1 + seed) + grow
        return FittedAuto(t, nulls, radii, sample.n_bands, halo, seed, surface, grow)

    def cleanup(self, pixel_size_m: float | None) -> CleanupDefaults:
        """Drop regions smaller than the smallest test window (its resolution)."""
        r = min(self.pixel_radii(pixel_size_m))
        return CleanupDefaults(min_area_px=(2 * r + 1) ** 2)
