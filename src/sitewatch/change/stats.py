"""Numpy statistics shared by the optical change methods.

Everything here works on plain arrays: ``(n, bands)`` pixel matrices for the
global fits and ``(h, w)`` / ``(bands, h, w)`` float32 images for the local
operations applied tile by tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import ndimage as ndi
from scipy import special

from ..errors import NoValidDataError
from .base import PairSample

# 1 / Phi^-1(3/4): turns a median absolute deviation into a Gaussian sigma
MAD_TO_SIGMA = 1.482602218505602

# fewer valid pixels than this cannot support a covariance fit plus a null fit
MIN_VALID_PIXELS = 64


def sample_pixels(
    sample: PairSample, max_pixels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Valid pixels of a sample as two float64 ``(n, bands)`` arrays.

    Raises
    ------
    NoValidDataError
        When fewer than ``MIN_VALID_PIXELS`` pixels are valid.
    """
    check_sample(sample)
    # subsample in the blocks' own dtype and widen only the pixels kept
    x = np.concatenate([b[:, v].T for b, v in zip(sample.before, sample.valid)])
    y = np.concatenate([a[:, v].T for a, v in zip(sample.after, sample.valid)])
    finite = np.all(np.isfinite(x), axis=1) & np.all(np.isfinite(y), axis=1)
    if not finite.all():
        x, y = x[finite], y[finite]
    if x.shape[0] < MIN_VALID_PIXELS:
        raise NoValidDataError(
            f"only {x.shape[0]} valid pixels in the fit sample (need at least {MIN_VALID_PIXELS}); "
            "check the nodata and cloud masks or give a larger area"
        )
    if max_pixels is not None and x.shape[0] > max_pixels:
        step = int(np.ceil(x.shape[0] / max_pixels))
        x, y = x[::step], y[::step]
    return x.astype(np.float64), y.astype(np.float64)


