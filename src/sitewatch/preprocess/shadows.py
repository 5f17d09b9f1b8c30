"""Changes that moving structure shadows explain.

Between two clear acquisitions weeks apart the sun's elevation changes, so the
shadows of standing structures lengthen or shorten: a strip at the far end of
each shadow darkens (or brightens) although nothing was built or removed.
In very-high-resolution monitoring these are the commonest false changes.

A changed pixel is *shadow-explained* when either

* its brightness fell by a shadow's share (``ratio``) and it is dark now, or
  rose by it and was dark before, and there is a pixel dark on both dates (the
  shadow's part nearer its caster) within ``reach_m`` of it towards the sun,
  give or take one pixel sideways (the sun's azimuth differs a little between
  the dates, and a thin shadow such as a tower's would be missed by a straight
  line); or
* (when the sun's elevation and azimuth on both dates are given) it darkened
  into shade, and walking towards the sun from it crosses only shaded pixels
  and then reaches an unchanged lit pixel, its caster, no further than the
  caster's shadow can have grown.  A shadow of length ``L`` grows to
  ``L cot(e1) / cot(e0)`` when the sun's elevation falls from ``e0`` to ``e1``;
  ``L`` is measured from the caster along the earlier shadow's direction, over
  pixels shaded then (see :func:`_cast` for the tolerance).  Shortening is the
  same rule with the dates swapped.  This catches a low building's shadow
  appearing on its north side in autumn, where under the summer sun it was too
  thin to be dark and the first rule finds no old shadow to extend.

A changed pixel next to an explained one that changed the same way but did not
become (or was not) dark is that shadow's blurred edge, and is explained too.

A candidate region is dropped when most of its brightness change is
shadow-explained.  A dark new roof built next to an existing shadow on its sun
side, or on the shadow side of a standing building within the reach the sun's
change allows, would be dropped too; that is the price of the rules, and why
they need the sun's position rather than any direction.  Pure numpy / scipy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from ..change.regions import regions_where

__all__ = ["shadow_explained", "shadow_regions"]

_EIGHT = np.ones((3, 3), dtype=bool)
#: share of the median brightness below which a pixel counts in a shadow's length
_SHADED = 0.85


def _shifted(mask: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``out[r, c] = mask[r + dr, c + dc]``, False beyond the edges."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    if abs(dr) < h and abs(dc) < w:
        src = mask[max(dr, 0) : h + min(dr, 0), max(dc, 0) : w + min(dc, 0)]
        out[max(-dr, 0) : h + min(-dr, 0), max(-dc, 0) : w + min(-dc, 0)] = src
    return out


def _steps(d_row: float, d_col: float, steps: int) -> list[tuple[int, int]]:
    """Pixel offsets ``t * (d_row, d_col)`` for ``t`` in 1..steps, rounded."""
    return [(int(round(t * d_row)), int(round(t * d_col))) for t in range(1, steps + 1)]


def _towards(mask: np.ndarray, d_row: float, d_col: float, steps: int) -> np.ndarray:
    """Pixels that have ``mask`` set at ``t * (d_row, d_col)`` for some ``t`` in 1..steps."""
    out = np.zeros_like(mask)
    for dr, dc in _steps(d_row, d_col, steps):
        out |= _shifted(mask, dr, dc)
    return out


def _run_length(mask: np.ndarray, d_row: float, d_col: float, steps: int) -> np.ndarray:
    """Number of consecutive ``mask`` pixels from each pixel along ``t * (d_row, d_col)``."""
    alive = np.ones(mask.shape, bool)
    out = np.zeros(mask.shape, np.int32)
    for dr, dc in _steps(d_row, d_col, steps):
        alive &= _shifted(mask, dr, dc)
        if not alive.any():
            break
        out += alive
    return out


def _cast(
    dark: np.ndarray,
    caster: np.ndarray,
    old_length: np.ndarray,
    growth: float,
    d_row: float,
    d_col: float,
    steps: int,
) -> np.ndarray:
    """Pixels that a lengthened shadow explains.

    From each ``dark`` pixel, walk towards the sun over ``dark`` pixels to the
    first other one; the pixel is explained when that is a ``caster`` pixel that
    already cast a shadow (``old_length >= 1``: its length on the earlier date) and
    is within ``(old_length + 1) * growth + 2`` steps (a partly shaded pixel at the
    old shadow's end may escape it: the first 1; the second is the new shadow's
    own such pixel and the rounding of the walk).  Shadows that did not grow
    (``growth <= 1``) explain nothing.
    """
    if growth <= 1.0:
        return np.zeros_like(dark)
    reach = np.where(old_length >= 1, (old_length + 1) * growth + 2, 0.0)
    alive = dark.copy()
    out = np.zeros_like(dark)
    for t, (dr, dc) in enumerate(_steps(d_row, d_col, steps), start=1):
        out |= alive & _shifted(caster & (reach >= t), dr, dc)
        alive &= _shifted(dark, dr, dc)
        if not alive.any():
            break
    return out


def _lengthened(
    shaded: np.ndarray,
    caster: np.ndarray,
    inner: np.ndarray,
    earlier: tuple[float, float],
    later: tuple[float, float],
    steps: int,
) -> np.ndarray:
    """:func:`_cast` for shadows that grew from sun ``earlier`` to ``later`` (elevation,
    azimuth in degrees): the old length is measured along the earlier shadow's direction,
    over ``inner`` pixels (shaded and unchanged on both dates)."""
    (e0, a0), (e1, a1) = earlier, later
    growth = _cot(e1) / _cot(e0)
    a0, a1 = math.radians(a0), math.radians(a1)
    old = _run_length(inner, math.cos(a0), -math.sin(a0), steps)
    return _cast(shaded, caster, old, growth, -math.cos(a1), math.sin(a1), steps)


def _cot(elevation_deg: float) -> float:
    # A sun at the horizon or the zenith would make shadows infinite or nil.
    return 1.0 / math.tan(math.radians(min(max(elevation_deg, 1.0), 89.0)))


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
    suns: tuple[tuple[float, float], tuple[float, float]] | None = None,
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
        How far towards the sun the shadow's older part is looked for (plus one
        pixel).
    ratio
        Brightness ratio from which a change is a shadow's (its darkening factor).
    dark
        A pixel is dark below this share of the median brightness of ``valid``.
    suns
        ``(elevation, azimuth)`` in degrees of the sun on the ``before`` and the
        ``after`` date; when given, the caster rule (module notes) applies too.

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
    # plus a pixel: blur and mixed pixels put a shadow's dark core up to a pixel further
    # from the changed strip than the ground distance says (decisive at 10 m pixels)
    steps = max(1, round(reach_m / pixel_size_m)) + 1
    anchor = ndi.binary_dilation(dark0 & dark1, structure=_EIGHT)
    d_row, d_col = -math.cos(az), math.sin(az)
    near = _towards(anchor, d_row, d_col, steps)
    explained = near & ((darker & dark1) | (brighter & dark0))
    changed = darker | brighter
    if suns is not None:
        # a shadow's partly shaded edge pixels are not dark, but count in its length
        shaded = _SHADED / dark * level
        shaded0, shaded1 = valid & (b0 < shaded), valid & (b1 < shaded)
        sun0, sun1 = suns
        # the shorter shadow lies inside the longer one, unchanged: dark ground
        # that a cloud's shadow darkened further is no old shadow
        inner = shaded0 & shaded1 & ~changed
        grown = _lengthened(shaded1, valid & ~changed & ~shaded1, inner, sun0, sun1, steps)
        shrunk = _lengthened(shaded0, valid & ~changed & ~shaded0, inner, sun1, sun0, steps)
        explained |= (grown & darker) | (shrunk & brighter)
    # A shadow's edge is blurred over a pixel: partly shaded pixels change the same way
    # but stay lighter than dark; next to an explained pixel they are that shadow's edge.
    # (Fully dark ones are left to the rules above, which bound a shadow's length.)
    explained |= (ndi.binary_dilation(explained & darker, structure=_EIGHT) & darker & ~dark1) | (
        ndi.binary_dilation(explained & brighter, structure=_EIGHT) & brighter & ~dark0
    )
    return explained, changed


def shadow_regions(
    candidates: np.ndarray, explained: np.ndarray, changed: np.ndarray, share: float = 0.5
) -> np.ndarray:
    """Pixels of the 8-connected ``candidates`` regions whose brightness change is mostly
    shadow-explained (at least ``share`` of the region's changed pixels)."""
    return regions_where(candidates, explained, changed, share)
