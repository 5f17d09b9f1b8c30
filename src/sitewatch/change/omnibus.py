"""Omnibus test of equal backscatter over a SAR intensity time series.

Conradsen, Nielsen & Skriver (2016) test whether ``k`` multilook covariance
matrices are equal, and factor the likelihood ratio ``Q = prod_j R_j`` into
tests ``R_j`` of "date ``j`` equals dates ``1..j-1``, given those are equal",
which say *when* a pixel changed.  Here the data are intensities: one band
(single polarisation) or several bands taken as independent (``vv``, ``vh``
with a diagonal covariance, no cross term).  Each band is then a gamma
variable with shape ``L`` (the ENL), its likelihood ratio is the ``p = 1``
case of the paper, and the bands' log ratios add.

Distributions (``p = 1`` per band, ``m`` dates pooled before the tested one):

* omnibus over ``c`` dates: ``-2 rho ln Q ~ chi2(c - 1)``, with
  ``rho = 1 - (c + 1) / (6 L c)`` and
  ``omega2 = -(c - 1) / 4 * (1 - 1 / rho) ** 2``;
* step ``R`` (``j = m + 1``): ``-2 rho_j ln R ~ chi2(1)``, with
  ``rho_j = 1 - (1 + 1 / (j (j - 1))) / (6 L)`` and
  ``omega2_j = -(1 - 1 / rho_j) ** 2 / 4``;
* ``P(-2 rho ln Q > z) ~ (1 - omega2) P(chi2_f > z) + omega2 P(chi2_{f+4} > z)``.

These are Box's (1949) expansion for the gamma moments of ``Q``; with
``B`` independent bands each term carries its own ``rho`` (the ENL may
differ per band), so the statistic is ``sum_b rho_b (-2 ln Q_b)`` with
``f = B (c - 1)`` (or ``B``) degrees of freedom and ``omega2 = sum_b
omega2_b``, since the cumulants of independent terms add.  A full 2x2
dual-polarisation covariance would have ``4 (c - 1)`` degrees of freedom;
without the cross term it is ``2 (c - 1)``.

Everything is pure numpy/scipy, computed in row blocks, so memory stays
bounded by the inputs, the outputs and one block of work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import InputError

#: Working memory of one row block (bytes, float64 temporaries included).
BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class OmnibusResult:
    """Per-pixel outcome of the omnibus test and its sequential decomposition.

    Date indices are 0-based positions in the input series.

    Attributes
    ----------
    p_value
        ``(h, w)`` p-value of "equal backscatter on all valid dates"; NaN
        where fewer than two dates are valid.
    step_p_values
        ``(k - 1, h, w)``; entry ``j - 1`` is the p-value of ``R_j``: "date
        ``j`` equals the valid dates before it, given those are equal"
        (counted from the first date, without restarts).  NaN where date
        ``j`` is not valid or no valid date precedes it.
    first_change
        ``(h, w)`` int16: the date at which the first change is detected,
        ``-1`` if none.
    changes
        ``(k - 1, h, w)`` bool; entry ``j - 1`` is True when a change is
        detected at date ``j`` (between the previous valid date and ``j``),
        including the changes found after restarting at each change.
    n_dates
        ``(h, w)`` int16: valid dates per pixel.
    alpha
        Level of every decision.
    enl
        ENL per band.
    """

    p_value: np.ndarray
    step_p_values: np.ndarray
    first_change: np.ndarray
    changes: np.ndarray
    n_dates: np.ndarray
    alpha: float
    enl: tuple[float, ...]

    @property
    def judged(self) -> np.ndarray:
        """Pixels with at least two valid dates."""
        return np.asarray(self.n_dates >= 2)


def omnibus_rho_omega2(n_dates: np.ndarray | float, enl: float) -> tuple[np.ndarray, np.ndarray]:
    """Box's ``rho`` and ``omega2`` for the one-band omnibus test over ``n_dates`` dates."""
    c = np.asarray(n_dates, dtype=np.float64)
    rho = 1.0 - (c + 1.0) / (6.0 * enl * c)
    return rho, -(c - 1.0) / 4.0 * (1.0 - 1.0 / rho) ** 2


def step_rho_omega2(n_pooled: np.ndarray | float, enl: float) -> tuple[np.ndarray, np.ndarray]:
    """Box's ``rho`` and ``omega2`` for one step ``R_j`` with ``n_pooled = j - 1`` dates before."""
    m = np.asarray(n_pooled, dtype=np.float64)
    rho = 1.0 - (1.0 + 1.0 / (m * (m + 1.0))) / (6.0 * enl)
    return rho, -0.25 * (1.0 - 1.0 / rho) ** 2


