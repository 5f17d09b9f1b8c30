"""A "new man-made surface" test for very-high-resolution RGB pairs.

Why: at sub-metre to metre resolution a whole scene can change (soil becomes
lawn, trees are cleared, roads are laid) while what users care about is the
appearance of buildings.  Spectral change judged against a null fitted on
the bulk of the scene cannot single out the buildings then, because the bulk
itself changed.  Roofs, pavement and concrete are achromatic (grey); natural
surfaces (vegetation, soil, dry grass) are chromatic.  A pixel where a *new*
man-made surface appeared is one where

* in AFTER, the surface belongs to no natural surface: its achromatic index
  lies far below the natural class of AFTER, **and**
* in BEFORE, either the surface was not man-made (its index, radiometrically
  matched to AFTER, lies far above AFTER's man-made class) **or** it became
  markedly greyer than unchanged pixels ever do (the index drop exceeds the
  spread of the drop on invariant pixels).

Classes come from a two-Gaussian mixture of AFTER's index, fitted without
labels; "invariant" pixels are those with the smallest IR-MAD statistic
(Canty & Nielsen's radiometric normalisation idea), which also fit the per-band
gain and offset that map BEFORE onto AFTER, so that a change of illumination
or colour balance is not a new surface.  Each condition is a one-sided
z-test; "or" is a Bonferroni union of two p-values and "and" an
intersection-union (the larger p-value), so the result is a p-value that is
valid at any alpha under the models' assumptions.

Everything here is pure functions on ``(bands, h, w)`` float32 images (numpy and numba).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from ..errors import NoValidDataError
from .stats import MAD_TO_SIGMA, box_mean

_RGB = ("red", "green", "blue")

# share of the fit pixels with the smallest IR-MAD statistic taken as unchanged
INVARIANT_SHARE = 0.25


def rgb_indices(band_names: tuple[str, ...]) -> tuple[int, int, int] | None:
    """Positions of the red, green and blue bands, or None when any is missing."""
    if not all(n in band_names for n in _RGB):
        return None
    r, g, b = (band_names.index(n) for n in _RGB)
    return r, g, b


@numba.njit(nogil=True, cache=True)
def _saturation(
    image: np.ndarray, rgb: np.ndarray, gain: np.ndarray, offset: np.ndarray, floor: float
) -> np.ndarray:  # pragma: no cover - jitted
    """``(max - min) / (max + floor)`` of the gain/offset-mapped RGB bands, per pixel."""
    _, h, w = image.shape
    out = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            hi = -np.inf
            lo = np.inf
            for k in range(3):
                v = max(image[rgb[k], i, j] * gain[k] + offset[k], 0.0)
                hi = max(hi, v)
                lo = min(lo, v)
            out[i, j] = (hi - lo) / (hi + floor)
    return out


def achromatic_index(
    image: np.ndarray,
    rgb: tuple[int, int, int],
    radius: int,
    floor: float,
    gain: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Square root of the local mean saturation ``(max - min) / (max + floor)`` of RGB.

    Low for grey surfaces (roofs, pavement), high for vegetation and soil.
    ``floor`` (a fixed share of the pair's range, see
    :func:`fit_new_surface_test`) keeps near-black shadows from looking
    saturated; it is fixed per pair so that every tile is scored alike.  The
    square root brings both surface classes close to Gaussian; the box mean
    over ``(2 radius + 1)^2`` pixels averages noise and texture.  The bands
    are first mapped by ``gain * x + offset`` when given (radiometric
    matching to the other date).
    """
    g = np.ones(3, np.float32) if gain is None else np.asarray(gain, np.float32)
    o = np.zeros(3, np.float32) if offset is None else np.asarray(offset, np.float32)
    sat = _saturation(
        np.ascontiguousarray(image, np.float32), np.asarray(rgb, np.int64), g, o, float(floor)
    )
    if radius > 0:
        sat = box_mean(sat, radius)
    return np.sqrt(np.maximum(sat, np.float32(0)))


@numba.njit(nogil=True, cache=True)
def _new_surface_p(
    ib: np.ndarray,
    ia: np.ndarray,
    built_mean: float,
    built_sd: float,
    natural_mean: float,
    natural_sd: float,
    drop_centre: float,
    drop_sigma: float,
) -> np.ndarray:  # pragma: no cover - jitted
    """Per-pixel p-value of :meth:`NewSurfaceTest.pvalue` (normal tails via erfc)."""
    h, w = ia.shape
    out = np.empty((h, w), np.float32)
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for i in range(h):
        for j in range(w):
            z_after = (natural_mean - ia[i, j]) / natural_sd
            z_was_natural = (ib[i, j] - built_mean) / built_sd
            z_drop = (ib[i, j] - ia[i, j] - drop_centre) / drop_sigma
            p_before = min(1.0, math.erfc(max(z_was_natural, z_drop) * inv_sqrt2))
            out[i, j] = max(0.5 * math.erfc(z_after * inv_sqrt2), p_before)
    return out


@dataclass(frozen=True)
class SurfaceClasses:
    """Two-Gaussian model of an achromatic index: man-made (low) and natural (high)."""

    built_mean: float
    built_sd: float
    natural_mean: float
    natural_sd: float


