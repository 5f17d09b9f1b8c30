"""SAR intensity change tests (Conradsen, Nielsen & Skriver 2016 style).

Multilook SAR intensities follow a gamma distribution with shape equal to the
equivalent number of looks (ENL, ``L``) and a mean equal to the backscatter.
Under "no change" the ratio of two independent ``L``-look intensities with
equal mean is ``F(2L, 2L)``, so the likelihood-ratio test for equal means has
an exact two-sided p-value.  With several polarisations and a diagonal
covariance model (reflection symmetry), the bands are independent and the
log likelihood ratios add (the diagonal-only case of Conradsen et al.).

Layout, so that the omnibus test over ``k`` dates can be added here later:

* input conversion (``to_intensity``), the ENL estimator (``estimate_enl``)
  and the per-band log likelihood ratio for ``k`` dates (``log_q_equal_means``)
  are date-count agnostic;
* ``pair_test`` is the ``k = 2`` case with exact per-band p-values;
* ``vote_pvalue`` is an optional spatial step on p-values (never on the
  intensities) for few-look data; by default ``SARRatioMethod`` reports the
  per-pixel p-value and regularises decisions only (minimum mapping unit).

Everything is pure numpy/scipy: arrays in, arrays out, no file I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage as ndi
from scipy import special

from ..errors import InputError, NoValidDataError
from .base import ChangeScore, CleanupDefaults, PairSample, SensorKind

Scale = Literal["auto", "intensity", "amplitude", "db"]

#: Side of the square windows in which the ENL is estimated (non-overlapping).
ENL_WINDOW = 7
#: Fewer homogeneous-window candidates than this and the ENL is not estimated.
_MIN_WINDOWS = 16
#: A ratio correlation below this counts as independent when spacing votes.
_INDEPENDENT_CORR = 0.2
_MAX_SPACING = 4
_MAX_NEIGHBOURHOOD = 7


# --------------------------------------------------------------------------
# input conversion
# --------------------------------------------------------------------------


def is_8bit_display(x: np.ndarray, valid: np.ndarray | None = None) -> bool:
    """Whether ``x`` holds integer values in ``[0, 255]`` (an 8-bit product).

    Such images are quantised display products: 0 means "below half a
    quantisation step", not zero backscatter, and whether they hold
    amplitude or intensity is not recorded.
    """
    v = x if valid is None else x[..., valid]
    if v.size == 0:
        return False
    return bool(np.all((v >= 0) & (v <= 255) & (v == np.round(v))))


def to_intensity(
    x: np.ndarray,
    valid: np.ndarray,
    scale: Literal["intensity", "amplitude", "db"],
    *,
    dequantise: bool = False,
    name: str = "image",
) -> np.ndarray:
    """Convert ``(bands, h, w)`` data to linear intensity (power), float64.

    Parameters
    ----------
    x
        Input values; pixels where ``valid`` is False are ignored and set to 1.
    valid
        ``(h, w)`` bool mask.
    scale
        ``"intensity"`` (linear power), ``"amplitude"`` (squared here) or
        ``"db"`` (``10 log10`` power, converted with ``10 ** (x / 10)``).
    dequantise
        Treat the data as integer-quantised: zeros become half a step (0.5)
        before conversion, since they stand for values below the first level.
    name
        Used in error messages.

    Raises
    ------
    InputError
        When a valid linear value is not finite, negative or zero.
    """
    out = np.array(x, dtype=np.float64)
    if out.ndim == 2:
        out = out[None]
    inv = ~valid
    out[:, inv] = 1.0
    if scale == "db":
        bad = ~np.isfinite(out)
        if bad.any():
            raise InputError(f"{name}: {int(bad.sum())} valid pixel(s) are not finite dB values")
        out = np.power(10.0, out / 10.0)
    else:
        if dequantise:
            out[out == 0] = 0.5
        bad = ~(np.isfinite(out) & (out > 0))
        if bad.any():
            worst = float(np.nanmin(np.where(np.isfinite(out), out, np.nan)))
            raise InputError(
                f"{name}: {int(bad.sum())} valid pixel(s) are zero, negative or not finite "
                f"(smallest {worst:g}); SAR {scale} must be > 0: mask them as nodata, "
                "or pass scale='db' if the image is in decibels"
            )
        if scale == "amplitude":
            out *= out
    out[:, inv] = 1.0
    return out


# --------------------------------------------------------------------------
# equivalent number of looks
# --------------------------------------------------------------------------


def inverse_trigamma(y: np.ndarray | float) -> np.ndarray:
    """Solve ``polygamma(1, L) = y`` for ``L > 0`` (Newton, vectorised)."""
    y = np.asarray(y, dtype=np.float64)
    # psi1(L) ~ 1/L + 1/(2 L^2): this start is within a few percent everywhere
    L = np.where(y > 0, (1.0 + np.sqrt(1.0 + 2.0 * y)) / (2.0 * np.maximum(y, 1e-300)), np.inf)
    finite = np.isfinite(L)
    x = np.where(finite, L, 1.0)
    for _ in range(8):
        step = (special.polygamma(1, x) - y) / special.polygamma(2, x)
        x = np.maximum(x - step, x / 4.0)
    return np.where(finite, x, np.inf)


def _valid_blocks(a: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Fully valid non-overlapping ``window x window`` blocks of ``a`` as rows (float64)."""
    h, w = valid.shape
    hh, ww = (h // window) * window, (w // window) * window
    if hh == 0 or ww == 0:
        return np.empty((0, window * window))

    def rows(x: np.ndarray) -> np.ndarray:
        x = x[:hh, :ww].reshape(hh // window, window, ww // window, window)
        return x.transpose(0, 2, 1, 3).reshape(-1, window * window)

    return np.asarray(rows(a)[rows(valid).all(axis=1)], dtype=np.float64)


def _window_log_variances(intensity: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Sample variance of ``log I`` in each fully valid non-overlapping window."""
    lg = np.log(_valid_blocks(intensity, valid, window))
    return np.asarray(lg.var(axis=1, ddof=1)) if lg.shape[0] else np.empty(0)


def _mode_of_logs(v: np.ndarray) -> float:
    """Mode of ``log v`` from a smoothed histogram (Silverman bandwidth)."""
    lv = np.log(v)
    lo, hi = np.percentile(lv, [1.0, 99.0])
    spread = min(float(np.std(lv)), float(np.subtract(*np.percentile(lv, [75, 25]))) / 1.349)
    bw = 0.9 * max(spread, 1e-3) * lv.size ** (-0.2)
    if hi - lo < bw:
        return float(np.median(lv))
    nbins = 512
    hist, edges = np.histogram(lv, bins=nbins, range=(lo - 3 * bw, hi + 3 * bw))
    width = edges[1] - edges[0]
    smooth = ndi.gaussian_filter1d(hist.astype(np.float64), bw / width, mode="constant")
    i = int(np.argmax(smooth))
    return float(0.5 * (edges[i] + edges[i + 1]))


def estimate_enl(
    intensities: Sequence[np.ndarray],
    valids: Sequence[np.ndarray],
    *,
    window: int = ENL_WINDOW,
) -> float:
    """Estimate the ENL of gamma-distributed intensities from homogeneous areas.

    Each fully valid ``window x window`` block gives the sample variance of
    ``log I``; in a homogeneous block its expectation is ``polygamma(1, L)``
    whatever the mean (the log-cumulant estimator of Anfinsen et al. 2009,
    less sensitive to bright outliers than ``mean^2 / var``).  Texture and
    edges only add variance, so homogeneous blocks form the low, dense end of
    the distribution; its mode is taken in the log domain, where the mode of
    a scaled chi-square variance sits at the scale itself (no small-sample
    bias), and inverted.

    Parameters
    ----------
    intensities
        ``(h, w)`` linear intensities (> 0 where valid), e.g. one band of
        several blocks and dates pooled (the ENL is a property of the product).
    valids
        Matching ``(h, w)`` bool masks.
    window
        Block side in pixels.

    Returns
    -------
    float
        The ENL.

    Raises
    ------
    NoValidDataError
        When too few valid blocks exist or they have no variance.
    """
    parts = [_window_log_variances(i, v, window) for i, v in zip(intensities, valids)]
    s2 = np.concatenate(parts) if parts else np.empty(0)
    # a constant block's variance is rounding noise, not speckle: ENL > 1e10 means none
    s2 = s2[np.isfinite(s2) & (s2 > 1e-10)]
    if s2.size < _MIN_WINDOWS:
        raise NoValidDataError(
            f"cannot estimate the equivalent number of looks: only {s2.size} valid "
            f"{window}x{window} block(s) with variance (need {_MIN_WINDOWS}); "
            "pass the ENL explicitly (--enl, or enl= in the API)"
        )
    enl = float(inverse_trigamma(np.exp(_mode_of_logs(s2))))
    if not np.isfinite(enl) or enl <= 0:
        raise NoValidDataError(
            f"cannot estimate the equivalent number of looks (got {enl}); "
            "pass the ENL explicitly (--enl, or enl= in the API)"
        )
    return enl


# --------------------------------------------------------------------------
# likelihood-ratio tests
# --------------------------------------------------------------------------


def log_q_equal_means(intensities: Sequence[np.ndarray], enl: float) -> np.ndarray:
    """Log likelihood ratio ``ln Q`` for equal means of ``k`` gamma images.

    For ``k`` single-band ``L``-look intensities ``x_j`` the test of
    ``mean_1 = ... = mean_k`` has
    ``ln Q = L (k ln k + sum_j ln x_j - k ln sum_j x_j)`` (<= 0).  Summing it
    over bands gives the diagonal-covariance polarimetric statistic; this is
    the building block of the omnibus test.
    """
    k = len(intensities)
    total = np.zeros(intensities[0].shape, dtype=np.float64)
    logs = np.zeros_like(total)
    for x in intensities:
        total += x
        logs += np.log(x)
    return np.asarray(enl * (k * np.log(k) + logs - k * np.log(total)))


def pair_pvalue(before: np.ndarray, after: np.ndarray, enl: float) -> np.ndarray:
    """Exact two-sided p-value of the F test for one band of a pair.

    ``u = x / (x + y)`` is ``Beta(L, L)`` under no change (equivalently
    ``x / y ~ F(2L, 2L)``); the likelihood ratio depends on ``u (1 - u)``
    only, so the LRT is the symmetric two-sided test and
    ``p = 2 I_{min(u, 1-u)}(L, L)``.  This is the reference implementation;
    ``pair_test`` evaluates the same function through a table, which is
    about fifty times faster than ``betainc`` for non-integer ``L``.
    """
    u = np.asarray(before, dtype=np.float64) / (np.asarray(before, dtype=np.float64) + after)
    u = np.minimum(u, 1.0 - u)
    return np.asarray(np.minimum(2.0 * special.betainc(enl, enl, u), 1.0))


_TABLE_SIZE = 4096


@dataclass(frozen=True)
class _PairTable:
    """Functions of ``t = |ln(x / y)|`` on a uniform grid of step ``step``.

    ``log_p``: log two-sided p-value; ``chi``: the chi-square (1 dof)
    quantile of that p-value; ``lnq2``: ``-2 ln Q = 4 L ln cosh(t / 2)``.
    The grid reaches far into the exponential tail (``ln p ~ -L t``), so
    extending its last segment is exact to rounding beyond it.
    """

    step: float
    log_p: np.ndarray
    chi: np.ndarray
    lnq2: np.ndarray


def _log_pair_p(t: np.ndarray, enl: float) -> np.ndarray:
    """``ln p(t)`` for the pair test, accurate where ``betainc`` underflows."""
    u = special.expit(-t)  # min(u, 1 - u) of the F test, = 1 / (1 + e^t)
    with np.errstate(divide="ignore"):
        exact = np.log(2.0 * special.betainc(enl, enl, u))
    # leading terms of the series of I_u(L, L) for small u
    asym = (
        np.log(2.0)
        + enl * np.log(u)
        + enl * np.log1p(-u)
        - np.log(enl)
        - special.betaln(enl, enl)
        + np.log1p(2.0 * enl / (enl + 1.0) * u)
    )
    return np.asarray(np.minimum(np.where(exact > -600.0, exact, asym), 0.0))


def _chi1_quantile(log_p: np.ndarray) -> np.ndarray:
    """``chi2(1).isf(p)`` from ``ln p``, also where ``p`` underflows."""
    p = np.exp(log_p)
    with np.errstate(divide="ignore", over="ignore"):
        direct = special.ndtri(0.5 * p) ** 2
    # normal tail: z^2 = -2 ln(p/2) - ln(2 pi) - 2 ln z, solved by iteration
    x = -2.0 * (log_p - np.log(2.0)) - np.log(2.0 * np.pi)
    z2 = np.maximum(x, 1.0)
    for _ in range(4):
        z2 = np.maximum(x - np.log(z2), 1.0)
    return np.asarray(np.where(log_p > -600.0, direct, z2))


@lru_cache(maxsize=64)
def _pair_table(enl: float) -> _PairTable:
    # tail reached once L t > ~100 and t > 25 (so the e^-t terms are gone)
    t_max = max(25.0, 100.0 / enl)
    t = np.linspace(0.0, t_max, _TABLE_SIZE)
    log_p = _log_pair_p(t, enl)
    chi = _chi1_quantile(log_p)
    lnq2 = 4.0 * enl * (0.5 * t + np.log1p(np.exp(-t)) - np.log(2.0))
    return _PairTable(step=float(t[1] - t[0]), log_p=log_p, chi=chi, lnq2=lnq2)


def _lookup(table: np.ndarray, pos: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Linear interpolation (extrapolation past the end) at ``idx + (pos - idx)``."""
    lo = table[idx]
    return np.asarray(lo + (pos - idx) * (table[idx + 1] - lo))


def _pair_evidence(
    before: np.ndarray, after: np.ndarray, enl: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ``-2 ln Q`` and a monotone evidence value for each pixel.

    The evidence is ``t = |ln(x / y)|`` for one band, and the sum of the
    bands' chi-square (1 dof) quantiles for several; ``log_p_of_evidence``
    turns it into ``ln p``.
    """
    nb = before.shape[0]
    if len(enl) != nb:
        raise InputError(f"enl has {len(enl)} value(s) for {nb} band(s); give one per band")
    stat = np.zeros(before.shape[1:], dtype=np.float64)
    evidence = np.zeros_like(stat)
    for b in range(nb):
        tab = _pair_table(float(enl[b]))
        t = np.abs(np.log(before[b]) - np.log(after[b])).astype(np.float64)
        pos = t / tab.step
        idx = np.minimum(pos.astype(np.intp), _TABLE_SIZE - 2)
        stat += _lookup(tab.lnq2, pos, idx)
        if nb == 1:
            evidence = t
        else:
            evidence += _lookup(tab.chi, pos, idx)
    return stat, evidence


def _log_p_of_evidence(evidence: np.ndarray, enl: Sequence[float]) -> np.ndarray:
    """``ln p`` of the evidence values of ``_pair_evidence``."""
    nb = len(enl)
    if nb == 1:
        tab = _pair_table(float(enl[0]))
        pos = evidence / tab.step
        idx = np.minimum(pos.astype(np.intp), _TABLE_SIZE - 2)
        return _lookup(tab.log_p, pos, idx)
    if nb == 2:
        return np.asarray(-0.5 * evidence)  # chi-square with 2 dof: p = exp(-x / 2)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(special.gammaincc(0.5 * nb, 0.5 * evidence)))


def pair_test(
    before: np.ndarray, after: np.ndarray, enl: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel likelihood-ratio test of a ``(bands, h, w)`` intensity pair.

    Parameters
    ----------
    before, after
        Linear intensities, > 0.
    enl
        ENL per band.

    Returns
    -------
    statistic, p_value
        ``-2 ln Q`` summed over bands (Conradsen's diagonal-only statistic),
        and its p-value under no change.  One band: the exact F p-value.
        Several bands: each band's exact p-value is mapped to the chi-square
        (1 dof) quantile it would have asymptotically and the sum referred to
        chi-square with ``bands`` dof; this is exact for independent bands at
        any ENL, where the Bartlett-corrected asymptotics are only
        approximate for few looks.
    """
    stat, ev = _pair_evidence(before, after, enl)
    return stat, np.exp(_log_p_of_evidence(ev, enl))


# --------------------------------------------------------------------------
# spatial step on p-values
# --------------------------------------------------------------------------


def _med3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def _median9(x: np.ndarray, spacing: int) -> np.ndarray:
    """Median of the 3x3 grid of step ``spacing`` around each pixel (reflected edges).

    Sorting the horizontal triples once, the median of nine is the median of
    the largest row minimum, the median of the row medians and the smallest
    row maximum; this min/max network is far faster than a rank filter.
    """
    s = spacing
    xp = np.pad(x, s, mode="reflect")
    left, centre, right = xp[:, : -2 * s], xp[:, s:-s], xp[:, 2 * s :]
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    mid = np.maximum(lo, np.minimum(hi, centre))
    lo, hi = np.minimum(lo, centre), np.maximum(hi, centre)
    up, ce, dn = slice(None, -2 * s), slice(s, -s), slice(2 * s, None)
    max_lo = np.maximum(np.maximum(lo[up], lo[ce]), lo[dn])
    min_hi = np.minimum(np.minimum(hi[up], hi[ce]), hi[dn])
    return _med3(max_lo, _med3(mid[up], mid[ce], mid[dn]), min_hi)


def local_median(x: np.ndarray, side: int, spacing: int = 1) -> np.ndarray:
    """Median of the ``side x side`` grid of step ``spacing`` around each pixel."""
    if side <= 1:
        return x
    if side == 3:
        return _median9(x, spacing)
    # larger grids (single-look data only): partial sort of strided windows,
    # a strip at a time so the window copies stay small
    r = (side // 2) * spacing
    xp = np.pad(x, r, mode="reflect")
    out = np.empty(x.shape, dtype=x.dtype)
    n = side * side
    for i0 in range(0, x.shape[0], 64):
        i1 = min(i0 + 64, x.shape[0])
        win = sliding_window_view(xp[i0 : i1 + 2 * r], (2 * r + 1, 2 * r + 1))
        win = win[:, :, ::spacing, ::spacing].reshape(i1 - i0, x.shape[1], n)
        out[i0:i1] = np.partition(win, n // 2, axis=-1)[..., n // 2]
    return out


def log_vote_pvalue(log_p_median: np.ndarray, n: int) -> np.ndarray:
    """``ln`` of the vote p-value given ``ln`` of the median of ``n`` p-values.

    The ``k``-th smallest of ``n`` independent uniforms is ``Beta(k, n-k+1)``,
    so ``P = P(Binomial(n, p) >= k)``; it is summed as
    ``p^k * sum_j C(n, j) p^(j-k) (1-p)^(n-j)`` to stay exact for tiny ``p``.
    """
    k = (n + 1) // 2
    p = np.exp(log_p_median)
    q = 1.0 - p
    poly = np.zeros_like(p)
    for j in range(k, n + 1):
        poly += special.comb(n, j) * p ** (j - k) * q ** (n - j)
    return np.asarray(np.minimum(k * log_p_median + np.log(poly), 0.0))


def vote_pvalue(p: np.ndarray, side: int, spacing: int = 1) -> np.ndarray:
    """Median-vote p-value over a ``side x side`` grid of neighbours.

    The median rank of ``n`` independent uniform p-values is
    ``Beta(k, n - k + 1)`` with ``k = (n + 1) // 2``; referring the local
    median p-value to it is a level-alpha test of "no change in the
    neighbourhood" that rejects when a majority of the ``n`` pixels show
    evidence, so one extreme pixel cannot carry it (as it would Fisher's or
    Stouffer's combination) and, like a median filter, it keeps straight
    edges in place.  ``spacing`` samples the grid every ``spacing`` pixels so
    that the votes are close to independent on oversampled images.
    """
    if side <= 1:
        return p
    with np.errstate(divide="ignore"):
        lp = np.log(np.asarray(p, dtype=np.float64))
    return np.exp(log_vote_pvalue(local_median(lp, side, spacing), side * side))


def looks_needed(ratio_db: float = 6.0, alpha: float = 0.01, power: float = 0.8) -> float:
    """Looks for which the pair test detects a ``ratio_db`` change with ``power``.

    Uses the normal approximation of ``ln(x / y)`` (variance
    ``2 polygamma(1, L)``); with the defaults (a fourfold change, the default
    alpha, 80 % power) it is about 12.6 looks.
    """
    z = special.ndtri(1.0 - alpha / 2.0) + special.ndtri(power)
    shift = ratio_db / 10.0 * np.log(10.0)
    return float(inverse_trigamma(0.5 * (shift / z) ** 2))


def neighbourhood_for(enl: float, target_looks: float) -> int:
    """Smallest odd vote side ``m`` (1 = single pixel) with ``m^2 L >= target``."""
    m = 1
    while m * m * enl < target_looks and m < _MAX_NEIGHBOURHOOD:
        m += 2
    return m


def _robust_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Gnanadesikan-Kettenring correlation with MAD scales (robust to changes)."""

    def mad(v: np.ndarray) -> float:
        return float(np.median(np.abs(v - np.median(v))))

    sx, sy = mad(x), mad(y)
    if sx == 0 or sy == 0:
        return 0.0
    x = (x - np.median(x)) / sx
    y = (y - np.median(y)) / sy
    a, d = mad(x + y) ** 2, mad(x - y) ** 2
    return (a - d) / (a + d) if a + d > 0 else 0.0


def independent_spacing(log_ratios: Sequence[np.ndarray], valids: Sequence[np.ndarray]) -> int:
    """Smallest lag at which the log-ratio's robust autocorrelation is small.

    Unchanged texture cancels in the ratio, so what is left is the speckle's
    own correlation (oversampling, filtering); changes are a minority that
    the median-based estimate ignores.
    """
    for lag in range(1, _MAX_SPACING + 1):
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        for r, v in zip(log_ratios, valids):
            for a, b, va, vb in (
                (r[:, :-lag], r[:, lag:], v[:, :-lag], v[:, lag:]),
                (r[:-lag], r[lag:], v[:-lag], v[lag:]),
            ):
                ok = va & vb
                xs.append(a[ok])
                ys.append(b[ok])
        x, y = np.concatenate(xs), np.concatenate(ys)
        if x.size < 100 or _robust_corr(x, y) < _INDEPENDENT_CORR:
            return lag
    return _MAX_SPACING


# --------------------------------------------------------------------------
# the registered method
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedSARRatio:
    """The pair test with its global statistics estimated.

    Attributes
    ----------
    enl
        ENL per band.
    scale
        How inputs are read (``intensity``, ``amplitude`` or ``db``).
    dequantise
        Zeros are treated as half a quantisation step (8-bit products).
    neighbourhood
        Side of the p-value vote (1: the per-pixel test alone).
    spacing
        Pixel spacing of the vote grid.
    halo
        Context pixels each tile needs.
    """

    enl: tuple[float, ...]
    scale: Literal["intensity", "amplitude", "db"]
    dequantise: bool = False
    neighbourhood: int = 1
    spacing: int = 1

    @property
    def halo(self) -> int:
        return (self.neighbourhood // 2) * self.spacing

    def score(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> ChangeScore:
        """Score one ``(bands, h, w)`` tile; p-values are NaN where not valid."""
        valid = np.asarray(valid, dtype=bool)
        x = to_intensity(before, valid, self.scale, dequantise=self.dequantise, name="before")
        y = to_intensity(after, valid, self.scale, dequantise=self.dequantise, name="after")
        if x.shape != y.shape:
            raise InputError(f"before {x.shape} and after {y.shape} tiles differ in shape")
        stat, evidence = _pair_evidence(x, y, self.enl)
        # invalid pixels carry no evidence, which is conservative at mask edges
        evidence[~valid] = 0.0
        if self.neighbourhood > 1:
            # p is a decreasing function of the evidence, so the median
            # p-value of the neighbourhood is the p-value of its median evidence
            med = local_median(evidence, self.neighbourhood, self.spacing)
            log_p = log_vote_pvalue(_log_p_of_evidence(med, self.enl), self.neighbourhood**2)
        else:
            log_p = _log_p_of_evidence(evidence, self.enl)
        p = np.exp(log_p, out=log_p)
        p[~valid] = np.nan
        stat[~valid] = np.nan
        return ChangeScore(statistic=stat.astype(np.float32), p_value=p.astype(np.float32))


class SARRatioMethod:
    """Likelihood-ratio (F) test for a pair of SAR intensity images.

    Parameters
    ----------
    enl
        Equivalent number of looks (one value for all bands, or one per
        band); None estimates it from homogeneous areas of both dates.
    scale
        ``"intensity"`` (linear power), ``"amplitude"``, ``"db"`` or
        ``"auto"``: floating-point data are linear intensity; 8-bit integer
        products (values 0..255) are read as whichever of amplitude or
        intensity makes homogeneous areas most gamma-like (see
        ``choose_8bit_scale``), with zeros taken as half a quantisation step.
    neighbourhood
        Side of the median vote on p-values (odd), or ``"auto"``: the
        smallest side whose pooled looks reach ``looks_needed()`` (about
        12.6: a 6 dB change at alpha 0.01 with 80 % power).  The default, 1,
        reports the exact per-pixel p-value and leaves spatial regularisation
        to the decision clean-up (minimum mapping unit).  The vote adds power
        on few-look data (e.g. 4.4-look GRD) and is calibrated when speckle
        is gamma, but it also pools whatever the gamma model misses (heavy
        tails, real weak changes), so on pre-processed 8-bit products it
        trades much precision for recall; hence opt-in.

    Notes
    -----
    Speckle is never filtered before the test: each pixel is tested on its
    own two intensities, and only p-values (vote) or decisions (clean-up)
    are combined spatially.
    """

    name = "sar-ratio"
    description = "SAR intensity likelihood-ratio (F) test, ENL estimated from the data"
    sensor: SensorKind = "sar"

    def __init__(
        self,
        enl: float | Sequence[float] | None = None,
        scale: Scale = "auto",
        neighbourhood: int | Literal["auto"] = 1,
    ) -> None:
        if scale not in ("auto", "intensity", "amplitude", "db"):
            raise InputError(
                f"scale={scale!r} is not known; use 'auto', 'intensity', 'amplitude' or 'db'"
            )
        self._enl: tuple[float, ...] | None = None
        if enl is not None:
            vals = (
                (float(enl),)  # type: ignore[arg-type]
                if np.ndim(enl) == 0
                else tuple(float(e) for e in enl)  # type: ignore[union-attr]
            )
            if not vals or not all(np.isfinite(v) and v > 0 for v in vals):
                raise InputError(f"enl={enl!r} must be > 0 (e.g. --enl 4.4)")
            self._enl = vals
        if neighbourhood != "auto" and (
            not isinstance(neighbourhood, int) or neighbourhood < 1 or neighbourhood % 2 == 0
        ):
            raise InputError(f"neighbourhood={neighbourhood!r} must be 'auto' or an odd int >= 1")
        self.enl = enl
        self.scale: Scale = scale
        self.neighbourhood = neighbourhood

    def fit(self, sample: PairSample) -> FittedSARRatio:
        """Estimate the ENL per band, the input scale and the vote layout."""
        nb = sample.n_bands
        valids = [np.asarray(v, dtype=bool) for v in sample.valid]
        if not any(v.any() for v in valids):
            raise NoValidDataError("no valid pixel in the sample: nothing to fit")
        scale: Literal["intensity", "amplitude", "db"]
        # an 8-bit product's zeros are "below the first level", whatever it holds
        dequantise = self.scale != "db" and all(
            is_8bit_display(b, v) and is_8bit_display(a, v)
            for b, a, v in zip(sample.before, sample.after, valids)
        )
        if self.scale == "auto":
            scale = choose_8bit_scale(sample) if dequantise else "intensity"
        else:
            scale = self.scale

        def conv(blocks: list[np.ndarray], name: str) -> list[np.ndarray]:
            return [
                to_intensity(x, v, scale, dequantise=dequantise, name=name)
                for x, v in zip(blocks, valids)
            ]

        xs, ys = conv(sample.before, "before"), conv(sample.after, "after")
        if self._enl is None:
            enl = tuple(
                estimate_enl([x[b] for x in xs] + [y[b] for y in ys], valids + valids)
                for b in range(nb)
            )
        elif len(self._enl) == 1:
            enl = self._enl * nb
        elif len(self._enl) == nb:
            enl = self._enl
        else:
            raise InputError(
                f"enl has {len(self._enl)} value(s) for {nb} band(s); give one, or one per band"
            )
        if self.neighbourhood == "auto":
            side = neighbourhood_for(min(enl), looks_needed())
        else:
            side = int(self.neighbourhood)
        spacing = 1
        if side > 1:
            lr = [np.log(y[0]) - np.log(x[0]) for x, y in zip(xs, ys)]
            spacing = independent_spacing(lr, valids)
        return FittedSARRatio(
            enl=enl, scale=scale, dequantise=dequantise, neighbourhood=side, spacing=spacing
        )

    def cleanup(self, pixel_size_m: float | None) -> CleanupDefaults:
        """No morphology; a minimum mapping unit of 16 pixels.

        In pixels whatever the pixel size, because the noise being cleaned is
        speckle, correlated over one resolution cell, which SAR products
        sample with one to two pixels: 16 pixels are at least four
        independent cells, all rejecting at alpha by chance with probability
        of order alpha^4.  No opening: it would demand a 3x3 block of
        rejections, which erases real changes wherever the per-pixel power
        is below ~90 %.
        """
        return CleanupDefaults(min_area_px=16, radius_px=0)


def choose_8bit_scale(sample: PairSample) -> Literal["intensity", "amplitude"]:
    """Decide whether an 8-bit SAR product holds amplitude or intensity.

    If ``X = I^q`` with ``I`` gamma-distributed, the log-cumulants of a
    homogeneous block are ``k2 = q^2 polygamma(1, L)`` and
    ``k3 = q^3 polygamma(2, L)``.  For each hypothesis (``q = 1``
    intensity, ``q = 1/2`` amplitude) ``L`` follows from ``k2``, which
    predicts ``k3``; the hypothesis whose prediction is closer (in log
    ratio) to the ``k3`` observed in homogeneous blocks wins.  Unlike a
    moment-versus-log-moment check this separates the two at any ENL, and
    texture moves both predictions alike.  Undecidable data go to intensity.
    The first band decides for all bands.
    """
    valids = [np.asarray(v, dtype=bool) for v in sample.valid]
    rows_list = []
    for blocks in (sample.before, sample.after):
        for x, v in zip(blocks, valids):
            lin = to_intensity(x, v, "intensity", dequantise=True)[0]
            rows_list.append(np.log(_valid_blocks(lin, v, ENL_WINDOW)))
    rows = np.concatenate(rows_list)
    n = rows.shape[1]
    c = rows - rows.mean(axis=1, keepdims=True)
    k2 = (c**2).sum(axis=1) / (n - 1)
    k3 = n / ((n - 1) * (n - 2)) * (c**3).sum(axis=1)
    good = k2 > 0
    if good.sum() < _MIN_WINDOWS:
        return "intensity"
    mode = _mode_of_logs(k2[good])
    # blocks whose variance sits at the homogeneous mode; k3 is averaged
    # over them since one block's third cumulant is very noisy
    near = good & (np.abs(np.log(np.where(good, k2, 1.0)) - mode) < 0.25)
    k3_obs = float(k3[near].mean()) if near.sum() >= _MIN_WINDOWS else 0.0
    if not k3_obs < 0:
        return "intensity"
    miss = {}
    for q, name in ((1.0, "intensity"), (0.5, "amplitude")):
        enl = float(inverse_trigamma(np.exp(mode) / q**2))
        miss[name] = abs(np.log(k3_obs / (q**3 * float(special.polygamma(2, enl)))))
    return "amplitude" if miss["amplitude"] < miss["intensity"] else "intensity"


__all__ = [
    "ENL_WINDOW",
    "FittedSARRatio",
    "SARRatioMethod",
    "Scale",
    "choose_8bit_scale",
    "estimate_enl",
    "independent_spacing",
    "inverse_trigamma",
    "is_8bit_display",
    "log_q_equal_means",
    "looks_needed",
    "neighbourhood_for",
    "pair_pvalue",
    "pair_test",
    "to_intensity",
    "vote_pvalue",
]
