"""Helpers for tests: tiny rasters written in ``tmp_path`` and a deterministic test method.

Importing this module registers the ``test-diff`` change method, which lets
driver and CLI tests run without depending on the real methods (irmad, cva,
auto, sar), which are developed and tested on their own.  ``conftest.py``
imports it, so it is registered before any test runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from scipy import ndimage as ndi
from scipy import stats

from sitewatch.change.base import ChangeScore, CleanupDefaults, PairSample
from sitewatch.change.registry import register

# UTM 33N near 45 N: 10 m pixels, origin at a round easting/northing.
UTM = "EPSG:32633"
ORIGIN = (500_000.0, 5_000_000.0)
PIXEL = 10.0


def utm_transform(pixel: float = PIXEL, x0: float = ORIGIN[0], y0: float = ORIGIN[1]) -> Affine:
    """North-up transform with square ``pixel`` metres and top-left corner (x0, y0)."""
    return Affine(pixel, 0.0, x0, 0.0, -pixel, y0)


def write_tif(
    path: Path,
    array: np.ndarray,
    crs: str | None = UTM,
    transform: Affine | None = None,
    nodata: float | None = None,
    descriptions: Sequence[str | None] | None = None,
    *,
    tiled: bool = False,
    blocksize: int = 256,
    compress: str | None = None,
    driver: str = "GTiff",
) -> Path:
    """Write ``array`` ((h, w) or (bands, h, w)) as a raster; ``crs=None`` gives pixel space."""
    data = np.asarray(array)
    if data.ndim == 2:
        data = data[None]
    count, height, width = data.shape
    profile: dict = dict(
        driver=driver, width=width, height=height, count=count, dtype=str(data.dtype)
    )
    if crs is not None:
        profile.update(crs=crs, transform=transform or utm_transform())
    if nodata is not None:
        profile["nodata"] = nodata
    if driver == "GTiff":
        if tiled:
            profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
        if compress:
            profile["compress"] = compress
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
            for i, d in enumerate(descriptions or (), start=1):
                if d is not None:
                    ds.set_band_description(i, d)
    return Path(path)


def textured(
    shape: tuple[int, ...], seed: int = 0, base: float = 1000.0, spread: float = 200.0
) -> np.ndarray:
    """A smooth random field with noise: a stand-in for a real image (float64)."""
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma=(0, 3, 3)[-len(shape) :])
    field /= field.std() + 1e-12
    return base + spread * field + rng.normal(0, 5.0, shape)


@dataclass(frozen=True)
class PairFiles:
    """Paths of a before/after pair and the truth mask of the change implanted in it."""

    before: Path
    after: Path
    truth: np.ndarray


def make_pair(
    folder: Path,
    size: int = 96,
    bands: int = 3,
    change: tuple[slice, slice] | None = (slice(30, 50), slice(40, 64)),
    seed: int = 1,
    dtype: str = "uint16",
    crs: str | None = UTM,
    suffix: str = ".tif",
) -> PairFiles:
    """A co-located pair: AFTER = BEFORE + fresh noise, plus a bright rectangle ``change``."""
    small = np.dtype(dtype).itemsize == 1
    before = textured(
        (bands, size, size), seed=seed, base=120 if small else 1000, spread=25 if small else 200
    )
    rng = np.random.default_rng(seed + 100)
    after = before + rng.normal(0, 5.0, before.shape)
    truth = np.zeros((size, size), np.uint8)
    if change is not None:
        after[:, change[0], change[1]] += 100.0 if small else 600.0
        truth[change] = 1
    folder.mkdir(parents=True, exist_ok=True)
    kw: dict = {"crs": crs}
    if suffix != ".tif":
        kw["driver"] = {".png": "PNG", ".bmp": "BMP"}[suffix]
    b = write_tif(folder / f"before{suffix}", before.astype(dtype), **kw)
    a = write_tif(folder / f"after{suffix}", after.astype(dtype), **kw)
    return PairFiles(b, a, truth)


# --------------------------------------------------------------------------- test method


class _TestDiffFitted:
    """Robust z-scores of the band difference, averaged over 3x3, chi-square p-value."""

    halo = 1

    def __init__(self, centre: np.ndarray, scale: np.ndarray) -> None:
        self.centre = centre
        self.scale = scale

    def score(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> ChangeScore:
        z = (after.astype(np.float64) - before) - self.centre[:, None, None]
        z /= self.scale[:, None, None]
        z[:, ~valid] = 0.0
        # The mean of 9 independent N(0, 1) has sd 1/3: rescale to N(0, 1) again.
        z = 3.0 * ndi.uniform_filter(z, size=(1, 3, 3), mode="nearest")
        statistic = (z**2).sum(axis=0)
        p = stats.chi2.sf(statistic, df=z.shape[0]).astype(np.float32)
        p[~valid] = np.nan
        return ChangeScore(statistic.astype(np.float32), p)


class TestDiffMethod:
    """Deterministic change method for tests of the driver and the CLI."""

    name = "test-diff"
    description = "robust z-score of the band difference (tests only)"
    sensor = "any"

    def __init__(self) -> None:
        self.fit_calls = 0

    def fit(self, sample: PairSample) -> _TestDiffFitted:
        self.fit_calls += 1
        x, y = sample.valid_pixels()
        d = y - x
        centre = np.median(d, axis=0)
        scale = 1.4826 * np.median(np.abs(d - centre), axis=0)
        return _TestDiffFitted(centre, np.maximum(scale, 1e-6))

    def cleanup(self, pixel_size_m: float | None) -> CleanupDefaults:
        return CleanupDefaults(min_area_px=0, radius_px=0)


TEST_METHOD = TestDiffMethod()
register(TEST_METHOD)


def listing(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones included, sorted."""
    return sorted(p.name for p in folder.iterdir())
