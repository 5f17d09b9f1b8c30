"""The contract every pairwise change method fulfils.

A method is fitted once on a *sample* of the pair (spatial blocks, so that
methods with spatial context see real neighbourhoods) and then applied tile
by tile with a halo.  That two-pass split is what keeps memory bounded on a
full Sentinel-2 tile: the fit never sees more than the sample, and scoring
never needs more than one tile plus its halo.

Everything here is pure numpy: arrays in, arrays out, no file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

SensorKind = Literal["optical", "sar", "any"]


@dataclass(frozen=True)
class PairSample:
    """Blocks of a co-registered pair used to fit a change method.

    Attributes
    ----------
    before, after
        Lists of ``(bands, h, w)`` float32 arrays, one per block, same shapes
        pairwise.  Invalid pixels hold arbitrary finite values.
    valid
        List of ``(h, w)`` bool arrays: True where both dates can be judged.
    pixel_size_m
        Ground pixel size in metres, or None in pixel space.
    band_names
        Common band names (``blue``, ``nir``, ``vv`` ...) or ``band1``...
    """

    before: list[np.ndarray]
    after: list[np.ndarray]
    valid: list[np.ndarray]
    pixel_size_m: float | None = None
    band_names: tuple[str, ...] = ()

    @property
    def n_bands(self) -> int:
        return int(self.before[0].shape[0])

    def valid_pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the valid pixels of all blocks as two ``(n, bands)`` arrays."""
        xs, ys = [], []
        for b, a, v in zip(self.before, self.after, self.valid):
            xs.append(b[:, v].T)
            ys.append(a[:, v].T)
        return np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64)


@dataclass(frozen=True)
class ChangeScore:
    """Per-pixel output of a fitted method on one tile.

    ``statistic`` grows with the evidence of change; ``p_value`` is its
    probability under "no change" (NaN where not judged).
    """

    statistic: np.ndarray
    p_value: np.ndarray


@dataclass(frozen=True)
class CleanupDefaults:
    """Clean-up a method recommends for its decisions (used when the user gives none)."""

    min_area_px: int = 0
    radius_px: int = 0


class FittedChange(Protocol):
    """A method with its statistics estimated; applies to any tile of the pair."""

    halo: int

    def score(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> ChangeScore:
        """Score one tile ``(bands, h, w)`` with its ``(h, w)`` valid mask."""
        ...


class ChangeMethod(Protocol):
    """A registered change method."""

    name: str
    description: str
    sensor: SensorKind

    def fit(self, sample: PairSample) -> FittedChange:
        """Estimate the method's statistics from a sample of the pair."""
        ...

    def cleanup(self, pixel_size_m: float | None) -> CleanupDefaults:
        """Default clean-up for this method's decisions."""
        ...


@dataclass
class MethodInfo:
    """What the registry knows of a method (for ``--help`` and listings)."""

    name: str
    description: str
    sensor: SensorKind
    aliases: tuple[str, ...] = field(default_factory=tuple)
