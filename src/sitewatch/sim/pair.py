"""A simulated before/after pair with known change, for the demo and tests.

A small site (land cover patches, roads, buildings) is rendered in four bands
(blue, green, red, nir; reflectance x 10000 as uint16).  The second date has a
different illumination (per-band gain and offset), fresh sensor noise, and a
few known changes: new buildings, a demolished one, cleared vegetation.  Pure
numpy: writing the files is :mod:`sitewatch.io`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

BANDS = ("blue", "green", "red", "nir")

# Typical top-of-atmosphere reflectances x 10000 per cover (blue, green, red, nir).
COVER_SPECTRA = {
    "vegetation": (450, 750, 600, 3200),
    "bare_soil": (1100, 1400, 1700, 2300),
    "concrete": (1900, 2000, 2100, 2300),
    "water": (700, 650, 450, 250),
    "roof": (1500, 1450, 1600, 1800),
    "dark_roof": (800, 850, 900, 1100),
}


@dataclass(frozen=True)
class SimulatedPair:
    """Two co-registered images and the truth of what changed between them."""

    before: np.ndarray  # (4, h, w) uint16
    after: np.ndarray  # (4, h, w) uint16
    truth: np.ndarray  # (h, w) uint8, 1 = change
    band_names: tuple[str, ...] = BANDS


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    return field / (field.std() + 1e-9)


def _paint(img: np.ndarray, mask: np.ndarray, cover: str, rng: np.random.Generator) -> None:
    spectrum = np.asarray(COVER_SPECTRA[cover], np.float64) * rng.uniform(0.9, 1.1)
    img[:, mask] = spectrum[:, None]


def _rect(shape: tuple[int, int], r: int, c: int, h: int, w: int) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[max(r, 0) : r + h, max(c, 0) : c + w] = True
    return m


def simulate_pair(size: int = 512, seed: int = 7, n_new_buildings: int = 6) -> SimulatedPair:
    """Render a before/after pair of ``size`` x ``size`` pixels with known changes.

    Parameters
    ----------
    size
        Side in pixels (64 or more).
    seed
        Everything is deterministic given the seed.
    n_new_buildings
        Buildings that appear on the second date.
    """
    rng = np.random.default_rng(seed)
    shape = (size, size)
    # Land cover from thresholded smooth fields: large natural-looking patches.
    veg = _texture(rng, shape, size / 12)
    wet = _texture(rng, shape, size / 10)
    img = np.empty((4, *shape), np.float64)
    _paint(img, np.ones(shape, bool), "bare_soil", rng)
    _paint(img, veg > -0.2, "vegetation", rng)
    _paint(img, wet > 1.6, "water", rng)
    roads = np.zeros(shape, bool)
    for _ in range(3):
        if rng.random() < 0.5:
            r = int(rng.integers(0, size))
            roads[max(r - 2, 0) : r + 2, :] = True
        else:
            c = int(rng.integers(0, size))
            roads[:, max(c - 2, 0) : c + 2] = True
    _paint(img, roads, "concrete", rng)
    buildings = []
    for _ in range(max(3, size // 64)):
        h, w = (int(v) for v in rng.integers(8, 24, 2))
        r, c = (int(v) for v in rng.integers(0, size - 24, 2))
        m = _rect(shape, r, c, h, w)
        _paint(img, m, "roof" if rng.random() < 0.6 else "dark_roof", rng)
        buildings.append(m)
    after = img.copy()
    truth = np.zeros(shape, bool)
    for _ in range(n_new_buildings):
        h, w = (int(v) for v in rng.integers(8, 30, 2))
        r, c = (int(v) for v in rng.integers(0, size - 30, 2))
        m = _rect(shape, r, c, h, w)
        _paint(after, m, "roof" if rng.random() < 0.5 else "concrete", rng)
        truth |= m
    gone = buildings[0]
    _paint(after, gone, "bare_soil", rng)
    truth |= gone
    r, c = (int(v) for v in rng.integers(0, size - 48, 2))
    cleared = _rect(shape, r, c, 48, 40) & (veg > -0.2)
    _paint(after, cleared, "bare_soil", rng)
    truth |= cleared

    # Within-cover texture is the same on both dates (it is the ground), noise is not.
    grain = _texture(rng, shape, 1.5)
    out = []
    for k, scene in enumerate((img, after)):
        gain = 1.0 if k == 0 else rng.uniform(0.8, 1.25, 4)
        offset = 0.0 if k == 0 else rng.uniform(-150, 150, 4)
        g = np.broadcast_to(np.asarray(gain, np.float64), (4,))[:, None, None]
        o = np.broadcast_to(np.asarray(offset, np.float64), (4,))[:, None, None]
        textured = scene * (1 + 0.06 * grain)
        noisy = textured * g + o + rng.normal(0, 40, scene.shape)
        out.append(np.clip(noisy, 1, 65535).astype(np.uint16))
    return SimulatedPair(out[0], out[1], truth.astype(np.uint8))
