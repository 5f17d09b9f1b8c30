"""Read catalog scenes onto a site grid: band stacks, quality layers, site and zone rasters.

A :class:`~sitewatch.models.Scene` names its bands by common name, each an
asset (file and band index).  :func:`scene_stack` turns the assets into an
:class:`~sitewatch.io.raster.ImageStack` (through :func:`open_image`), and
:func:`read_scene` warps the whole site grid out of it with
:class:`~sitewatch.io.reader.StackReader`, reading only the window it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio.features
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from ..errors import BandMismatchError, NoOverlapError, RasterReadError, SitewatchError
from ..models import BandAsset, Scene, Site, SiteGrid
from ..sites import zones_on_grid
from .geo import pixel_size_m
from .raster import BandRef, Grid, ImageStack, open_image
from .reader import StackReader

__all__ = [
    "OPTICAL_BANDS",
    "SceneData",
    "Skipped",
    "common_bands",
    "finest_pixel_m",
    "grid_of",
    "read_or_skip",
    "read_scene",
    "scene_stack",
    "site_rasters",
]

#: optical bands used by the pipeline, in stack order, when every scene has them
OPTICAL_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")


@dataclass(frozen=True)
class SceneData:
    """One scene on the site grid.

    Attributes
    ----------
    data
        ``(bands, h, w)`` float32 in the file's units.
    valid
        ``(h, w)`` bool: inside the image and not nodata in any band.
    quality
        ``(h, w)`` float32 quality codes (e.g. Sentinel-2 SCL, nearest neighbour), or None.
    """

    data: np.ndarray
    valid: np.ndarray
    quality: np.ndarray | None


def grid_of(grid: SiteGrid) -> Grid:
    """The site grid as an :class:`~sitewatch.io.raster.Grid` with a rasterio CRS."""
    return Grid(grid.width, grid.height, grid.transform, CRS.from_user_input(grid.crs))


def common_bands(scenes: Sequence[Scene]) -> list[str]:
    """Optical bands present in every scene, in :data:`OPTICAL_BANDS` order.

    Raises
    ------
    BandMismatchError
        Fewer than two such bands are shared by all scenes.
    """
    shared = set(OPTICAL_BANDS)
    for s in scenes:
        shared &= set(s.bands)
    names = [b for b in OPTICAL_BANDS if b in shared]
    if len(names) < 2:
        raise BandMismatchError(
            f"imagery: the scenes share the bands {', '.join(names) or 'none'} of "
            f"{', '.join(OPTICAL_BANDS)}; give optical images with at least two named bands "
            "(e.g. blue, green, red, nir) on every date"
        )
    return names


def _asset_stack(assets: Sequence[tuple[str, BandAsset]], source: str) -> ImageStack:
    refs: list[BandRef] = []
    opened: dict[str, ImageStack] = {}
    for name, asset in assets:
        if asset.href not in opened:
            opened[asset.href] = open_image(asset.href)
        stack = opened[asset.href]
        if asset.band_index > stack.count:
            raise RasterReadError(
                f"{asset.href}: has {stack.count} bands, band {asset.band_index} was asked for "
                f"{name!r}; re-export the file or fix the catalog"
            )
        b = stack.bands[asset.band_index - 1]
        refs.append(BandRef(b.path, b.index, name, b.nodata, b.grid))
    finest = min((r.grid for r in refs), key=lambda g: g.pixel_area)
    dtypes = {s.dtype for s in opened.values()}
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    return ImageStack(Path(source), tuple(refs), finest, dtype, True)


def scene_stack(scene: Scene, bands: Sequence[str]) -> ImageStack:
    """The scene's ``bands`` (common names, in order) as an image stack.

    Raises
    ------
    MissingFileError, RasterReadError, BandMismatchError
    """
    missing = [b for b in bands if b not in scene.bands]
    if missing:
        raise BandMismatchError(
            f"scene {scene.id!r}: has no band {', '.join(missing)} (it has "
            f"{', '.join(scene.band_names)}); give every date the same bands"
        )
    return _asset_stack([(b, scene.bands[b]) for b in bands], scene.id)


def finest_pixel_m(scenes: Sequence[Scene], bands: Sequence[str]) -> float | None:
    """Smallest ground pixel size (metres) among the readable scenes' bands; None if none."""
    best: float | None = None
    for s in scenes:
        try:
            stack = scene_stack(s, bands)
        except (RasterReadError, BandMismatchError, OSError):
            continue
        px = pixel_size_m(stack.grid)
        if px is not None and (best is None or px < best):
            best = px
    return best


