"""Changes of open water into open water: waves, glint, turbidity and wind, not activity.

Optical: a pixel is water when its normalised difference water index
``(green - nir) / (green + nir)`` (McFeeters 1996) exceeds ``ndwi_min`` on
both dates.  Radar: when its pooled co-polarised backscatter is below
``db_max`` (calm water reflects away from the sensor).  A candidate region
mostly made of such pixels is dropped; a ship or a new pier turns water into
something else on one of the dates and is kept.  Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .shadows import regions_where

__all__ = ["optical_water", "radar_water", "water_regions"]


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


def radar_water(mean_intensity: np.ndarray, db_max: float = -15.0) -> np.ndarray:
    """``(h, w)`` pixels whose pooled first-band backscatter is below ``db_max`` dB."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(10.0 * np.log10(mean_intensity[0]) < db_max)


def water_regions(candidates: np.ndarray, water: np.ndarray, share: float = 0.5) -> np.ndarray:
    """Pixels of the 8-connected ``candidates`` regions that are at least ``share`` water."""
    return regions_where(candidates, water, candidates, share)
