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

__all__ = ["region_alpha", "significant_regions"]

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
