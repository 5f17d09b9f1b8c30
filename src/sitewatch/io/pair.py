"""Put two images of one place on one grid: match bands, check overlap.

The target grid is BEFORE's (its finest band for a band folder).  AFTER is
warped onto it when its CRS, transform or size differ; only the window where
both images exist can be judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from ..errors import BandMismatchError, InputError, NoOverlapError
from .geo import pixel_size_m
from .raster import Grid, ImageStack, open_image


@dataclass(frozen=True)
class ImagePair:
    """Two band-matched images and the grid they are compared on."""

    before: ImageStack
    after: ImageStack
    grid: Grid
    overlap: Window
    band_names: tuple[str, ...]

    @property
    def pixel_size_m(self) -> float | None:
        return pixel_size_m(self.grid)


_POLARISATIONS = frozenset({"vv", "vh", "hh", "hv"})


def _match_bands(
    before: ImageStack, after: ImageStack, bands: list[str] | None
) -> tuple[ImageStack, ImageStack]:
    if bands is not None:
        return before.select(bands), after.select(bands)
    if before.named and after.named:
        common = [n for n in before.names if n in after.names]
        if not common:
            raise BandMismatchError(
                f"BEFORE has bands {', '.join(before.names)} and AFTER has "
                f"{', '.join(after.names)}: none in common; give images of the same sensor"
            )
        return before.select(common), after.select(common)
    for named, other, which in ((before, after, "AFTER"), (after, before, "BEFORE")):
        if named.named and not other.named and set(named.names) <= _POLARISATIONS:
            raise BandMismatchError(
                f"{'BEFORE' if which == 'AFTER' else 'AFTER'} is radar "
                f"({', '.join(named.names)}) and {which} has no band names, so the two cannot "
                "be matched; name the bands of " + which + " (e.g. vv, vh) or choose them with "
                "--bands"
            )
    if before.count != after.count:
        raise BandMismatchError(
            f"BEFORE has {before.count} bands and AFTER has {after.count}, with no band names "
            "to match them; give images with the same bands, or name the bands to use with "
            "--bands band1,band2,..."
        )
    return before, after


def _overlap_window(before: Grid, after: Grid) -> Window:
    if before.crs is None or after.crs is None:
        return Window(0, 0, before.width, before.height)
    left, bottom, right, top = transform_bounds(
        after.crs, before.crs, *after.bounds, densify_pts=21
    )
    bl, bb, br, bt = before.bounds
    if min(right, br) <= max(left, bl) or min(top, bt) <= max(bottom, bb):
        raise NoOverlapError(
            f"AFTER (bounds {after.bounds} in {after.crs}) does not overlap BEFORE "
            f"(bounds {before.bounds} in {before.crs}); give two images of the same place"
        )
    win = from_bounds(left, bottom, right, top, before.transform)
    col0 = max(0, int(win.col_off) - 1)
    row0 = max(0, int(win.row_off) - 1)
    col1 = min(before.width, int(win.col_off + win.width) + 2)
    row1 = min(before.height, int(win.row_off + win.height) + 2)
    if col1 <= col0 or row1 <= row0:
        raise NoOverlapError("AFTER does not overlap BEFORE; give two images of the same place")
    return Window(col0, row0, col1 - col0, row1 - row0)


def open_pair(before: str | Path, after: str | Path, bands: list[str] | None = None) -> ImagePair:
    """Open BEFORE and AFTER and check they can be compared.

    Raises
    ------
    InputError
        When one image is georeferenced and the other is not, or pixel-space
        images differ in size.
    BandMismatchError, NoOverlapError, MissingFileError, RasterReadError
    """
    b = open_image(before, bands)
    a = open_image(after, bands)
    b, a = _match_bands(b, a, bands)
    if b.grid.georeferenced != a.grid.georeferenced:
        which = "BEFORE" if b.grid.georeferenced else "AFTER"
        raise InputError(
            f"{which} is georeferenced but the other image is not; give two georeferenced "
            "images, or two plain images of the same size"
        )
    if not b.grid.georeferenced and b.grid.shape != a.grid.shape:
        raise InputError(
            f"BEFORE is {b.grid.height}x{b.grid.width} px and AFTER {a.grid.height}x"
            f"{a.grid.width} px, and neither is georeferenced, so they cannot be aligned; "
            "crop them to the same extent or give GeoTIFFs"
        )
    overlap = _overlap_window(b.grid, a.grid)
    return ImagePair(b, a, b.grid, overlap, tuple(b.names))
