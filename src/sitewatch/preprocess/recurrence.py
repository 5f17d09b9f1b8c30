"""Masked objects whose anomaly comes back in place on other dates are surfaces, not sky.

A fresh white roof brightens like a cloud against the series' clear-sky median,
and a new dark tower darkens like a cloud shadow.  When the shadow test of
:func:`~sitewatch.preprocess.masks.spectral_cloud_mask` cannot decide (the
ground where a cloud's shadow would fall lies outside a small site, or a new
structure sits in the path of a cloud's shadow), such a change is masked, and
a roof stays masked on every later date, so the change is never seen.  Clouds
and their shadows move between acquisitions days apart; a surface stays.
:func:`recurrent_objects` finds the masked objects whose brightness anomaly
(against the clear-sky median) repeats with the same spatial pattern on other
dates, and :func:`without_objects` returns them to the clear pixels.  Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..errors import InputError
from .masks import CloudMask, clear_fraction

__all__ = ["recurrent_objects", "without_objects"]

_EIGHT = np.ones((3, 3), dtype=bool)


def recurrent_objects(
    masked: Sequence[np.ndarray],
    anomaly: np.ndarray,
    valid: np.ndarray,
    *,
    max_px: int,
    looks: int = 4,
    max_gap: int = 10,
    min_corr: float = 0.5,
    min_repeats: int = 2,
    min_valid: float = 0.8,
) -> list[np.ndarray]:
    """Masked objects of each date whose anomaly pattern recurs on nearby dates.

    Parameters
    ----------
    masked
        One ``(h, w)`` bool mask (cloud or shadow) per date, in date order.
    anomaly
        ``(dates, h, w)`` brightness minus the clear-sky median (each date's
        scene-wide offset removed); NaN where unknown.
    valid
        ``(dates, h, w)`` bool pixels with data.
    max_px
        Objects larger than this are never called recurrent: an overcast covers
        the same pixels date after date too.
    looks
        How many dates are looked at on each side (the later ones show a new
        roof, the earlier ones a removed one): the nearest ones, at most
        ``max_gap`` dates away, on which the ring around the object is mostly
        unmasked and has data; a date cloudy there says nothing about the object.
    max_gap
        Farthest date, in acquisitions, looked at on either side.
    min_corr
        The anomaly recurs on a date when its correlation with the object's
        date, over the object and a ring around it as wide as the object's
        radius, reaches this value, with the same sign of the mean anomaly over
        the object and at least half its size.  The ring is what makes a
        uniform roof correlate: bright inside, unchanged around it.
    min_repeats
        How many of the looked-at dates of one side must show it again.
    min_valid
        Dates with less than this share of the window's pixels valid are not
        looked at.

    Returns
    -------
    list of numpy.ndarray
        ``(h, w)`` bool per date: the pixels of its recurrent objects.
    """
    anomaly = np.asarray(anomaly)
    n = len(masked)
    if anomaly.shape[0] != n or np.shape(valid) != anomaly.shape:
        raise InputError(
            f"anomaly {anomaly.shape} and valid {np.shape(valid)} must be (dates, h, w) with "
            f"{n} dates, one per mask"
        )
    if min(max_px, looks, max_gap, min_repeats) < 1 or not -1.0 < min_corr <= 1.0:
        raise InputError(
            f"max_px, looks, max_gap, min_repeats, min_corr: ({max_px}, {looks}, {max_gap}, "
            f"{min_repeats}, {min_corr}); give positive counts and a correlation in (-1, 1]"
        )
    h, w = anomaly.shape[1:]
    out = [np.zeros((h, w), dtype=bool) for _ in range(n)]
    for i in range(n):
        labels, _ = ndi.label(np.asarray(masked[i], bool), structure=_EIGHT)
        for k, sl in enumerate(ndi.find_objects(labels), start=1):
            if sl is None:
                continue
            size = int(np.count_nonzero(labels[sl] == k))
            if size > max_px:
                continue
            pad = max(2, int(np.sqrt(size / np.pi)))
            win = (
                slice(max(0, sl[0].start - pad), min(h, sl[0].stop + pad)),
                slice(max(0, sl[1].start - pad), min(w, sl[1].stop + pad)),
            )
            obj = labels[win] == k
            here = anomaly[i][win]
            ok_i = valid[i][win] & np.isfinite(here)
            ring = ~obj
            for side in (1, -1):
                repeats = seen = 0
                for j in range(i + side, i + side * (max_gap + 1), side):
                    if not 0 <= j < n or seen >= looks or repeats >= min_repeats:
                        break
                    there = anomaly[j][win]
                    ok = ok_i & valid[j][win] & np.isfinite(there)
                    if ok.mean() < min_valid or not (ok & obj).any():
                        continue
                    if np.asarray(masked[j], bool)[win][ring].mean() > 0.5:
                        continue
                    seen += 1
                    repeats += _same_anomaly(here, there, ok, obj, min_corr)
                if repeats >= min_repeats:
                    out[i][win] |= obj
                    break
    return out


def _same_anomaly(
    here: np.ndarray, there: np.ndarray, ok: np.ndarray, obj: np.ndarray, min_corr: float
) -> bool:
    a, b = here[ok], there[ok]
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return False
    ma, mb = float(here[ok & obj].mean()), float(there[ok & obj].mean())
    if ma * mb <= 0 or abs(mb) < 0.5 * abs(ma):
        return False
    return float(np.corrcoef(a, b)[0, 1]) >= min_corr


def without_objects(
    mask: CloudMask, surfaces: np.ndarray, region: np.ndarray | None = None
) -> CloudMask:
    """``mask`` with the cloud and shadow pixels in ``surfaces`` made clear again."""
    surfaces = np.asarray(surfaces, bool) & (mask.cloud | mask.shadow)
    if not surfaces.any():
        return mask
    cloud = mask.cloud & ~surfaces
    shadow = mask.shadow & ~surfaces
    clear = mask.clear | (surfaces & mask.valid)
    return CloudMask(
        cloud, shadow, clear, clear_fraction(clear, region), mask.valid, mask.snow, mask.source
    )
