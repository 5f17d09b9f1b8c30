"""A guard for mostly cloudy scenes, where a scene-wide offset hides the clouds.

:func:`~sitewatch.preprocess.masks.spectral_cloud_mask` removes each band's
scene-wide offset (the median difference to the clear-sky median) before its
tests.  When clouds cover most of a scene that median *is* the cloud, and the
clouds vanish.  :func:`overcast_mask` applies the same kind of tests without
the offset and only acts when a large share of the scene is affected, so that a
single new bright roof is never mistaken for cloud.  Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from .masks import CloudMask, clear_fraction

__all__ = ["OVERCAST_SHARE", "overcast_mask", "with_overcast"]

#: share of the valid pixels that must look like cloud for the guard to act
OVERCAST_SHARE = 0.05
_BRIGHTENING = 0.06  # visible mean brightening (reflectance) of a cloud
_WHITE = 0.6  # spread across visible bands below this share of the brightening
_SHADOW_RATIO = 0.75  # band sum below this share of the median's
_DILATE_PX = 2


def overcast_mask(
    scene: np.ndarray,
    band_names: Sequence[str],
    valid: np.ndarray,
    median: np.ndarray,
    *,
    min_share: float = OVERCAST_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """Cloud and shadow of a mostly cloudy scene, tested against the median without offset.

    Parameters
    ----------
    scene, median
        ``(bands, h, w)`` reflectance (0..1) and the series' clear-sky median.
    band_names
        Common names; blue, green and red drive the cloud test (all bands if none).
    valid
        ``(h, w)`` bool pixels with data.
    min_share
        The masks are returned only when cloud covers at least this share of the
        valid pixels; otherwise both are all False.

    Returns
    -------
    cloud, shadow
        ``(h, w)`` bool, each grown by 2 pixels.
    """
    vis = [i for i, n in enumerate(band_names) if n in ("blue", "green", "red")]
    vis = vis or list(range(scene.shape[0]))
    ok = valid & np.all(np.isfinite(median), axis=0) & np.all(np.isfinite(scene), axis=0)
    empty = np.zeros(valid.shape, bool)
    if not ok.any():
        return empty, empty
    d = np.where(ok, scene - np.where(ok, median, 0), 0).astype(np.float32)
    db = d[vis].mean(axis=0)
    spread = d[vis].max(axis=0) - d[vis].min(axis=0)
    cloud = ok & (db > _BRIGHTENING) & (spread < _WHITE * db)
    if cloud.sum() < min_share * ok.sum():
        return empty, empty
    with np.errstate(all="ignore"):
        ratio = scene.sum(axis=0) / np.maximum(median.sum(axis=0), 1e-6)
    shadow = ok & np.all(d < 0, axis=0) & (ratio < _SHADOW_RATIO) & ~cloud
    disk = ndi.generate_binary_structure(2, 1)
    cloud = ndi.binary_dilation(cloud, disk, iterations=_DILATE_PX)
    shadow = ndi.binary_dilation(shadow, disk, iterations=_DILATE_PX) & ~cloud
    return cloud, shadow


def with_overcast(
    mask: CloudMask, cloud: np.ndarray, shadow: np.ndarray, region: np.ndarray | None = None
) -> CloudMask:
    """``mask`` with extra cloud and shadow added (clear and clear_fraction updated)."""
    if not (cloud.any() or shadow.any()):
        return mask
    c = mask.cloud | cloud
    s = (mask.shadow | shadow) & ~c
    clear = mask.clear & ~c & ~s
    return CloudMask(
        c, s, clear, clear_fraction(clear, region), mask.valid, mask.snow, mask.source + "+overcast"
    )
