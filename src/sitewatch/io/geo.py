"""Ground measures of a grid: pixel size in metres, whatever its CRS."""

from __future__ import annotations

import math

from pyproj import CRS as ProjCRS
from pyproj import Geod

from .raster import Grid

_GEOD = Geod(ellps="WGS84")


def pixel_size_m(grid: Grid) -> float | None:
    """Side of a square pixel of equal ground area, in metres (None in pixel space).

    Geographic grids are measured on the WGS84 ellipsoid at the grid's centre.
    """
    if grid.crs is None:
        return None
    crs = ProjCRS.from_user_input(grid.crs.to_wkt())
    t = grid.transform
    if crs.is_geographic:
        cx, cy = t @ (grid.width / 2, grid.height / 2)
        lons = [cx, cx + t.a, cx + t.a + t.b, cx + t.b]
        lats = [cy, cy + t.d, cy + t.d + t.e, cy + t.e]
        area, _ = _GEOD.polygon_area_perimeter(lons, lats)
        return math.sqrt(abs(area))
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return math.sqrt(grid.pixel_area) * unit
