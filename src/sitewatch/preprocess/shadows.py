"""Changes that moving structure shadows explain.

Between two clear acquisitions weeks apart the sun's elevation changes, so the
shadows of standing structures lengthen or shorten: a strip at the far end of
each shadow darkens (or brightens) although nothing was built or removed.
In very-high-resolution monitoring these are the commonest false changes.

A changed pixel is *shadow-explained* when its brightness fell by a shadow's
share (``ratio``) and it is dark now, or rose by it and was dark before, and
there is a pixel dark on both dates (the shadow's part nearer its caster)
within ``reach_m`` of it towards the sun, give or take one pixel sideways (the
sun's azimuth differs a little between the dates, and a thin shadow such as a
tower's would be missed by a straight line).  A candidate region is dropped when
most of its brightness change is shadow-explained.  A dark new roof built next
to an existing shadow on its sun side would be dropped too; that is the price
of the rule, and why it needs the sun's azimuth rather than any direction.
Pure numpy / scipy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

__all__ = ["regions_where", "shadow_explained", "shadow_regions"]

_EIGHT = np.ones((3, 3), dtype=bool)


def _towards(mask: np.ndarray, d_row: float, d_col: float, steps: int) -> np.ndarray:
    """Pixels that have ``mask`` set at ``t * (d_row, d_col)`` for some ``t`` in 1..steps."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    for t in range(1, steps + 1):
        dr, dc = int(round(t * d_row)), int(round(t * d_col))
        if abs(dr) >= h or abs(dc) >= w:
            break
        src = mask[max(dr, 0) : h + min(dr, 0), max(dc, 0) : w + min(dc, 0)]
        out[max(-dr, 0) : h + min(-dr, 0), max(-dc, 0) : w + min(-dc, 0)] |= src
    return out


def shadow_explained(
    before: np.ndarray,
    after: np.ndarray,
    valid: np.ndarray,
    sun_azimuth_deg: float,
    pixel_size_m: float,
    *,
    reach_m: float = 30.0,
    ratio: float = 0.8,
    dark: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel shadow explanation of the brightness change between two dates.

    Parameters
    ----------
    before, after
        ``(bands, h, w)`` radiometrically comparable images.
    valid
        ``(h, w)`` pixels observed on both dates.
    sun_azimuth_deg
        Sun azimuth of ``after``, clockwise from north (shadows point away from it).
    pixel_size_m
        Ground size of a pixel (north-up grid).
    reach_m
        How far towards the sun the shadow's older part is looked for.
    ratio
        Brightness ratio from which a change is a shadow's (its darkening factor).
    dark
        A pixel is dark below this share of the median brightness of ``valid``.

    Returns
    -------
    explained, changed
        ``(h, w)`` bool: brightness changes a shadow explains, and all brightness
        changes of at least ``ratio``.
    """
    b0 = before.mean(axis=0)
    b1 = after.mean(axis=0)
    if not valid.any():
        empty = np.zeros(valid.shape, bool)
        return empty, empty
    level = dark * float(np.median(np.concatenate([b0[valid], b1[valid]])))
    dark0 = valid & (b0 < level)
    dark1 = valid & (b1 < level)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b1 / b0
    darker = valid & (r < ratio)
    brighter = valid & (r > 1.0 / ratio)
    az = math.radians(sun_azimuth_deg)
    # image rows grow southwards; towards the sun is (east sin az, north cos az)
    steps = max(1, round(reach_m / pixel_size_m))
    anchor = ndi.binary_dilation(dark0 & dark1, structure=_EIGHT)
    near = _towards(anchor, -math.cos(az), math.sin(az), steps)
    explained = near & ((darker & dark1) | (brighter & dark0))
    return explained, darker | brighter


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


def shadow_regions(
    candidates: np.ndarray, explained: np.ndarray, changed: np.ndarray, share: float = 0.5
) -> np.ndarray:
    """Pixels of the 8-connected ``candidates`` regions whose brightness change is mostly
    shadow-explained (at least ``share`` of the region's changed pixels)."""
    return regions_where(candidates, explained, changed, share)
