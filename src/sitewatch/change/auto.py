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

3. Scales are ground distances (5, 10 and 20 m radius: a house to a block)
   converted to pixels, or 1, 2 and 4 pixels when the pixel size is unknown.
4. Each feature's no-change law is fitted robustly from the data (cube root
   ~ Gaussian, centre = median, spread from the lower half, which changed
   pixels do not reach); this absorbs the unknown noise level and the spatial
   correlation of smoothed statistics, which no closed-form law knows.
5. Fusion is an intersection-union test: a pixel is changed only when every
   scale and feature rejects "no change", so its p-value is the largest of
   the per-feature p-values (valid at level alpha without correction).  A
   change that is real shows at every scale; speckle and edge artefacts
   do not.
6. Default clean-up drops regions smaller than the smallest test window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .base import ChangeScore, CleanupDefaults, PairSample, SensorKind
from .stats import (
    MADTransform,
    RobustNull,
    box_weight,
    check_tile,
    fit_irmad,
    fit_robust_null,
    local_mean,
    normal_sf,
    sample_pixels,
)

# IR-MAD's covariance needs far fewer pixels than a full-tile sample holds
_FIT_PIXELS = 250_000


def _mad_parts(
    t: MADTransform, before: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The two dates' canonical variates, scaled so that their difference is standardised MAD."""
    ax = (t.a / t.scale).astype(np.float32)
    by = (t.b / t.scale).astype(np.float32)
    off = ((t.mean_x @ t.a - t.mean_y @ t.b + t.centre) / t.scale).astype(np.float32)
    pb = np.tensordot(ax.T, before.astype(np.float32, copy=False), axes=1)
    pb -= off[:, None, None]
    pa = np.tensordot(by.T, after.astype(np.float32, copy=False), axes=1)
    return pb, pa


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


def _features(
    pb: np.ndarray, pa: np.ndarray, valid: np.ndarray, radii: tuple[int, ...]
) -> list[np.ndarray]:
    """Multi-scale features, in the order ``[smin_r, mchi_r for r in radii]``."""
    smin = _shift_min_both(np.ascontiguousarray(pb), np.ascontiguousarray(pa))
    variates = pb - pa
    out: list[np.ndarray] = []
    for r in radii:
        weight = box_weight(valid, r)
        out.append(local_mean(smin, valid, r, weight))
        acc = np.zeros(valid.shape, np.float32)
        for v in variates:
            m = local_mean(v, valid, r, weight)
            acc += m * m
        out.append(acc)
    return out


@dataclass(frozen=True)
class FittedAuto:
    """Fitted state of :class:`AutoOpticalMethod`."""

    transform: MADTransform
    nulls: tuple[RobustNull, ...]
    radii: tuple[int, ...]
    n_bands: int
    halo: int

    def score(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> ChangeScore:
        """Score one tile: the smallest per-feature z-score and its p-value."""
        check_tile(before, after, valid, self.n_bands)
        pb, pa = _mad_parts(self.transform, before, after)
        zmin: np.ndarray | None = None
        for f, null in zip(_features(pb, pa, valid, self.radii), self.nulls):
            z = null.zscore(f)
            zmin = z if zmin is None else np.fmin(zmin, z, out=zmin)
        assert zmin is not None
        zmin[~valid] = np.nan
        return ChangeScore(zmin, normal_sf(zmin))


@dataclass
class AutoOpticalMethod:
    """Multi-scale, misregistration-tolerant IR-MAD with a robust null (the default).

    Parameters
    ----------
    radii_m
        Window radii in metres, used when the pixel size is known.
    radii_px
        Window radii in pixels, used in pixel space.
    lower, upper
        Percentiles whose spread fixes each feature's no-change scale.
    """

    name: str = "auto"
    description: str = (
        "default optical method: multi-scale IR-MAD, misregistration tolerant, robust null"
    )
    sensor: SensorKind = "optical"
    radii_m: tuple[float, ...] = (5.0, 10.0, 20.0)
    radii_px: tuple[int, ...] = (1, 2, 4)
    lower: float = 25.0
    upper: float = 50.0

    def pixel_radii(self, pixel_size_m: float | None) -> tuple[int, ...]:
        """Window radii in pixels for a pixel size (None: pixel space)."""
        if pixel_size_m is None or not pixel_size_m > 0:
            return tuple(sorted(set(self.radii_px)))
        return tuple(sorted({max(1, round(r / pixel_size_m)) for r in self.radii_m}))

    def fit(self, sample: PairSample) -> FittedAuto:
        """Fit IR-MAD on the sample, then the robust null of every feature."""
        x, y = sample_pixels(sample, _FIT_PIXELS)
        t = fit_irmad(x, y, max_iter=20)
        radii = self.pixel_radii(sample.pixel_size_m)
        per_feature: list[list[np.ndarray]] = [[] for _ in range(2 * len(radii))]
        for b, a, v in zip(sample.before, sample.after, sample.valid):
            pb, pa = _mad_parts(t, b, a)
            for store, f in zip(per_feature, _features(pb, pa, v, radii)):
                store.append(f[v])
        nulls = tuple(
            fit_robust_null(np.concatenate(fs), lower=self.lower, upper=self.upper)
            for fs in per_feature
        )
        return FittedAuto(t, nulls, radii, sample.n_bands, max(radii) + 1)

    def cleanup(self, pixel_size_m: float | None) -> CleanupDefaults:
        """Drop regions smaller than the smallest test window (its resolution)."""
        r = min(self.pixel_radii(pixel_size_m))
        return CleanupDefaults(min_area_px=(2 * r + 1) ** 2)