def corrected_chi2_sf(stat: np.ndarray, dof: np.ndarray | float, omega2: np.ndarray) -> np.ndarray:
    """``P(-2 rho ln Q > stat)`` to second order: a chi-square with Box's ``omega2`` term.

    ``P(chi2_{f+4} > z) - P(chi2_f > z)`` is the sum of two terms of the
    gamma recurrence, ``e^{-z/2} (z/2)^{f/2} / Gamma(f/2 + 1) (1 + z / (f + 2))``,
    so only one chi-square tail is evaluated (in closed form for 1 and 2 dof).
    """
    z2 = 0.5 * np.asarray(stat, dtype=np.float64)
    half = 0.5 * np.asarray(dof, dtype=np.float64)
    scalar = float(half) if half.ndim == 0 else None
    if scalar == 1.0:
        sf = np.exp(-z2)
        term = sf * z2  # e^{-z/2} (z/2)^1 / 1!
    else:
        sf = special.erfc(np.sqrt(z2)) if scalar == 0.5 else special.chdtrc(dof, stat)
        with np.errstate(divide="ignore"):
            term = np.exp(half * np.log(z2) - z2 - special.gammaln(half + 1.0))
    out = sf + omega2 * term * (1.0 + z2 / (half + 1.0))
    return np.asarray(np.clip(out, 0.0, 1.0))


def _as_dates(stack: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """The series as a list of ``(bands, h, w)`` arrays (views where possible)."""
    dates = [np.asarray(d) for d in stack]
    if len(dates) < 2:
        raise InputError(
            f"stack: got {len(dates)} date(s); the omnibus test needs at least 2 "
            "(a single SAR date gives a timeline entry only)"
        )
    shape0 = dates[0].shape
    for i, d in enumerate(dates):
        if d.ndim not in (2, 3) or d.shape != shape0:
            raise InputError(
                f"stack: date {i} has shape {d.shape}, date 0 has {shape0}; give every date "
                "the same (h, w) or (bands, h, w) shape on the same grid"
            )
        if not np.issubdtype(d.dtype, np.number) or np.issubdtype(d.dtype, np.complexfloating):
            raise InputError(f"stack: date {i} has dtype {d.dtype}; give real intensities")
    return [d[None] if d.ndim == 2 else d for d in dates]


def _check_values(dates: list[np.ndarray]) -> None:
    """Raise on zero, negative or infinite intensities, naming the date and band."""
    for i, d in enumerate(dates):
        for b, band in enumerate(d):
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(band) & ~((band > 0) & np.isfinite(band))
            if bad.any():
                worst = band[bad].min()
                raise InputError(
                    f"stack: date {i}, band {b} has {int(bad.sum())} pixel(s) that are zero, "
                    f"negative or infinite (smallest {float(worst):g}); SAR intensities must be "
                    "> 0 linear power: set pixels that cannot be judged to NaN, and convert "
                    "decibels with 10 ** (db / 10)"
                )


def _check_enl(enl: float | Sequence[float], n_bands: int) -> tuple[float, ...]:
    vals = [enl] if np.ndim(enl) == 0 else list(enl)  # type: ignore[arg-type]
    try:
        out = tuple(float(v) for v in vals)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"enl={enl!r} must be a number > 0 (e.g. 4.4)") from None
    if len(out) == 1:
        out = out * n_bands
    if len(out) != n_bands or not all(np.isfinite(v) and v > 0 for v in out):
        raise InputError(
            f"enl={enl!r} must be one number > 0, or one per band ({n_bands}), e.g. 4.4"
        )
    return out


def _step_p(
    log_mean_before: np.ndarray,
    log_mean_after: np.ndarray,
    log_x: np.ndarray,
    m: np.ndarray | float,
    enl: tuple[float, ...],
) -> np.ndarray:
    """P-value of ``R`` for a date ``x`` after ``m`` pooled dates, from the bands' log means.

    Per band ``ln R / L = m ln mean_m + ln x - (m + 1) ln mean_{m+1}``
    (<= 0); the log means are carried from one date to the next, so each
    step costs one logarithm per band.
    """
    stat = np.zeros(np.shape(log_x)[1:], dtype=np.float64)
    omega2: np.ndarray | float = 0.0
    for b, n in enumerate(enl):
        ln_r = m * log_mean_before[b] + log_x[b] - (m + 1.0) * log_mean_after[b]
        rho, w2 = step_rho_omega2(m, n)
        stat += rho * np.maximum(-2.0 * n * ln_r, 0.0)
        omega2 = omega2 + w2
    return corrected_chi2_sf(stat, float(len(enl)), np.asarray(omega2))


