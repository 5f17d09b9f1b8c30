"""Per-scene preprocessing on arrays: masks, co-registration, radiometric normalisation.

Pure numpy/scipy functions (no file I/O): :mod:`.masks` (nodata, clouds,
shadows, clear fraction), :mod:`.align` (sub-pixel translation by phase
correlation) and :mod:`.normalise` (orthogonal regression over IR-MAD
no-change pixels).
"""

from __future__ import annotations

from .align import Alignment, apply_shift, estimate_shift, pick_texture_band
from .masks import CloudMask, scl_mask, series_clear_median, spectral_cloud_mask
from .normalise import Normalisation, normalise_to_reference, orthogonal_regression

__all__ = [
    "Alignment",
    "CloudMask",
    "Normalisation",
    "apply_shift",
    "estimate_shift",
    "normalise_to_reference",
    "orthogonal_regression",
    "pick_texture_band",
    "scl_mask",
    "series_clear_median",
    "spectral_cloud_mask",
]