def _bbox_overlaps(scene: Scene, site: Site) -> bool:
    if scene.bbox is None:
        return True  # unknown footprint: the read decides
    w, s, e, n = scene.bbox
    sw, ss, se, sn = site.bounds
    return not (e < sw or w > se or n < ss or s > sn)


def read_scene(scene: Scene, bands: Sequence[str], grid: SiteGrid, site: Site) -> SceneData:
    """Read ``bands`` of ``scene`` (and its quality layer, if any) onto the site grid.

    Raises
    ------
    NoOverlapError
        The scene has no valid pixel on the grid.
    RasterReadError, MissingFileError, BandMismatchError
        A file cannot be read.
    """
    if not _bbox_overlaps(scene, site):
        raise NoOverlapError(f"scene {scene.id!r}: its footprint does not reach the site")
    target = grid_of(grid)
    window = Window(0, 0, target.width, target.height)
    with StackReader(scene_stack(scene, bands), target) as reader:
        block = reader.read(window)
    if not block.valid.any():
        raise NoOverlapError(f"scene {scene.id!r}: no valid pixel over the site grid")
    quality = None
    if scene.quality is not None:
        qstack = _asset_stack([("quality", scene.quality)], scene.id)
        with StackReader(qstack, target, resampling=Resampling.nearest) as qreader:
            q = qreader.read(window)
        quality = np.where(q.valid, q.data[0], np.float32(np.nan)).astype(np.float32)
    return SceneData(block.data, block.valid, quality)


@dataclass(frozen=True)
class Skipped:
    """A scene a run reports and goes on without: the error, and its one-line warning."""

    reason: str
    warning: str


def read_or_skip(
    scene: Scene, bands: Sequence[str], grid: SiteGrid, site: Site
) -> SceneData | Skipped:
    """:func:`read_scene` with non-finite values marked invalid; a scene that does not
    overlap the site or cannot be read becomes :class:`Skipped` (never fatal to a run)."""
    try:
        sd = read_scene(scene, bands, grid, site)
    except NoOverlapError as exc:
        return Skipped(str(exc), f"skipped {scene.id}: does not overlap the site")
    except (SitewatchError, OSError) as exc:
        return Skipped(str(exc), f"skipped {scene.id}: {str(exc).splitlines()[0]}")
    return SceneData(sd.data, sd.valid & np.isfinite(sd.data).all(axis=0), sd.quality)


def site_rasters(site: Site, grid: SiteGrid) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The site polygon and its zones rasterised on the grid.

    Returns
    -------
    site_mask, labels, names
        ``(h, w)`` bool inside the site; ``(h, w)`` int32 labels, 0 outside every
        zone and ``i`` inside ``names[i - 1]`` (a later zone wins where zones overlap).
    """
    shape = grid.shape
    site_geom = site.geometry_in(grid.crs)
    site_mask = rasterio.features.rasterize(
        [(site_geom, 1)], out_shape=shape, transform=grid.transform, fill=0, dtype="uint8"
    ).astype(bool)
    zones = zones_on_grid(site, grid)
    names = tuple(zones)
    labels = np.zeros(shape, np.int32)
    if zones:
        labels = rasterio.features.rasterize(
            [(g, i + 1) for i, g in enumerate(zones.values())],
            out_shape=shape, transform=grid.transform, fill=0, dtype="int32",
        )  # fmt: skip
    return site_mask, np.asarray(labels, dtype=np.int32), names
