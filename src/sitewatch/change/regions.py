"""Region-level significance: keep a changed region only if its strongest pixel survives
a Bonferroni correction over the number of independent test windows.

Per-pixel decisions ``p < alpha`` on spatially smoothed statistics come in
blobs: over a site of ``n`` judged pixels, about ``alpha * n`` false pixels
clump into regions as large as the test windows, which a minimum area cannot
remove.  Counting one independent test per window of ``window_px`` pixels, a
region is kept when its smallest p-value is below ``alpha / (n / window_px)``:
the chance that any region of an unchanged site passes is then about ``alpha``.
Pure numpy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "region_alpha",
    "regions_where",
    "series_alpha",
    "significant_regions",
    "strong_regions",
]

_EIGHT = np.ones((3, 3), dtype=bool)


def region_alpha(alpha: float, n_judged: int, window_px: int) -> float:
    """Bonferroni level for one region: ``alpha`` over the number of independent windows."""
    n_tests = max(1.0, n_judged / max(1, window_px))
    return alpha / n_tests


def significant_regions(
    p_value: np.ndarray, judged: np.ndarray, alpha: float, window_px: int
) -> np.ndarray:
    """``(h, w)`` bool: pixels with ``p < alpha`` in 8-connected regions whose min p passes.

    Parameters
    ----------
    p_value
        ``(h, w)`` p-values, NaN where not judged.
    judged
        ``(h, w)`` bool pixels that were tested.
    alpha
        Per-pixel level of the decision.
    window_px
        Pixels per independent test (e.g. the smallest test window's area).
    """
    with np.errstate(invalid="ignore"):
        raw = judged & (p_value < alpha)
    if not raw.any():
        return raw
    labels, n = ndi.label(raw, structure=_EIGHT)
    p = np.where(raw, p_value, 1.0)
    min_p = np.asarray(ndi.minimum(p, labels, index=np.arange(1, n + 1)))
    level = region_alpha(alpha, int(judged.sum()), window_px)
    keep = np.concatenate([[False], min_p < level])
    return np.asarray(keep[labels] & raw)


def series_alpha(alpha: float, n_judged: int, window_px: int, n_dates: int) -> float:
    """Bonferroni level for one region of a whole series: over windows and dates.

    A monitor looks at every date; keeping regions at this level makes the chance
    of any false event over the series about ``alpha``, where the per-date level
    of :func:`region_alpha` would give about ``alpha`` per date.
    """
    return region_alpha(alpha, n_judged, window_px) / max(1, n_dates)


def strong_regions(regions: np.ndarray, p_value: np.ndarray, level: float) -> np.ndarray:
    """``regions`` (8-connected) whose *median* p-value is below ``level``.

    The median asks most of the region to be significant, not one pixel of it, so a
    blob of smoothed noise around one extreme pixel does not pass.
    """
    labels, n = ndi.label(regions, structure=_EIGHT)
    if n == 0:
        return np.zeros(regions.shape, bool)
    med = np.asarray(ndi.median(np.where(regions, p_value, 1.0), labels, np.arange(1, n + 1)))
    return np.asarray(np.concatenate([[False], med < level])[labels])


def regions_where(
    candidates: np.ndarray, hit: np.ndarray, among: np.ndarray, share: float
) -> np.ndarray:
    """Pixels of the 8-connected ``candidates`` regions in which ``hit`` covers at least
    ``share`` of the region's ``among`` pixels (regions without any ``among`` are kept)."""
    labels, n = ndi.label(candidates, structure=_EIGHT)
    if n == 0:
        return np.zeros(candidates.shape, bool)
    idx = np.arange(1, n + 1)
    n_among = np.asarray(ndi.sum(among, labels, idx))
    n_hit = np.asarray(ndi.sum(hit & among, labels, idx))
    drop = (n_among > 0) & (n_hit >= share * n_among)
    return np.asarray(np.concatenate([[False], drop])[labels])
