"""Change vector analysis with a robust, data-calibrated threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NoValidDataError
from .base import ChangeScore, CleanupDefaults, PairSample, SensorKind
from .stats import (
    RobustNull,
    check_tile,
    fit_robust_null,
    normal_sf,
    robust_covariance,
    sample_pixels,
)

_FIT_PIXELS = 250_000


@dataclass(frozen=True)
class FittedCVA:
    """Whitening of the difference vector and the null of its squared length."""

    centre: np.ndarray
    whiten: np.ndarray
    null: RobustNull
    n_bands: int
    halo: int = 0

    def magnitude2(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Squared length of the whitened change vector of a ``(bands, h, w)`` pair."""
        d = after.astype(np.float32) - before.astype(np.float32)
        d -= self.centre.astype(np.float32)[:, None, None]
        w = np.tensordot(self.whiten.astype(np.float32), d, axes=1)
        return np.asarray(np.einsum("bhw,bhw->hw", w, w))

    def score(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> ChangeScore:
        """Change magnitude and its p-value under the fitted no-change law."""
        check_tile(before, after, valid, self.n_bands)
        mag = self.magnitude2(before, after)
        mag[~valid] = np.nan
        return ChangeScore(mag, normal_sf(self.null.zscore(mag)))


@dataclass
class CVAMethod:
    """Change vector analysis.

    The difference vector ``after - before`` is centred and whitened with a
    robust (trimmed, consistency-corrected) covariance, so that a global
    brightness offset and correlated bands do not count as change; the
    squared length's no-change law is then fitted robustly from the data.
    """

    name: str = "cva"
    description: str = "change vector analysis: robustly whitened difference magnitude"
    sensor: SensorKind = "optical"

    def fit(self, sample: PairSample) -> FittedCVA:
        """Estimate the difference's robust centre, covariance and null."""
        x, y = sample_pixels(sample, _FIT_PIXELS)
        centre, cov = robust_covariance(y - x)
        evals, evecs = np.linalg.eigh(cov)
        if evals.max() <= 0:
            raise NoValidDataError(
                "the two images do not differ anywhere in the valid area, so no change "
                "magnitude can be calibrated; check that before and after are different scenes"
            )
        evals = np.maximum(evals, 1e-9 * evals.max())
        whiten = (evecs / np.sqrt(evals)).T
        partial = FittedCVA(centre, whiten, RobustNull(0.0, 1.0), sample.n_bands)
        mags = [
            partial.magnitude2(b, a)[v]
            for b, a, v in zip(sample.before, sample.after, sample.valid)
        ]
        null = fit_robust_null(np.concatenate(mags))
        return FittedCVA(centre, whiten, null, sample.n_bands)

    def cleanup(self, pixel_size_m: float | None) -> CleanupDefaults:
        """A pixel test: drop isolated pixels (smaller than a 2x2 block)."""
        return CleanupDefaults(min_area_px=4)
