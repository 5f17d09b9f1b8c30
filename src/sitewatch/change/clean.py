"""Clean-up of binary change decisions: morphology and a minimum mapping unit."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (xx * xx + yy * yy) <= radius * radius + radius  # slightly fuller than a strict disk


def clean_decision(
    decision: np.ndarray,
    valid: np.ndarray,
    *,
    radius_px: int = 0,
    min_area_px: int = 0,
    open_edges: tuple[bool, bool, bool, bool] = (False, False, False, False),
) -> np.ndarray:
    """Remove speckle from a boolean change decision.

    Parameters
    ----------
    decision, valid
        ``(h, w)`` bool arrays; invalid pixels are never change.
    radius_px
        Radius of a morphological opening then closing; 0 skips it.
    min_area_px
        Connected regions (8-connectivity) smaller than this are dropped.
    open_edges
        (top, bottom, left, right): edges where the array is cut out of a
        larger image.  Regions touching an open edge are kept whatever their
        size, since they continue beyond what this call can see; a tiled
        caller makes its halo at least ``min_area_px`` wide so that this is exact.

    Returns
    -------
    numpy.ndarray
        The cleaned ``(h, w)`` bool decision.
    """
    out = decision & valid
    if radius_px > 0:
        fp = _disk(radius_px)
        out = ndi.binary_opening(out, structure=fp)
        out = ndi.binary_closing(out, structure=fp) & valid
    if min_area_px > 1 and out.any():
        labels, n = ndi.label(out, structure=np.ones((3, 3), bool))
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        keep = sizes >= min_area_px
        edges = [labels[0], labels[-1], labels[:, 0], labels[:, -1]]
        for is_open, edge in zip(open_edges, edges):
            if is_open:
                keep[np.unique(edge)] = True
        keep[0] = False
        out = keep[labels]
    return out
