"""Changes of open water into open water: waves, glint, turbidity and wind, not activity.

A pixel is water when its normalised difference water index
``(green - nir) / (green + nir)`` (McFeeters 1996) exceeds ``ndwi_min`` on
both dates.  A candidate region mostly made of such pixels is dropped; a ship
or a new pier turns water into something else on one of the dates and is kept.
Radar has no such rule: smooth concrete and asphalt are as dark as calm water,
and a windy sea is as bright as fields.  Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..change.regions import regions_where

__all__ = ["optical_water", "water_regions"]


def optical_water(
    before: np.ndarray, after: np.ndarray, bands: Sequence[str], ndwi_min: float = 0.2
) -> np.ndarray | None:
    """``(h, w)`` pixels that are water on both dates; None without green and nir bands."""
    if "green" not in bands or "nir" not in bands:
        return None
    g, n = list(bands).index("green"), list(bands).index("nir")

    def ndwi(img: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((img[g] - img[n]) / (img[g] + img[n]))

    return np.asarray((ndwi(before) > ndwi_min) & (ndwi(after) > ndwi_min))


def water_regions(candidates: np.ndarray, water: np.ndarray, share: float = 0.5) -> np.ndarray:
    """Pixels of the 8-connected ``candidates`` regions that are at least ``share`` water."""
    return regions_where(candidates, water, candidates, share)