def strided_indices(mask: np.ndarray, limit: int) -> np.ndarray:
    """Flat indices of every k-th pixel of ``mask`` (row-major), k chosen to keep about
    ``limit`` of them: an even spread for a median or a fit, without first copying every
    masked pixel."""
    at = np.flatnonzero(mask)
    return at[:: max(1, at.size // limit)]


def check_sample(sample: PairSample) -> None:
    """Validate block shapes of a sample; raise ``NoValidDataError`` when empty."""
    if (
        not sample.before
        or len(sample.before) != len(sample.after)
        or len(sample.before) != len(sample.valid)
    ):
        raise NoValidDataError(
            "the fit sample holds no blocks (or unequal numbers of before/after/valid blocks); "
            "pass at least one block of both dates"
        )
    for b, a, v in zip(sample.before, sample.after, sample.valid):
        if b.ndim != 3 or b.shape != a.shape or b.shape[1:] != v.shape:
            raise NoValidDataError(
                f"block shapes before={b.shape}, after={a.shape}, valid={v.shape} do not match; "
                "give (bands, h, w) images of one grid and an (h, w) mask"
            )


def check_tile(before: np.ndarray, after: np.ndarray, valid: np.ndarray, n_bands: int) -> None:
    """Validate the shapes of a tile handed to ``score``."""
    if before.ndim != 3 or before.shape != after.shape or before.shape[1:] != valid.shape:
        raise NoValidDataError(
            f"tile shapes before={before.shape}, after={after.shape}, valid={valid.shape} do not "
            "match; give (bands, h, w) images of one grid and an (h, w) mask"
        )
    if before.shape[0] != n_bands:
        raise NoValidDataError(
            f"tile has {before.shape[0]} bands but the method was fitted on {n_bands}; "
            "score with the same bands as the fit"
        )


def robust_sigma(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Gaussian-consistent scale from the median absolute deviation."""
    med = np.median(x, axis=axis, keepdims=True)
    return np.asarray(MAD_TO_SIGMA * np.median(np.abs(x - med), axis=axis))


# ---------------------------------------------------------------------------
# canonical correlation and IR-MAD


@dataclass(frozen=True)
class MADTransform:
    """Linear map from a pixel pair to standardised MAD variates.

    ``variates = (before - mean_x) @ a - (after - mean_y) @ b``, then divided by
    ``scale`` so that each variate has unit no-change spread.
    """

    mean_x: np.ndarray
    mean_y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    rho: np.ndarray
    scale: np.ndarray
    centre: np.ndarray
    iterations: int

    def variates(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Standardised MAD variates of ``(n, bands)`` pixel matrices."""
        m = (x - self.mean_x) @ self.a - (y - self.mean_y) @ self.b
        return np.asarray((m - self.centre) / self.scale)


@dataclass(frozen=True)
class _Canonical:
    """Canonical pairs of ``z = [x, y]`` and the weighted mean of ``z``."""

    mean_x: np.ndarray
    mean_y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    rho: np.ndarray


def canonical_pairs(
    x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted canonical correlation of two ``(n, bands)`` pixel matrices.

    Returns
    -------
    mean_x, mean_y, a, b, rho
        Weighted means, canonical vectors (columns, unit weighted variance)
        ordered from least to most correlated, and the correlations.
    """
    zt = np.ascontiguousarray(np.concatenate([x, y], axis=1).T, dtype=np.float64)
    c = _canonical(zt, x.shape[1], np.ascontiguousarray(w, dtype=np.float64))
    return c.mean_x, c.mean_y, c.a, c.b, c.rho


# Pixels per block of the jitted IR-MAD loops: each sum runs in this many independent
# lanes (pixel i adds into lane i % _LANES), which the compiler turns into vector
# instructions while the order of every addition stays fixed, so the result does not
# depend on the machine; the lanes are added up at the end.  The loops read one
# band's row slice at a time, a 1-D view the compiler vectorises.
_LANES = 128


@numba.njit(nogil=True, cache=True)
def _weighted_moments(
    zt: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - jitted
    """Weighted mean ``(k,)`` and covariance ``(k, k)`` (divided by the weight sum) of
    the columns of ``zt`` ``(k, n)``.

    Two passes over the pixels (the mean, then the centred products), with no
    temporary of the data's size.
    """
    k, n = zt.shape
    lw = np.zeros(_LANES)
    ls = np.zeros((k, _LANES))
    for r0 in range(0, n, _LANES):
        nl = min(_LANES, n - r0)
        wb = w[r0 : r0 + nl]
        for i in range(nl):
            lw[i] += wb[i]
        for j in range(k):
            zj = zt[j, r0 : r0 + nl]
            lsj = ls[j]
            for i in range(nl):
                lsj[i] += wb[i] * zj[i]
    sw = lw.sum()
    mean = np.empty(k)
    for j in range(k):
        mean[j] = ls[j].sum() / sw
    d = np.empty((k, _LANES))
    wd = np.empty(_LANES)
    lc = np.zeros((k, k, _LANES))
    for r0 in range(0, n, _LANES):
        nl = min(_LANES, n - r0)
        wb = w[r0 : r0 + nl]
        for j in range(k):
            zj = zt[j, r0 : r0 + nl]
            dj = d[j]
            mj = mean[j]
            for i in range(nl):
                dj[i] = zj[i] - mj
        for j in range(k):
            dj = d[j]
            for i in range(nl):
                wd[i] = wb[i] * dj[i]
            for m in range(j, k):
                dm = d[m]
                lcjm = lc[j, m]
                for i in range(nl):
                    lcjm[i] += wd[i] * dm[i]
    cov = np.empty((k, k))
    for j in range(k):
        for m in range(j, k):
            cov[j, m] = lc[j, m].sum() / sw
            cov[m, j] = cov[j, m]
    return mean, cov


def _canonical(zt: np.ndarray, n: int, w: np.ndarray) -> _Canonical:
    """:func:`canonical_pairs` of ``x = zt[:n].T`` and ``y = zt[n:].T`` (``zt`` C-contiguous)."""
    mean, cov = _weighted_moments(zt, w)
    sxx, syy, sxy = cov[:n, :n], cov[n:, n:], cov[:n, n:]
    # a tiny ridge keeps nearly collinear bands (e.g. saturated RGB) solvable
    ridge_x = 1e-9 * np.trace(sxx) / n + 1e-300
    ridge_y = 1e-9 * np.trace(syy) / n + 1e-300
    sxx = sxx + ridge_x * np.eye(n)
    syy = syy + ridge_y * np.eye(n)
    lx = np.linalg.cholesky(sxx)
    ly = np.linalg.cholesky(syy)
    # whitened cross-covariance; its SVD gives the canonical pairs directly
    k = np.linalg.solve(lx, np.linalg.solve(ly, sxy.T).T)
    u, s, vt = np.linalg.svd(k)
    a = np.linalg.solve(lx.T, u)
    b = np.linalg.solve(ly.T, vt.T)
    order = np.argsort(s)
    rho = np.clip(s[order], 0.0, 1.0)
    return _Canonical(mean[:n], mean[n:], a[:, order], b[:, order], rho)


@numba.njit(nogil=True, cache=True)
def _mad_variates(
    zt: np.ndarray, mean: np.ndarray, ab: np.ndarray
) -> np.ndarray:  # pragma: no cover - jitted
    """Unscaled MAD variates ``ab.T @ (zt - mean)``, ``(variates, n)``, for ``ab = [a; -b]``."""
    k, n = zt.shape
    nv = ab.shape[1]
    out = np.zeros((nv, n))
    for r0 in range(0, n, _LANES):
        r1 = min(r0 + _LANES, n)
        for j in range(k):
            for c in range(nv):
                coef = ab[j, c]
                mj = mean[j]
                for i in range(r0, r1):
                    out[c, i] += (zt[j, i] - mj) * coef
    return out


@numba.njit(nogil=True, cache=True)
def _mad_chi2(
    zt: np.ndarray, mean: np.ndarray, ab: np.ndarray, var: np.ndarray
) -> np.ndarray:  # pragma: no cover - jitted
    """Per pixel, the sum over variates of ``(ab.T @ (zt - mean))^2 / var``."""
    k, n = zt.shape
    nv = ab.shape[1]
    out = np.zeros(n)
    m = np.empty((nv, _LANES))
    d = np.empty(_LANES)
    for r0 in range(0, n, _LANES):
        nl = min(_LANES, n - r0)
        m[:] = 0.0
        for j in range(k):
            zj = zt[j, r0 : r0 + nl]
            mj = mean[j]
            for i in range(nl):
                d[i] = zj[i] - mj
            for c in range(nv):
                coef = ab[j, c]
                mc = m[c]
                for i in range(nl):
                    mc[i] += d[i] * coef
        o = out[r0 : r0 + nl]
        for c in range(nv):
            vc = var[c]
            mc = m[c]
            for i in range(nl):
                o[i] += mc[i] * mc[i] / vc
    return out


def _stacked(c: _Canonical) -> tuple[np.ndarray, np.ndarray]:
    """``[mean_x, mean_y]`` and ``[a; -b]``: the MAD variates are ``ab.T @ (zt - mean)``."""
    mean = np.concatenate([c.mean_x, c.mean_y])
    ab = np.ascontiguousarray(np.concatenate([c.a, -c.b], axis=0))
    return mean, ab


def fit_irmad(
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_iter: int = 30,
    tol: float = 1e-5,
    reweight: bool = True,
) -> MADTransform:
    """Iteratively reweighted MAD (Nielsen 2007) with a robust final scale.

    The textbook update weights each pixel by its chi-square no-change
    probability, which trims the no-change population's own tails; variances
    taken with those weights shrink, and the final chi-square statistic then
    flags far more than alpha of unchanged pixels.  The iterations here only
    steer the canonical *directions*; the variates' centre and scale are
    re-estimated at the end from the median and MAD over *all* pixels, which
    is consistent for the no-change Gaussian while the changed pixels are a
    minority.

    Parameters
    ----------
    x, y
        ``(n, bands)`` float64 pixels of the first and second date.
    max_iter, tol
        Iteration cap and the canonical-correlation change that stops it.
    reweight
        False gives plain one-pass MAD.

    Raises
    ------
    NoValidDataError
        When a date is constant (no variance to correlate).
    """
    n_bands = x.shape[1]
    sd_x = x.std(axis=0)
    sd_y = y.std(axis=0)
    if not (np.all(sd_x > 0) and np.all(sd_y > 0)):
        bad = "before" if not np.all(sd_x > 0) else "after"
        raise NoValidDataError(
            f"the {bad} image has a constant band over the valid pixels, so no change statistic "
            "can be estimated; check the input bands and the nodata mask"
        )
    # x and y stacked once for all iterations, one contiguous row per band: the layout
    # in which the jitted loops run over pixels in vector instructions
    zt = np.ascontiguousarray(np.concatenate([x, y], axis=1).T, dtype=np.float64)
    w = np.ones(x.shape[0])
    rho_old = np.full(n_bands, -1.0)
    iterations = 0
    for step in range(1, (max_iter if reweight else 1) + 1):
        iterations = step
        c = _canonical(zt, n_bands, w)
        if not reweight or np.max(np.abs(c.rho - rho_old)) < tol:
            break
        rho_old = c.rho
        var = np.maximum(2.0 * (1.0 - c.rho), 1e-12)
        w = chi2_sf(_mad_chi2(zt, *_stacked(c), var), n_bands, np.float64)
    # one contiguous row per variate, so that each median partitions contiguous memory
    m = _mad_variates(zt, *_stacked(c))
    centre = np.median(m, axis=1)
    # robust_sigma(m, axis=1), reusing the median just taken
    scale = MAD_TO_SIGMA * np.median(np.abs(m - centre[:, None]), axis=1)
    scale = np.where(scale > 0, scale, np.maximum(m.std(axis=1), 1e-12))
    return MADTransform(c.mean_x, c.mean_y, c.a, c.b, c.rho, scale, centre, iterations)


def mad_variates_image(t: MADTransform, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Standardised MAD variates of a ``(bands, h, w)`` pair as ``(bands, h, w)`` float32."""
    nb, h, w = before.shape
    # contract over bands without materialising (h*w, bands) float64 copies
    ax = (t.a / t.scale).astype(np.float32)
    by = (t.b / t.scale).astype(np.float32)
    off = ((t.mean_x @ t.a - t.mean_y @ t.b + t.centre) / t.scale).astype(np.float32)
    out = np.tensordot(ax.T, before, axes=1)
    out -= np.tensordot(by.T, after, axes=1)
    out -= off[:, None, None]
    return out.astype(np.float32, copy=False)


def chi2_sf(x: np.ndarray, dof: float, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Chi-square survival function with ``dof`` degrees of freedom, computed in
    float64 and returned as ``dtype``.

    For an even integer ``dof = 2k`` it is the closed form
    ``exp(-x/2) * sum_{i<k} (x/2)^i / i!``: the values of
    :func:`scipy.special.chdtrc` to about 1e-13 relative (the same float32
    values), in a twentieth of the time, which matters for the IR-MAD weights
    (once per pixel and iteration).  Other ``dof`` go through ``chdtrc``.  As
    there, NaN and negative ``x`` give NaN, 0 gives 1 and infinity gives 0.
    """
    x = np.asarray(x, dtype=np.float64)
    if not (dof > 0 and float(dof).is_integer() and int(dof) % 2 == 0):
        return np.asarray(special.chdtrc(np.float64(dof), x)).astype(dtype, copy=False)
    h = x / 2.0
    term = np.ones_like(h)
    total = np.ones_like(h)
    for i in range(1, int(dof) // 2):
        term = term * h / i
        total += term
    with np.errstate(invalid="ignore"):  # exp(-inf) * inf at x = inf, set below
        p = np.exp(-h) * total
    p = np.where(x < 0, np.nan, np.where(np.isposinf(x), 0.0, p))
    return p.astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# local (tile-wise) operations


@numba.njit(nogil=True, cache=True)
def _row_sums_4(x: np.ndarray, r: int, i: int, ring: np.ndarray) -> None:  # pragma: no cover
    """Running ``(2r+1)``-sums along rows ``i..i+3`` into ``ring`` (row ``k`` at ``k % len``).

    A row's running sum is one long chain of dependent adds; four rows at a
    time give the processor four independent chains to overlap (the same
    operations as :func:`_row_sums_1`, so the same result).
    """
    w = x.shape[1]
    m = ring.shape[0]
    t0, t1, t2, t3 = ring[i % m], ring[(i + 1) % m], ring[(i + 2) % m], ring[(i + 3) % m]
    s0 = s1 = s2 = s3 = 0.0
    for k in range(-r, r + 1):
        kk = min(max(k, 0), w - 1)
        s0 += x[i, kk]
        s1 += x[i + 1, kk]
        s2 += x[i + 2, kk]
        s3 += x[i + 3, kk]
    t0[0], t1[0], t2[0], t3[0] = s0, s1, s2, s3
    for j in range(1, w):
        ja, jb = min(j + r, w - 1), max(j - r - 1, 0)
        s0 += x[i, ja] - x[i, jb]
        s1 += x[i + 1, ja] - x[i + 1, jb]
        s2 += x[i + 2, ja] - x[i + 2, jb]
        s3 += x[i + 3, ja] - x[i + 3, jb]
        t0[j], t1[j], t2[j], t3[j] = s0, s1, s2, s3


@numba.njit(nogil=True, cache=True)
def _row_sums_1(x: np.ndarray, r: int, i: int, ring: np.ndarray) -> None:  # pragma: no cover
    """Running ``(2r+1)``-sum along row ``i`` into ``ring`` (edges replicated)."""
    w = x.shape[1]
    t = ring[i % ring.shape[0]]
    s = 0.0
    for k in range(-r, r + 1):
        s += x[i, min(max(k, 0), w - 1)]
    t[0] = s
    for j in range(1, w):
        s += x[i, min(j + r, w - 1)] - x[i, max(j - r - 1, 0)]
        t[j] = s


@numba.njit(nogil=True, cache=True)
def box_mean(x: np.ndarray, r: int) -> np.ndarray:  # pragma: no cover - jitted
    """Mean over the ``(2r+1)^2`` box, edges replicated (``uniform_filter`` mode ``nearest``).

    Two separable running sums accumulated in float64: a few operations per
    pixel whatever the radius, and no float32 drift.  The row sums live in a
    ring of ``2r + 6`` rows, filled just ahead of the column sums that
    consume them, so they stay in cache instead of making a float64 copy of
    the image.
    """
    h, w = x.shape
    ring = np.empty((2 * r + 6, w), np.float64)
    done = 0  # rows summed into the ring so far
    norm = 1.0 / ((2 * r + 1) * (2 * r + 1))
    out = np.empty((h, w), np.float32)
    acc = np.zeros(w, np.float64)
    for i in range(h):
        # rows up to i + r must be summed; rows from i - r - 1 on must still be in the ring
        need = min(i + r, h - 1)
        while done <= need:
            if done + 4 <= h:
                _row_sums_4(x, r, done, ring)
                done += 4
            else:
                _row_sums_1(x, r, done, ring)
                done += 1
        if i == 0:
            for k in range(-r, r + 1):
                row = ring[min(max(k, 0), h - 1) % ring.shape[0]]
                for j in range(w):
                    acc[j] += row[j]
            for j in range(w):
                out[0, j] = acc[j] * norm
            continue
        add = ring[need % ring.shape[0]]
        sub = ring[max(i - r - 1, 0) % ring.shape[0]]
        for j in range(w):
            acc[j] += add[j] - sub[j]
            out[i, j] = acc[j] * norm
    return out


def _linear_axis(
    coords: np.ndarray, n: int, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output coordinate along one axis: the two source indices, their linear
    weights, and whether the point lies outside (``mode="constant"``).

    The same arithmetic as ``scipy.ndimage`` uses for ``order=1``, so that
    :func:`bilinear_grid` reproduces its values exactly.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if mode == "nearest":
        # the weights come from the coordinate as given; the indices are clamped
        outside = np.zeros(coords.shape, bool)
        cc = coords
    else:
        outside = (coords < 0) | (coords > n - 1)
        cc = np.where(outside, 0.0, coords)
    start = np.floor(cc)
    w0 = 1.0 - (cc - start)
    w1 = 1.0 - w0
    i0 = start.astype(np.intp)
    i1 = i0 + 1
    if mode == "nearest":
        i0 = np.clip(i0, 0, n - 1)
        i1 = np.clip(i1, 0, n - 1)
    else:
        # the last sample has no right-hand neighbour (its weight is 0): scipy mirrors it
        i1 = np.where(i1 < n, i1, max(n - 2, 0))
    return i0, i1, w0, w1, outside


@numba.njit(nogil=True, cache=True)
def _bilinear_rows(
    img: np.ndarray,
    i0: np.ndarray,
    i1: np.ndarray,
    wy0: np.ndarray,
    wy1: np.ndarray,
    oy: np.ndarray,
    j0: np.ndarray,
    j1: np.ndarray,
    wx0: np.ndarray,
    wx1: np.ndarray,
    ox: np.ndarray,
    cval: float,
) -> np.ndarray:  # pragma: no cover - jitted
    """Bilinear samples ``(len(i0), len(j0))`` from per-axis indices and weights."""
    out = np.empty((i0.shape[0], j0.shape[0]), np.float32)
    for r in range(i0.shape[0]):
        if oy[r]:
            out[r, :] = cval
            continue
        a = img[i0[r]]
        b = img[i1[r]]
        y0 = wy0[r]
        y1 = wy1[r]
        for c in range(j0.shape[0]):
            if ox[c]:
                out[r, c] = cval
                continue
            # scipy's order of operations: each corner times the row weight, then the
            # column weight, added up corner by corner
            t = 0.0
            t += np.float64(a[j0[c]]) * y0 * wx0[c]
            t += np.float64(a[j1[c]]) * y0 * wx1[c]
            t += np.float64(b[j0[c]]) * y1 * wx0[c]
            t += np.float64(b[j1[c]]) * y1 * wx1[c]
            out[r, c] = t
    return out


def bilinear_grid(
    img: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str = "constant", cval: float = 0.0
) -> np.ndarray:
    """Bilinear interpolation of a float32 ``(h, w)`` image on the grid ``rows x cols``.

    The values of ``scipy.ndimage.map_coordinates(img, np.meshgrid(rows, cols,
    indexing="ij"), order=1, mode=mode, cval=cval)`` (and so of
    ``ndimage.shift(img, (dy, dx), order=1, ...)`` for ``rows = arange(h) - dy``,
    ``cols = arange(w) - dx``), bit for bit, for ``mode`` ``"constant"`` or
    ``"nearest"``; one pass over the output with the weights computed per row and
    per column rather than per pixel.
    """
    h, w = img.shape
    return _bilinear_rows(
        np.ascontiguousarray(img, dtype=np.float32),
        *_linear_axis(rows, h, mode),
        *_linear_axis(cols, w, mode),
        float(cval),
    )


def box_weight(valid: np.ndarray, radius: int) -> np.ndarray | None:
    """Share of valid pixels in each ``(2r+1)^2`` box, or None when all are valid."""
    if radius <= 0 or valid.all():
        return None
    return np.asarray(ndi.uniform_filter(valid.astype(np.float32), 2 * radius + 1, mode="nearest"))


def local_mean(
    x: np.ndarray, valid: np.ndarray, radius: int, weight: np.ndarray | None = None
) -> np.ndarray:
    """Mean of ``x`` over the valid pixels of a ``(2r+1)^2`` box, float32.

    Invalid pixels do not contribute; boxes with no valid pixel give NaN.  A
    box filter costs the same for any radius, which is what makes
    multi-scale statistics affordable.  ``weight`` is :func:`box_weight` of
    the same mask and radius, passed in to share it between channels.
    """
    x = x.astype(np.float32, copy=False)
    if radius <= 0:
        return np.where(valid, x, np.float32(np.nan))
    size = 2 * radius + 1
    if valid.all():
        return np.asarray(ndi.uniform_filter(x, size, mode="nearest"))
    if weight is None:
        weight = np.asarray(ndi.uniform_filter(valid.astype(np.float32), size, mode="nearest"))
    num = ndi.uniform_filter(np.where(valid, x, np.float32(0)), size, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / weight
    out[weight < 1e-6] = np.nan
    return np.asarray(out)


# ---------------------------------------------------------------------------
# robust null distribution of a non-negative statistic


@dataclass(frozen=True)
class RobustNull:
    """Null distribution of a non-negative statistic fitted from the data.

    The statistic's cube root (Wilson-Hilferty: chi-square and gamma laws
    become close to Gaussian) is modelled as ``N(centre, sigma^2)`` under no
    change.  Centre and sigma come from quantiles, so a changed minority of
    pixels does not move them; this absorbs the unknown scale and the spatial
    correlation of a smoothed statistic, which no closed-form law knows.
    """

    centre: float
    sigma: float

    def zscore(self, stat: np.ndarray) -> np.ndarray:
        """Standard-normal score of the statistic under the fitted null."""
        return ((np.cbrt(stat) - np.float32(self.centre)) / np.float32(self.sigma)).astype(
            np.float32, copy=False
        )


def fit_robust_null(stat: np.ndarray, *, lower: float = 25.0, upper: float = 75.0) -> RobustNull:
    """Fit a :class:`RobustNull` to the finite values of ``stat``.

    ``sigma`` is the spread between the ``lower`` and ``upper`` percentiles of
    the cube-rooted statistic, divided by the Gaussian spread of the same
    percentiles.

    Raises
    ------
    NoValidDataError
        When the statistic is (nearly) constant, e.g. two identical images.
    """
    y = np.cbrt(stat[np.isfinite(stat)].astype(np.float64))
    if y.size < MIN_VALID_PIXELS:
        raise NoValidDataError(
            f"only {y.size} pixels carry a change statistic (need at least {MIN_VALID_PIXELS}); "
            "give a larger area or fewer masked pixels"
        )
    q_lo, med, q_hi = np.percentile(y, [lower, 50.0, upper])
    gauss = special.ndtri(upper / 100.0) - special.ndtri(lower / 100.0)
    sigma = (q_hi - q_lo) / gauss
    if not np.isfinite(sigma) or sigma <= 1e-9 * max(abs(med), 1e-30):
        raise NoValidDataError(
            "the change statistic is constant over the valid pixels (identical or constant "
            "images?); check that the two inputs differ and are not blank"
        )
    return RobustNull(float(med), float(sigma))


def normal_sf(z: np.ndarray) -> np.ndarray:
    """Upper-tail probability of a standard normal score, float32 (NaN stays NaN)."""
    return special.ndtr(-z).astype(np.float32, copy=False)


def robust_covariance(
    d: np.ndarray, *, n_iter: int = 5, q: float = 0.975
) -> tuple[np.ndarray, np.ndarray]:
    """Trimmed mean and covariance of ``(n, bands)`` vectors, Gaussian-consistent.

    Pixels beyond the ``q`` chi-square quantile of the current Mahalanobis
    distance are dropped and the covariance of the rest is inflated by the
    truncated-Gaussian factor ``F_{p+2}(c) / F_p(c)``, so the result estimates
    the no-change spread rather than a shrunken core of it.
    """
    p = d.shape[1]
    med = np.median(d, axis=0)
    sig = robust_sigma(d, axis=0)
    sig = np.where(sig > 0, sig, np.maximum(d.std(axis=0), 1e-12))
    centre = med
    cov = np.diag(sig**2)
    cut = special.chdtri(p, 1.0 - q)
    factor = special.chdtr(p + 2, cut) / special.chdtr(p, cut)
    for _ in range(n_iter):
        dc = d - centre
        maha = np.einsum("ij,jk,ik->i", dc, np.linalg.pinv(cov), dc)
        keep = maha <= cut
        if keep.sum() <= p + 1:
            break
        sub = d[keep]
        centre = sub.mean(axis=0)
        cov = np.cov(sub, rowvar=False).reshape(p, p) / factor
    return centre, cov


@numba.njit(nogil=True, cache=True)
def _simes_box(p: np.ndarray, radius: int) -> np.ndarray:  # pragma: no cover - jitted
    """Simes p-value of the ``(2r+1)^2`` box around each pixel (outside counts as 1)."""
    h, w = p.shape
    size = 2 * radius + 1
    n = size * size
    buf = np.empty(n, np.float32)
    out = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            q = p[i, j]
            if not q == q:  # not judged
                out[i, j] = q
                continue
            # cheap bound first: Simes is at most n times the box minimum
            lo = np.float32(1.0)
            for ii in range(max(i - radius, 0), min(i + radius + 1, h)):
                for jj in range(max(j - radius, 0), min(j + radius + 1, w)):
                    v = p[ii, jj]
                    if v < lo:  # False for NaN
                        lo = v
            if n * lo <= q:
                out[i, j] = q  # the Simes term cannot exceed the pixel's own p-value
                continue
            # fill the box in sorted order (insertion sort: n is small); NaN and
            # pixels outside the image count as 1 and never seed
            k = 0
            for di in range(-radius, radius + 1):
                ii = i + di
                for dj in range(-radius, radius + 1):
                    jj = j + dj
                    v = np.float32(1.0)
                    if 0 <= ii < h and 0 <= jj < w and p[ii, jj] == p[ii, jj]:
                        v = p[ii, jj]
                    m = k
                    while m > 0 and buf[m - 1] > v:
                        buf[m] = buf[m - 1]
                        m -= 1
                    buf[m] = v
                    k += 1
            best = 1.0
            for m in range(n):
                c = buf[m] * n / (m + 1)
                if c < best:
                    best = c
            out[i, j] = best
    return out


@numba.njit(inline="always")
def _ordered(a: float, b: float) -> tuple[float, float]:  # pragma: no cover - jitted
    return (a, b) if a < b else (b, a)


@numba.njit(nogil=True, cache=True)
def _seed_3x3(p: np.ndarray) -> np.ndarray:  # pragma: no cover - jitted
    """``max(p, Simes p-value of the 3x3 box)``, NaN kept; the same values as ``_simes_box(p, 1)``.

    The seed radius of the default method, made cheap: each column triple is
    sorted once per row and shared by the three boxes that contain it, then a
    16-comparator network merges three sorted triples into the sorted box
    (Knuth's 25-comparator network for nine inputs, minus its first layer).
    No branch depends on the data, so the row loop vectorises.
    """
    h, w = p.shape
    one = np.float32(1.0)
    # NaN and pixels outside the image count as 1 and never seed
    q = np.full((h + 2, w + 2), one, np.float32)
    for i in range(h):
        for j in range(w):
            v = p[i, j]
            q[i + 1, j + 1] = v if v == v else one
    lo = np.empty(w + 2, np.float32)
    mid = np.empty(w + 2, np.float32)
    hi = np.empty(w + 2, np.float32)
    out = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w + 2):
            a, b = _ordered(q[i, j], q[i + 1, j])
            b, c = _ordered(b, q[i + 2, j])
            a, b = _ordered(a, b)
            lo[j], mid[j], hi[j] = a, b, c
        for j in range(w):
            v0, v1, v2 = lo[j], mid[j], hi[j]
            v3, v4, v5 = lo[j + 1], mid[j + 1], hi[j + 1]
            v6, v7, v8 = lo[j + 2], mid[j + 2], hi[j + 2]
            v0, v3 = _ordered(v0, v3)
            v3, v6 = _ordered(v3, v6)
            v0, v3 = _ordered(v0, v3)
            v1, v4 = _ordered(v1, v4)
            v4, v7 = _ordered(v4, v7)
            v1, v4 = _ordered(v1, v4)
            v2, v5 = _ordered(v2, v5)
            v5, v8 = _ordered(v5, v8)
            v2, v5 = _ordered(v2, v5)
            v1, v3 = _ordered(v1, v3)
            v5, v7 = _ordered(v5, v7)
            v2, v6 = _ordered(v2, v6)
            v4, v6 = _ordered(v4, v6)
            v2, v4 = _ordered(v2, v4)
            v2, v3 = _ordered(v2, v3)
            v5, v6 = _ordered(v5, v6)
            # min_k 9 p_(k) / k in float64, as _simes_box computes it, so values match bit for bit
            best = 1.0
            for c in (
                np.float64(v0) * 9 / 1, np.float64(v1) * 9 / 2, np.float64(v2) * 9 / 3,
                np.float64(v3) * 9 / 4, np.float64(v4) * 9 / 5, np.float64(v5) * 9 / 6,
                np.float64(v6) * 9 / 7, np.float64(v7) * 9 / 8, np.float64(v8) * 9 / 9,
            ):  # fmt: skip
                best = c if c < best else best
            s = np.float32(best)
            x = p[i, j]
            out[i, j] = s if s > x else x  # x NaN: the comparison is False, NaN kept
    return out


def neighbourhood_seed_pvalue(p: np.ndarray, radius: int) -> np.ndarray:
    """Intersection of a pixel's p-value with a Simes test of its neighbourhood.

    Returns ``max(p, simes)`` where ``simes = min_k n p_(k) / k`` over the
    ``n = (2r+1)^2`` sorted p-values of the box around the pixel.  Simes'
    p-value is valid for "no pixel of the box is changed" under positive
    dependence, which spatially smoothed change statistics have, so the
    maximum is a valid intersection-union p-value: a pixel is declared
    changed only when it rejects at ``alpha`` *and* its neighbourhood does.
    A coherent region pays almost nothing (its sorted p-values are all
    small), while a lone significant pixel must reject at ``alpha / n``.  It
    is hysteresis without connectivity, so it needs only a halo of
    ``radius`` and does not depend on tiling.  NaN (not judged) stays NaN
    and never seeds.
    """
    p = np.ascontiguousarray(p, dtype=np.float32)
    if radius <= 0:
        return p
    if radius == 1:
        return _seed_3x3(p)
    out = np.maximum(p, _simes_box(p, radius))  # NaN propagates
    return np.asarray(out, dtype=np.float32)


def grow_pvalue(p: np.ndarray, radius: int, ratio: float) -> np.ndarray:
    """Hysteresis as a p-value map: significant regions grow into weak evidence nearby.

    Returns ``q`` such that, at any level ``alpha``, ``q <= alpha`` exactly
    where ``p <= alpha`` or where the pixel is joined to such a pixel by an
    8-connected path of at most ``radius`` steps whose pixels all have
    ``p <= ratio * alpha``.  So the decision is a seeded region growing with
    a strict (``alpha``) and a loose (``ratio * alpha``) threshold, whatever
    ``alpha`` is chosen later.  Growth creates no region: every declared
    connected region still holds a pixel significant at ``alpha``, so false
    *regions* are as rare as before; only their extent grows, by at most
    ``radius`` pixels, which is what a box statistic of that radius blurs of
    an object's edge.  ``p / ratio <= q <= p``.  NaN (not judged) stays NaN
    and blocks paths.  Local: a halo of ``radius`` makes tiling exact.
    """
    q = np.array(p, dtype=np.float32)
    floor = q / np.float32(ratio)
    for _ in range(max(0, radius)):
        # 3x3 minimum of q, separably; fmin skips NaN, so unjudged pixels pass nothing on
        m = q.copy()
        np.fmin(m[:, 1:], q[:, :-1], out=m[:, 1:])
        np.fmin(m[:, :-1], q[:, 1:], out=m[:, :-1])
        rows = m.copy()
        np.fmin(m[1:], rows[:-1], out=m[1:])
        np.fmin(m[:-1], rows[1:], out=m[:-1])
        # a NaN floor keeps an unjudged pixel NaN
        np.fmin(q, np.maximum(floor, m), out=q)
    return q


def nan_percentile(x: np.ndarray, q: float) -> np.ndarray:
    """Percentile over axis 0 ignoring NaN (numpy's linear rule), NaN where all are NaN.

    Sorting once (NaN last) and interpolating between the two order statistics is
    an order of magnitude faster than ``np.nanpercentile``, which loops per pixel.
    """
    s = np.sort(x, axis=0)
    n = np.sum(~np.isnan(x), axis=0)
    pos = np.maximum(n - 1, 0) * np.float32(q / 100.0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    a = np.take_along_axis(s, lo[None], axis=0)[0]
    b = np.take_along_axis(s, hi[None], axis=0)[0]
    out = a + (b - a) * (pos - lo).astype(np.float32)
    return np.where(n > 0, out, np.float32(np.nan)).astype(np.float32)