def fit_surface_classes(
    values: np.ndarray, *, n_iter: int = 100, bins: int = 512
) -> SurfaceClasses:
    """Fit a two-component Gaussian mixture to achromatic index values by EM.

    EM runs on a fine histogram of the values (bin width a fraction of a
    percent of their range), so its cost does not grow with the sample.

    Raises
    ------
    NoValidDataError
        When the values have no spread.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2 or np.ptp(x) == 0:
        raise NoValidDataError(
            f"the achromatic index holds {x.size} finite values with no spread; "
            "give an RGB image that is not constant"
        )
    counts, edges = np.histogram(x, bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    n = counts.astype(np.float64)
    mu = np.percentile(x, [25.0, 75.0])
    sd = np.full(2, x.std() / 2 + 1e-9)
    w = np.array([0.5, 0.5])
    for _ in range(n_iter):
        ll = -0.5 * ((centres[:, None] - mu) / sd) ** 2 - np.log(sd) + np.log(w)
        ll -= ll.max(axis=1, keepdims=True)
        resp = np.exp(ll)
        resp *= (n / resp.sum(axis=1))[:, None]
        nk = resp.sum(axis=0) + 1e-12
        w = nk / nk.sum()
        mu = (resp * centres[:, None]).sum(axis=0) / nk
        sd = np.sqrt((resp * (centres[:, None] - mu) ** 2).sum(axis=0) / nk) + 1e-6
    lo, hi = np.argsort(mu)
    return SurfaceClasses(float(mu[lo]), float(sd[lo]), float(mu[hi]), float(sd[hi]))


@dataclass(frozen=True)
class NewSurfaceTest:
    """Fitted new-man-made-surface test of a pair (see the module docstring)."""

    rgb: tuple[int, int, int]
    radius: int
    floor: float
    gain: np.ndarray
    offset: np.ndarray
    classes: SurfaceClasses
    drop_centre: float
    drop_sigma: float

    def indices(self, before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Achromatic index of BEFORE (matched to AFTER) and of AFTER."""
        ib = achromatic_index(before, self.rgb, self.radius, self.floor, self.gain, self.offset)
        return ib, achromatic_index(after, self.rgb, self.radius, self.floor)

    def pvalue(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """P-value of "no new man-made surface" for ``(bands, h, w)`` tiles, ``(h, w)`` float32.

        AFTER must reject "natural" *and* BEFORE must reject "man-made" or
        "unchanged greyness"; the "or" is a Bonferroni union (twice the smaller
        p-value) and the "and" an intersection-union (the larger p-value).
        """
        ib, ia = self.indices(before, after)
        c = self.classes
        return _new_surface_p(
            ib,
            ia,
            c.built_mean,
            c.built_sd,
            c.natural_mean,
            c.natural_sd,
            self.drop_centre,
            self.drop_sigma,
        )


def fit_new_surface_test(
    before: list[np.ndarray],
    after: list[np.ndarray],
    valid: list[np.ndarray],
    chi2: list[np.ndarray],
    rgb: tuple[int, int, int],
    radius: int,
) -> NewSurfaceTest:
    """Fit the test on sample blocks.

    ``before``, ``after`` are ``(bands, h, w)`` blocks, ``valid`` their masks
    and ``chi2`` each block's IR-MAD change statistic ``(h, w)``.

    Raises
    ------
    NoValidDataError
        When no pixel is valid or an index has no spread.
    """
    stat = np.concatenate([c[v] for c, v in zip(chi2, valid)])
    if stat.size == 0:
        raise NoValidDataError("the fit sample holds no valid pixel; give valid blocks")
    cut = float(np.quantile(stat, INVARIANT_SHARE))
    inv = [v & (c <= cut) for c, v in zip(chi2, valid)]
    idx = list(rgb)
    x = np.concatenate([b[idx][:, m].T for b, m in zip(before, inv)]).astype(np.float64)
    y = np.concatenate([a[idx][:, m].T for a, m in zip(after, inv)]).astype(np.float64)
    # reduced major axis: symmetric in the two dates, unlike least squares
    gain = y.std(axis=0) / np.maximum(x.std(axis=0), 1e-12)
    offset = y.mean(axis=0) - gain * x.mean(axis=0)
    # one 8-bit grey level of AFTER's range, whatever the data type
    floor = max(float(max(np.max(a[idx][:, v]) for a, v in zip(after, valid) if v.any())), 1e-12)
    floor /= 256.0
    partial = NewSurfaceTest(
        rgb, radius, floor, gain, offset, SurfaceClasses(0.0, 1.0, 1.0, 1.0), 0.0, 1.0
    )
    ia_all, drops = [], []
    for b, a, v, m in zip(before, after, valid, inv):
        ib, ia = partial.indices(b, a)
        ia_all.append(ia[v])
        drops.append((ib - ia)[m])
    classes = fit_surface_classes(np.concatenate(ia_all))
    d = np.concatenate(drops).astype(np.float64)
    centre = float(np.median(d))
    sigma = float(MAD_TO_SIGMA * np.median(np.abs(d - centre)))
    if not sigma > 0:
        raise NoValidDataError(
            "the achromatic index does not vary over unchanged pixels; "
            "check that the RGB bands are not constant"
        )
    return NewSurfaceTest(rgb, radius, floor, gain, offset, classes, centre, sigma)
