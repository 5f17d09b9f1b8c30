"""Remove the smooth part of the difference between a scene and its reference.

A haze veil, thin high cloud or an illumination gradient changes a scene
smoothly over hundreds of metres; a global radiometric normalisation (IR-MAD)
cannot follow it, so its strongest corner reads as change.  Buildings, pads and
vehicles are much smaller than that, so the *robust* local level of the
difference (the median over blocks of about 100 m, interpolated back to every
pixel) is nuisance and is subtracted.  A change that covers less than about half
of a block does not move that block's median, so it is kept.  Pure numpy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..change.stats import bilinear_grid, nan_percentile

__all__ = ["DEFAULT_BLOCK_M", "smooth_difference", "block_px_for"]

#: side of the blocks whose median difference is taken as the smooth nuisance
DEFAULT_BLOCK_M = 100.0
_MIN_BLOCK_PX = 8
_MIN_BLOCK_VALID = 0.1
#: valid pixels a block's median needs, whatever the block size, to stand for its level
_MIN_BLOCK_PX_VALID = 64


def block_px_for(pixel_size_m: float | None, block_m: float = DEFAULT_BLOCK_M) -> int:
    """Block side in pixels for a pixel size (32 px when unknown)."""
    if pixel_size_m is None or not pixel_size_m > 0:
        return 32
    return max(_MIN_BLOCK_PX, round(block_m / pixel_size_m))


def smooth_difference(
    scene: np.ndarray, reference: np.ndarray, valid: np.ndarray, block_px: int
) -> np.ndarray:
    """The smooth ``scene - reference`` field, per band.

    Parameters
    ----------
    scene, reference
        ``(bands, h, w)`` on one grid.
    valid
        ``(h, w)`` bool: pixels where both are usable.
    block_px
        Block side in pixels; a block with fewer valid pixels than a tenth of it
        (and at least 64) takes the level of the nearest block that has enough.

    Returns
    -------
    numpy.ndarray
        ``(bands, h, w)`` float32 to subtract from ``scene`` (zeros when nothing is valid).
    """
    nb, h, w = scene.shape
    out = np.zeros((nb, h, w), np.float32)
    if not valid.any():
        return out
    b = max(1, int(block_px))
    ny, nx = -(-h // b), -(-w // b)
    pad = ((0, ny * b - h), (0, nx * b - w))
    v = np.pad(valid, pad, constant_values=False).reshape(ny, b, nx, b)
    usable = v.sum(axis=(1, 3)) >= max(_MIN_BLOCK_PX_VALID, round(_MIN_BLOCK_VALID * b * b))
    # Block centres to pixel centres, bilinear; edges held constant.
    rows = (np.arange(h) + 0.5) / b - 0.5
    cols = (np.arange(w) + 0.5) / b - 0.5
    for k in range(nb):
        d = np.where(valid, scene[k] - reference[k], np.nan).astype(np.float32)
        padded = np.pad(d, pad, constant_values=np.nan).reshape(ny, b, nx, b)
        blocks = padded.transpose(0, 2, 1, 3).reshape(ny, nx, b * b)
        med = nan_percentile(np.moveaxis(blocks, 2, 0), 50.0)  # NaN where a block is empty
        ok = usable & np.isfinite(med)
        if not ok.any():
            med = np.full_like(med, np.nanmedian(d[valid]))
        elif not ok.all():
            # a block with too few valid pixels takes its nearest usable block's level:
            # the veil is smooth, and the site-wide level is wrong at a corner of it
            # (a coverage edge, the image's border)
            _, (iy, ix) = ndi.distance_transform_edt(~ok, return_indices=True)
            med = med[iy, ix]
        out[k] = bilinear_grid(med.astype(np.float32), rows, cols, mode="nearest")
    return out