def _omnibus_p(
    log_sum: np.ndarray, total: np.ndarray, count: np.ndarray, enl: tuple[float, ...]
) -> np.ndarray:
    """Omnibus p-value of ``count`` dates from the bands' sums of logs and of intensities.

    NaN where ``count < 2``.
    """
    ok = count >= 2
    c = np.where(ok, count, 2).astype(np.float64)
    stat = np.zeros(count.shape, dtype=np.float64)
    omega2 = np.zeros_like(stat)
    for b, n in enumerate(enl):
        # ln Q / L = sum ln x - c ln mean; <= 0 by the AM-GM inequality
        ln_q = log_sum[b] - c * np.log(np.where(ok, total[b], c) / c)
        rho, w2 = omnibus_rho_omega2(c, n)
        stat += rho * np.maximum(-2.0 * n * np.where(ok, ln_q, 0.0), 0.0)
        omega2 += w2
    p = corrected_chi2_sf(stat, len(enl) * (c - 1.0), omega2)
    return np.where(ok, p, np.nan)


def omnibus_test(
    stack: np.ndarray | Sequence[np.ndarray],
    enl: float | Sequence[float],
    alpha: float = 0.01,
    *,
    block_bytes: int = BLOCK_BYTES,
) -> OmnibusResult:
    """Omnibus and sequential tests of a SAR intensity series, per pixel.

    Procedure (after the paper): if the omnibus test over a pixel's valid
    dates rejects at ``alpha``, the first date ``j`` whose ``R_j`` rejects at
    ``alpha`` is its first change; the test then restarts at ``j`` (the
    omnibus over dates ``j..``, then its own ``R`` steps), which finds any
    later changes.  Under no change, a first change is declared only when
    the omnibus test rejects *and* one step rejects, so its false-alarm rate
    is at most ``alpha``: below it when the omnibus evidence is spread over
    several steps none of which rejects alone (see
    ``benchmarks/sar_omnibus.py``), while ``p_value`` and each of
    ``step_p_values`` are calibrated.

    Parameters
    ----------
    stack
        ``k >= 2`` dates of linear intensity (power): ``(k, h, w)`` for one
        polarisation, ``(k, bands, h, w)`` (or a sequence of ``(h, w)`` or
        ``(bands, h, w)`` arrays) for several, taken as independent.
        Speckle must not have been filtered.  NaN marks a pixel that cannot
        be judged on that date (in any band): the pixel is tested on its
        valid dates only, the steps skipping the missing ones, and pixels
        with fewer than two valid dates are not judged.
    enl
        Equivalent number of looks, one value or one per band
        (see :func:`sitewatch.change.sar.estimate_enl`).
    alpha
        False-alarm rate of every decision, in (0, 1).
    block_bytes
        Working memory per row block.

    Returns
    -------
    OmnibusResult

    Raises
    ------
    InputError
        Fewer than two dates, shapes that differ, intensities that are zero,
        negative or infinite (the message names the date), a bad ENL or alpha.
    """
    dates = _as_dates(stack)
    k = len(dates)
    nb, h, w = dates[0].shape
    enls = _check_enl(enl, nb)
    try:
        level = float(alpha)
    except (TypeError, ValueError):
        level = math.nan
    if not 0.0 < level < 1.0:
        raise InputError(f"alpha={alpha!r} must be in (0, 1), e.g. 0.01")
    _check_values(dates)

    p_value = np.full((h, w), np.nan, dtype=np.float32)
    steps = np.full((k - 1, h, w), np.nan, dtype=np.float32)
    first = np.full((h, w), -1, dtype=np.int16)
    changes = np.zeros((k - 1, h, w), dtype=bool)
    n_dates = np.zeros((h, w), dtype=np.int16)
    # x and log x of the block in float64, plus as much again in temporaries
    per_row = max(1, 6 * k * nb * w * 8)
    rows = int(max(1, min(h, block_bytes // per_row)))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        _block(dates, enls, level, r0, r1, p_value, steps, first, changes, n_dates)
    return OmnibusResult(p_value, steps, first, changes, n_dates, level, enls)


def _block(
    dates: list[np.ndarray],
    enl: tuple[float, ...],
    alpha: float,
    r0: int,
    r1: int,
    p_value: np.ndarray,
    steps: np.ndarray,
    first: np.ndarray,
    changes: np.ndarray,
    n_dates: np.ndarray,
) -> None:
    """Fill the outputs' rows ``r0:r1``."""
    k = len(dates)
    x = np.stack([d[:, r0:r1] for d in dates]).astype(np.float64)  # (k, B, r, w)
    valid = np.asarray(~np.isnan(x).any(axis=1))  # (k, r, w)
    all_valid = bool(valid.all())
    if not all_valid:
        # 1 contributes nothing to the sums of logs; the counts leave it out of the means
        x[~np.broadcast_to(valid[:, None], x.shape)] = 1.0
    lx = np.log(x)
    count = valid.sum(axis=0, dtype=np.int32)
    n_dates[r0:r1] = count
    total = x.sum(axis=0) - (k - count)
    p_all = _omnibus_p(lx.sum(axis=0), total, count, enl)
    p_value[r0:r1] = p_all

    def masked(j: int) -> np.ndarray:
        return x[j] if all_valid else np.where(valid[j], x[j], 0.0)

    # the sequence from the first date (for step_p_values), as a running
    # sum, its count and its log mean ...
    s0 = masked(0).copy()
    m0 = valid[0].astype(np.int32)
    lm0 = lx[0].copy()
    # ... and, for pixels with a detected change, the segment since it
    restarted = np.zeros(m0.shape, dtype=bool)
    seg_s = np.zeros_like(s0)
    seg_m = np.zeros_like(m0)
    armed = p_all < alpha
    fc = np.full(m0.shape, -1, dtype=np.int16)
    for j in range(1, k):
        s_new = s0 + masked(j)
        m_new = m0 + valid[j]
        if all_valid:
            lm_new = np.log(s_new / (j + 1.0))
            p0 = _step_p(lm0, lm_new, lx[j], float(j), enl)
        else:
            ok = valid[j] & (m0 >= 1)
            mm = np.maximum(m0, 1).astype(np.float64)
            lm_new = np.log(np.where(m_new >= 1, s_new, 1.0) / np.maximum(m_new, 1))
            p0 = np.where(ok, _step_p(lm0, lm_new, lx[j], mm, enl), np.nan)
            lm_new = np.where(valid[j], lm_new, lm0)
        steps[j - 1, r0:r1] = p0
        hit = armed & (p0 < alpha)
        any_restarted = bool(restarted.any())
        idx = np.nonzero(restarted & valid[j]) if any_restarted else (np.empty(0, np.intp),)
        if idx[0].size:
            # a restarted pixel is decided by its own segment's step instead
            ss, sm = seg_s[:, idx[0], idx[1]], seg_m[idx].astype(np.float64)
            xj = x[j][:, idx[0], idx[1]]
            p_seg = _step_p(np.log(ss / sm), np.log((ss + xj) / (sm + 1.0)), np.log(xj), sm, enl)
            hit[idx] = armed[idx] & (p_seg < alpha)
        changes[j - 1, r0:r1] = hit
        fc[hit & (fc < 0)] = j
        s0, m0, lm0 = s_new, m_new, lm_new
        if any_restarted:
            seg_s = seg_s + masked(j)
            seg_m = seg_m + valid[j]
        if hit.any():
            hi = np.nonzero(hit)
            restarted[hi] = True
            seg_s[:, hi[0], hi[1]] = x[j][:, hi[0], hi[1]]
            seg_m[hi] = 1
            # the omnibus over dates j.. decides whether the new segment is searched
            vs = valid[j:, hi[0], hi[1]]
            xs = x[j:][:, :, hi[0], hi[1]]
            armed[hi] = (
                _omnibus_p(
                    lx[j:][:, :, hi[0], hi[1]].sum(axis=0),
                    (xs * vs[:, None]).sum(axis=0),
                    vs.sum(axis=0),
                    enl,
                )
                < alpha
            )
    first[r0:r1] = fc


__all__ = [
    "BLOCK_BYTES",
    "OmnibusResult",
    "corrected_chi2_sf",
    "omnibus_rho_omega2",
    "omnibus_test",
    "step_rho_omega2",
]
